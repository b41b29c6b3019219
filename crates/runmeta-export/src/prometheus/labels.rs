//! Label names and values: sanitizing and normalizing them, and a run's label buffers.

use super::key::LabelKey;
use std::borrow::Cow;

/// The value every label of the overflow series carries; see
/// [`ExporterConfig::max_series_per_metric`](super::ExporterConfig::max_series_per_metric).
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// The longest normalized error class, in bytes; see [`normalize_error_class`].
pub const MAX_ERROR_CLASS_LEN: usize = 64;

/// The longest label name, in bytes; longer sanitized names are cut.
pub const MAX_LABEL_NAME_LEN: usize = 128;

/// The label names the exporter sets itself. A metadata label field with one of these names is
/// exported as `exported_<name>` (Prometheus' convention for clashing labels).
pub const RESERVED_LABEL_NAMES: &[&str] = &[
    "agent",
    "release",
    "status",
    "stop_reason",
    "error_class",
    "model",
    "tool",
    "token_type",
    "metric",
    "le",
    "quantile",
    "job",
    "instance",
];

/// Makes `name` a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with
/// `__`, which Prometheus reserves): every other character becomes `_`, a leading digit gets a
/// `_` prefix, a leading `__` gets a `meta` prefix, and the result is cut at
/// [`MAX_LABEL_NAME_LEN`] bytes. Returns `None` for an empty name.
///
/// Valid names (the snake_case keys of metadata schemas) are returned borrowed, unchanged.
///
/// ```
/// use runmeta_export::prometheus::sanitize_label_name;
/// assert_eq!(sanitize_label_name("customer_tier").as_deref(), Some("customer_tier"));
/// assert_eq!(sanitize_label_name("tier-v2.1").as_deref(), Some("tier_v2_1"));
/// assert_eq!(sanitize_label_name("2fa").as_deref(), Some("_2fa"));
/// assert_eq!(sanitize_label_name("__name__").as_deref(), Some("meta__name__"));
/// assert_eq!(sanitize_label_name(""), None);
/// ```
#[must_use]
pub fn sanitize_label_name(name: &str) -> Option<Cow<'_, str>> {
    if name.is_empty() {
        return None;
    }
    if is_valid_label_name(name) {
        return Some(Cow::Borrowed(name));
    }
    let mut out = String::with_capacity(name.len() + 4);
    if name.starts_with("__") {
        out.push_str("meta");
    } else if name.as_bytes()[0].is_ascii_digit() {
        out.push('_');
    }
    for c in name.chars() {
        if out.len() >= MAX_LABEL_NAME_LEN {
            break;
        }
        out.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    Some(Cow::Owned(out))
}

/// The bytes a label name may hold after its first: `[a-zA-Z0-9_]`, one lookup a byte.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation)]
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || byte == b'_';
        b += 1;
    }
    table
};

/// True when `name` is a valid label name that needs no change.
fn is_valid_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LABEL_NAME_LEN
        && !bytes[0].is_ascii_digit()
        && !name.starts_with("__")
        && bytes.iter().all(|&b| NAME_BYTES[usize::from(b)])
}

/// Normalizes an error class into a low-cardinality label value: the last path segment of a
/// type name (`my_app::errors::TimeoutError<T>` → `TimeoutError`; the last two when the last
/// is a bare `Error`: `std::io::Error` → `io::Error`), converted to lowercase snake_case
/// (`timeout_error`, `HTTPError` → `http_error`), every other character folded into a single
/// `_`, cut at [`MAX_ERROR_CLASS_LEN`] bytes. An empty result becomes `unknown`.
///
/// ```
/// use runmeta_export::prometheus::normalize_error_class;
/// assert_eq!(normalize_error_class("my_app::errors::TimeoutError"), "timeout_error");
/// assert_eq!(normalize_error_class("std::io::Error"), "io_error");
/// assert_eq!(normalize_error_class("HTTPError"), "http_error");
/// assert_eq!(normalize_error_class("Rate limit: 429"), "rate_limit_429");
/// assert_eq!(normalize_error_class("rate_limited"), "rate_limited");
/// assert_eq!(normalize_error_class("  "), "unknown");
/// ```
#[must_use]
pub fn normalize_error_class(class: &str) -> String {
    // Drop generic arguments, then keep the last path segment of a type name.
    let base = class.split('<').next().unwrap_or(class).trim();
    let mut segments = base.rsplit("::");
    let last = segments.next().unwrap_or(base);
    let base = match segments.next() {
        Some(prev) if last.eq_ignore_ascii_case("error") && !prev.is_empty() => {
            // `prev::Error`: the path is contiguous in `base`, so slice it.
            &base[base.len() - last.len() - 2 - prev.len()..]
        }
        _ => last,
    };
    // Bytes, not chars: only ASCII letters and digits are kept, and every byte of a
    // multi-byte character is a separator, as the character would be.
    let bytes = base.as_bytes();
    let mut out = String::with_capacity(base.len().min(MAX_ERROR_CLASS_LEN) + 8);
    let mut pending_sep = false;
    for (i, &c) in bytes.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = bytes[i - 1];
                let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    pending_sep = true;
                }
            }
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            if out.len() >= MAX_ERROR_CLASS_LEN {
                break;
            }
            out.push(char::from(c.to_ascii_lowercase()));
        } else {
            pending_sep = true;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// `value` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_value(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while end > 0 && !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The metadata label pairs of one run, written into its key after the labels before them,
/// with sanitized, unique names (the metadata's `for_each_label` callback lends its strings
/// only for the call), at most `limit` of them: the rest are dropped and counted.
pub(crate) struct MetaLabels<'k> {
    key: &'k mut LabelKey,
    /// Where the metadata pairs start in `key`.
    start: usize,
    /// Pairs kept.
    kept: usize,
    /// The most pairs kept.
    limit: usize,
    /// Pairs not kept because `limit` pairs were already kept.
    dropped: u64,
}

impl<'k> MetaLabels<'k> {
    /// No pairs yet; at most `limit` will be written into `key`.
    pub(crate) fn new(key: &'k mut LabelKey, limit: usize) -> Self {
        MetaLabels {
            start: key.mark(),
            key,
            kept: 0,
            limit,
            dropped: 0,
        }
    }

    /// Adds one pair, unless its name is empty. Reserved names get an `exported_` prefix;
    /// values are cut at `max_value_len` bytes. A pair whose name, once sanitized, is one
    /// already kept (`a.b` after `a_b`, `le` after `exported_le`) is not added, and counted
    /// as dropped when its value differs; once `limit` pairs are kept, a pair with a new name
    /// is dropped and counted. The duplicate check compares with the kept names only, so a
    /// pair costs at most `limit` comparisons.
    pub(crate) fn push(&mut self, name: &str, value: &str, max_value_len: usize) {
        let Some(name) = sanitize_label_name(name) else {
            return;
        };
        let reserved = RESERVED_LABEL_NAMES.contains(&name.as_ref());
        // Not `strip_prefix("")` for the common case: that compares the empty prefix with a
        // call to `memcmp` of length 0, and on the machine measured (AMD EPYC, glibc 2.36,
        // whose AVX-512 `memcmp` answers it with a masked load) those calls took 40 % of an
        // exported run; see BENCHMARKS.md.
        let value = truncate_value(value, max_value_len);
        let kept = self.key.pairs_since(self.start).find(|(kept, _)| {
            if reserved {
                kept.strip_prefix(EXPORTED_PREFIX) == Some(&*name)
            } else {
                *kept == &*name
            }
        });
        if let Some((_, kept_value)) = kept {
            // The same pair again (a key listed twice) loses nothing; another value under a
            // name that sanitizing made equal is a dimension lost.
            if kept_value != value {
                self.dropped += 1;
            }
            return;
        }
        if self.kept >= self.limit {
            self.dropped += 1;
            return;
        }
        if reserved {
            self.key.push_prefixed(EXPORTED_PREFIX, &name, value);
        } else {
            self.key.push(&name, value);
        }
        self.kept += 1;
    }

    /// Pairs dropped: another value under a name already kept, or past `limit` pairs.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What a metadata label named like one of [`RESERVED_LABEL_NAMES`] is prefixed with.
const EXPORTED_PREFIX: &str = "exported_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_valid_names_borrowed() {
        assert!(matches!(
            sanitize_label_name("priority"),
            Some(Cow::Borrowed("priority"))
        ));
        assert_eq!(
            sanitize_label_name("ключ").as_deref(),
            Some("____"),
            "non-ASCII characters become underscores, one each"
        );
        let long = "a".repeat(500);
        assert_eq!(
            sanitize_label_name(&long).map(|n| n.len()),
            Some(MAX_LABEL_NAME_LEN)
        );
        assert_eq!(sanitize_label_name("9").as_deref(), Some("_9"));
    }

    #[test]
    fn error_classes_are_snake_case_and_capped() {
        assert_eq!(normalize_error_class("anyhow::Error"), "anyhow_error");
        assert_eq!(normalize_error_class("Error"), "error");
        assert_eq!(normalize_error_class("::Error"), "error");
        assert_eq!(
            normalize_error_class("reqwest::Error<Foo::Bar>"),
            "reqwest_error",
            "generic arguments are dropped"
        );
        assert_eq!(normalize_error_class("IOError"), "io_error");
        assert_eq!(normalize_error_class("Http2Error"), "http2_error");
        assert_eq!(normalize_error_class("--tool__failed--"), "tool_failed");
        assert_eq!(normalize_error_class("Ошибка"), "unknown");
        assert_eq!(normalize_error_class(""), "unknown");
        let long = normalize_error_class(&"VeryLongName".repeat(40));
        assert!(long.len() <= MAX_ERROR_CLASS_LEN, "{long}");
        assert!(!long.ends_with('_'));
        for s in ["a\"b", "x\ny", "\\", "😀Err😀"] {
            let n = normalize_error_class(s);
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_value("héllo", 2), "h");
        assert_eq!(truncate_value("héllo", 3), "hé");
        assert_eq!(truncate_value("abc", 10), "abc");
        assert_eq!(truncate_value("😀", 3), "");
    }

    /// The key after `pushes` into a key that holds `("agent", "a")`, and the pairs dropped.
    fn meta(limit: usize, pushes: &[(&str, &str, usize)]) -> (Vec<(String, String)>, u64) {
        let mut key = LabelKey::new();
        key.push("agent", "a");
        let mut m = MetaLabels::new(&mut key, limit);
        for &(name, value, max) in pushes {
            m.push(name, value, max);
        }
        let dropped = m.dropped();
        let pairs = key
            .pairs()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (pairs, dropped)
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn meta_labels_dedupe_and_prefix_reserved_names() {
        let long = "v".repeat(300);
        let (pairs, dropped) = meta(
            32,
            &[
                ("priority", "high", 256),
                ("agent", "shadow", 256),
                ("exported_agent", "again", 256),
                ("tier-a", "x", 256),
                ("tier_a", "y", 256),
                ("", "z", 256),
                ("priority", "low", 256),
                ("priority", "high", 256),
                ("long", &long, 8),
            ],
        );
        assert_eq!(
            pairs,
            owned(&[
                ("agent", "a"),
                ("priority", "high"),
                ("exported_agent", "shadow"),
                ("tier_a", "x"),
                ("long", "vvvvvvvv"),
            ]),
            "the labels before the metadata are not compared with"
        );
        // `exported_agent` = "again", `tier_a` = "y" and `priority` = "low" lost a value;
        // `priority` = "high" again lost nothing.
        assert_eq!(dropped, 3);
    }

    #[test]
    fn the_name_table_is_the_label_name_alphabet() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || b == b'_';
            assert_eq!(NAME_BYTES[usize::from(b)], expected, "byte {b}");
        }
    }

    #[test]
    fn meta_labels_stop_at_their_limit_and_count_the_rest() {
        let (pairs, dropped) = meta(
            3,
            &[
                ("a", "1", 256),
                ("b", "2", 256),
                ("a", "dup", 256), // another value under a kept name: dropped
                ("c", "3", 256),
                ("d", "4", 256), // over the limit
                ("b", "2", 256), // the same pair again: nothing lost, not counted
                ("", "no name", 256),
                ("e", "5", 256),
                ("d", "4 again", 256), // dropped names are not remembered: counted again
            ],
        );
        assert_eq!(
            pairs,
            owned(&[("agent", "a"), ("a", "1"), ("b", "2"), ("c", "3")])
        );
        assert_eq!(dropped, 4);
        assert_eq!(meta(0, &[("a", "1", 256)]), (owned(&[("agent", "a")]), 1));
    }
}
