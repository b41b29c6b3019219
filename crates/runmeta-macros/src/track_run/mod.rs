//! `#[track_run]`: parse the options (attr) → check the fn → wrap its body (expand).

mod attr;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::Options::parse(args, &mut errors);
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                "#[track_run] goes on a fn with a body (a free fn or a method)",
            ));
            let compile_errors = errors.into_compile_errors();
            return quote!(#compile_errors #item);
        }
    };
    if let Some(c) = &func.sig.constness {
        errors.error_at(
            c,
            "#[track_run] cannot measure a `const fn`: timing needs the clock at run time",
        );
    }
    if let syn::ReturnType::Type(_, ty) = &func.sig.output {
        if let syn::Type::Never(never) = &**ty {
            errors.error_at(
                never,
                "#[track_run] cannot measure a fn that never returns (`-> !`): a run is recorded when it ends; track the work done inside it instead",
            );
        }
    }
    if !errors.is_empty() {
        // The fn is emitted untouched so that its callers still compile.
        let compile_errors = errors.into_compile_errors();
        return quote!(#compile_errors #func);
    }
    expand::expand(&options, func)
}
