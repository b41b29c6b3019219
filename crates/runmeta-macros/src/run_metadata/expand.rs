//! The derive's output: the static schema, field access, validation, the parse builder, the
//! registry assertions and a `Debug` that masks redacted fields.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::Ident;

use super::ast::{Field, Input};

pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let name = input
        .opts
        .name
        .as_ref()
        .map_or_else(|| ident.unraw().to_string(), syn::LitStr::value);
    let version = input
        .opts
        .version
        .as_ref()
        .and_then(|v| v.base10_parse::<u32>().ok())
        .unwrap_or(1);
    let doc = &input.doc;
    let descriptors = input.fields.iter().map(descriptor);
    let indices: Vec<usize> = (0..input.fields.len()).collect();
    let field_idents: Vec<&Ident> = input.fields.iter().map(|f| f.ident).collect();
    let keys: Vec<&str> = input.fields.iter().map(|f| f.key.as_str()).collect();
    let slots: Vec<Ident> = indices.iter().map(|i| format_ident!("__f{}", i)).collect();
    let types: Vec<&syn::Type> = input.fields.iter().map(|f| f.ty).collect();

    let value_arms = input.fields.iter().zip(&indices).map(|(f, i)| {
        let (field, ty) = (f.ident, f.ty);
        quote_spanned!(f.ty_span()=> #i => <#ty as ::runmeta::__private::MetadataField>::value(&self.#field),)
    });
    let label_arms = input.fields.iter().zip(&indices).filter(|(f, _)| f.opts.label.is_some()).map(|(f, i)| {
        let (field, ty) = (f.ident, f.ty);
        quote_spanned!(f.ty_span()=> #i => ::core::option::Option::Some(<#ty as ::runmeta::__private::LabelField>::label_value(&self.#field)),)
    });
    let checks = input.fields.iter().map(|f| {
        let (field, ty, key, redact) = (f.ident, f.ty, &f.key, f.opts.redact.is_some());
        let range = f.opts.range.as_ref().map(|r| {
            let (min, max) = (r.min, r.max);
            quote! {
                problems.check(#key, ::runmeta::__private::check_range(&self.#field, #min, #max, #redact));
            }
        });
        quote! {
            problems.check(#key, <#ty as ::runmeta::__private::MetadataField>::check(&self.#field));
            #range
        }
    });
    let set_arms = input.fields.iter().zip(&indices).zip(&slots).map(|((f, i), slot)| {
        let (ty, redact) = (f.ty, f.opts.redact.is_some());
        let read = quote_spanned!(f.ty_span()=> <#ty as ::runmeta::__private::MetadataField>::from_raw(raw, #redact));
        let read = match &f.opts.range {
            Some(r) => {
                let (min, max) = (r.min, r.max);
                quote! {
                    let value = #read.map_err(|p| ::runmeta::__private::against_range(p, #min, #max))?;
                    ::runmeta::__private::check_range(&value, #min, #max, #redact)?;
                }
            }
            None => quote!(let value = #read?;),
        };
        quote! {
            #i => {
                #read
                self.#slot = ::core::option::Option::Some(value);
            }
        }
    });
    let debug_fields = input.fields.iter().zip(&indices).map(|(f, i)| {
        let key = &f.key;
        if f.opts.redact.is_some() {
            quote!(.field(#key, &::runmeta::__private::DebugValue(::runmeta::__private::FieldValue::Str(::runmeta::__private::REDACTED))))
        } else {
            quote!(.field(#key, &::runmeta::__private::DebugValue(::runmeta::__private::RunMetadata::value_at(self, #i))))
        }
    });
    let registry = input.opts.keys.as_ref().map(|keys| {
        let asserts = input
            .fields
            .iter()
            .filter(|f| runmeta_rules::check_key(&f.key).is_ok())
            .map(|f| registry_assert(keys, f));
        quote!(#(#asserts)*)
    });
    // Spanned at each field's type, so an unsupported type is reported once, there.
    let takes = input.fields.iter().zip(&slots).map(|(f, slot)| {
        let (ty, key) = (f.ty, &f.key);
        quote_spanned!(f.ty_span()=> let #slot = ::runmeta::__private::take(self.#slot, <#ty as ::runmeta::__private::MetadataField>::absent, #key, errors);)
    });
    let builder = format_ident!("__{}Builder", ident);
    let vis = input.vis;

    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all, clippy::pedantic, clippy::nursery)]
        const _: () = {
            #registry

            #[derive(::core::default::Default)]
            #vis struct #builder { #(#slots: ::core::option::Option<#types>,)* }

            #[automatically_derived]
            impl ::runmeta::__private::Builder for #builder {
                type Output = #ident;

                fn set(&mut self, index: usize, raw: ::runmeta::__private::RawValue<'_>) -> ::core::result::Result<(), ::runmeta::__private::Problem> {
                    match index {
                        #(#set_arms)*
                        _ => {}
                    }
                    ::core::result::Result::Ok(())
                }

                fn finish(self, errors: &mut ::std::vec::Vec<::runmeta::__private::FieldError>) -> ::core::option::Option<#ident> {
                    #(#takes)*
                    ::core::option::Option::Some(#ident { #(#field_idents: #slots?,)* })
                }
            }

            #[automatically_derived]
            impl ::runmeta::__private::RunMetadata for #ident {
                const SCHEMA: &'static ::runmeta::__private::SchemaDescriptor = &::runmeta::__private::SchemaDescriptor {
                    name: #name,
                    version: #version,
                    doc: #doc,
                    fields: &[#(#descriptors),*],
                };

                type __Builder = #builder;

                fn value_at(&self, index: usize) -> ::runmeta::__private::FieldValue<'_> {
                    match index {
                        #(#value_arms)*
                        _ => ::runmeta::__private::FieldValue::Absent,
                    }
                }

                fn label_at(&self, index: usize) -> ::core::option::Option<&'static str> {
                    match index {
                        #(#label_arms)*
                        _ => ::core::option::Option::None,
                    }
                }

                fn validate(&self) -> ::core::result::Result<(), ::runmeta::__private::MetadataErrors> {
                    let mut problems = ::runmeta::__private::Problems::new();
                    #(#checks)*
                    problems.finish(#name)
                }

                fn __index_of(key: &str) -> ::core::option::Option<usize> {
                    match key {
                        #(#keys => ::core::option::Option::Some(#indices),)*
                        _ => ::core::option::Option::None,
                    }
                }

                fn __assign_from(&mut self, source: &Self) -> bool {
                    #[allow(unused_imports)]
                    use ::runmeta::__private::{AssignClone as _, AssignNone as _};
                    if true #(&& (&::runmeta::__private::AssignProbe::<#types>::NEW).can_assign())* {
                        #((&::runmeta::__private::AssignProbe::<#types>::NEW).assign(&mut self.#field_idents, &source.#field_idents);)*
                        true
                    } else {
                        false
                    }
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(#name) #(#debug_fields)* .finish()
                }
            }
        };
    }
}

fn descriptor(f: &Field<'_>) -> TokenStream {
    let (key, field, ty, doc) = (&f.key, f.ident.unraw().to_string(), f.ty, &f.doc);
    let (label, redact) = (f.opts.label.is_some(), f.opts.redact.is_some());
    let (sla_deadline, sla_target) = (f.opts.sla_deadline.is_some(), f.opts.sla_target.is_some());
    let field_type = match &f.opts.range {
        Some(r) => {
            let (min, max) = (r.min, r.max);
            quote!(::runmeta::__private::FieldType::Integer { min: #min, max: #max })
        }
        None => quote_spanned!(f.ty_span()=> <#ty as ::runmeta::__private::MetadataField>::TYPE),
    };
    quote! {
        ::runmeta::__private::FieldDescriptor {
            key: #key,
            field: #field,
            ty: #field_type,
            required: <#ty as ::runmeta::__private::MetadataField>::REQUIRED,
            label: #label,
            redact: #redact,
            sla_deadline: #sla_deadline,
            sla_target_seconds: #sla_target,
            doc: #doc,
        }
    }
}

/// `keys::<key>` must exist (rustc suggests similar names on a typo) and have the field's type.
fn registry_assert(keys: &syn::Path, f: &Field<'_>) -> TokenStream {
    let key = key_ident(&f.key, f.key_span());
    let inner = f.inner_ty;
    let key_path = quote_spanned!(f.key_span()=> #keys::#key);
    quote_spanned! {f.inner_ty_span()=>
        const _: () = ::runmeta::__private::assert_registry_type::<
            <#key_path as ::runmeta::__private::RegistryKey>::Type,
            #inner,
        >();
    }
}

/// The registry item for a key: a raw identifier when the key is a Rust keyword.
pub(crate) fn key_ident(key: &str, span: Span) -> Ident {
    if syn::parse_str::<Ident>(key).is_ok() {
        Ident::new(key, span)
    } else {
        Ident::new_raw(key, span)
    }
}

impl Field<'_> {
    fn inner_ty_span(&self) -> Span {
        syn::spanned::Spanned::span(self.inner_ty)
    }
}
