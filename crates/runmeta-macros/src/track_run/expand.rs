//! The wrapped fn: the same signature, attributes and docs; the body runs inside a run.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ItemFn, ReturnType, Stmt, Type};

use super::attr::Options;

pub(crate) fn expand(options: &Options, mut func: ItemFn) -> TokenStream {
    let agent = options
        .agent
        .as_ref()
        .map_or_else(|| func.sig.ident.unraw().to_string(), syn::LitStr::value);
    let team = match &options.team {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    // The probes are spanned at the user's expression, so a type they do not take is
    // reported there rather than at the attribute.
    let metadata = match &options.metadata {
        Some(e) => {
            let call = quote_spanned!(e.span()=> (#e).prepare_metadata());
            quote!(::core::option::Option::Some({
                use ::runmeta::__private::MetadataArg as _;
                #call
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let session = match &options.session {
        Some(e) => {
            let call =
                quote_spanned!(e.span()=> (&::runmeta::__private::TextProbe(&(#e))).session_id());
            quote!(::core::option::Option::Some({
                use ::runmeta::__private::{TextViaDisplay as _, TextViaStr as _};
                #call
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let model = match &options.model {
        Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        })) => {
            quote!(::core::option::Option::Some(::std::borrow::Cow::Borrowed(#s)))
        }
        // Already an `Option`, as the arguments hold it: written straight into them.
        Some(e) => {
            let call =
                quote_spanned!(e.span()=> (&::runmeta::__private::TextProbe(&(#e))).model_name());
            quote!({
                use ::runmeta::__private::{TextViaDisplay as _, TextViaStr as _};
                #call
            })
        }
        None => quote!(::core::option::Option::None),
    };
    let spec = quote! {
        static __RUNMETA_SPEC: ::runmeta::__private::RunSpec = ::runmeta::__private::RunSpec { agent: #agent, team: #team };
    };
    let args = quote!(::runmeta::__private::RunArgs { metadata: #metadata, session: #session, model: #model });
    // A future's run starts at its first poll; its arguments are prepared when it is made.
    let prelude = quote! {
        #spec
        let __runmeta_args = if ::runmeta::__private::enabled() {
            ::core::option::Option::Some(#args)
        } else {
            ::core::option::Option::None
        };
    };
    let block = &func.block;
    let record_usage = options
        .usage
        .as_ref()
        .map(|path| quote!(::runmeta::__private::record_usage(#path(&__runmeta_ret));));

    let body = if func.sig.asyncness.is_some() {
        let output = return_type(&func.sig.output);
        let classify = classify(output.as_ref());
        let inner = async_block(block, output.as_ref(), record_usage.as_ref());
        quote!({
            #prelude
            ::runmeta::__private::Tracked::new(&__RUNMETA_SPEC, __runmeta_args, #classify, #inner).await
        })
    } else if let Some(pinned) = async_trait_body(block) {
        // `#[async_trait]` has turned `async fn` into `Box::pin(async move { .. })`.
        let output = future_output(&func.sig.output);
        let classify = classify(output.as_ref());
        let (stmts, pin_fn, async_expr) = pinned;
        let inner = async_block_expr(async_expr, output.as_ref(), record_usage.as_ref());
        quote!({
            #prelude
            #(#stmts)*
            #pin_fn(::runmeta::__private::Tracked::new(&__RUNMETA_SPEC, __runmeta_args, #classify, #inner))
        })
    } else if let Some(output) = impl_future_output(&func.sig.output) {
        let classify = classify(Some(&output));
        let inner = match &record_usage {
            Some(record) => {
                quote!(async move { let __runmeta_ret = __runmeta_future.await; #record __runmeta_ret })
            }
            None => quote!(__runmeta_future),
        };
        quote!({
            #prelude
            #[allow(clippy::redundant_closure_call)]
            let __runmeta_future = (|| #block)();
            ::runmeta::__private::Tracked::new(&__RUNMETA_SPEC, __runmeta_args, #classify, #inner)
        })
    } else {
        let output = return_type(&func.sig.output);
        let classify = classify(output.as_ref());
        let fake_return = fake_return(output.as_ref());
        // The body's statements, not its block: `{ #fake_return { x } }` would trip
        // `unused_braces` on a one-line body.
        let stmts = &block.stmts;
        let body = match &record_usage {
            Some(record) => quote!({
                #[allow(clippy::redundant_closure_call)]
                let __runmeta_ret = (|| { #fake_return #(#stmts)* })();
                #record
                __runmeta_ret
            }),
            None => quote!({ #fake_return #(#stmts)* }),
        };
        // A sync call's run starts before its arguments are prepared.
        quote!({
            #spec
            let __runmeta_began = ::runmeta::__private::begin();
            let __runmeta_args = if __runmeta_began.is_some() {
                ::core::option::Option::Some(#args)
            } else {
                ::core::option::Option::None
            };
            ::runmeta::__private::run_sync_began(&__RUNMETA_SPEC, __runmeta_began, __runmeta_args, #classify, || #body)
        })
    };
    func.block = Box::new(syn::parse_quote!(#body));
    func.into_token_stream()
}

/// `T` of `-> T`; `()` for no return type.
fn return_type(output: &ReturnType) -> Option<Type> {
    match output {
        ReturnType::Default => Some(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    }
}

/// True when the type mentions `impl Trait` (it cannot be written in a `let`).
fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// An unreachable early return of the declared type: it lets `?` and `return` inside the
/// moved body infer their type, as `tracing::instrument` does.
fn fake_return(output: Option<&Type>) -> TokenStream {
    match output {
        Some(ty) if !has_impl_trait(ty) => quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __runmeta_fake_return: #ty = loop {};
                return __runmeta_fake_return;
            }
        },
        _ => TokenStream::new(),
    }
}

fn async_block(
    block: &Block,
    output: Option<&Type>,
    record_usage: Option<&TokenStream>,
) -> TokenStream {
    let fake_return = fake_return(output);
    let stmts = &block.stmts;
    match record_usage {
        Some(record) => quote!(async move {
            let __runmeta_ret = async move { #fake_return #(#stmts)* }.await;
            #record
            __runmeta_ret
        }),
        None => quote!(async move { #fake_return #(#stmts)* }),
    }
}

fn async_block_expr(
    expr: &Expr,
    output: Option<&Type>,
    record_usage: Option<&TokenStream>,
) -> TokenStream {
    let _ = output;
    match record_usage {
        Some(record) => quote!(async move {
            let __runmeta_ret = #expr.await;
            #record
            __runmeta_ret
        }),
        None => quote!(#expr),
    }
}

/// The closure that turns a return value into an outcome: `Result` by its variant (with the
/// error's class), anything else a success.
fn classify(output: Option<&Type>) -> TokenStream {
    match output {
        Some(ty) if is_result(ty) => {
            // An opaque error type is known only after the body is checked: the probe,
            // which picks its arm by the type, cannot run on it.
            let class = if error_type(ty).is_some_and(has_impl_trait) {
                quote!(::runmeta::__private::opaque_error_class(__runmeta_err))
            } else {
                quote!({
                    #[allow(unused_imports)]
                    use ::runmeta::__private::{ViaErrorClass as _, ViaTypeName as _};
                    (&::runmeta::__private::ClassProbe(__runmeta_err)).class()
                })
            };
            let ty = infer_impl_traits(ty);
            quote! {
                |__runmeta_ret: &#ty| match __runmeta_ret {
                    ::core::result::Result::Ok(_) => ::runmeta::__private::Outcome::SUCCESS,
                    ::core::result::Result::Err(__runmeta_err) => ::runmeta::__private::Outcome::error(#class),
                }
            }
        }
        _ => quote!(|_| ::runmeta::__private::Outcome::SUCCESS),
    }
}

/// The type with each `impl Trait` in it replaced by `_`, which a closure's parameter may
/// name: `Result<impl Display, E>` → `Result<_, E>`, still classified by its variant.
fn infer_impl_traits(ty: &Type) -> Type {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(imp) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](syn::spanned::Spanned::span(imp)),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Infer.visit_type_mut(&mut ty);
    ty
}

/// `E` of `Result<T, E>` (`None` for an alias that fixes it, `io::Result<T>`).
fn error_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(p) => {
            let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments
            else {
                return None;
            };
            args.args
                .iter()
                .filter_map(|a| match a {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .nth(1)
        }
        Type::Group(g) => error_type(&g.elem),
        Type::Paren(p) => error_type(&p.elem),
        _ => None,
    }
}

/// A type named `Result` (`Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == "Result")
        }
        Type::Group(g) => is_result(&g.elem),
        Type::Paren(p) => is_result(&p.elem),
        _ => false,
    }
}

/// `X` of `-> impl Future<Output = X>`.
fn impl_future_output(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::ImplTrait(imp) = &**ty else {
        return None;
    };
    imp.bounds.iter().find_map(output_binding)
}

/// `X` of any `Future<Output = X>` bound inside the return type (`Pin<Box<dyn Future<Output = X> + Send>>`).
fn future_output(output: &ReturnType) -> Option<Type> {
    struct Finder(Option<Type>);
    impl Visit<'_> for Finder {
        fn visit_type_param_bound(&mut self, bound: &syn::TypeParamBound) {
            if self.0.is_none() {
                self.0 = output_binding(bound);
            }
            syn::visit::visit_type_param_bound(self, bound);
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

fn output_binding(bound: &syn::TypeParamBound) -> Option<Type> {
    let syn::TypeParamBound::Trait(t) = bound else {
        return None;
    };
    let last = t.path.segments.last()?;
    if last.ident != "Future" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
        _ => None,
    })
}

/// For a body ending in `Box::pin(async move { .. })`: the statements before it, the
/// `Box::pin` path and the async block.
fn async_trait_body(block: &Block) -> Option<(Vec<&Stmt>, &Expr, &Expr)> {
    let (last, rest) = block.stmts.split_last()?;
    let Stmt::Expr(Expr::Call(call), None) = last else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if segments.len() < 2
        || segments[segments.len() - 2] != "Box"
        || segments[segments.len() - 1] != "pin"
        || call.args.len() != 1
    {
        return None;
    }
    let arg = call.args.first()?;
    if !matches!(arg, Expr::Async(_)) {
        return None;
    }
    Some((rest.iter().collect(), &call.func, arg))
}
