//! A mergeable, serializable quantile sketch: an HDR histogram with 2 significant digits.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Significant decimal digits kept by every sketch: values are recorded within 1% (at most
/// 1/128 ≈ 0.78% above the true value; quantiles are reported as the highest value
/// equivalent to the true sample).
pub const SIGNIFICANT_DIGITS: u8 = 2;

/// The largest value a sketch tracks; larger values are clamped to it (and still counted).
/// 2^40 is about 12.7 days in microseconds or 1.1 trillion tokens.
pub const MAX_TRACKABLE: u64 = 1 << 40;

/// Bytes per counter: counters are `u32`, so one bucket of one sketch saturates (stops
/// counting, never wraps) at 4 294 967 295 values; halving the memory of `u64` counters keeps
/// more groups in the CPU caches.
pub const COUNTER_BYTES: usize = 4;

/// Counters per sketch when a value near [`MAX_TRACKABLE`] was recorded: the worst case of
/// [`Sketch::memory_bytes`] is [`WORST_CASE_BYTES`] (17.5 KiB).
///
/// An HDR histogram with 2 significant digits keeps 256 counters for values below 256 and
/// 128 more per power of two above: `(log2(max) − 5) × 128` counters for a largest value
/// `max` ≥ 256, grown on demand (auto-resize). An empty sketch holds 256 counters (1 KiB), one
/// that saw 60 s in µs (2^26) 2 688 (10.5 KiB), one that saw 16k tokens (2^14) 1 152 (4.5 KiB).
pub const WORST_CASE_COUNTERS: usize = (40 - 5) * 128;

/// The most bytes of counters one sketch holds: `WORST_CASE_COUNTERS * COUNTER_BYTES`.
pub const WORST_CASE_BYTES: usize = WORST_CASE_COUNTERS * COUNTER_BYTES;

/// A distribution of non-negative integers (microseconds, tokens) with bounded memory and
/// quantiles within 1% relative error.
///
/// Two sketches merge exactly: `a.merge(&b)` gives the same quantiles as recording both
/// streams into one sketch. Serialized as the sparse list of `[value, count]` buckets, which
/// reloads into the identical sketch.
///
/// ```
/// use runmeta_core::aggregate::Sketch;
/// let mut s = Sketch::new();
/// for v in 1..=1000 {
///     s.record(v);
/// }
/// let p95 = s.quantile(0.95).unwrap();
/// assert!((950..=950 * 101 / 100).contains(&p95));
/// ```
#[derive(Clone)]
pub struct Sketch {
    hist: Histogram<u32>,
}

fn empty_histogram() -> Histogram<u32> {
    // `new` fails only for more than 5 significant digits; the argument is a constant 2.
    #[allow(clippy::expect_used)]
    Histogram::new(SIGNIFICANT_DIGITS).expect("2 significant digits is a valid precision")
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::new()
    }
}

impl Sketch {
    /// An empty sketch (1 KiB of counters; it grows with the largest recorded value).
    #[must_use]
    pub fn new() -> Self {
        Sketch {
            hist: empty_histogram(),
        }
    }

    /// Records one value; values above [`MAX_TRACKABLE`] are clamped to it.
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `count` occurrences of a value.
    #[inline]
    pub fn record_n(&mut self, value: u64, count: u64) {
        let value = value.min(MAX_TRACKABLE);
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        // Cannot fail: the value is within MAX_TRACKABLE and auto-resize is on; a failure
        // would only mean the histogram could not grow, so the value is clamped instead.
        if self.hist.record_n(value, count).is_err() {
            self.hist.saturating_record_n(value, count);
        }
    }

    /// Number of recorded values.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The value at quantile `q` (0.0..=1.0, nearest rank), within 1% of the exact sample;
    /// `None` when empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.hist.is_empty() {
            return None;
        }
        Some(self.hist.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    /// The values at several ascending quantiles in one pass over the buckets.
    #[must_use]
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[u64; N]> {
        if self.hist.is_empty() {
            return None;
        }
        let mut out = [0u64; N];
        let iter = self
            .hist
            .value_at_quantiles(qs.iter().map(|q| q.clamp(0.0, 1.0)));
        for (slot, v) in out.iter_mut().zip(iter) {
            *slot = v;
        }
        Some(out)
    }

    /// The largest recorded value (exact up to the bucket: within 1%); `None` when empty.
    #[must_use]
    pub fn max(&self) -> Option<u64> {
        if self.hist.is_empty() {
            None
        } else {
            Some(self.hist.max())
        }
    }

    /// Adds every value of `other` to this sketch.
    pub fn merge(&mut self, other: &Sketch) {
        if self.hist.add(&other.hist).is_err() {
            // Only possible if the histogram could not grow; re-record bucket by bucket with
            // clamping so no count is lost.
            for v in other.hist.iter_recorded() {
                let n = u32::try_from(v.count_since_last_iteration()).unwrap_or(u32::MAX);
                self.hist.saturating_record_n(v.value_iterated_to(), n);
            }
        }
    }

    /// Heap bytes held by the counters; at most [`WORST_CASE_BYTES`].
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.hist.distinct_values() * COUNTER_BYTES
    }

    /// The non-empty buckets as `(highest value of the bucket, count)`, ascending.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
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
        self.count() == other.count() && self.buckets().eq(other.buckets())
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
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let buckets = Vec::<[u64; 2]>::deserialize(d)?;
        let mut sketch = Sketch::new();
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
    }

    #[test]
    fn small_values_are_exact() {
        let mut s = Sketch::new();
        for v in 0..200 {
            s.record(v);
        }
        assert_eq!(s.quantile(0.5), Some(99));
        assert_eq!(s.quantiles([0.5, 1.0]), Some([99, 199]));
    }

    #[test]
    fn values_above_max_are_clamped_and_counted() {
        let mut s = Sketch::new();
        s.record(u64::MAX);
        assert_eq!(s.count(), 1);
        let max = s.max().unwrap();
        assert!((MAX_TRACKABLE..=MAX_TRACKABLE + MAX_TRACKABLE / 100).contains(&max));
        assert!(s.memory_bytes() <= WORST_CASE_BYTES);
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
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        a.record(10);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert!(a.max().unwrap() >= 1_000_000);
    }
}
