//! Sketch accuracy against an exact sort, merges against the union, serialization round
//! trips, and the memory bound.

use std::time::Duration;

use proptest::prelude::*;
use runmeta_core::aggregate::sketch::{MAX_TRACKABLE, WORST_CASE_BYTES};
use runmeta_core::aggregate::{
    AggregateSnapshot, Aggregator, GroupBy, GroupStats, Sketch, MAX_DISTINCT,
};
use runmeta_core::metrics::{Cost, ToolCallMetrics, ToolStatus, Usage};
use runmeta_core::run::{RunRecord, RunStatus};

/// splitmix64: a small deterministic generator for the data of one case.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[derive(Clone, Copy, Debug)]
enum Dist {
    Uniform {
        max: u64,
    },
    /// Heavy tail: x_m / U^(1/alpha).
    Pareto {
        xm: f64,
        alpha: f64,
    },
    /// exp(mu + sigma Z).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// A few repeated values (ties at the quantile boundaries).
    Discrete,
}

fn dist() -> impl Strategy<Value = Dist> {
    prop_oneof![
        (1u64..10_000_000).prop_map(|max| Dist::Uniform { max }),
        (1.0f64..100_000.0, 0.5f64..3.0).prop_map(|(xm, alpha)| Dist::Pareto { xm, alpha }),
        (0.0f64..15.0, 0.1f64..3.0).prop_map(|(mu, sigma)| Dist::LogNormal { mu, sigma }),
        Just(Dist::Discrete),
    ]
}

fn sample(d: Dist, rng: &mut Rng) -> u64 {
    let v = match d {
        Dist::Uniform { max } => (rng.next_u64() % (max + 1)) as f64,
        Dist::Pareto { xm, alpha } => xm / rng.unit().powf(1.0 / alpha),
        Dist::LogNormal { mu, sigma } => (mu + sigma * rng.normal()).exp(),
        Dist::Discrete => [3.0, 250.0, 1_000.0, 1_000_000.0][(rng.next_u64() % 4) as usize],
    };
    // The sketch clamps at MAX_TRACKABLE; the exact reference sees the same clamp.
    if v.is_finite() {
        (v as u64).min(MAX_TRACKABLE)
    } else {
        MAX_TRACKABLE
    }
}

/// The exact nearest-rank quantile (the rank hdrhistogram uses: ceil(q·n), at least 1).
fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn quantiles_within_one_percent_of_exact(d in dist(), seed in any::<u64>(), n in 1usize..5_000) {
        let mut rng = Rng(seed);
        let mut values: Vec<u64> = (0..n).map(|_| sample(d, &mut rng)).collect();
        let mut sketch = Sketch::new();
        for &v in &values {
            sketch.record(v);
        }
        values.sort_unstable();
        for q in [0.5, 0.95, 0.99] {
            let exact = exact_quantile(&values, q);
            let est = sketch.quantile(q).unwrap();
            let err = est.abs_diff(exact) as f64;
            prop_assert!(
                err <= exact as f64 * 0.01,
                "q={q} exact={exact} est={est} rel_err={}", err / exact.max(1) as f64
            );
        }
        let [p50, p95, p99] = sketch.quantiles([0.5, 0.95, 0.99]).unwrap();
        prop_assert_eq!(p50, sketch.quantile(0.5).unwrap());
        prop_assert_eq!(p95, sketch.quantile(0.95).unwrap());
        prop_assert_eq!(p99, sketch.quantile(0.99).unwrap());
        prop_assert!(sketch.memory_bytes() <= WORST_CASE_BYTES);
    }

    #[test]
    fn sketch_merge_equals_union(d in dist(), seed in any::<u64>(), n in 0usize..2_000, cut in 0usize..2_000) {
        let mut rng = Rng(seed);
        let values: Vec<u64> = (0..n).map(|_| sample(d, &mut rng)).collect();
        let cut = cut.min(n);
        let (mut a, mut b, mut all) = (Sketch::new(), Sketch::new(), Sketch::new());
        for &v in &values[..cut] { a.record(v); }
        for &v in &values[cut..] { b.record(v); }
        for &v in &values { all.record(v); }
        a.merge(&b);
        prop_assert_eq!(&a, &all);
        let json = serde_json::to_string(&all).unwrap();
        let back: Sketch = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &all);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Snapshots written by the earlier sketch (an HDR histogram with 2 significant digits,
    /// serialized as `[highest value of the bucket, count]`) load as if their values had been
    /// recorded into today's sketch: each HDR bucket lies inside one bucket here.
    #[test]
    fn hdr_snapshots_load_exactly(d in dist(), seed in any::<u64>(), n in 0usize..2_000) {
        let mut rng = Rng(seed);
        let values: Vec<u64> = (0..n).map(|_| sample(d, &mut rng)).collect();
        let mut hdr = hdrhistogram::Histogram::<u32>::new(2).unwrap();
        let mut sketch = Sketch::new();
        for &v in &values {
            hdr.record(v).unwrap();
            sketch.record(v);
        }
        let old: Vec<[u64; 2]> = hdr
            .iter_recorded()
            .map(|v| [v.value_iterated_to(), v.count_since_last_iteration()])
            .collect();
        let json = serde_json::to_string(&old).unwrap();
        let loaded: Sketch = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&loaded, &sketch);
    }
}

/// A random run from one seed: 2 agents, 3 models, statuses, tools, costs.
fn random_run(rng: &mut Rng) -> RunRecord {
    let agents = ["support", "billing"];
    let start = jiff::Timestamp::from_second(1_700_000_000 + (rng.next_u64() % 600) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut r = RunRecord::new(agents[(rng.next_u64() % 2) as usize], start);
    r.release = Some(["v1", "v2"][(rng.next_u64() % 2) as usize].into());
    r.duration = Duration::from_micros(sample(
        Dist::LogNormal {
            mu: 13.0,
            sigma: 1.0,
        },
        rng,
    ));
    if !rng.next_u64().is_multiple_of(3) {
        r.time_to_first_token = Some(Duration::from_micros(rng.next_u64() % 2_000_000));
    }
    match rng.next_u64() % 10 {
        0 => {
            r.status = RunStatus::Error;
            r.stop_reason = "error".into();
            r.error_class = Some(["timeout", "rate_limit"][(rng.next_u64() % 2) as usize].into());
        }
        1 => {
            r.status = RunStatus::Cancelled;
            r.stop_reason = "cancelled".into();
        }
        2 => r.stop_reason = "max_steps".into(),
        _ => {}
    }
    let mut u = Usage::new(rng.next_u64() % 20_000, rng.next_u64() % 4_000);
    u.cache_read_tokens = u.input_tokens / 3;
    u.reasoning_tokens = u.output_tokens / 4;
    r.metrics.usage = u;
    if rng.next_u64().is_multiple_of(7) {
        r.unpriced_messages = 1;
    } else {
        r.metrics.cost = Some(Cost::from_nanos(rng.next_u64() % 50_000_000));
    }
    for i in 0..(rng.next_u64() % 4) {
        let failed = rng.next_u64().is_multiple_of(5);
        r.tool_calls.push(ToolCallMetrics {
            name: ["search_docs", "lookup_order", "send_email"]
                [((rng.next_u64() + i) % 3) as usize]
                .into(),
            started_at: start,
            duration: Duration::from_micros(rng.next_u64() % 3_000_000),
            status: if failed {
                ToolStatus::Error
            } else {
                ToolStatus::Success
            },
            error_class: failed.then(|| "http_503".to_owned()),
        });
    }
    r
}

fn group_by_strategy() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(""),
        Just("agent"),
        Just("agent,status"),
        Just("release,tool"),
        Just("stop_reason,agent,tool")
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn aggregator_merge_equals_union(by in group_by_strategy(), seed in any::<u64>(), n in 0usize..300, cut in 0usize..300) {
        let by = GroupBy::parse(by).unwrap();
        let mut rng = Rng(seed);
        let runs: Vec<RunRecord> = (0..n).map(|_| random_run(&mut rng)).collect();
        let cut = cut.min(n);
        let (mut a, mut b, mut all) = (Aggregator::new(by.clone()), Aggregator::new(by.clone()), Aggregator::new(by));
        runs[..cut].iter().for_each(|r| a.record(r));
        runs[cut..].iter().for_each(|r| b.record(r));
        runs.iter().for_each(|r| all.record(r));

        // Through serialization, as between processes.
        let json = serde_json::to_string(&b.snapshot()).unwrap();
        let snap: AggregateSnapshot = serde_json::from_str(&json).unwrap();
        let mut via_snapshot = a.clone();
        via_snapshot.merge_snapshot(&snap).unwrap();

        a.merge(&b).unwrap();
        prop_assert_eq!(a.snapshot(), all.snapshot());
        prop_assert_eq!(via_snapshot.snapshot(), all.snapshot());
        prop_assert_eq!(a.report(), all.report());
    }
}

#[test]
fn merging_different_groupings_is_an_error() {
    let mut a = Aggregator::new(GroupBy::parse("agent").unwrap());
    let b = Aggregator::new(GroupBy::parse("model").unwrap());
    let err = a.merge(&b).unwrap_err();
    assert!(err.to_string().contains("[model]"), "{err}");
    let mut snap = a.snapshot();
    snap.groups.push(runmeta_core::aggregate::SnapshotGroup {
        key: vec![],
        stats: GroupStats::default(),
    });
    assert!(a.clone().merge_snapshot(&snap).is_err());
}

#[test]
fn memory_per_group_is_bounded() {
    let mut agg = Aggregator::new(GroupBy::parse("agent").unwrap());
    let start = jiff::Timestamp::UNIX_EPOCH;
    // Worst case: every sketch sees 0 and the largest value (so its window of counters spans
    // every bucket), every name table is full.
    for i in 0..200u64 {
        let mut r = RunRecord::new("a", start);
        let (secs, tokens) = if i % 2 == 0 {
            (u64::MAX / 1_000_000, u64::MAX)
        } else {
            (0, 0)
        };
        r.duration = Duration::from_secs(secs);
        r.time_to_first_token = Some(Duration::from_secs(secs));
        r.metrics.usage = Usage {
            input_tokens: tokens,
            output_tokens: tokens,
            total_tokens: tokens,
            reasoning_tokens: tokens,
            cache_read_tokens: tokens,
            cache_write_tokens: tokens,
            ..Usage::default()
        };
        r.status = RunStatus::Error;
        r.error_class = Some(format!("class_{i}").into());
        r.stop_reason = format!("reason_{i}").into();
        for secs in [0, u64::MAX / 1_000_000] {
            r.tool_calls.push(ToolCallMetrics {
                name: format!("tool_{i}"),
                started_at: start,
                duration: Duration::from_secs(secs),
                status: ToolStatus::Error,
                error_class: Some(format!("e{i}")),
            });
        }
        agg.record(&r);
    }
    let stats = agg.group(&[Some("a")]).unwrap();
    assert_eq!(stats.tools.len(), MAX_DISTINCT);
    assert_eq!(stats.error_classes.entries.len(), MAX_DISTINCT);
    assert_eq!(stats.tool_calls, 400);
    let sketch_bytes = WORST_CASE_BYTES;
    // Struct + 8 run sketches + one sketch and a 32-name table per tool + names.
    let bound = std::mem::size_of::<GroupStats>()
        + (8 + MAX_DISTINCT) * sketch_bytes
        + 3 * MAX_DISTINCT * (64 + 32)
        + MAX_DISTINCT * 256;
    let used = stats.memory_bytes();
    assert!(used <= bound, "used {used} > bound {bound}");
    assert!(used > 8 * sketch_bytes / 2, "the sketches did grow: {used}");
}

#[test]
fn typical_group_memory() {
    let mut agg = Aggregator::new(GroupBy::none());
    let mut rng = Rng(7);
    for _ in 0..10_000 {
        agg.record(&random_run(&mut rng));
    }
    let used = agg.memory_bytes();
    // Runs up to minutes, tokens up to 20k, three tools.
    assert!(used < 200 * 1024, "{used}");
}
