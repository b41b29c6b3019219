//! Validation errors: every problem of a metadata value, reported at once.

use std::borrow::Cow;
use std::fmt;

use runmeta_rules::DeadlineError;
use serde::Serialize;

/// Input size limits applied to untyped metadata.
pub mod limits {
    /// Most keys in one metadata document.
    pub const MAX_KEYS: usize = 256;
    /// Longest string value, in bytes.
    pub const MAX_STRING_BYTES: usize = 4 * 1024;
    /// Largest JSON document, in bytes.
    pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
}

/// What is wrong with one key's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// A required key is absent.
    Missing,
    /// The key is not in the schema.
    Unknown,
    /// The key appears more than once.
    Duplicate,
    /// The JSON type differs from the field's.
    WrongType {
        /// The field's type.
        expected: Cow<'static, str>,
        /// The JSON type found.
        found: &'static str,
    },
    /// The value is not one of the enum's values. `found` is `None` for a redacted field.
    NotAllowed {
        /// The value found.
        found: Option<String>,
        /// The allowed values.
        allowed: &'static [&'static str],
    },
    /// An integer outside the field's range. `found` is `None` for a redacted field.
    OutOfRange {
        /// The value found.
        found: Option<String>,
        /// Smallest allowed value.
        min: i128,
        /// Largest allowed value.
        max: i128,
    },
    /// The deadline is not an RFC 3339 instant.
    InvalidDeadline {
        /// Why.
        reason: String,
    },
    /// A float that is NaN or infinite, or too large for an `f32` field.
    NonFinite,
    /// A string longer than [`limits::MAX_STRING_BYTES`].
    StringTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`limits::MAX_KEYS`] keys.
    TooManyKeys {
        /// The limit.
        max: usize,
    },
    /// A document larger than [`limits::MAX_DOCUMENT_BYTES`].
    DocumentTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input is not a JSON object (or not JSON at all).
    Malformed {
        /// What the parser said.
        message: String,
    },
}

impl Problem {
    /// `redact` keeps every part of the value out of the reason.
    pub(crate) fn invalid_deadline(err: &DeadlineError, redact: bool) -> Self {
        Problem::InvalidDeadline {
            reason: if redact {
                err.value_free()
            } else {
                err.to_string()
            },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("required key is missing"),
            Problem::Unknown => f.write_str("unknown key"),
            Problem::Duplicate => f.write_str("key appears more than once"),
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::NotAllowed { found, allowed } => {
                match found {
                    Some(v) => write!(f, "`{v}` is not allowed")?,
                    None => f.write_str("value is not allowed")?,
                }
                f.write_str("; expected one of ")?;
                write_list(f, allowed)
            }
            Problem::OutOfRange { found, min, max } => match found {
                Some(v) => write!(f, "{v} is out of range {min}..={max}"),
                None => write!(f, "value is out of range {min}..={max}"),
            },
            Problem::InvalidDeadline { reason } => f.write_str(reason),
            Problem::NonFinite => f.write_str(
                "expected a finite number, found NaN, infinity or a number too large for the field's type",
            ),
            Problem::StringTooLong { len, max } => {
                write!(f, "string of {len} bytes is longer than the limit of {max}")
            }
            Problem::TooManyKeys { max } => write!(f, "more than {max} keys"),
            Problem::DocumentTooLarge { len, max } => write!(
                f,
                "document of {len} bytes is larger than the limit of {max}"
            ),
            Problem::Malformed { message } => write!(f, "malformed input: {message}"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, values: &[&str]) -> fmt::Result {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "`{v}`")?;
    }
    Ok(())
}

/// One problem: the key (empty for a problem of the whole document) and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// The key.
    pub key: String,
    /// What is wrong with it.
    #[serde(flatten)]
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            fmt::Display::fmt(&self.problem, f)
        } else {
            write!(f, "`{}`: {}", self.key, self.problem)
        }
    }
}

/// Every problem of a metadata value. Its `Display` lists them all; it serializes to JSON
/// for API responses.
///
/// ```
/// # use runmeta_core::schema::{MetadataErrors, FieldError, Problem};
/// let errors = MetadataErrors::new("SupportRun", vec![
///     FieldError { key: "ticket_id".into(), problem: Problem::Missing },
///     FieldError { key: "tier".into(), problem: Problem::Unknown },
/// ]);
/// assert_eq!(errors.to_string(),
///     "invalid SupportRun metadata (2 problems): `ticket_id`: required key is missing; `tier`: unknown key");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
pub struct MetadataErrors {
    /// The schema's name.
    pub schema: Cow<'static, str>,
    /// The problems, in input order (missing keys last).
    pub errors: Vec<FieldError>,
}

impl MetadataErrors {
    /// Errors of a schema.
    #[must_use]
    pub fn new(schema: impl Into<Cow<'static, str>>, errors: Vec<FieldError>) -> Self {
        MetadataErrors {
            schema: schema.into(),
            errors,
        }
    }

    /// The problem recorded for a key, if any.
    #[must_use]
    pub fn for_key(&self, key: &str) -> Option<&Problem> {
        self.errors
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.problem)
    }

    /// The errors as JSON: `{"schema": ..., "errors": [{"key": ..., "problem": ..., ...}]}`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for MetadataErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "invalid {} metadata ({n} problem{}): ",
            self.schema,
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(e, f)?;
        }
        Ok(())
    }
}
