//! A label list written as one byte string: the key a family finds its series by.
//!
//! Each label is written as its name's length, its name, its value's length and its value,
//! each length in LEB128 (one byte below 128: label names are cut at 128 bytes, and values
//! at 256 by default). Two different lists never write the same bytes, so finding a series
//! hashes one byte string and compares one, where a list of pairs costs a hash write and a
//! comparison per name and per value. (LEB128 is a few lines here; a crate for it would be a
//! dependency for less than its own docs.) A run's families share most of their labels: the key
//! is built once up to the shared labels, and cut back to a [`LabelKey::mark`] for the next
//! family's own.

use std::cell::Cell;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

use super::labels::OVERFLOW_LABEL_VALUE;

/// A borrowed label pair `(name, value)`.
pub(crate) type LabelRef<'a> = (&'a str, &'a str);

/// A label list being built.
#[derive(Debug, Default)]
pub(crate) struct LabelKey(Vec<u8>);

/// The most bytes LEB128 writes for a `usize`.
const MAX_LEN_BYTES: usize = usize::BITS.div_ceil(7) as usize;

thread_local! {
    /// This thread's key buffer between two runs.
    static SCRATCH: Cell<LabelKey> = const { Cell::new(LabelKey::new()) };
}

impl LabelKey {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        LabelKey(Vec::new())
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
        self.0.extend_from_slice(name.as_bytes());
        self.value(value);
    }

    /// Appends one label named `prefix` then `name`.
    pub(crate) fn push_prefixed(&mut self, prefix: &str, name: &str, value: &str) {
        let name_len = prefix.len() + name.len();
        self.0.reserve(2 * MAX_LEN_BYTES + name_len + value.len());
        self.len(name_len);
        self.0.extend_from_slice(prefix.as_bytes());
        self.0.extend_from_slice(name.as_bytes());
        self.value(value);
    }

    fn value(&mut self, value: &str) {
        self.len(value.len());
        self.0.extend_from_slice(value.as_bytes());
    }

    /// Appends `len` in LEB128.
    fn len(&mut self, mut len: usize) {
        while len >= 0x80 {
            // The low 7 bits, with the bit that says more follow.
            self.0.push(u8::try_from(len & 0x7f).unwrap_or(0) | 0x80);
            len >>= 7;
        }
        self.0.push(u8::try_from(len).unwrap_or(0));
    }

    /// The names of the labels pushed since `mark`, as bytes.
    pub(crate) fn names_since(&self, mark: usize) -> impl Iterator<Item = &[u8]> {
        RawPairs(self.0.get(mark..).unwrap_or_default()).map(|(name, _)| name)
    }

    /// The pairs, in order.
    #[cfg(test)]
    pub(crate) fn pairs(&self) -> Pairs<'_> {
        Pairs(RawPairs(&self.0))
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
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The buffer's capacity (what a reused key kept).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// A series' label list, owned, in the order it was first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedLabels(Box<[u8]>);

impl OwnedLabels {
    /// Copies a built list.
    pub(crate) fn new(key: &LabelKey) -> Self {
        OwnedLabels(key.as_bytes().into())
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
        *self.0 == *key.as_bytes()
    }

    /// The pairs, in order.
    pub(crate) fn iter(&self) -> Pairs<'_> {
        Pairs(RawPairs(&self.0))
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
pub(crate) struct Pairs<'a>(RawPairs<'a>);

impl<'a> Iterator for Pairs<'a> {
    type Item = LabelRef<'a>;

    fn next(&mut self) -> Option<LabelRef<'a>> {
        let (name, value) = self.0.next()?;
        // Only a `LabelKey` writes these bytes, from `str`s.
        Some((
            std::str::from_utf8(name).ok()?,
            std::str::from_utf8(value).ok()?,
        ))
    }
}

/// The pairs of a written list, as bytes.
#[derive(Debug, Clone)]
struct RawPairs<'a>(&'a [u8]);

impl<'a> Iterator for RawPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (name, rest) = split_piece(self.0)?;
        let (value, rest) = split_piece(rest)?;
        self.0 = rest;
        Some((name, value))
    }
}

/// The first piece of `bytes` and what follows it; `None` at the end.
fn split_piece(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len = 0usize;
    let mut shift = 0u32;
    let mut rest = bytes;
    loop {
        let (&byte, after) = rest.split_first()?;
        rest = after;
        len |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[LabelRef<'_>]) -> Vec<u8> {
        LabelKey::of(labels).as_bytes().to_owned()
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
        assert_eq!(second.as_bytes(), b"");
        assert_eq!(second.capacity(), grown, "the buffer is the one given back");
        second.give_back();
    }

    #[test]
    fn names_since_a_mark_skip_the_labels_before_it() {
        let mut key = LabelKey::new();
        key.push("agent", "a");
        let mark = key.mark();
        key.push_prefixed("exported_", "agent", "b");
        key.push("tier", "c");
        let names: Vec<&[u8]> = key.names_since(mark).collect();
        assert_eq!(names, [&b"exported_agent"[..], b"tier"]);
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
            key.as_bytes(),
            LabelKey::of(&[("agent", "a"), ("status", "success")]).as_bytes()
        );
        key.truncate(mark);
        key.push("model", "m");
        assert_eq!(
            key.as_bytes(),
            LabelKey::of(&[("agent", "a"), ("model", "m")]).as_bytes()
        );
        key.clear();
        assert_eq!(key.as_bytes(), b"");
    }
}
