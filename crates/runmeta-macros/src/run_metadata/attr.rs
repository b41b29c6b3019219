//! The `#[run_metadata(...)]` options on the struct and on its fields.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprRange, ExprUnary, Lit, LitInt, LitStr, Path, RangeLimits, UnOp};

use crate::errors::Errors;

/// Options of the struct: `keys = path`, `name = "..."`, `version = N`.
#[derive(Default)]
pub(crate) struct StructOpts {
    pub keys: Option<Path>,
    pub name: Option<LitStr>,
    pub version: Option<LitInt>,
}

/// Options of a field.
#[derive(Default)]
pub(crate) struct FieldOpts {
    pub label: Option<Span>,
    pub redact: Option<Span>,
    pub sla_deadline: Option<Span>,
    pub sla_target: Option<Span>,
    pub rename: Option<LitStr>,
    pub range: Option<RangeOpt>,
}

/// `range = a..=b` (or `a..b`), as inclusive bounds.
pub(crate) struct RangeOpt {
    pub min: i128,
    pub max: i128,
    /// The range as written, to span errors over all of it.
    pub tokens: proc_macro2::TokenStream,
}

const STRUCT_OPTIONS: &str = "`keys`, `name`, `version`";
const FIELD_OPTIONS: &str = "`label`, `redact`, `range`, `rename`, `sla_deadline`, `sla_target`";

fn is_run_metadata(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("run_metadata")
}

/// Sets an option once; a repeated option is an error at its second occurrence.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &ParseNestedMeta<'_>,
    name: &str,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.error_at(&meta.path, format!("duplicate option `{name}`"));
    } else {
        *slot = Some(value);
    }
}

/// Consumes the value of an option that had an error, so that parsing goes on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

fn option_name(meta: &ParseNestedMeta<'_>) -> String {
    let path = &meta.path;
    path.get_ident().map_or_else(
        || quote::quote!(#path).to_string().replace(' ', ""),
        ToString::to_string,
    )
}

impl StructOpts {
    pub(crate) fn parse(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut opts = StructOpts::default();
        for attr in attrs.iter().filter(|a| is_run_metadata(a)) {
            let result = attr.parse_nested_meta(|meta| {
                let name = option_name(&meta);
                match name.as_str() {
                    "keys" => {
                        let path: Path = meta.value()?.parse()?;
                        set_once(&mut opts.keys, path, &meta, "keys", errors);
                    }
                    "name" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        if lit.value().is_empty() {
                            errors.error_at(&lit, "a schema name cannot be empty");
                        }
                        set_once(&mut opts.name, lit, &meta, "name", errors);
                    }
                    "version" => {
                        let lit: LitInt = meta.value()?.parse()?;
                        if let Err(e) = lit.base10_parse::<u32>() {
                            errors.error_at(&lit, format!("a schema version is a u32: {e}"));
                        }
                        set_once(&mut opts.version, lit, &meta, "version", errors);
                    }
                    _ => {
                        errors.error_at(&meta.path, format!("unknown run_metadata option `{name}` on a struct; expected one of {STRUCT_OPTIONS}"));
                        skip_value(&meta)?;
                    }
                }
                Ok(())
            });
            errors.ok(result);
        }
        opts
    }
}

impl FieldOpts {
    pub(crate) fn parse(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut opts = FieldOpts::default();
        for attr in attrs.iter().filter(|a| is_run_metadata(a)) {
            let result = attr.parse_nested_meta(|meta| {
                let name = option_name(&meta);
                let span = meta.path.span();
                let flag = |slot: &mut Option<Span>, errors: &mut Errors| -> syn::Result<()> {
                    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                        errors.error_at(&meta.path, format!("option `{name}` takes no value"));
                        skip_value(&meta)?;
                    }
                    set_once(slot, span, &meta, &name, errors);
                    Ok(())
                };
                match name.as_str() {
                    "label" => flag(&mut opts.label, errors)?,
                    "redact" => flag(&mut opts.redact, errors)?,
                    "sla_deadline" => flag(&mut opts.sla_deadline, errors)?,
                    "sla_target" => flag(&mut opts.sla_target, errors)?,
                    "rename" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        set_once(&mut opts.rename, lit, &meta, "rename", errors);
                    }
                    "range" => {
                        let expr: Expr = meta.value()?.parse()?;
                        if let Some(range) = parse_range(&expr, errors) {
                            set_once(&mut opts.range, range, &meta, "range", errors);
                        }
                    }
                    _ => {
                        errors.error_at(&meta.path, format!("unknown run_metadata option `{name}` on a field; expected one of {FIELD_OPTIONS}"));
                        skip_value(&meta)?;
                    }
                }
                Ok(())
            });
            errors.ok(result);
        }
        opts
    }
}

fn parse_range(expr: &Expr, errors: &mut Errors) -> Option<RangeOpt> {
    let Expr::Range(ExprRange {
        start, limits, end, ..
    }) = expr
    else {
        errors.error_at(expr, "`range` takes an integer range such as `1..=3`");
        return None;
    };
    let (Some(start), Some(end)) = (start, end) else {
        errors.error_at(expr, "`range` needs both bounds, such as `1..=3`");
        return None;
    };
    let min = int_of(start, errors)?;
    let end_value = int_of(end, errors)?;
    let max = match limits {
        RangeLimits::Closed(_) => end_value,
        RangeLimits::HalfOpen(_) => end_value - 1,
    };
    if min > max {
        errors.error_at(expr, format!("`range` {} is empty", quote::quote!(#expr)));
        return None;
    }
    Some(RangeOpt {
        min,
        max,
        tokens: quote::ToTokens::to_token_stream(expr),
    })
}

fn int_of(expr: &Expr, errors: &mut Errors) -> Option<i128> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => errors.ok(lit.base10_parse::<i128>()),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => int_of(expr, errors).map(|v| -v),
        Expr::Group(g) => int_of(&g.expr, errors),
        Expr::Paren(p) => int_of(&p.expr, errors),
        other => {
            errors.error_at(other, "`range` bounds must be integer literals");
            None
        }
    }
}

/// The names a `#[serde(...)]` option `name` gives: `name = "x"` → `["x"]`,
/// `name(serialize = "x", deserialize = "y")` → `["x", "y"]`. For a field's `rename`, a
/// struct's `rename_all`.
pub(crate) fn serde_names(attrs: &[syn::Attribute], name: &str) -> Vec<LitStr> {
    let mut names = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // Other serde options are not ours to check; a parse failure leaves them to serde.
        let _ = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(name) {
                return skip_value(&meta);
            }
            if meta.input.peek(syn::Token![=]) {
                names.push(meta.value()?.parse::<LitStr>()?);
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|side| {
                    if side.path.is_ident("serialize") || side.path.is_ident("deserialize") {
                        names.push(side.value()?.parse::<LitStr>()?);
                        Ok(())
                    } else {
                        skip_value(&side)
                    }
                })?;
            }
            Ok(())
        });
    }
    names
}

/// The name serde's `rename_all = rule` gives the snake_case field `field`; `None` for a rule
/// serde does not know (serde reports it).
pub(crate) fn serde_case(rule: &str, field: &str) -> Option<String> {
    let capitalized = |word: &str| {
        let mut chars = word.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_uppercase().chain(chars).collect::<String>()
        })
    };
    let pascal = || field.split('_').map(capitalized).collect::<String>();
    Some(match rule {
        "lowercase" | "snake_case" => field.to_ascii_lowercase(),
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => field.to_ascii_uppercase(),
        "PascalCase" => pascal(),
        "camelCase" => {
            let pascal = pascal();
            let mut chars = pascal.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_lowercase().chain(chars).collect::<String>()
            })
        }
        "kebab-case" => field.to_ascii_lowercase().replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_ascii_uppercase().replace('_', "-"),
        _ => return None,
    })
}

/// The text of `///` doc comments, trimmed and joined with newlines.
pub(crate) fn doc_of(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::serde_case;

    #[test]
    fn serde_cases_of_a_snake_case_field() {
        let cases = [
            ("lowercase", "ticket_id"),
            ("snake_case", "ticket_id"),
            ("UPPERCASE", "TICKET_ID"),
            ("SCREAMING_SNAKE_CASE", "TICKET_ID"),
            ("PascalCase", "TicketId"),
            ("camelCase", "ticketId"),
            ("kebab-case", "ticket-id"),
            ("SCREAMING-KEBAB-CASE", "TICKET-ID"),
        ];
        for (rule, name) in cases {
            assert_eq!(
                serde_case(rule, "ticket_id").as_deref(),
                Some(name),
                "{rule}"
            );
        }
        assert_eq!(
            serde_case("camelCase", "department").as_deref(),
            Some("department")
        );
        assert_eq!(serde_case("Title Case", "ticket_id"), None);
    }
}
