//! A mergeable, serializable quantile sketch: log-linear buckets, 64 per power of two, in a
//! dense window of counters.
//!
//! Bucket layout (the same for every sketch, so sketches merge counter by counter):
//!
//! - values `0..128` each have a bucket of their own (exact);
//! - above, each power of two `[2^e, 2^(e+1))` (e ≥ 7) is cut into 64 equal buckets of width
//!   `2^(e-6)`: a bucket `[low, high]` is less than 1/64 of `low` wide.
//!
//! A bucket reports its midpoint `low + width/2`, which is within `width/2 / low ≤ 1/128`
//! (0.78%) of every value in it; a quantile, found by walking the counts to the nearest-rank
//! position `max(1, ceil(q·n))`, is thus within 0.78% of the exact sample at that rank.
//!
//! The index of a value is a leading-zero count, a shift and an add. Counters live in one
//! `Vec<u32>` covering only the buckets between the lowest and the highest recorded value
//! (grown on demand in steps of 16 counters, one cache line), so recording a value already in
//! range is a subtraction, a bounds check and an increment.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest value a sketch tracks; larger values are clamped to it (and still counted).
/// 2^40 is about 12.7 days in microseconds or 1.1 trillion tokens.
pub const MAX_TRACKABLE: u64 = 1 << 40;

/// Buckets per power of two, as a power of two: 2^6 = 64.
pub const SUB_BUCKET_BITS: u32 = 6;

/// Values below this have one bucket each (exact).
pub const EXACT_BELOW: u64 = 2 << SUB_BUCKET_BITS;

/// The largest relative distance between a reported quantile and the exact sample:
/// `1/128` (0.78%).
pub const RELATIVE_ERROR: f64 = 1.0 / (2u64 << SUB_BUCKET_BITS) as f64;

/// Bytes per counter: counters are `u32`, so one bucket of one sketch saturates (stops
/// counting, never wraps) at 4 294 967 295 values.
pub const COUNTER_BYTES: usize = 4;

/// Buckets from 0 up to [`MAX_TRACKABLE`]: the most counters one sketch ever holds (2 241).
pub const WORST_CASE_COUNTERS: usize = bucket_index(MAX_TRACKABLE) as usize + 1;

/// The most bytes of counters one sketch holds: `WORST_CASE_COUNTERS * COUNTER_BYTES`
/// (8 964 bytes, 8.75 KiB). Typical sketches hold far less: only the buckets between the
/// lowest and highest recorded value are allocated (latencies of 50 ms to 60 s in µs: 704
/// counters, 2.75 KiB).
pub const WORST_CASE_BYTES: usize = WORST_CASE_COUNTERS * COUNTER_BYTES;

/// Counters added at once when the window grows: one 64-byte cache line.
const GROW_STEP: u32 = 16;

/// The bucket of `v` (which must be at most [`MAX_TRACKABLE`] for the index to be in range).
#[inline]
#[must_use]
pub const fn bucket_index(v: u64) -> u32 {
    // Octave e = floor(log2 v); below 2^7 the shift is 0 and the index is the value itself.
    let e = 63 - (v | 1).leading_zeros();
    let shift = e.saturating_sub(SUB_BUCKET_BITS);
    // Fits: v >> shift < 128 and shift ≤ 34 for v ≤ 2^40.
    (shift << SUB_BUCKET_BITS) + (v >> shift) as u32
}

/// The lowest value, the width and the reported value (midpoint) of bucket `i`.
#[inline]
#[must_use]
const fn bucket_bounds(i: u32) -> (u64, u64) {
    if (i as u64) < EXACT_BELOW {
        return (i as u64, 1);
    }
    let shift = (i >> SUB_BUCKET_BITS) - 1;
    let sub = (i & ((1 << SUB_BUCKET_BITS) - 1)) as u64 + (1 << SUB_BUCKET_BITS);
    (sub << shift, 1 << shift)
}

/// The value reported for bucket `i`: its midpoint (exact below [`EXACT_BELOW`]).
#[inline]
#[must_use]
pub const fn bucket_value(i: u32) -> u64 {
    let (low, width) = bucket_bounds(i);
    low + width / 2
}

/// The highest value of bucket `i` (what a snapshot stores for the bucket).
#[inline]
#[must_use]
pub const fn bucket_high(i: u32) -> u64 {
    let (low, width) = bucket_bounds(i);
    low + width - 1
}

/// A distribution of non-negative integers (microseconds, tokens) with bounded memory and
/// quantiles within 1% relative error (0.78% at most).
///
/// Two sketches merge exactly: `a.merge(&b)` gives the same buckets as recording both
/// streams into one sketch. Serialized as the sparse list of `[value, count]` buckets (the
/// value is the bucket's highest), which reloads into the identical sketch.
///
/// ```
/// use runmeta_core::aggregate::Sketch;
/// let mut s = Sketch::new();
/// for v in 1..=1000 {
///     s.record(v);
/// }
/// let p95 = s.quantile(0.95).unwrap();
/// assert!((950 * 99 / 100..=950 * 101 / 100).contains(&p95));
/// ```
#[derive(Clone, Default)]
pub struct Sketch {
    /// Counters of buckets `offset .. offset + counts.len()`. A boxed slice and no running
    /// total: 24 bytes per sketch, one store per recorded value.
    counts: Box<[u32]>,
    /// The bucket index of `counts[0]`.
    offset: u32,
}

impl Sketch {
    /// An empty sketch (no counter allocated until the first value).
    #[must_use]
    pub fn new() -> Self {
        Sketch {
            counts: Box::default(),
            offset: 0,
        }
    }

    /// Records one value; values above [`MAX_TRACKABLE`] are clamped to it.
    #[inline]
    pub fn record(&mut self, value: u64) {
        let i = bucket_index(value.min(MAX_TRACKABLE));
        let rel = i.wrapping_sub(self.offset) as usize;
        match self.counts.get_mut(rel) {
            Some(c) if *c < u32::MAX => *c += 1,
            _ => self.add_slow(i, 1),
        }
    }

    /// Records `count` occurrences of a value.
    #[inline]
    pub fn record_n(&mut self, value: u64, count: u64) {
        if count > 0 {
            self.add_slow(bucket_index(value.min(MAX_TRACKABLE)), count);
        }
    }

    /// Adds `n` to bucket `i`, growing the window; a full counter saturates.
    #[cold]
    fn add_slow(&mut self, i: u32, n: u64) {
        self.cover(i, i);
        let c = &mut self.counts[(i - self.offset) as usize];
        let room = u64::from(u32::MAX - *c);
        let n = n.min(room);
        // n ≤ room ≤ u32::MAX.
        *c += n as u32;
    }

    /// Grows the window to cover buckets `lo..=hi` (rounded out to whole cache lines, within
    /// the worst case).
    fn cover(&mut self, lo: u32, hi: u32) {
        let end = self.offset + self.counts.len() as u32;
        if !self.counts.is_empty() && lo >= self.offset && hi < end {
            return;
        }
        let max_end = WORST_CASE_COUNTERS as u32;
        let (new_lo, new_end) = if self.counts.is_empty() {
            (lo, hi + 1)
        } else {
            (lo.min(self.offset), (hi + 1).max(end))
        };
        let new_lo = new_lo - new_lo % GROW_STEP;
        let new_end = new_end
            .div_ceil(GROW_STEP)
            .saturating_mul(GROW_STEP)
            .min(max_end);
        let mut counts = vec![0u32; (new_end - new_lo) as usize].into_boxed_slice();
        let at = (self.offset.wrapping_sub(new_lo)) as usize;
        if !self.counts.is_empty() {
            counts[at..at + self.counts.len()].copy_from_slice(&self.counts);
        }
        self.counts = counts;
        self.offset = new_lo;
    }

    /// Number of recorded values.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The value at quantile `q` (0.0..=1.0, nearest rank), within 1% of the exact sample;
    /// `None` when empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        self.quantiles([q]).map(|[v]| v)
    }

    /// The values at several ascending quantiles in one pass over the buckets.
    #[must_use]
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[u64; N]> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let mut out = [0u64; N];
        let mut buckets = self.nonzero();
        let mut seen = 0u64;
        let mut current = 0u64;
        for (slot, q) in out.iter_mut().zip(qs) {
            // The nearest rank: ceil(q·n), at least 1, at most n.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
            while seen < rank {
                match buckets.next() {
                    Some((i, c)) => {
                        seen += c;
                        current = bucket_value(i);
                    }
                    None => break,
                }
            }
            *slot = current;
        }
        Some(out)
    }

    /// The largest recorded value, within 1% (its bucket's midpoint); `None` when empty.
    #[must_use]
    pub fn max(&self) -> Option<u64> {
        self.nonzero().next_back().map(|(i, _)| bucket_value(i))
    }

    /// Adds every value of `other` to this sketch.
    pub fn merge(&mut self, other: &Sketch) {
        let (Some((first, _)), Some((last, _))) =
            (other.nonzero().next(), other.nonzero().next_back())
        else {
            return;
        };
        self.cover(first, last);
        for (i, n) in other.nonzero() {
            let c = &mut self.counts[(i - self.offset) as usize];
            // n ≤ u32::MAX: it comes from a u32 counter.
            let add = (n as u32).min(u32::MAX - *c);
            *c += add;
        }
    }

    /// Heap bytes held by the counters; at most [`WORST_CASE_BYTES`].
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.counts.len() * COUNTER_BYTES
    }

    /// The non-empty buckets as `(bucket index, count)`, ascending.
    fn nonzero(&self) -> impl DoubleEndedIterator<Item = (u32, u64)> + '_ {
        let offset = self.offset;
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(move |(j, &c)| (offset + j as u32, u64::from(c)))
    }

    /// The non-empty buckets as `(highest value of the bucket, count)`, ascending.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.nonzero().map(|(i, c)| (bucket_high(i), c))
    }
}

impl fmt::Debug for Sketch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sketch")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

impl PartialEq for Sketch {
    fn eq(&self, other: &Self) -> bool {
        self.nonzero().eq(other.nonzero())
    }
}

impl Serialize for Sketch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for (value, count) in self.buckets() {
            seq.serialize_element(&[value, count])?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Sketch {
    /// Reads `[value, count]` pairs: this sketch's own buckets reload identically, and the
    /// buckets of the earlier HDR-histogram sketch (2 significant digits: each of its buckets
    /// lies inside one bucket here) load as if their values had been recorded here.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let buckets = Vec::<[u64; 2]>::deserialize(d)?;
        let mut sketch = Sketch::new();
        if let (Some(first), Some(last)) = (
            buckets.iter().map(|b| b[0]).min(),
            buckets.iter().map(|b| b[0]).max(),
        ) {
            sketch.cover(
                bucket_index(first.min(MAX_TRACKABLE)),
                bucket_index(last.min(MAX_TRACKABLE)),
            );
        }
        for [value, count] in buckets {
            sketch.record_n(value, count);
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sketch_has_no_quantiles() {
        let s = Sketch::new();
        assert_eq!(s.quantile(0.5), None);
        assert_eq!(s.max(), None);
        assert_eq!(s.quantiles([0.5, 0.9]), None);
        assert_eq!(s.memory_bytes(), 0);
    }

    #[test]
    fn small_values_are_exact() {
        let mut s = Sketch::new();
        for v in 0..100 {
            s.record(v);
        }
        assert_eq!(s.quantile(0.5), Some(49));
        assert_eq!(s.quantiles([0.5, 1.0]), Some([49, 99]));
    }

    #[test]
    fn buckets_are_contiguous_and_within_the_error() {
        let mut prev_high = None;
        for i in 0..WORST_CASE_COUNTERS as u32 {
            let (low, width) = bucket_bounds(i);
            if let Some(h) = prev_high {
                assert_eq!(low, h + 1, "bucket {i}");
            }
            assert_eq!(bucket_index(low), i);
            assert_eq!(bucket_index(low + width - 1), i);
            let mid = bucket_value(i);
            for v in [low, low + width - 1] {
                assert!(
                    mid.abs_diff(v) as f64 <= v as f64 * RELATIVE_ERROR,
                    "{i} {v} {mid}"
                );
            }
            prev_high = Some(low + width - 1);
        }
        assert_eq!(
            bucket_index(MAX_TRACKABLE) as usize,
            WORST_CASE_COUNTERS - 1
        );
        assert_eq!(WORST_CASE_BYTES, 8_964);
    }

    #[test]
    fn values_above_max_are_clamped_and_counted() {
        let mut s = Sketch::new();
        s.record(u64::MAX);
        s.record(0);
        assert_eq!(s.count(), 2);
        let max = s.max().unwrap();
        assert!((MAX_TRACKABLE..=MAX_TRACKABLE + MAX_TRACKABLE / 100).contains(&max));
        assert!(s.memory_bytes() <= WORST_CASE_BYTES);
    }

    #[test]
    fn window_grows_both_ways() {
        let mut s = Sketch::new();
        s.record(1_000_000);
        let one = s.memory_bytes();
        assert_eq!(one, GROW_STEP as usize * COUNTER_BYTES);
        s.record(10);
        s.record(u64::MAX);
        assert_eq!(s.memory_bytes(), WORST_CASE_BYTES);
        assert_eq!(
            s.quantiles([0.0, 0.5]),
            Some([10, bucket_value(bucket_index(1_000_000))])
        );
    }

    #[test]
    fn full_counters_saturate() {
        let mut s = Sketch::new();
        s.record_n(7, u64::from(u32::MAX) - 1);
        s.record(7);
        s.record(7);
        assert_eq!(s.count(), u64::from(u32::MAX));
        let mut t = s.clone();
        t.merge(&s);
        assert_eq!(t.count(), u64::from(u32::MAX));
    }

    #[test]
    fn serde_round_trip_is_identical() {
        let mut s = Sketch::new();
        for v in [0, 1, 17, 300, 12_345, 9_999_999] {
            s.record_n(v, v % 7 + 1);
        }
        let json = serde_json::to_string(&s).unwrap();
        let back: Sketch = serde_json::from_str(&json).unwrap();
        assert_eq!(s, back);
        assert_eq!(json, serde_json::to_string(&back).unwrap());
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        a.record(10);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.max(), b.max());
        let mut empty = Sketch::new();
        empty.merge(&a);
        assert_eq!(empty, a);
    }
}
