//! Label names and values: sanitizing, normalizing, hashing and owned label sets.

use std::borrow::Cow;
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

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

/// A borrowed label pair `(name, value)`.
pub(crate) type LabelRef<'a> = (&'a str, &'a str);

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

/// The hash of a label list. Each pair is written as its two lengths (in one word), then
/// its name and value, so different lists cannot be written the same way.
pub(crate) fn hash_labels<S: BuildHasher>(state: &S, labels: &[LabelRef<'_>]) -> u64 {
    let mut h = state.build_hasher();
    for (name, value) in labels {
        h.write_u128((name.len() as u128) << 64 | value.len() as u128);
        h.write(name.as_bytes());
        h.write(value.as_bytes());
    }
    h.finish()
}

/// An owned label set, in the order it was first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedLabels(Box<[(Box<str>, Box<str>)]>);

impl OwnedLabels {
    /// Copies a borrowed label list.
    pub(crate) fn from_refs(labels: &[LabelRef<'_>]) -> Self {
        OwnedLabels(
            labels
                .iter()
                .map(|(k, v)| (Box::from(*k), Box::from(*v)))
                .collect(),
        )
    }

    /// The overflow label set: each name with the value [`OVERFLOW_LABEL_VALUE`].
    pub(crate) fn overflow(names: &[&str]) -> Self {
        OwnedLabels(
            names
                .iter()
                .map(|k| (Box::from(*k), Box::from(OVERFLOW_LABEL_VALUE)))
                .collect(),
        )
    }

    /// True when equal to a borrowed list.
    pub(crate) fn matches(&self, labels: &[LabelRef<'_>]) -> bool {
        self.0.len() == labels.len()
            && self
                .0
                .iter()
                .zip(labels)
                .all(|((k, v), (bk, bv))| **k == **bk && **v == **bv)
    }

    /// The value of a label, if present.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| &**k == name).map(|(_, v)| &**v)
    }
}

impl EncodeLabelSet for OwnedLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, value) in self.0.iter() {
            prometheus_client::encoding::EncodeLabel::encode(
                &(&**name, &**value),
                encoder.encode_label(),
            )?;
        }
        Ok(())
    }
}

/// The metadata label pairs of one record, copied into one buffer with sanitized, unique
/// names (the metadata's `for_each_label` callback lends its strings only for the call), at
/// most `limit` of them: the rest are dropped and counted.
pub(crate) struct MetaLabels {
    buf: String,
    /// `(name_start, name_end, value_end)`: the value starts at `name_end`.
    spans: Vec<(usize, usize, usize)>,
    /// The most pairs kept.
    limit: usize,
    /// Pairs not kept because `limit` pairs were already kept.
    dropped: u64,
}

thread_local! {
    /// This thread's [`MetaLabels`] between two runs: its buffers keep their capacity, so
    /// recording a run allocates nothing for its labels once they have grown to fit.
    static SCRATCH: Cell<MetaLabels> = const { Cell::new(MetaLabels::with_limit(0)) };
}

impl Default for MetaLabels {
    fn default() -> Self {
        MetaLabels::with_limit(0)
    }
}

impl MetaLabels {
    /// No pairs yet; at most `limit` will be kept.
    pub(crate) const fn with_limit(limit: usize) -> Self {
        MetaLabels {
            buf: String::new(),
            spans: Vec::new(),
            limit,
            dropped: 0,
        }
    }

    /// Like [`MetaLabels::with_limit`], in the buffers this thread gave back with
    /// [`MetaLabels::give_back`] (new ones if it has none, or during its teardown).
    pub(crate) fn reused(limit: usize) -> Self {
        let mut labels = SCRATCH.try_with(Cell::take).unwrap_or_default();
        labels.buf.clear();
        labels.spans.clear();
        labels.limit = limit;
        labels.dropped = 0;
        labels
    }

    /// Keeps the buffers for this thread's next [`MetaLabels::reused`].
    pub(crate) fn give_back(self) {
        let _ = SCRATCH.try_with(|scratch| scratch.set(self));
    }

    /// Adds one pair, unless its name is empty or already present. Reserved names get an
    /// `exported_` prefix; values are cut at `max_value_len` bytes. Once `limit` pairs are
    /// kept, a pair with a new name is dropped and counted. The duplicate check compares with
    /// the kept names only, so a pair costs at most `limit` comparisons.
    pub(crate) fn push(&mut self, name: &str, value: &str, max_value_len: usize) {
        let Some(name) = sanitize_label_name(name) else {
            return;
        };
        let start = self.buf.len();
        if RESERVED_LABEL_NAMES.contains(&name.as_ref()) {
            self.buf.push_str("exported_");
        }
        self.buf.push_str(&name);
        let name_end = self.buf.len();
        let duplicate = self
            .spans
            .iter()
            .any(|&(s, e, _)| self.buf[s..e] == self.buf[start..name_end]);
        if duplicate || self.spans.len() >= self.limit {
            self.buf.truncate(start);
            if !duplicate {
                self.dropped += 1;
            }
            return;
        }
        self.buf.push_str(truncate_value(value, max_value_len));
        self.spans.push((start, name_end, self.buf.len()));
    }

    /// Pairs dropped because `limit` pairs were already kept.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The pairs, in the order they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = LabelRef<'_>> + '_ {
        self.spans
            .iter()
            .map(|&(s, n, e)| (&self.buf[s..n], &self.buf[n..e]))
    }

    /// Number of pairs.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

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

    #[test]
    fn meta_labels_dedupe_and_prefix_reserved_names() {
        let mut m = MetaLabels::with_limit(32);
        m.push("priority", "high", 256);
        m.push("agent", "shadow", 256);
        m.push("tier-a", "x", 256);
        m.push("tier_a", "y", 256);
        m.push("", "z", 256);
        m.push("priority", "low", 256);
        m.push("long", &"v".repeat(300), 8);
        let pairs: Vec<_> = m.iter().collect();
        assert_eq!(
            pairs,
            vec![
                ("priority", "high"),
                ("exported_agent", "shadow"),
                ("tier_a", "x"),
                ("long", "vvvvvvvv"),
            ]
        );
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn the_name_table_is_the_label_name_alphabet() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || b == b'_';
            assert_eq!(NAME_BYTES[usize::from(b)], expected, "byte {b}");
        }
    }

    #[test]
    fn reused_labels_start_empty_with_their_own_limit() {
        let mut first = MetaLabels::reused(1);
        first.push("a", "1", 256);
        first.push("b", "2", 256);
        assert_eq!((first.len(), first.dropped()), (1, 1));
        let grown = first.buf.capacity();
        first.give_back();
        let mut second = MetaLabels::reused(2);
        assert_eq!((second.len(), second.dropped()), (0, 0));
        assert_eq!(
            second.buf.capacity(),
            grown,
            "the buffer is the one given back"
        );
        second.push("c", "3", 256);
        second.push("d", "4", 256);
        let pairs: Vec<_> = second.iter().collect();
        assert_eq!(pairs, vec![("c", "3"), ("d", "4")]);
        second.give_back();
    }

    #[test]
    fn meta_labels_stop_at_their_limit_and_count_the_rest() {
        let mut m = MetaLabels::with_limit(3);
        for (name, value) in [
            ("a", "1"),
            ("b", "2"),
            ("a", "dup"),
            ("c", "3"),
            ("d", "4"),   // over the limit
            ("b", "dup"), // a duplicate of a kept name: ignored, not dropped
            ("", "no name"),
            ("e", "5"),
            ("d", "4 again"), // dropped names are not remembered: counted again
        ] {
            m.push(name, value, 256);
        }
        let pairs: Vec<_> = m.iter().collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(m.dropped(), 3);
        let mut none = MetaLabels::with_limit(0);
        none.push("a", "1", 256);
        assert_eq!((none.len(), none.dropped()), (0, 1));
    }

    #[test]
    fn hashes_distinguish_boundaries() {
        let s = hashbrown::DefaultHashBuilder::default();
        assert_ne!(
            hash_labels(&s, &[("ab", "c")]),
            hash_labels(&s, &[("a", "bc")])
        );
        assert_ne!(
            hash_labels(&s, &[("a", "b"), ("c", "d")]),
            hash_labels(&s, &[("a", "bc"), ("", "d")])
        );
        assert_ne!(
            hash_labels(&s, &[("a", "")]),
            hash_labels(&s, &[("a", ""), ("", "")])
        );
        assert_eq!(
            hash_labels(&s, &[("a", "1"), ("b", "2")]),
            hash_labels(&s, &[("a", "1"), ("b", "2")])
        );
        let owned = OwnedLabels::from_refs(&[("a", "1"), ("b", "2")]);
        assert!(owned.matches(&[("a", "1"), ("b", "2")]));
        assert!(!owned.matches(&[("a", "1")]));
        assert!(!owned.matches(&[("b", "2"), ("a", "1")]));
        assert_eq!(owned.get("b"), Some("2"));
        assert_eq!(
            OwnedLabels::overflow(&["x"]).get("x"),
            Some(OVERFLOW_LABEL_VALUE)
        );
    }
}
