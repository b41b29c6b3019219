//! A group's key borrowed from a record: the values of the grouping's dimensions, hashed
//! without allocating and compared against a group's copy without calling `memcmp`.
//!
//! Each string of the key is read as its length and two words (the first and the last 8
//! bytes, overlapping for 8 to 16 bytes; a shorter string's bytes fit in them), the way
//! short-string hashes such as foldhash read: for strings of at most 16 bytes these three
//! words *are* the string. The key's words — the values' tags, then per string its length and
//! its two words — are its fingerprint, zero-padded to whole cache lines of 8 words; a group
//! stores its own lines, followed by lines holding the middle words of its strings longer
//! than 16 bytes (the bytes its two words do not hold). Finding a group is then one probe of the group table and a comparison of a few
//! whole lines, with no pointer to follow and no call to `memcmp`. The hash mixes the words
//! with a folded 64×64→128-bit multiply (every byte of a long string too). The aggregator
//! builds a record's words in a buffer it keeps ([`KeyWords`]), without the strings, which
//! only a new group needs ([`KeyRef`]).

use super::group::{main_model, Dimension, GroupBy, GroupLabel, GroupValue, MAX_DIMENSIONS};
use super::group::{Line, OVERFLOW_VALUE};
use crate::run::RunRecord;

/// A borrowed dimension value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum KeyValue<'a> {
    #[default]
    Absent,
    Str(&'a str),
    /// `provider/model_id`, kept apart so that no string is built per record.
    Pair(&'a str, &'a str),
}

impl KeyValue<'_> {
    pub(crate) fn to_owned_value(self) -> GroupValue {
        match self {
            KeyValue::Absent => GroupValue::Absent,
            KeyValue::Str(s) => GroupValue::Str(s.into()),
            KeyValue::Pair(a, b) => GroupValue::Pair(a.into(), b.into()),
        }
    }
}

impl GroupValue {
    pub(crate) fn borrow(&self) -> KeyValue<'_> {
        match self {
            GroupValue::Absent => KeyValue::Absent,
            GroupValue::Str(s) => KeyValue::Str(s),
            GroupValue::Pair(a, b) => KeyValue::Pair(a, b),
        }
    }
}

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;
const K2: u64 = 0xa409_3822_299f_31d0;
const K3: u64 = 0x082e_fa98_ec4e_6c89;

/// The 128-bit product of `a` and `b`, its halves xor-ed: the mixing step of foldhash/wyhash.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    // Truncation intended: the low and the high half.
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (p as u64, (p >> 64) as u64);
    lo ^ hi
}

#[inline]
fn word8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn word4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// The longest string whose two words hold all its bytes.
const SHORT: usize = 16;

/// Two words holding every byte of a string of at most [`SHORT`] bytes (with its length,
/// unique); for a longer string, its first and last 8 bytes. (Four 4-byte reads, as wyhash
/// does, trade the branch on `n >= 8` for more instructions: measured slower here.)
#[inline]
fn two_words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n >= 8 {
        (word8(b, 0), word8(b, n - 8))
    } else if n >= 4 {
        (word4(b, 0), word4(b, n - 4))
    } else if n > 0 {
        (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        )
    } else {
        (0, 0)
    }
}

/// The middle words of a string longer than [`SHORT`]: the 8 bytes at 8, 16, ... up to
/// (not including) the last 8 bytes, which with the first 8 bytes (the string's two words)
/// cover every byte.
#[inline]
fn middle_words(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let n = b.len();
    (1..n.saturating_sub(1) / 8).map(move |i| word8(b, 8 * i))
}

/// A string of at most 16 bytes as its length and two words (which identify it); `None`
/// for a longer string.
#[inline]
pub(crate) fn short_words(s: &str) -> Option<[u64; 3]> {
    let b = s.as_bytes();
    (b.len() <= SHORT).then(|| {
        let (w0, w1) = two_words(b);
        [b.len() as u64, w0, w1]
    })
}

/// String equality without a call to `memcmp` for short strings: lengths, then words.
#[inline]
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= SHORT {
        return two_words(a) == two_words(b);
    }
    a == b
}

const TAG_ABSENT: u64 = 1;
const TAG_STR: u64 = 2;
const TAG_PAIR: u64 = 3;

/// Strings one key holds at most: two per dimension (a model is a pair; a snapshot may hold
/// a pair in any dimension).
const MAX_PARTS: usize = 2 * MAX_DIMENSIONS;

/// Words of the largest fingerprint: the tags, then three per string.
const FP_WORDS: usize = 1 + 3 * MAX_PARTS;

/// The fingerprint's room: whole cache lines of 8 words (zero past the fingerprint), and
/// 7 words more so that the zero padding after any fingerprint is one fixed-size store.
const FP_CAP: usize = FP_WORDS.div_ceil(8) * 8 + 7;

/// The words a group is found by, without the strings: the fingerprint (the values' tags,
/// then per string its length and two words), zero-padded to whole lines, then the middle
/// words of the strings longer than [`SHORT`], and the hash. The aggregator keeps one and
/// refills it per record (no zeroing of the whole buffer, no allocation once the longest
/// strings seen fit).
#[derive(Clone, Debug)]
pub(crate) struct KeyWords {
    /// Tags (one byte per value), then per string: length, first word, last word.
    fp: [u64; FP_CAP],
    /// The middle words of the strings longer than [`SHORT`], in order.
    long: Vec<u64>,
    len: u8,
    nparts: u8,
    pub(crate) hash: u64,
}

impl Default for KeyWords {
    fn default() -> Self {
        KeyWords {
            fp: [0; FP_CAP],
            long: Vec::new(),
            len: 0,
            nparts: 0,
            hash: 0,
        }
    }
}

impl KeyWords {
    /// Refills these words with the key of `values` (at most [`MAX_DIMENSIONS`]; further
    /// values are ignored): per string its length and two words, each string hashed apart
    /// (the multiplies run side by side) with a seed from its position, a long string's
    /// middle words after its two words; then the tags, zero padding to the last line, and
    /// the tags mixed into the hash so that every bit reaches the top bits (which the table
    /// uses as its tags). The state is kept in locals, not in `self`, so that it stays in
    /// registers.
    #[inline(always)]
    fn build(&mut self, values: &[KeyValue<'_>]) {
        self.long.clear();
        let values = values.get(..MAX_DIMENSIONS).unwrap_or(values);
        let mut tags = 0u64;
        let mut hash = 0u64;
        let mut n = 0usize;
        for (at, v) in values.iter().enumerate() {
            let tag = match *v {
                KeyValue::Absent => TAG_ABSENT,
                KeyValue::Str(s) => {
                    hash = hash.rotate_left(17) ^ self.put_part(n, s);
                    n += 1;
                    TAG_STR
                }
                KeyValue::Pair(a, b) => {
                    hash = hash.rotate_left(17) ^ self.put_part(n, a);
                    hash = hash.rotate_left(17) ^ self.put_part(n + 1, b);
                    n += 2;
                    TAG_PAIR
                }
            };
            tags |= tag << (8 * at);
        }
        self.fp[0] = tags;
        // n ≤ MAX_PARTS (the `min` only lets the compiler see that the padding is in bounds).
        let end = 1 + 3 * n.min(MAX_PARTS);
        self.fp[end..end + 7].copy_from_slice(&[0; 7]);
        // At most MAX_DIMENSIONS values and MAX_PARTS strings: both fit a byte.
        #[allow(clippy::cast_possible_truncation)]
        {
            self.len = values.len() as u8;
            self.nparts = n as u8;
        }
        self.hash = fold(hash ^ tags ^ K2, K0 ^ n as u64);
    }

    /// Stores string `s` as part `n` (`n < MAX_PARTS`: its length and two words; its middle
    /// words when longer than [`SHORT`]) and returns its hash.
    #[inline(always)]
    fn put_part(&mut self, n: usize, s: &str) -> u64 {
        let b = s.as_bytes();
        let (w0, w1) = two_words(b);
        // n < MAX_PARTS (at most two strings per value): the remainder never wraps, it only
        // lets the compiler see that the three words are in bounds (no check per string).
        let at = 1 + 3 * (n % MAX_PARTS);
        self.fp[at..at + 3].copy_from_slice(&[b.len() as u64, w0, w1]);
        let seed = K3.wrapping_mul(n as u64 + 1);
        let h = fold(w0 ^ seed ^ K0, w1 ^ (b.len() as u64).rotate_right(8) ^ K1);
        if b.len() > SHORT {
            self.push_middle(b, h)
        } else {
            h
        }
    }

    /// Stores the middle words of a long string and mixes them into `h`.
    #[inline(never)]
    fn push_middle(&mut self, b: &[u8], mut h: u64) -> u64 {
        for w in middle_words(b) {
            self.long.push(w);
            h = fold(w ^ h ^ K0, K1);
        }
        h
    }

    /// Refills these words with the key of `record` for `by`, with `tool` as the value of
    /// [`Dimension::Tool`]: the words and the hash [`KeyRef::of_record`] gives. Reads the
    /// record's fields through the grouping's [`FieldPlan`](super::plan::FieldPlan).
    #[inline]
    pub(crate) fn fill(&mut self, by: &GroupBy, record: &RunRecord, tool: Option<&str>) {
        let plan = by.plan();
        let mut values = [KeyValue::Absent; MAX_DIMENSIONS];
        plan.values_into(&mut values, record, tool);
        self.build(values.get(..plan.len()).unwrap_or(&values));
    }

    /// The fingerprint as whole lines of 8 words, zero past its last word (the tags fix the
    /// number of strings, so two keys with the same tags have fingerprints of one length).
    #[inline]
    fn fp_lines(&self) -> &[[u64; 8]] {
        let n = (1 + 3 * usize::from(self.nparts)).div_ceil(8);
        let (lines, _) = self.fp.as_chunks::<8>();
        &lines[..n]
    }

    /// The lines a group stores to recognize this key: the fingerprint's, then the middle
    /// words of its strings longer than 16 bytes (from a new line, zero after the last).
    pub(crate) fn stored_lines(&self) -> Vec<Line> {
        let mut lines: Vec<Line> = self.fp_lines().iter().map(|l| Line(*l)).collect();
        for chunk in self.long.chunks(8) {
            let mut line = Line::default();
            line.0[..chunk.len()].copy_from_slice(chunk);
            lines.push(line);
        }
        lines
    }

    /// True when `stored` (from [`KeyWords::stored_lines`]) is this key's.
    #[inline]
    pub(crate) fn matches(&self, stored: &[Line]) -> bool {
        let fp = self.fp_lines();
        if stored.len() != fp.len() + self.long.len().div_ceil(8) {
            return false;
        }
        // No early exit: a few xors are cheaper than the branches.
        let mut diff = 0;
        for (a, b) in fp.iter().zip(stored) {
            for (x, y) in a.iter().zip(&b.0) {
                diff |= x ^ y;
            }
        }
        // Equal fingerprints give equal string lengths, so as many middle words.
        diff == 0 && (self.long.is_empty() || self.long_match(&stored[fp.len()..]))
    }

    #[cold]
    fn long_match(&self, rest: &[Line]) -> bool {
        rest.iter()
            .flat_map(|l| l.0)
            .zip(&self.long)
            .all(|(a, b)| a == *b)
    }
}

/// The value of `record` in dimension `d`, with `tool` as the value of [`Dimension::Tool`].
#[inline(always)]
fn record_value<'a>(d: &Dimension, record: &'a RunRecord, tool: Option<&'a str>) -> KeyValue<'a> {
    match d {
        Dimension::Agent => KeyValue::Str(&record.agent),
        Dimension::Team => opt(record.team.as_deref()),
        Dimension::Release => opt(record.release.as_deref()),
        Dimension::Model => match main_model(record) {
            Some(m) => KeyValue::Pair(&m.provider, &m.id),
            None => KeyValue::Absent,
        },
        Dimension::Tool => opt(tool),
        Dimension::Status => KeyValue::Str(record.status.as_str()),
        Dimension::StopReason => KeyValue::Str(&record.stop_reason),
        Dimension::Label(key) => opt(record.label(key)),
    }
}

/// A group's key borrowed from a record or a stored key: at most [`MAX_DIMENSIONS`]
/// values and their [`KeyWords`].
#[derive(Clone, Debug)]
pub(crate) struct KeyRef<'a> {
    /// The strings.
    parts: [Option<&'a str>; MAX_PARTS],
    pub(crate) words: KeyWords,
}

#[inline]
fn opt(s: Option<&str>) -> KeyValue<'_> {
    s.map_or(KeyValue::Absent, KeyValue::Str)
}

impl<'a> KeyRef<'a> {
    /// A key with no value yet.
    fn empty() -> Self {
        KeyRef {
            parts: [None; MAX_PARTS],
            words: KeyWords::default(),
        }
    }

    /// A key of the given values (at most [`MAX_DIMENSIONS`]; further values are ignored).
    pub(crate) fn from_values(values: impl IntoIterator<Item = KeyValue<'a>>) -> Self {
        let mut key = KeyRef::empty();
        let mut vals = [KeyValue::Absent; MAX_DIMENSIONS];
        let mut len = 0;
        for (slot, v) in vals.iter_mut().zip(values) {
            *slot = v;
            len += 1;
        }
        let vals = &vals[..len];
        let mut strings = key.parts.iter_mut();
        for v in vals {
            let (a, b) = match *v {
                KeyValue::Absent => (None, None),
                KeyValue::Str(s) => (Some(s), None),
                KeyValue::Pair(a, b) => (Some(a), Some(b)),
            };
            for s in [a, b].into_iter().flatten() {
                if let Some(slot) = strings.next() {
                    *slot = Some(s);
                }
            }
        }
        key.words.build(vals);
        key
    }

    /// The key of `record` for `by`, with `tool` as the value of [`Dimension::Tool`] (its
    /// words and hash are those [`KeyWords::fill`] gives).
    pub(crate) fn of_record(by: &GroupBy, record: &'a RunRecord, tool: Option<&'a str>) -> Self {
        KeyRef::from_values(
            by.dimensions()
                .iter()
                .map(|d| record_value(d, record, tool)),
        )
    }

    /// The overflow key: [`OVERFLOW_VALUE`] in each of `len` dimensions.
    pub(crate) fn overflow(len: usize) -> KeyRef<'static> {
        KeyRef::from_values((0..len).map(|_| KeyValue::Str(OVERFLOW_VALUE)))
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.words.len)
    }

    /// The values, one per dimension.
    pub(crate) fn values(&self) -> impl ExactSizeIterator<Item = KeyValue<'a>> + '_ {
        let mut part = 0;
        (0..usize::from(self.words.len)).map(move |i| {
            let at = |i: usize| self.parts.get(i).copied().flatten().unwrap_or_default();
            match (self.words.fp[0] >> (8 * i)) & 0xff {
                TAG_STR => {
                    part += 1;
                    KeyValue::Str(at(part - 1))
                }
                TAG_PAIR => {
                    part += 2;
                    KeyValue::Pair(at(part - 2), at(part - 1))
                }
                _ => KeyValue::Absent,
            }
        })
    }

    /// The values as stored by a group.
    pub(crate) fn owned_values(&self) -> Box<[GroupValue]> {
        self.values().map(KeyValue::to_owned_value).collect()
    }

    /// The lines a group stores to recognize this key.
    pub(crate) fn stored_lines(&self) -> Vec<Line> {
        self.words.stored_lines()
    }

    /// True when `stored` (from [`KeyRef::stored_lines`]) is this key's.
    #[cfg(test)]
    pub(crate) fn matches(&self, stored: &[Line]) -> bool {
        self.words.matches(stored)
    }

    /// The labels of this key under `by`.
    pub(crate) fn labels(&self, by: &GroupBy) -> Vec<GroupLabel> {
        by.dimensions()
            .iter()
            .zip(self.values())
            .map(|(d, v)| GroupLabel {
                dimension: d.name().to_owned(),
                value: v.to_owned_value().display(),
            })
            .collect()
    }
}

/// Builds a key from stored values (snapshots, merges).
pub(crate) fn key_from_owned(values: &[GroupValue]) -> KeyRef<'_> {
    KeyRef::from_values(values.iter().map(GroupValue::borrow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(values: &[KeyValue<'a>]) -> KeyRef<'a> {
        KeyRef::from_values(values.iter().copied())
    }

    fn same(a: &KeyRef<'_>, b: &KeyRef<'_>) -> bool {
        let ab = a.matches(&b.stored_lines());
        assert_eq!(ab, b.matches(&a.stored_lines()));
        if ab {
            assert_eq!(a.words.hash, b.words.hash);
        }
        ab
    }

    #[test]
    fn pair_and_joined_string_differ() {
        let a = key(&[KeyValue::Pair("openai", "gpt-4o")]);
        let b = key(&[KeyValue::Str("openai/gpt-4o")]);
        assert_ne!(a.words.hash, b.words.hash);
        assert!(!same(&a, &b));
    }

    #[test]
    fn absent_and_empty_differ() {
        let a = key(&[KeyValue::Absent]);
        let b = key(&[KeyValue::Str("")]);
        assert_ne!(a.words.hash, b.words.hash);
        assert!(!same(&a, &b));
        assert!(same(&b, &key(&[KeyValue::Str("")])));
    }

    #[test]
    fn equal_strings_hash_and_match_whatever_their_length() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for n in 0..=text.len() {
            let s = text[..n].to_owned();
            let copy = s.clone();
            let a = key(&[
                KeyValue::Str(&s),
                KeyValue::Pair(text, &s),
                KeyValue::Absent,
            ]);
            let b = key(&[
                KeyValue::Str(&copy),
                KeyValue::Pair(text, &copy),
                KeyValue::Absent,
            ]);
            assert!(same(&a, &b), "{n}");
            assert!(same_str(&s, &copy));
            for i in 0..n {
                // Any changed byte changes the match and the hash.
                let mut other = s.clone().into_bytes();
                other[i] ^= 1;
                let other = String::from_utf8(other).unwrap();
                assert!(!same_str(&s, &other));
                let c = key(&[
                    KeyValue::Str(&s),
                    KeyValue::Pair(text, &other),
                    KeyValue::Absent,
                ]);
                assert!(!same(&a, &c), "{n} {i}");
                assert_ne!(c.words.hash, a.words.hash, "{n} {i}");
            }
            // A different length with the same leading bytes.
            let longer = format!("{s}-");
            assert!(!same(
                &a,
                &key(&[
                    KeyValue::Str(&longer),
                    KeyValue::Pair(text, &s),
                    KeyValue::Absent
                ])
            ));
            assert!(!same_str(&s, &longer));
        }
    }

    #[test]
    fn lengths_and_dimension_counts_are_part_of_the_key() {
        let a = key(&[KeyValue::Str("ab"), KeyValue::Str("c")]);
        let b = key(&[KeyValue::Str("a"), KeyValue::Str("bc")]);
        let c = key(&[KeyValue::Str("ab")]);
        assert!(!same(&a, &b));
        assert!(!same(&a, &c));
        assert_ne!(a.words.hash, b.words.hash);
        let d = key(&[KeyValue::Absent, KeyValue::Str("x")]);
        let e = key(&[KeyValue::Str("x"), KeyValue::Absent]);
        assert!(!same(&d, &e));
        assert_ne!(d.words.hash, e.words.hash);
    }

    #[test]
    fn pairs_in_every_dimension_are_all_compared() {
        let pairs: Vec<(String, String)> = (0..MAX_DIMENSIONS)
            .map(|i| (format!("p{i}"), format!("m{i}")))
            .collect();
        let a = key(&pairs
            .iter()
            .map(|(p, m)| KeyValue::Pair(p, m))
            .collect::<Vec<_>>());
        let mut other = pairs.clone();
        other[MAX_DIMENSIONS - 1].1 = "changed".into();
        let b = key(&other
            .iter()
            .map(|(p, m)| KeyValue::Pair(p, m))
            .collect::<Vec<_>>());
        assert!(!same(&a, &b));
        assert_eq!(a.values().count(), MAX_DIMENSIONS);
        assert!(same(&a, &key_from_owned(&a.owned_values())));
    }

    #[test]
    fn values_round_trip() {
        let long = "claude-3-5-sonnet-20241022";
        let vals = [
            KeyValue::Str("a"),
            KeyValue::Absent,
            KeyValue::Pair("anthropic", long),
        ];
        let k = key(&vals);
        assert_eq!(k.values().collect::<Vec<_>>(), vals);
        let owned = k.owned_values();
        let back = key_from_owned(&owned);
        assert!(same(&k, &back));
        // Fingerprint: 1 + 3 * 3 words (two lines); the long id's 2 middle words: one line.
        assert_eq!(k.stored_lines().len(), 3);
    }
}
