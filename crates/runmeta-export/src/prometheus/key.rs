//! A label list written as one string: the key a family finds its series by.
//!
//! Each label is written as its name's length, its name, its value's length and its value.
//! A length is written in ASCII, six bits a byte, low bits first: a byte below 64 is the
//! last, a byte from 64 to 127 carries six bits and says more follow (one byte for a length
//! below 64, two below 4,096). Two different lists never write the same string, so finding a
//! series hashes one string and compares one, where a list of pairs costs a hash write and a
//! comparison per name and per value. The length bytes are ASCII, so the whole key is a `str`
//! and reading its labels back (for every sample line, at every scrape) validates nothing. A
//! run's families share most of their labels: the key is built once up to the shared labels,
//! and cut back to a [`LabelKey::mark`] for the next family's own.

use std::cell::Cell;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

use super::labels::OVERFLOW_LABEL_VALUE;

/// A borrowed label pair `(name, value)`.
pub(crate) type LabelRef<'a> = (&'a str, &'a str);

/// A label list being built.
#[derive(Debug, Default)]
pub(crate) struct LabelKey(String);

/// The bits a length byte carries.
const LEN_BITS: u32 = 6;
/// The flag of a length byte that more follow.
const MORE: u8 = 1 << LEN_BITS;
/// The most bytes a `usize` length takes.
const MAX_LEN_BYTES: usize = usize::BITS.div_ceil(LEN_BITS) as usize;

thread_local! {
    /// This thread's key buffer between two runs.
    static SCRATCH: Cell<LabelKey> = const { Cell::new(LabelKey::new()) };
}

impl LabelKey {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        LabelKey(String::new())
    }

    /// The list of `labels`.
    #[cfg(test)]
    pub(crate) fn of(labels: &[LabelRef<'_>]) -> Self {
        let mut key = LabelKey::new();
        for &(name, value) in labels {
            key.push(name, value);
        }
        key
    }

    /// An empty list in the buffer this thread gave back with [`LabelKey::give_back`] (a new
    /// one if it has none, or during its teardown): recording a run allocates nothing for its
    /// labels once the buffer has grown to fit.
    pub(crate) fn reused() -> Self {
        let mut key = SCRATCH.try_with(Cell::take).unwrap_or_default();
        key.clear();
        key
    }

    /// Keeps the buffer for this thread's next [`LabelKey::reused`].
    pub(crate) fn give_back(self) {
        let _ = SCRATCH.try_with(|scratch| scratch.set(self));
    }

    /// Appends one label.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        self.0.reserve(2 * MAX_LEN_BYTES + name.len() + value.len());
        self.len(name.len());
        self.0.push_str(name);
        self.value(value);
    }

    /// Appends one label named `prefix` then `name`.
    pub(crate) fn push_prefixed(&mut self, prefix: &str, name: &str, value: &str) {
        let name_len = prefix.len() + name.len();
        self.0.reserve(2 * MAX_LEN_BYTES + name_len + value.len());
        self.len(name_len);
        self.0.push_str(prefix);
        self.0.push_str(name);
        self.value(value);
    }

    fn value(&mut self, value: &str) {
        self.len(value.len());
        self.0.push_str(value);
    }

    /// Appends `len`, six bits an ASCII byte.
    fn len(&mut self, mut len: usize) {
        while len >= usize::from(MORE) {
            self.0.push(char::from(MORE | low_bits(len)));
            len >>= LEN_BITS;
        }
        self.0.push(char::from(low_bits(len)));
    }

    /// The pairs pushed since `mark`, in order.
    pub(crate) fn pairs_since(&self, mark: usize) -> Pairs<'_> {
        Pairs(self.0.get(mark..).unwrap_or_default())
    }

    /// The pairs, in order.
    #[cfg(test)]
    pub(crate) fn pairs(&self) -> Pairs<'_> {
        Pairs(&self.0)
    }

    /// Where the list ends now, to [`LabelKey::truncate`] back to.
    pub(crate) fn mark(&self) -> usize {
        self.0.len()
    }

    /// Drops the labels pushed since `mark`.
    pub(crate) fn truncate(&mut self, mark: usize) {
        self.0.truncate(mark);
    }

    /// Drops every label; the buffer keeps its capacity.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The written list.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The buffer's capacity (what a reused key kept).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// The low six bits of `len`.
fn low_bits(len: usize) -> u8 {
    u8::try_from(len & usize::from(MORE - 1)).unwrap_or(0)
}

/// A series' label list, owned, in the order it was first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedLabels(Box<str>);

impl OwnedLabels {
    /// Copies a built list.
    pub(crate) fn new(key: &LabelKey) -> Self {
        OwnedLabels(key.as_str().into())
    }

    /// The overflow label set: each name with the value [`OVERFLOW_LABEL_VALUE`].
    pub(crate) fn overflow(names: &[&str]) -> Self {
        let mut key = LabelKey::new();
        for name in names {
            key.push(name, OVERFLOW_LABEL_VALUE);
        }
        OwnedLabels::new(&key)
    }

    /// True when equal to a built list.
    pub(crate) fn matches(&self, key: &LabelKey) -> bool {
        *self.0 == *key.as_str()
    }

    /// The pairs, in order.
    pub(crate) fn iter(&self) -> Pairs<'_> {
        Pairs(&self.0)
    }

    /// The value of a label, if present.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(k, _)| k == name).map(|(_, v)| v)
    }
}

impl EncodeLabelSet for OwnedLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        for pair in self.iter() {
            pair.encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// The pairs of a written list.
#[derive(Debug, Clone)]
pub(crate) struct Pairs<'a>(&'a str);

impl<'a> Iterator for Pairs<'a> {
    type Item = LabelRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<LabelRef<'a>> {
        let (name, rest) = split_piece(self.0)?;
        let (value, rest) = split_piece(rest)?;
        self.0 = rest;
        Some((name, value))
    }
}

/// The first piece of `text` and what follows it; `None` at the end (only a [`LabelKey`]
/// writes these strings, so nothing else ends the list).
#[inline]
fn split_piece(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    let (len, at) = if first & MORE == 0 {
        // A length below 64: every name, and most values.
        (usize::from(first), 1)
    } else {
        long_len(bytes)?
    };
    text.get(at..)?.split_at_checked(len)
}

/// A length of more than one byte at the start of `bytes`, and the bytes it takes.
#[cold]
fn long_len(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for (at, &byte) in bytes.iter().enumerate() {
        let shift = LEN_BITS.checked_mul(u32::try_from(at).ok()?)?;
        len |= usize::from(byte & (MORE - 1)).checked_shl(shift)?;
        if byte & MORE == 0 {
            return Some((len, at + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[LabelRef<'_>]) -> String {
        LabelKey::of(labels).as_str().to_owned()
    }

    #[test]
    fn different_lists_write_different_keys() {
        let lists: &[&[LabelRef<'_>]] = &[
            &[],
            &[("", "")],
            &[("", ""), ("", "")],
            &[("ab", "c")],
            &[("a", "bc")],
            &[("a", "b"), ("c", "d")],
            &[("a", "bc"), ("", "d")],
            &[("a", "")],
            &[("a", ""), ("", "")],
            &[("a", "1:b")],
            &[("a", "1"), ("b", "")],
            &[("a", "11:")],
            &[("b", "1"), ("a", "2")],
            &[("a", "2"), ("b", "1")],
        ];
        for (i, a) in lists.iter().enumerate() {
            for (j, b) in lists.iter().enumerate() {
                assert_eq!(key(a) == key(b), i == j, "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn owned_lists_give_back_their_pairs() {
        let lists: &[&[LabelRef<'_>]] = &[
            &[],
            &[("agent", "support")],
            &[
                ("a", "1:b"),
                ("c", ""),
                ("", "d"),
                ("x", "12:34:"),
                ("é", "ü😀"),
            ],
        ];
        for list in lists {
            let owned = OwnedLabels::new(&LabelKey::of(list));
            assert_eq!(owned.iter().collect::<Vec<_>>(), *list);
            assert!(owned.matches(&LabelKey::of(list)));
        }
        let owned = OwnedLabels::new(&LabelKey::of(&[("a", "1"), ("b", "2")]));
        assert!(!owned.matches(&LabelKey::of(&[("a", "1")])));
        assert!(!owned.matches(&LabelKey::of(&[("b", "2"), ("a", "1")])));
        assert_eq!(owned.get("b"), Some("2"));
        assert_eq!(owned.get("c"), None);
        assert_eq!(
            OwnedLabels::overflow(&["x", "y"])
                .iter()
                .collect::<Vec<_>>(),
            [("x", OVERFLOW_LABEL_VALUE), ("y", OVERFLOW_LABEL_VALUE)]
        );
    }

    #[test]
    fn a_reused_key_starts_empty_in_the_buffer_given_back() {
        let mut first = LabelKey::reused();
        first.push("agent", &"x".repeat(100));
        let grown = first.capacity();
        first.give_back();
        let second = LabelKey::reused();
        assert_eq!(second.as_str(), "");
        assert_eq!(second.capacity(), grown, "the buffer is the one given back");
        second.give_back();
    }

    #[test]
    fn pairs_since_a_mark_skip_the_labels_before_it() {
        let mut key = LabelKey::new();
        key.push("agent", "a");
        let mark = key.mark();
        key.push_prefixed("exported_", "agent", "b");
        key.push("tier", "c");
        let since: Vec<(&str, &str)> = key.pairs_since(mark).collect();
        assert_eq!(since, [("exported_agent", "b"), ("tier", "c")]);
        assert_eq!(
            key.pairs().collect::<Vec<_>>(),
            [("agent", "a"), ("exported_agent", "b"), ("tier", "c")]
        );
    }

    #[test]
    fn a_key_cut_back_to_a_mark_is_the_shorter_list() {
        let mut key = LabelKey::new();
        key.push("agent", "a");
        let mark = key.mark();
        key.push("status", "success");
        assert_eq!(
            key.as_str(),
            LabelKey::of(&[("agent", "a"), ("status", "success")]).as_str()
        );
        key.truncate(mark);
        key.push("model", "m");
        assert_eq!(
            key.as_str(),
            LabelKey::of(&[("agent", "a"), ("model", "m")]).as_str()
        );
        key.clear();
        assert_eq!(key.as_str(), "");
    }
}
