//! `#[track_run(...)]` options.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

use crate::errors::Errors;

/// The parsed options. Every error is collected in `errors`.
#[derive(Default)]
pub(crate) struct Options {
    pub agent: Option<LitStr>,
    pub team: Option<LitStr>,
    pub metadata: Option<Expr>,
    pub session: Option<Expr>,
    pub model: Option<Expr>,
    pub usage: Option<Path>,
}

struct Arg {
    name: Ident,
    value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new_spanned(
                &name,
                format!("expected `{name} = ...`"),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Arg {
            name,
            value: input.parse()?,
        })
    }
}

const OPTIONS: &str = "`agent`, `metadata`, `session`, `team`, `model`, `usage`";

impl Options {
    pub(crate) fn parse(tokens: proc_macro2::TokenStream, errors: &mut Errors) -> Options {
        let mut options = Options::default();
        let parser = Punctuated::<Arg, Token![,]>::parse_terminated;
        let Some(args) = errors.ok(syn::parse::Parser::parse2(parser, tokens)) else {
            return options;
        };
        for Arg { name, value } in args {
            let key = name.to_string();
            let duplicate = match key.as_str() {
                "agent" => set(&mut options.agent, lit_str(&value, &key, errors)),
                "team" => set(&mut options.team, lit_str(&value, &key, errors)),
                "metadata" => set(&mut options.metadata, Some(value)),
                "session" => set(&mut options.session, Some(value)),
                "model" => set(&mut options.model, Some(value)),
                "usage" => set(&mut options.usage, path(&value, errors)),
                _ => {
                    errors.error_at(
                        &name,
                        format!("unknown track_run option `{key}`; expected one of {OPTIONS}"),
                    );
                    false
                }
            };
            if duplicate {
                errors.error_at(&name, format!("duplicate track_run option `{key}`"));
            }
        }
        options
    }
}

/// Sets an option; true if it was already set.
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let Some(value) = value else { return false };
    if slot.is_some() {
        return true;
    }
    *slot = Some(value);
    false
}

fn lit_str(value: &Expr, key: &str, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => {
            if s.value().is_empty() {
                errors.error_at(s, format!("`{key}` cannot be empty"));
            }
            Some(s.clone())
        }
        other => {
            errors.error_at(
                other,
                format!("`{key}` takes a string literal, e.g. `{key} = \"support\"`"),
            );
            None
        }
    }
}

fn path(value: &Expr, errors: &mut Errors) -> Option<Path> {
    match value {
        Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
        other => {
            errors.error_at(other, "`usage` takes the path of a fn from `&ReturnType` to a usage, e.g. `usage = Reply::usage`");
            None
        }
    }
}
