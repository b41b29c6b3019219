//! `deadline!("...")`: a literal checked at compile time by the same rules as the runtime.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(lit: &syn::LitStr) -> TokenStream {
    match runmeta_rules::parse_rfc3339(&lit.value()) {
        Ok(ts) => {
            let seconds = ts.as_second();
            let nanos = ts.subsec_nanosecond();
            quote!(::runmeta::__private::deadline_const(#seconds, #nanos))
        }
        Err(e) => syn::Error::new_spanned(lit, format!("invalid deadline literal: {e}"))
            .to_compile_error(),
    }
}
