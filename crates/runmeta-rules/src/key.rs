//! What makes a metadata key valid.

use std::fmt;

/// The longest key allowed, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// Metric names that a metadata key may not take: a key with one of these names would be
/// confused with the run's own metrics in every export (JSON, Prometheus labels, SQL columns).
///
/// The list covers Agno's v2 metric fields, their v1 names (still accepted on input) and
/// runmeta's run-record fields.
pub const RESERVED_METRIC_NAMES: &[&str] = &[
    // Agno v2 metric fields.
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "audio_total_tokens",
    "duration",
    "time_to_first_token",
    "cost",
    "provider_metrics",
    "additional_metrics",
    // Agno v1 names, accepted on input.
    "time",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "audio_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    // Run-record fields.
    "run_id",
    "parent_run_id",
    "session_id",
    "agent",
    "team",
    "status",
    "stop_reason",
    "error_class",
    "started_at",
    "model_time",
];

/// Why a key is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key is the empty string.
    Empty,
    /// The key is longer than [`MAX_KEY_LEN`] bytes.
    TooLong {
        /// The key's length in bytes.
        len: usize,
    },
    /// The key is not snake_case; `suggestion` is its snake_case spelling when there is one.
    NotSnakeCase {
        /// The snake_case spelling of the key, if it can be derived.
        suggestion: Option<String>,
    },
    /// The key is one of [`RESERVED_METRIC_NAMES`].
    ReservedMetricName,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("a metadata key cannot be empty"),
            KeyError::TooLong { len } => write!(
                f,
                "a metadata key is at most {MAX_KEY_LEN} bytes long, this one has {len}"
            ),
            KeyError::NotSnakeCase { suggestion: Some(s) } => write!(
                f,
                "a metadata key must be snake_case (lowercase ASCII letters, digits and single underscores, starting with a letter): use `{s}`"
            ),
            KeyError::NotSnakeCase { suggestion: None } => f.write_str(
                "a metadata key must be snake_case (lowercase ASCII letters, digits and single underscores, starting with a letter)",
            ),
            KeyError::ReservedMetricName => f.write_str(
                "this name is reserved for a run metric; pick a metadata key that cannot be confused with it",
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks a metadata key: non-empty, at most [`MAX_KEY_LEN`] bytes, snake_case
/// (`[a-z][a-z0-9]*(_[a-z0-9]+)*`), and not a reserved metric name.
///
/// ```
/// use runmeta_rules::{check_key, KeyError};
/// assert!(check_key("customer_tier").is_ok());
/// assert_eq!(check_key("input_tokens"), Err(KeyError::ReservedMetricName));
/// assert!(matches!(check_key("CustomerTier"), Err(KeyError::NotSnakeCase { .. })));
/// // No suggestion that is itself reserved.
/// assert_eq!(check_key("InputTokens"), Err(KeyError::NotSnakeCase { suggestion: None }));
/// ```
pub fn check_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong { len: key.len() });
    }
    if !is_snake_case(key) {
        // Never a name the key could not have either.
        let suggestion = to_snake_case(key).filter(|s| {
            is_snake_case(s) && s != key && !RESERVED_METRIC_NAMES.contains(&s.as_str())
        });
        return Err(KeyError::NotSnakeCase { suggestion });
    }
    if RESERVED_METRIC_NAMES.contains(&key) {
        return Err(KeyError::ReservedMetricName);
    }
    Ok(())
}

fn is_snake_case(key: &str) -> bool {
    let bytes = key.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_lowercase) || bytes.last() == Some(&b'_') {
        return false;
    }
    let mut previous_underscore = false;
    for &b in bytes {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => previous_underscore = false,
            b'_' if !previous_underscore => previous_underscore = true,
            _ => return false,
        }
    }
    true
}

/// Converts `CamelCase`, `kebab-case`, `Mixed_Case` or `spaced words` to snake_case.
/// Returns `None` when the input has characters that have no snake_case spelling.
///
/// ```
/// assert_eq!(runmeta_rules::to_snake_case_name("BillingSupport").as_deref(), Some("billing_support"));
/// assert_eq!(runmeta_rules::to_snake_case_name("HTTPError").as_deref(), Some("http_error"));
/// ```
pub fn to_snake_case_name(input: &str) -> Option<String> {
    to_snake_case(input)
}

fn to_snake_case(input: &str) -> Option<String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if c == '_' || c == '-' || c == ' ' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else {
            return None;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_snake_case() {
        for key in ["a", "ticket_id", "sla_deadline", "x2", "level_3_escalation"] {
            assert_eq!(check_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn rejects_non_snake_case_with_suggestion() {
        let cases = [
            ("TicketId", Some("ticket_id")),
            ("ticketId", Some("ticket_id")),
            ("ticket-id", Some("ticket_id")),
            ("ticket__id", Some("ticket_id")),
            ("_ticket", Some("ticket")),
            ("ticket_", Some("ticket")),
            ("1ticket", None),
            ("tické", None),
        ];
        for (key, suggestion) in cases {
            assert_eq!(
                check_key(key),
                Err(KeyError::NotSnakeCase {
                    suggestion: suggestion.map(str::to_owned)
                }),
                "{key}"
            );
        }
    }

    #[test]
    fn rejects_empty_long_and_reserved() {
        assert_eq!(check_key(""), Err(KeyError::Empty));
        let long = "a".repeat(MAX_KEY_LEN + 1);
        assert_eq!(check_key(&long), Err(KeyError::TooLong { len: 65 }));
        assert_eq!(check_key(&"a".repeat(MAX_KEY_LEN)), Ok(()));
        for name in RESERVED_METRIC_NAMES {
            assert_eq!(check_key(name), Err(KeyError::ReservedMetricName), "{name}");
        }
    }
}
