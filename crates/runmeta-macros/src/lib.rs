//! Procedural macros of [runmeta](https://docs.rs/runmeta). Use them through the `runmeta`
//! crate, which re-exports them with the runtime they expand to.
//!
//! Each macro is a pipeline: parse (syn) → check (every error collected, each spanned at the
//! offending token) → emit (quote, fully qualified paths through `::runmeta::__private`).
//! When a check fails, the derive still emits a fallback impl so that the user sees the one
//! error that matters, not a cascade of "trait not implemented".

mod deadline;
mod errors;
mod keys;
mod metadata_enum;
mod run_metadata;
mod track_run;

use proc_macro::TokenStream;

/// Derives `RunMetadata`: turns a struct with named fields into a metadata schema.
/// See the `runmeta` crate docs for the attribute reference.
#[proc_macro_derive(RunMetadata, attributes(run_metadata))]
pub fn derive_run_metadata(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    run_metadata::derive(&input).into()
}

/// Derives `MetadataEnum` for an enum of unit variants: snake_case wire names (override with
/// `#[metadata_enum(rename = "...")]`), `Display`, `FromStr`, serde, and the list of values.
#[proc_macro_derive(MetadataEnum, attributes(metadata_enum))]
pub fn derive_metadata_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    metadata_enum::derive(&input).into()
}

/// Declares an organization's metadata key registry: each key once, with its type and docs.
#[proc_macro]
pub fn metadata_keys(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as keys::Registry);
    keys::expand(&input).into()
}

/// A `Deadline` from an RFC 3339 literal checked at compile time.
#[proc_macro]
pub fn deadline(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::LitStr);
    deadline::expand(&input).into()
}

/// Measures every call of an agent entry point (sync or async) as a run.
#[proc_macro_attribute]
pub fn track_run(args: TokenStream, item: TokenStream) -> TokenStream {
    track_run::expand(args.into(), item.into()).into()
}
