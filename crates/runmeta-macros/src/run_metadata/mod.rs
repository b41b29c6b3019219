//! `#[derive(RunMetadata)]`: parse (ast, attr) → check (valid) → emit (expand).

mod ast;
mod attr;
mod expand;
mod valid;

use proc_macro2::TokenStream;

use crate::errors::Errors;

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let Some(parsed) = ast::Input::parse(input, &mut errors) else {
        return errors.into_compile_errors();
    };
    valid::check(&parsed, &mut errors);
    let tokens = expand::expand(&parsed);
    let compile_errors = errors.into_compile_errors();
    // The impl is emitted even when a check failed: code that uses the type then still
    // compiles, and the user sees the check's error alone.
    quote::quote!(#compile_errors #tokens)
}

pub(crate) use attr::doc_of;
pub(crate) use expand::key_ident;

/// True for `Option<T>`.
pub(crate) fn option_type(ty: &syn::Type) -> bool {
    ast::option_inner(ty).is_some()
}
