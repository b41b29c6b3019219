//! The derive's checks. Each error is spanned at the offending token; all are collected.

use std::collections::HashMap;

use syn::ext::IdentExt as _;

use super::ast::{type_name, Field, Input};
use super::attr::serde_case;
use crate::errors::Errors;

/// Integer types with their bounds, for `range` checks.
const INTEGERS: &[(&str, i128, i128)] = &[
    ("i8", i8::MIN as i128, i8::MAX as i128),
    ("i16", i16::MIN as i128, i16::MAX as i128),
    ("i32", i32::MIN as i128, i32::MAX as i128),
    ("i64", i64::MIN as i128, i64::MAX as i128),
    ("u8", 0, u8::MAX as i128),
    ("u16", 0, u16::MAX as i128),
    ("u32", 0, u32::MAX as i128),
    ("u64", 0, u64::MAX as i128),
];

/// The most fields a schema may have (the runtime tracks seen keys in a 256-bit set).
pub(crate) const MAX_FIELDS: usize = 256;

pub(crate) fn check(input: &Input<'_>, errors: &mut Errors) {
    if input.fields.len() > MAX_FIELDS {
        errors.error_at(
            input.ident,
            format!("a metadata schema has at most {MAX_FIELDS} fields"),
        );
    }
    check_serde_rename_all(input, errors);
    let mut seen: HashMap<&str, &Field<'_>> = HashMap::new();
    let mut sla_deadline: Option<&Field<'_>> = None;
    let mut sla_target: Option<&Field<'_>> = None;
    for field in &input.fields {
        if let Err(e) = runmeta_rules::check_key(&field.key) {
            errors.error_span(
                field.key_span(),
                format!("invalid metadata key `{}`: {e}", field.key),
            );
        }
        if let Some(first) = seen.insert(&field.key, field) {
            errors.error_span(
                field.key_span(),
                format!(
                    "metadata key `{}` is used twice: field `{}` already has it",
                    field.key, first.ident
                ),
            );
        }
        for rename in &field.serde_renames {
            if rename.value() != field.key {
                errors.error_at(
                    rename,
                    format!(
                        "serde names this field `{}`, but its metadata key is `{}`: JSON read by serde and by RunMetadata would disagree; use the same name in both, e.g. `#[run_metadata(rename = \"{}\")]`",
                        rename.value(),
                        field.key,
                        rename.value()
                    ),
                );
            }
        }
        if let (Some(_), Some(redact)) = (field.opts.label, field.opts.redact) {
            errors.error_span(
                redact,
                "a `label` is exported in clear in every metric, so it cannot be `redact`",
            );
        }
        check_range(field, errors);
        if let Some(span) = field.opts.sla_deadline {
            if type_name(field.inner_ty).as_deref() != Some("Deadline") {
                errors.error_span(
                    span,
                    "`sla_deadline` applies to a `Deadline` (or `Option<Deadline>`) field",
                );
            }
            if let Some(first) = sla_deadline.replace(field) {
                errors.error_span(
                    span,
                    format!(
                        "only one field can be the `sla_deadline`; `{}` already is",
                        first.ident
                    ),
                );
            }
        }
        if let Some(span) = field.opts.sla_target {
            let numeric = type_name(field.inner_ty).is_some_and(|n| {
                n == "f32" || n == "f64" || INTEGERS.iter().any(|(i, ..)| *i == n)
            });
            if !numeric {
                errors.error_span(
                    span,
                    "`sla_target` applies to a number of seconds (an integer or float field)",
                );
            }
            if let Some(first) = sla_target.replace(field) {
                errors.error_span(
                    span,
                    format!(
                        "only one field can be the `sla_target`; `{}` already is",
                        first.ident
                    ),
                );
            }
        }
    }
}

fn check_range(field: &Field<'_>, errors: &mut Errors) {
    let Some(range) = &field.opts.range else {
        return;
    };
    let name = type_name(field.inner_ty);
    let Some(&(ty, lo, hi)) = INTEGERS.iter().find(|(i, ..)| Some(*i) == name.as_deref()) else {
        errors.error_at(
            &range.tokens,
            format!(
                "`range` applies to integer fields (i8..i64, u8..u64), not `{}`",
                quote::ToTokens::to_token_stream(field.ty)
            ),
        );
        return;
    };
    if range.min < lo || range.max > hi {
        errors.error_at(
            &range.tokens,
            format!(
                "`range` {}..={} is outside the bounds of `{ty}` ({lo}..={hi})",
                range.min, range.max
            ),
        );
    }
}

/// A struct's `#[serde(rename_all = ...)]` must give each field (that serde does not rename
/// itself) its metadata key.
fn check_serde_rename_all(input: &Input<'_>, errors: &mut Errors) {
    for rule in &input.serde_rename_all {
        let differing: Vec<(String, &Field<'_>)> = input
            .fields
            .iter()
            .filter(|f| f.serde_renames.is_empty())
            .filter_map(|f| {
                let name = serde_case(&rule.value(), &f.ident.unraw().to_string())?;
                (name != f.key).then_some((name, f))
            })
            .collect();
        if let Some((name, field)) = differing.first() {
            let others = match differing.len() {
                1 => String::new(),
                2 => " (and 1 more field)".to_owned(),
                n => format!(" (and {} more fields)", n - 1),
            };
            errors.error_at(
                rule,
                format!(
                    "`#[serde(rename_all = \"{}\")]` names field `{}` `{name}`, but its metadata key is `{}`{others}: JSON read by serde and by RunMetadata would disagree; metadata keys are snake_case, so drop `rename_all` or rename each field in both",
                    rule.value(),
                    field.ident.unraw(),
                    field.key,
                ),
            );
        }
    }
}
