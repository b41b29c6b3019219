//! `metadata_keys!`: an organization's key registry, one module of key types.
//!
//! ```text
//! runmeta::metadata_keys! {
//!     pub mod org_keys {
//!         /// Link to the external ticketing system.
//!         ticket_id: String,
//!         priority: Priority,
//!     }
//! }
//! ```

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{braced, Attribute, Ident, Token, Type, Visibility};

use crate::errors::Errors;
use crate::run_metadata::key_ident;

pub(crate) struct Registry {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    keys: Vec<Key>,
}

struct Key {
    attrs: Vec<Attribute>,
    name: Ident,
    ty: Type,
}

impl Parse for Registry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![mod]>()?;
        let name: Ident = input.parse()?;
        let body;
        braced!(body in input);
        let mut keys = Vec::new();
        while !body.is_empty() {
            let attrs = body.call(Attribute::parse_outer)?;
            let name = body.call(Ident::parse_any)?;
            body.parse::<Token![:]>()?;
            let ty: Type = body.parse()?;
            keys.push(Key { attrs, name, ty });
            if body.is_empty() {
                break;
            }
            body.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("expected one `mod` per `metadata_keys!`"));
        }
        Ok(Registry {
            attrs,
            vis,
            name,
            keys,
        })
    }
}

pub(crate) fn expand(registry: &Registry) -> TokenStream {
    let mut errors = Errors::default();
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for key in &registry.keys {
        let name = key.name.unraw().to_string();
        if let Err(e) = runmeta_rules::check_key(&name) {
            errors.error_at(&key.name, format!("invalid metadata key `{name}`: {e}"));
        } else if matches!(name.as_str(), "self" | "super" | "crate") {
            errors.error_at(
                &key.name,
                format!("`{name}` cannot be a metadata key: it is a path keyword"),
            );
        }
        if seen.insert(name.clone(), &key.name).is_some() {
            errors.error_at(&key.name, format!("metadata key `{name}` is declared twice in the registry; each key is declared once, with one type"));
        }
        if super::run_metadata::option_type(&key.ty) {
            errors.error_at(&key.ty, "a registry declares a key's value type; optionality belongs to each schema (`Option<T>` on the field), so write the type without `Option`");
        }
    }
    let (attrs, vis, module) = (&registry.attrs, &registry.vis, &registry.name);
    // A key declared twice is reported above; only its first declaration is emitted.
    let mut emitted = std::collections::HashSet::new();
    let unique: Vec<&Key> = registry
        .keys
        .iter()
        .filter(|k| emitted.insert(k.name.unraw().to_string()))
        .collect();
    let items = unique.iter().map(|key| {
        let name = key.name.unraw().to_string();
        let ident = key_ident(&name, key.name.span());
        let ty = &key.ty;
        let doc_attrs = key.attrs.iter().filter(|a| a.path().is_ident("doc"));
        let doc = crate::run_metadata::doc_of(&key.attrs);
        let assert =
            quote_spanned!(ty.span()=> const _: () = ::runmeta::__private::assert_field::<#ty>(););
        quote! {
            #(#doc_attrs)*
            #[allow(non_camel_case_types)]
            pub enum #ident {}

            impl ::runmeta::__private::RegistryKey for #ident {
                type Type = #ty;
                const NAME: &'static str = #name;
                const DOC: &'static str = #doc;
            }

            #assert
        }
    });
    let entries = unique.iter().map(|key| {
        let name = key.name.unraw().to_string();
        let ty = &key.ty;
        let doc = crate::run_metadata::doc_of(&key.attrs);
        quote!(::runmeta::__private::RegistryEntry { key: #name, ty: <#ty as ::runmeta::__private::MetadataField>::TYPE, doc: #doc })
    });
    let compile_errors = errors.into_compile_errors();
    quote! {
        #compile_errors
        #(#attrs)*
        #vis mod #module {
            #![allow(unused_imports)]
            use super::*;

            #(#items)*

            /// Every key of this registry, in declaration order.
            pub const KEYS: &[::runmeta::__private::RegistryEntry] = &[#(#entries),*];
        }
    }
}
