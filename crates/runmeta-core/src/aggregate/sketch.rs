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
//! dense window covering only the buckets between the lowest and the highest recorded value
//! (grown on demand by one 64-byte cache line at a time), so recording a value already in
//! range is a subtraction, a bounds check and an increment.
//!
//! Counters are `u16` (2 bytes) until one of them would pass 65 535; the whole window is then
//! widened once to `u32` ("promoted") and keeps counting. Most sketches of a many-group
//! aggregator never see 65 536 values in one bucket, so their counters take half the memory
//! (and half the cache) of `u32` counters; no count is ever lost or wrapped.

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

/// Bytes per counter of a sketch whose counters all stayed at most 65 535 (`u16`).
pub const NARROW_COUNTER_BYTES: usize = 2;

/// Bytes per counter once a sketch is promoted (`u32`): the widest counter. One bucket of one
/// sketch saturates (stops counting, never wraps) at 4 294 967 295 values.
pub const COUNTER_BYTES: usize = 4;

/// Buckets from 0 up to [`MAX_TRACKABLE`]: the most counters one sketch ever holds (2 241).
pub const WORST_CASE_COUNTERS: usize = bucket_index(MAX_TRACKABLE) as usize + 1;

/// The most bytes of counters one sketch holds: `WORST_CASE_COUNTERS * COUNTER_BYTES`
/// (8 964 bytes, 8.75 KiB), reached only by a promoted sketch covering every bucket; with
/// `u16` counters at most 4 482 bytes. Typical sketches hold far less: only the buckets
/// between the lowest and highest recorded value are allocated (latencies of 50 ms to 60 s
/// in µs: 704 counters, 1.4 KiB in `u16`, 2.75 KiB once promoted).
pub const WORST_CASE_BYTES: usize = WORST_CASE_COUNTERS * COUNTER_BYTES;

/// Bytes added at once when the window grows: one cache line (32 `u16` or 16 `u32` counters).
const GROW_BYTES: usize = 64;

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

/// The counter window: buckets `offset .. offset + counts.len()`, `u16` until a counter would
/// pass `u16::MAX`, then `u32`. A boxed slice, the offset and the tag share 24 bytes.
#[derive(Clone)]
enum Counts {
    Narrow(Box<[u16]>, u32),
    Wide(Box<[u32]>, u32),
}

/// A copy of `old` (covering buckets from `offset`) widened to cover `lo..=hi`, rounded out
/// to whole cache lines of counters and clamped to the worst case; `None` when `old` already
/// covers them.
fn regrow<T: Copy + Default>(old: &[T], offset: u32, lo: u32, hi: u32) -> Option<(Box<[T]>, u32)> {
    let end = offset + old.len() as u32;
    if !old.is_empty() && lo >= offset && hi < end {
        return None;
    }
    let step = (GROW_BYTES / std::mem::size_of::<T>()) as u32;
    let (new_lo, new_end) = if old.is_empty() {
        (lo, hi + 1)
    } else {
        (lo.min(offset), (hi + 1).max(end))
    };
    let new_lo = new_lo - new_lo % step;
    let new_end = new_end
        .div_ceil(step)
        .saturating_mul(step)
        .min(WORST_CASE_COUNTERS as u32);
    let mut counts = vec![T::default(); (new_end - new_lo) as usize].into_boxed_slice();
    if !old.is_empty() {
        let at = (offset - new_lo) as usize;
        counts[at..at + old.len()].copy_from_slice(old);
    }
    Some((counts, new_lo))
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
#[derive(Clone)]
pub struct Sketch {
    /// No running total: 24 bytes per sketch, one store per recorded value.
    counts: Counts,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::new()
    }
}

impl Sketch {
    /// An empty sketch (no counter allocated until the first value).
    #[must_use]
    pub fn new() -> Self {
        Sketch {
            counts: Counts::Narrow(Box::default(), 0),
        }
    }

    /// Records one value; values above [`MAX_TRACKABLE`] are clamped to it.
    #[inline]
    pub fn record(&mut self, value: u64) {
        let i = bucket_index(value.min(MAX_TRACKABLE));
        if let Counts::Narrow(counts, offset) = &mut self.counts {
            if let Some(c) = counts.get_mut(i.wrapping_sub(*offset) as usize) {
                if *c < u16::MAX {
                    *c += 1;
                    return;
                }
            }
        }
        self.record_wide(i);
    }

    /// Records into bucket `i` a value that [`Sketch::record`]'s `u16` fast path did not
    /// take: a promoted sketch (out of line, so that the fast path stays small enough to be
    /// inlined and unrolled by callers), else a window to grow or a promotion.
    #[inline(never)]
    fn record_wide(&mut self, i: u32) {
        if let Counts::Wide(counts, offset) = &mut self.counts {
            if let Some(c) = counts.get_mut(i.wrapping_sub(*offset) as usize) {
                if *c < u32::MAX {
                    *c += 1;
                    return;
                }
            }
        }
        self.add_slow(i, 1);
    }

    /// Records `count` occurrences of a value.
    #[inline]
    pub fn record_n(&mut self, value: u64, count: u64) {
        if count > 0 {
            self.add_slow(bucket_index(value.min(MAX_TRACKABLE)), count);
        }
    }

    /// Adds `n` to bucket `i`, growing the window and promoting the counters to `u32` when
    /// needed; a full `u32` counter saturates.
    #[cold]
    fn add_slow(&mut self, i: u32, n: u64) {
        self.cover(i, i);
        self.add_covered(i, n);
    }

    /// Adds `n` to bucket `i`, which the window covers.
    fn add_covered(&mut self, i: u32, n: u64) {
        if let Counts::Narrow(counts, offset) = &mut self.counts {
            let c = &mut counts[(i - *offset) as usize];
            match u16::try_from(u64::from(*c).saturating_add(n)) {
                Ok(sum) => {
                    *c = sum;
                    return;
                }
                Err(_) => self.promote(),
            }
        }
        if let Counts::Wide(counts, offset) = &mut self.counts {
            let c = &mut counts[(i - *offset) as usize];
            // The sum saturates at u32::MAX, so the cast keeps it.
            *c = (u64::from(*c).saturating_add(n)).min(u64::from(u32::MAX)) as u32;
        }
    }

    /// Widens the counters to `u32` (same window).
    fn promote(&mut self) {
        if let Counts::Narrow(counts, offset) = &self.counts {
            let wide = counts.iter().map(|&c| u32::from(c)).collect();
            self.counts = Counts::Wide(wide, *offset);
        }
    }

    /// Grows the window to cover buckets `lo..=hi` (rounded out to whole cache lines, within
    /// the worst case).
    fn cover(&mut self, lo: u32, hi: u32) {
        match &mut self.counts {
            Counts::Narrow(counts, offset) => {
                if let Some((c, o)) = regrow(counts, *offset, lo, hi) {
                    (*counts, *offset) = (c, o);
                }
            }
            Counts::Wide(counts, offset) => {
                if let Some((c, o)) = regrow(counts, *offset, lo, hi) {
                    (*counts, *offset) = (c, o);
                }
            }
        }
    }

    /// Counters in the window.
    fn len(&self) -> usize {
        match &self.counts {
            Counts::Narrow(c, _) => c.len(),
            Counts::Wide(c, _) => c.len(),
        }
    }

    /// The count of the window's `j`-th counter.
    fn at(&self, j: usize) -> u64 {
        match &self.counts {
            Counts::Narrow(c, _) => u64::from(c[j]),
            Counts::Wide(c, _) => u64::from(c[j]),
        }
    }

    /// The bucket index of the window's first counter.
    fn offset(&self) -> u32 {
        match self.counts {
            Counts::Narrow(_, o) | Counts::Wide(_, o) => o,
        }
    }

    /// True once the counters were widened to `u32` (a bucket passed 65 535 values).
    #[must_use]
    pub fn is_promoted(&self) -> bool {
        matches!(self.counts, Counts::Wide(..))
    }

    /// Number of recorded values.
    #[must_use]
    pub fn count(&self) -> u64 {
        match &self.counts {
            Counts::Narrow(c, _) => c.iter().map(|&c| u64::from(c)).sum(),
            Counts::Wide(c, _) => c.iter().map(|&c| u64::from(c)).sum(),
        }
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match &self.counts {
            Counts::Narrow(c, _) => c.iter().all(|&c| c == 0),
            Counts::Wide(c, _) => c.iter().all(|&c| c == 0),
        }
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

    /// Adds every value of `other` to this sketch (promoting this one's counters when a sum
    /// passes 65 535; a `u32` counter saturates).
    pub fn merge(&mut self, other: &Sketch) {
        let (Some((first, _)), Some((last, _))) =
            (other.nonzero().next(), other.nonzero().next_back())
        else {
            return;
        };
        self.cover(first, last);
        for (i, n) in other.nonzero() {
            self.add_covered(i, n);
        }
    }

    /// Heap bytes held by the counters; at most [`WORST_CASE_BYTES`].
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        match &self.counts {
            Counts::Narrow(c, _) => c.len() * NARROW_COUNTER_BYTES,
            Counts::Wide(c, _) => c.len() * COUNTER_BYTES,
        }
    }

    /// The non-empty buckets as `(bucket index, count)`, ascending.
    fn nonzero(&self) -> impl DoubleEndedIterator<Item = (u32, u64)> + '_ {
        let offset = self.offset();
        (0..self.len()).filter_map(move |j| {
            let c = self.at(j);
            (c > 0).then_some((offset + j as u32, c))
        })
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
    fn header_stays_24_bytes() {
        assert_eq!(std::mem::size_of::<Sketch>(), 24);
        assert_eq!(std::mem::size_of::<Option<Sketch>>(), 24);
    }

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
        assert_eq!(one, GROW_BYTES);
        s.record(10);
        s.record(u64::MAX);
        assert_eq!(s.memory_bytes(), WORST_CASE_COUNTERS * NARROW_COUNTER_BYTES);
        assert_eq!(
            s.quantiles([0.0, 0.5]),
            Some([10, bucket_value(bucket_index(1_000_000))])
        );
        // Promoted, the full window is the worst case.
        s.record_n(10, u64::from(u16::MAX));
        assert!(s.is_promoted());
        assert_eq!(s.memory_bytes(), WORST_CASE_BYTES);
        assert_eq!(s.count(), 3 + u64::from(u16::MAX));
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
