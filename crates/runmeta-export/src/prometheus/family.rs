//! Metric families with a series cap, and the lock-free metric values they hold.
//!
//! A family maps label sets to series. Lookups of an existing series take a read lock and
//! allocate nothing: the label list, written as one string ([`LabelKey`]), is hashed and
//! compared in place. Only
//! a new label set takes the write lock. Once a family holds its cap of series (the overflow
//! series included), new label sets are folded into the overflow series and counted.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::RwLock;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::key::{LabelKey, OwnedLabels};

/// A metric value kept in a series.
pub(crate) trait SeriesValue: Send + Sync + 'static {
    /// What every value of a family shares (histogram buckets).
    type Spec: Send + Sync + 'static;
    /// The OpenMetrics type.
    const TYPE: MetricType;
    /// A zero value.
    fn new(spec: &Self::Spec) -> Self;
    /// Writes the value's samples.
    fn encode(&self, spec: &Self::Spec, encoder: &mut MetricEncoder<'_>) -> std::fmt::Result;
}

/// A `u64` counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`, saturating.
    pub(crate) fn add(&self, n: u64) {
        saturating_add(&self.0, n);
    }

    /// The current value.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl SeriesValue for Counter {
    type Spec = ();
    const TYPE: MetricType = MetricType::Counter;
    fn new((): &()) -> Self {
        Counter::default()
    }
    fn encode(&self, (): &(), encoder: &mut MetricEncoder<'_>) -> std::fmt::Result {
        encoder.encode_counter::<NoLabelSet, u64, u64>(&self.get(), None)
    }
}

/// A money counter: summed as integer nano-units (exact), exposed as currency units.
#[derive(Debug, Default)]
pub(crate) struct CostCounter(AtomicU64);

impl CostCounter {
    /// Adds `nanos` nano-units, saturating.
    pub(crate) fn add_nanos(&self, nanos: u64) {
        saturating_add(&self.0, nanos);
    }

    /// The current value in currency units.
    pub(crate) fn get(&self) -> f64 {
        runmeta_core::metrics::Cost::from_nanos(self.0.load(Ordering::Relaxed)).as_f64()
    }
}

impl SeriesValue for CostCounter {
    type Spec = ();
    const TYPE: MetricType = MetricType::Counter;
    fn new((): &()) -> Self {
        CostCounter::default()
    }
    fn encode(&self, (): &(), encoder: &mut MetricEncoder<'_>) -> std::fmt::Result {
        encoder.encode_counter::<NoLabelSet, f64, u64>(&self.get(), None)
    }
}

/// Bucket bounds of a histogram that observes integers (nanoseconds, tokens) and exposes
/// them scaled (seconds, tokens).
#[derive(Debug)]
pub(crate) struct Buckets {
    /// Upper bounds in the observed integer unit, ascending.
    pub(crate) bounds: &'static [u64],
    /// The same bounds in the exposed unit.
    pub(crate) exposed: &'static [f64],
    /// Observed units per exposed unit (1e9 for nanoseconds → seconds); a division is
    /// correctly rounded, so 350 ms shows as `0.35`.
    pub(crate) divisor: f64,
}

/// A histogram of integer observations with fixed buckets; every field is an atomic, so
/// observing never locks. The exposed count is the sum of the buckets, so `_count` and the
/// `+Inf` bucket always agree; `_sum` may trail an observation in flight by one value.
#[derive(Debug)]
pub(crate) struct IntHistogram {
    /// One counter per bound, then the `+Inf` bucket (not cumulative).
    buckets: Box<[AtomicU64]>,
    /// Sum of the observations, saturating.
    sum: AtomicU64,
}

impl IntHistogram {
    /// Records one observation.
    pub(crate) fn observe(&self, spec: &Buckets, value: u64) {
        let index = spec.bounds.partition_point(|&bound| bound < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        saturating_add(&self.sum, value);
    }

    /// Number of observations.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |n, b| n.saturating_add(b.load(Ordering::Relaxed)))
    }
}

impl SeriesValue for IntHistogram {
    type Spec = Buckets;
    const TYPE: MetricType = MetricType::Histogram;
    fn new(spec: &Buckets) -> Self {
        IntHistogram {
            buckets: (0..=spec.bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    fn encode(&self, spec: &Buckets, encoder: &mut MetricEncoder<'_>) -> std::fmt::Result {
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let mut count = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            let n = bucket.load(Ordering::Relaxed);
            count = count.saturating_add(n);
            let bound = spec.exposed.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, n));
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / spec.divisor;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

fn saturating_add(cell: &AtomicU64, n: u64) {
    if n == 0 {
        return;
    }
    // `fetch_add` is one instruction; fall back to a CAS loop only near the top, so sums
    // saturate instead of wrapping.
    let before = cell.fetch_add(n, Ordering::Relaxed);
    if before.checked_add(n).is_none() {
        cell.store(u64::MAX, Ordering::Relaxed);
    }
}

/// One series: its labels and its value.
#[derive(Debug)]
pub(crate) struct Series<V> {
    pub(crate) labels: OwnedLabels,
    pub(crate) value: V,
    hash: u64,
}

/// The series of a family and their index.
struct Index<V> {
    table: HashTable<usize>,
    series: Vec<Arc<Series<V>>>,
    overflow: Option<Arc<Series<V>>>,
}

/// A metric family: a name, a help text, and at most `max_series` series.
pub(crate) struct Family<V: SeriesValue> {
    /// The name before the type's suffix (`agent_run` for `agent_run_total`).
    pub(crate) name: &'static str,
    /// The name Prometheus stores (`agent_run_total`, `agent_run_duration_seconds`).
    pub(crate) exposed_name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) unit: Option<Unit>,
    pub(crate) spec: V::Spec,
    /// The label names of the overflow series.
    overflow_names: &'static [&'static str],
    max_series: usize,
    hasher: DefaultHashBuilder,
    index: RwLock<Index<V>>,
    overflowed: AtomicU64,
}

/// What a family looks like, without its series.
pub(crate) struct FamilyDef<V: SeriesValue> {
    pub(crate) name: &'static str,
    pub(crate) exposed_name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) unit: Option<Unit>,
    pub(crate) spec: V::Spec,
    pub(crate) overflow_names: &'static [&'static str],
}

impl<V: SeriesValue> Family<V> {
    /// An empty family holding at most `max_series` series (at least 1: the overflow series).
    pub(crate) fn new(def: FamilyDef<V>, max_series: usize) -> Self {
        Family {
            name: def.name,
            exposed_name: def.exposed_name,
            help: def.help,
            unit: def.unit,
            spec: def.spec,
            overflow_names: def.overflow_names,
            max_series: max_series.max(1),
            hasher: DefaultHashBuilder::default(),
            index: RwLock::new(Index {
                table: HashTable::new(),
                series: Vec::new(),
                overflow: None,
            }),
            overflowed: AtomicU64::new(0),
        }
    }

    /// Calls `f` with the value of the series `labels`, creating it if the cap allows, else
    /// with the overflow series.
    pub(crate) fn with(&self, labels: &LabelKey, f: impl FnOnce(&V, &V::Spec)) {
        let hash = self.hasher.hash_one(labels.as_str());
        {
            let index = self.index.read();
            if let Some(&i) = index
                .table
                .find(hash, |&i| index.series[i].labels.matches(labels))
            {
                f(&index.series[i].value, &self.spec);
                return;
            }
            // A full family folds new label sets without taking the write lock.
            if let Some(overflow) = &index.overflow {
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                f(&overflow.value, &self.spec);
                return;
            }
        }
        let series = self.insert(hash, labels);
        f(&series.value, &self.spec);
    }

    /// The slow path of [`Family::with`]: the series for `labels` under the write lock.
    fn insert(&self, hash: u64, labels: &LabelKey) -> Arc<Series<V>> {
        let mut guard = self.index.write();
        let index = &mut *guard;
        if let Some(&i) = index
            .table
            .find(hash, |&i| index.series[i].labels.matches(labels))
        {
            return Arc::clone(&index.series[i]);
        }
        // One slot stays free for the overflow series.
        let regular = index.series.len() - usize::from(index.overflow.is_some());
        if regular + 1 < self.max_series {
            let series = Arc::new(Series {
                labels: OwnedLabels::new(labels),
                value: V::new(&self.spec),
                hash,
            });
            let i = index.series.len();
            index.series.push(Arc::clone(&series));
            let all = &index.series;
            index.table.insert_unique(hash, i, |&j| all[j].hash);
            return series;
        }
        self.overflowed.fetch_add(1, Ordering::Relaxed);
        if let Some(series) = &index.overflow {
            return Arc::clone(series);
        }
        let series = Arc::new(Series {
            labels: OwnedLabels::overflow(self.overflow_names),
            value: V::new(&self.spec),
            hash: 0,
        });
        index.series.push(Arc::clone(&series));
        index.overflow = Some(Arc::clone(&series));
        series
    }

    /// The series, in creation order (a snapshot: the lock is released on return).
    pub(crate) fn snapshot(&self) -> Vec<Arc<Series<V>>> {
        self.index.read().series.clone()
    }

    /// Number of series, the overflow series included.
    pub(crate) fn len(&self) -> usize {
        self.index.read().series.len()
    }

    /// Observations folded into the overflow series so far.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Writes the family (descriptor and samples); an empty family writes nothing.
    pub(crate) fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let series = self.snapshot();
        if series.is_empty() {
            return Ok(());
        }
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, self.unit.as_ref(), V::TYPE)?;
        for s in &series {
            let mut sample = metric.encode_family(&s.labels)?;
            s.value.encode(&self.spec, &mut sample)?;
        }
        Ok(())
    }
}

impl<V: SeriesValue> std::fmt::Debug for Family<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.exposed_name)
            .field("series", &self.len())
            .field("max_series", &self.max_series)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Buckets = Buckets {
        bounds: &[10, 20],
        exposed: &[1.0, 2.0],
        divisor: 10.0,
    };

    fn counter_family(max: usize) -> Family<Counter> {
        Family::new(
            FamilyDef {
                name: "c",
                exposed_name: "c_total",
                help: "C.",
                unit: None,
                spec: (),
                overflow_names: &["k"],
            },
            max,
        )
    }

    #[test]
    fn finds_existing_series_and_caps_new_ones() {
        let f = counter_family(3);
        f.with(&LabelKey::of(&[("k", "a")]), |c, ()| c.add(1));
        f.with(&LabelKey::of(&[("k", "a")]), |c, ()| c.add(2));
        f.with(&LabelKey::of(&[("k", "b")]), |c, ()| c.add(1));
        assert_eq!(f.len(), 2);
        f.with(&LabelKey::of(&[("k", "c")]), |c, ()| c.add(5));
        f.with(&LabelKey::of(&[("k", "d")]), |c, ()| c.add(5));
        assert_eq!(f.len(), 3, "two regular series and the overflow series");
        assert_eq!(f.overflowed(), 2);
        let snap = f.snapshot();
        assert_eq!(snap[0].value.get(), 3);
        assert_eq!(
            snap[2].labels.get("k"),
            Some(super::super::OVERFLOW_LABEL_VALUE)
        );
        assert_eq!(snap[2].value.get(), 10);
        // An existing series keeps counting after the cap is reached.
        f.with(&LabelKey::of(&[("k", "b")]), |c, ()| c.add(1));
        assert_eq!(f.snapshot()[1].value.get(), 2);
    }

    #[test]
    fn cap_of_one_or_zero_keeps_only_the_overflow_series() {
        for max in [0, 1] {
            let f = counter_family(max);
            f.with(&LabelKey::of(&[("k", "a")]), |c, ()| c.add(1));
            assert_eq!(f.len(), 1);
            assert_eq!(f.overflowed(), 1);
        }
    }

    #[test]
    fn histogram_buckets_are_le_inclusive_and_sums_saturate() {
        let h = IntHistogram::new(&B);
        for v in [0, 10, 11, 20, 21, u64::MAX] {
            h.observe(&B, v);
        }
        let counts: Vec<u64> = h
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, vec![2, 2, 2]);
        assert_eq!(h.count(), 6);
        assert_eq!(h.sum.load(Ordering::Relaxed), u64::MAX);
    }

    #[test]
    fn counters_saturate() {
        let c = Counter::default();
        c.add(u64::MAX - 1);
        c.add(5);
        assert_eq!(c.get(), u64::MAX);
        let cost = CostCounter::default();
        cost.add_nanos(1_500_000_000);
        assert!((cost.get() - 1.5).abs() < 1e-12);
    }
}
