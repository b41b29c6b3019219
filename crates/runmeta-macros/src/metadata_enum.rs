//! `#[derive(MetadataEnum)]`: unit variants with snake_case wire names.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt as _;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::errors::Errors;

struct Variant<'a> {
    ident: &'a syn::Ident,
    unit: bool,
    wire: String,
    wire_span: proc_macro2::Span,
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let Data::Enum(data) = &input.data else {
        let tokens = match &input.data {
            Data::Struct(s) => quote::ToTokens::to_token_stream(&s.struct_token),
            Data::Union(u) => quote::ToTokens::to_token_stream(&u.union_token),
            Data::Enum(_) => unreachable_tokens(),
        };
        errors.error_at(
            tokens,
            "MetadataEnum can only be derived for an enum of unit variants",
        );
        return errors.into_compile_errors();
    };
    if !input.generics.params.is_empty() {
        errors.error_at(
            &input.generics,
            "MetadataEnum cannot be derived for a generic enum",
        );
        return errors.into_compile_errors();
    }
    if data.variants.is_empty() {
        errors.error_at(&input.ident, "a MetadataEnum needs at least one variant");
        return errors.into_compile_errors();
    }
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("metadata_enum"))
    {
        errors.error_at(
            attr,
            "`#[metadata_enum(...)]` options go on variants (`rename = \"...\"`), not on the enum",
        );
    }
    let mut variants = Vec::new();
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            errors.error_at(&v.fields, format!("MetadataEnum variant `{}` cannot have fields: a metadata value is one of a fixed set of names", v.ident));
        }
        let mut rename: Option<LitStr> = None;
        for attr in v
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("metadata_enum"))
        {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if rename.is_some() {
                        errors.error_at(&meta.path, "duplicate option `rename`");
                    } else {
                        rename = Some(lit);
                    }
                } else {
                    let name = quote::ToTokens::to_token_stream(&meta.path).to_string();
                    errors.error_at(
                        &meta.path,
                        format!("unknown metadata_enum option `{name}`; expected `rename`"),
                    );
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<syn::Expr>()?;
                    }
                }
                Ok(())
            });
            errors.ok(result);
        }
        let (wire, wire_span) = match &rename {
            Some(lit) => {
                let value = lit.value();
                if value.is_empty() || value.len() > runmeta_rules::MAX_KEY_LEN {
                    errors.error_at(
                        lit,
                        format!(
                            "a wire name is 1 to {} bytes long",
                            runmeta_rules::MAX_KEY_LEN
                        ),
                    );
                }
                (value, lit.span())
            }
            None => {
                let name = v.ident.unraw().to_string();
                match runmeta_rules::to_snake_case_name(&name) {
                    Some(snake) => (snake, v.ident.span()),
                    None => {
                        errors.error_at(&v.ident, "this variant name has no snake_case wire name; set one with `#[metadata_enum(rename = \"...\")]`");
                        (name, v.ident.span())
                    }
                }
            }
        };
        if let Some(first) = seen.insert(wire.clone(), &v.ident) {
            errors.error_span(
                wire_span,
                format!("wire name `{wire}` is used twice: variant `{first}` already has it"),
            );
        }
        variants.push(Variant {
            ident: &v.ident,
            unit: matches!(v.fields, Fields::Unit),
            wire,
            wire_span,
        });
    }
    let compile_errors = errors.into_compile_errors();
    let tokens = expand(input, &variants);
    quote!(#compile_errors #tokens)
}

fn unreachable_tokens() -> TokenStream {
    TokenStream::new()
}

fn expand(input: &DeriveInput, variants: &[Variant<'_>]) -> TokenStream {
    let ident = &input.ident;
    let name = ident.unraw().to_string();
    let idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
    // A variant with fields is an error reported by `derive`; it is left out of the values
    // so that the impl still compiles and the user sees that one error.
    let unit_idents: Vec<_> = variants
        .iter()
        .filter(|v| v.unit)
        .map(|v| v.ident)
        .collect();
    let unit_wires: Vec<_> = variants
        .iter()
        .filter(|v| v.unit)
        .map(|v| LitStr::new(&v.wire, v.wire_span))
        .collect();
    let wires: Vec<_> = variants
        .iter()
        .map(|v| LitStr::new(&v.wire, v.wire_span))
        .collect();
    quote! {
        #[automatically_derived]
        impl ::runmeta::__private::MetadataEnum for #ident {
            const NAME: &'static str = #name;
            const VALUES: &'static [&'static str] = &[#(#unit_wires),*];
            const ALL: &'static [Self] = &[#(#ident::#unit_idents),*];

            fn as_str(&self) -> &'static str {
                match self {
                    #(#ident::#idents { .. } => #wires,)*
                }
            }

            fn from_wire(name: &str) -> ::core::option::Option<Self> {
                match name {
                    #(#unit_wires => ::core::option::Option::Some(#ident::#unit_idents),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        ::runmeta::__private::__impl_enum_field!(#ident; ::runmeta::__private);

        #[automatically_derived]
        impl ::core::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(::runmeta::__private::MetadataEnum::as_str(self))
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for #ident {
            type Err = ::runmeta::__private::UnknownVariant;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                ::runmeta::__private::parse_enum(s)
            }
        }

        #[automatically_derived]
        impl ::runmeta::__private::serde::Serialize for #ident {
            fn serialize<S: ::runmeta::__private::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(::runmeta::__private::MetadataEnum::as_str(self))
            }
        }

        #[automatically_derived]
        impl<'de> ::runmeta::__private::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::runmeta::__private::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                ::runmeta::__private::deserialize_enum(d)
            }
        }
    }
}
