//! Grouped aggregation throughput and report latency, with `prometheus-client` as the peer.
//!
//! Run: `cargo bench -p runmeta-core --bench aggregate`
//!
//! - `ingest/runmeta_3_distributions`: records into an [`Aggregator`] grouped by 4 labels
//!   (agent, release, model, the metadata label `priority`: 192 groups) keeping 3
//!   distributions (latency, time to first token, total tokens) plus all counters and sums.
//! - `ingest/runmeta_3_distributions_4_groups`: the same grouped by agent only (4 groups), to
//!   show the cost of cache misses on the counters of 192 groups.
//! - `ingest/runmeta_default`: the same with the default configuration (8 distributions:
//!   latency, TTFT and 6 token types).
//! - `ingest/runmeta_sink_mutex`: the default configuration through [`AggregatorSink`] (one
//!   uncontended lock per record), as the collector calls it.
//! - `ingest/prometheus_client_1_histogram`: the peer: a `Family` with the same 4 labels
//!   (static strings prepared per template outside the loop, its cheapest form: it never reads
//!   the record's labels) observing one 14-bucket histogram (latency).
//! - `ingest/prometheus_client_labels_from_record`: the same histogram with the label values
//!   read from each record into an owned label set (`String`s), the way a `prometheus-client`
//!   user records label values known only at run time.
//! - `ingest/record_preparation_only`: writing the measured values into the record, which
//!   every ingest bench above includes.
//! - `report/all_groups_after_10m`: [`Aggregator::report`] (every group, p50/p95/p99 of
//!   latency, TTFT p50/p95, tokens p95, per-tool p95) after 10 million records.
//!
//! Items per second are records per second. Memory per group is printed before the runs
//! (skipped when `RUNMETA_BENCH_NO_MEMORY` is set, for profilers).
//!
//! `RUNMETA_BENCH_PAIRED=N cargo bench -p runmeta-core --bench aggregate` runs, instead of
//! divan, `N` rounds that each time one 4,096-record pass of `runmeta_3_distributions` and
//! one of `prometheus_client_1_histogram` back to back (in alternating order; each timed
//! pass follows an untimed one of the same contender, to warm the caches), and prints
//! the medians and the distribution of the per-round ratio. Both contenders of a round see
//! the same state of the machine, so the ratio holds still on a VM whose speed changes from
//! second to second, where divan's separate medians of each contender do not.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use divan::counter::ItemsCount;
use divan::Bencher;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use runmeta_core::aggregate::{
    main_model, Aggregator, AggregatorConfig, AggregatorSink, Dimension, GroupBy, TokenType,
};
use runmeta_core::metrics::{Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage};
use runmeta_core::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, Sink};
use runmeta_core::schema::{Deadline, DynMetadata};
use serde_json::{Map, Value};

const POOL: usize = 4_096;
const REPORT_RECORDS: usize = 10_000_000;

const AGENTS: [&str; 4] = ["support", "billing", "research", "triage"];
const RELEASES: [&str; 3] = ["2026-03-07", "2026-03-14", "2026-03-21"];
const MODELS: [(&str, &str); 4] = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet"),
    ("google", "gemini-2.5-flash"),
];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Metadata with one label, looked up the way a derived schema does (a match on the key).
#[derive(Debug)]
struct BenchMeta {
    priority: &'static str,
}

impl DynMetadata for BenchMeta {
    fn schema_name(&self) -> &str {
        "BenchRun"
    }
    fn schema_version(&self) -> u32 {
        1
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        f("priority", self.priority);
    }
    fn label(&self, key: &str) -> Option<&str> {
        match key {
            "priority" => Some(self.priority),
            _ => None,
        }
    }
    fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("priority".into(), self.priority.into());
        m
    }
    fn sla_deadline(&self) -> Option<Deadline> {
        None
    }
    fn sla_target(&self) -> Option<Duration> {
        None
    }
    fn sla_deadline_key(&self) -> Option<&str> {
        None
    }
    fn sla_target_key(&self) -> Option<&str> {
        None
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Hash, PartialEq, Eq)]
struct PromLabels {
    agent: &'static str,
    release: &'static str,
    model: &'static str,
    priority: &'static str,
}

/// One record per label combination (4 × 3 × 4 × 4 = 192), reused the way a collector hands
/// a freshly built record to its sinks: the labels are the template's, the measured values
/// (latency, TTFT, tokens, tool call) are drawn anew for every record.
struct Templates {
    records: Vec<RunRecord>,
    prom: Vec<PromLabels>,
}

fn templates() -> Templates {
    let start: jiff::Timestamp = "2026-03-21T12:00:00Z".parse().unwrap_or_default();
    let mut records = Vec::new();
    let mut prom = Vec::new();
    for agent in AGENTS {
        for release in RELEASES {
            for (provider, model) in MODELS {
                for priority in PRIORITIES {
                    let mut r = RunRecord::new(agent, start);
                    r.release = Some(release.into());
                    r.per_model.push(ModelBreakdown {
                        model: ModelRef {
                            role: ModelRole::Model,
                            provider: provider.into(),
                            id: model.into(),
                        },
                        calls: 1,
                        metrics: Metrics::default(),
                    });
                    r.tool_calls.push(ToolCallMetrics {
                        name: "search_docs".into(),
                        started_at: start,
                        duration: Duration::ZERO,
                        status: ToolStatus::Success,
                        error_class: None,
                    });
                    r.metadata = Some(MetadataRecord {
                        value: MetadataValue::new(BenchMeta { priority }),
                        errors: None,
                    });
                    records.push(r);
                    prom.push(PromLabels {
                        agent,
                        release,
                        model,
                        priority,
                    });
                }
            }
        }
    }
    Templates { records, prom }
}

/// The measured values of one run: log-normal latency around 1.5 s, uniform TTFT,
/// Pareto-tailed input tokens, one tool call (1 in 20 failing).
#[derive(Clone, Copy)]
struct Draw {
    template: usize,
    latency_us: u64,
    ttft_us: u64,
    input: u64,
    output: u64,
    tool_ms: u64,
}

/// Pre-drawn values, so that both peers pay nothing for random numbers in the timed loop.
fn draws() -> &'static [Draw] {
    static DRAWS: OnceLock<Vec<Draw>> = OnceLock::new();
    DRAWS.get_or_init(|| {
        let mut rng = Rng(42);
        (0..POOL)
            .map(|_| {
                let z =
                    (-2.0 * rng.unit().ln()).sqrt() * (std::f64::consts::TAU * rng.unit()).cos();
                Draw {
                    template: (rng.next() % 192) as usize,
                    latency_us: (14.2 + 0.8 * z).exp() as u64,
                    ttft_us: 100_000 + rng.next() % 900_000,
                    input: (800.0 / rng.unit().powf(1.0 / 1.5)).min(2e6) as u64,
                    output: 50 + rng.next() % 1_000,
                    tool_ms: rng.next() % 500,
                }
            })
            .collect()
    })
}

/// Writes a draw's values into its template and returns the record.
#[inline]
fn fill<'a>(t: &'a mut Templates, d: &Draw) -> &'a RunRecord {
    let r = &mut t.records[d.template];
    r.duration = Duration::from_micros(d.latency_us);
    r.time_to_first_token = Some(Duration::from_micros(d.ttft_us));
    r.metrics.usage = Usage::new(d.input, d.output);
    if let Some(call) = r.tool_calls.first_mut() {
        call.duration = Duration::from_millis(d.tool_ms);
        call.status = if d.tool_ms.is_multiple_of(20) {
            ToolStatus::Error
        } else {
            ToolStatus::Success
        };
    }
    r
}

fn group_by() -> GroupBy {
    GroupBy::new([
        Dimension::Agent,
        Dimension::Release,
        Dimension::Model,
        Dimension::Label("priority".into()),
    ])
    .unwrap_or_default()
}

fn three_distributions() -> AggregatorConfig {
    AggregatorConfig::new(group_by()).with_token_sketches(&[TokenType::Total])
}

fn aggregated(config: AggregatorConfig, n: usize) -> Aggregator {
    let mut t = templates();
    let mut agg = Aggregator::with_config(config);
    for d in draws().iter().cycle().take(n) {
        agg.record(fill(&mut t, d));
    }
    agg
}

fn after_10m() -> &'static Aggregator {
    static AGG: OnceLock<Aggregator> = OnceLock::new();
    AGG.get_or_init(|| aggregated(AggregatorConfig::new(group_by()), REPORT_RECORDS))
}

/// The `prometheus-client` peer: one 14-bucket histogram per label set.
type PeerFamily = Family<PromLabels, Histogram, fn() -> Histogram>;

fn peer_family() -> PeerFamily {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14)))
}

/// One pass of `runmeta_3_distributions`: every draw's record into the aggregator.
fn runmeta_pass(agg: &mut Aggregator, t: &mut Templates) {
    for d in draws() {
        agg.record(divan::black_box(fill(t, d)));
    }
}

/// One pass of `prometheus_client_1_histogram`: the same record preparation, then one
/// observation.
fn peer_pass(family: &PeerFamily, t: &mut Templates) {
    for d in draws() {
        let secs = divan::black_box(fill(t, d)).duration.as_secs_f64();
        family.get_or_create(&t.prom[d.template]).observe(secs);
    }
}

/// The `RUNMETA_BENCH_PAIRED` mode; see the module docs.
fn paired(rounds: usize) {
    /// The time of the second of two passes: the first brings the contender's state back
    /// into the caches the other contender used, as divan's repeated samples do.
    fn timed(mut pass: impl FnMut()) -> f64 {
        pass();
        let start = Instant::now();
        pass();
        start.elapsed().as_secs_f64() * 1e6
    }
    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    let mut agg = aggregated(three_distributions(), POOL);
    let family = peer_family();
    let mut t = templates();
    // Warm up: every group and label set exists, the caches hold what they will.
    for _ in 0..20 {
        runmeta_pass(&mut agg, &mut t);
        peer_pass(&family, &mut t);
    }
    let (mut ours, mut peer, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = timed(|| runmeta_pass(&mut agg, &mut t));
            (a, timed(|| peer_pass(&family, &mut t)))
        } else {
            let b = timed(|| peer_pass(&family, &mut t));
            (timed(|| runmeta_pass(&mut agg, &mut t)), b)
        };
        ours.push(a);
        peer.push(b);
        ratios.push(b / a);
    }
    let at_least_1 = ratios.iter().filter(|r| **r >= 1.0).count();
    let (m_ours, m_peer) = (median(&mut ours), median(&mut peer));
    let m_ratio = median(&mut ratios);
    let quantile = |q: f64| {
        // `ratios` is sorted by `median`.
        let i = ((ratios.len() as f64 - 1.0) * q).round() as usize;
        ratios.get(i).copied().unwrap_or(f64::NAN)
    };
    println!(
        "paired rounds: {rounds} of {POOL} records each\n\
         runmeta_3_distributions median {m_ours:.1} µs, prometheus_client_1_histogram median \
         {m_peer:.1} µs\n\
         throughput ratio (peer time / runmeta time) per round: median {m_ratio:.3}, \
         p10 {:.3}, p25 {:.3}, p75 {:.3}, p90 {:.3}; rounds with ratio >= 1: {at_least_1} \
         ({:.1} %)",
        quantile(0.10),
        quantile(0.25),
        quantile(0.75),
        quantile(0.90),
        100.0 * at_least_1 as f64 / rounds.max(1) as f64,
    );
}

#[divan::bench_group(sample_count = 100)]
mod ingest {
    use super::*;

    fn bench_aggregator(bencher: Bencher, config: AggregatorConfig) {
        let mut agg = aggregated(config, POOL);
        let mut t = templates();
        bencher
            .counter(ItemsCount::new(POOL))
            .bench_local(|| runmeta_pass(&mut agg, &mut t));
    }

    #[divan::bench]
    fn runmeta_3_distributions(bencher: Bencher) {
        bench_aggregator(bencher, three_distributions());
    }

    #[divan::bench]
    fn runmeta_3_distributions_4_groups(bencher: Bencher) {
        // Same records grouped by agent only: the counters of 4 groups stay in the caches.
        let config = AggregatorConfig::new(GroupBy::new([Dimension::Agent]).unwrap_or_default())
            .with_token_sketches(&[TokenType::Total]);
        bench_aggregator(bencher, config);
    }

    #[divan::bench]
    fn runmeta_default(bencher: Bencher) {
        bench_aggregator(bencher, AggregatorConfig::new(group_by()));
    }

    #[divan::bench]
    fn runmeta_sink_mutex(bencher: Bencher) {
        let sink = AggregatorSink::new(AggregatorConfig::new(group_by()));
        let mut t = templates();
        for d in draws() {
            sink.record(fill(&mut t, d));
        }
        bencher.counter(ItemsCount::new(POOL)).bench_local(|| {
            for d in draws() {
                sink.record(divan::black_box(fill(&mut t, d)));
            }
        });
    }

    #[divan::bench]
    fn prometheus_client_1_histogram(bencher: Bencher) {
        let family = peer_family();
        let mut t = templates();
        bencher
            .counter(ItemsCount::new(POOL))
            .bench_local(|| peer_pass(&family, &mut t));
    }

    #[divan::bench]
    fn prometheus_client_labels_from_record(bencher: Bencher) {
        #[derive(Clone, Hash, PartialEq, Eq)]
        struct OwnedLabels {
            agent: String,
            release: String,
            model: String,
            priority: String,
        }
        let family: Family<OwnedLabels, Histogram, _> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14)));
        let mut t = templates();
        bencher.counter(ItemsCount::new(POOL)).bench_local(|| {
            for d in draws() {
                let r = divan::black_box(fill(&mut t, d));
                let labels = OwnedLabels {
                    agent: r.agent.to_string(),
                    release: r.release.as_deref().unwrap_or_default().to_owned(),
                    model: main_model(r).map(|m| m.id.clone()).unwrap_or_default(),
                    priority: r.label("priority").unwrap_or_default().to_owned(),
                };
                family
                    .get_or_create(&labels)
                    .observe(r.duration.as_secs_f64());
            }
        });
    }

    #[divan::bench]
    fn record_preparation_only(bencher: Bencher) {
        let mut t = templates();
        bencher.counter(ItemsCount::new(POOL)).bench_local(|| {
            for d in draws() {
                divan::black_box(fill(&mut t, d));
            }
        });
    }
}

#[divan::bench_group(sample_count = 20)]
mod report {
    use super::*;

    #[divan::bench]
    fn all_groups_after_10m(bencher: Bencher) {
        let agg = after_10m();
        bencher.bench(|| divan::black_box(agg.report()));
    }
}

fn main() {
    if let Some(rounds) = std::env::var("RUNMETA_BENCH_PAIRED")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        paired(rounds);
        return;
    }
    if std::env::var_os("RUNMETA_BENCH_NO_MEMORY").is_some() {
        // For profilers: skip the 11 million records of the memory line.
        divan::main();
        return;
    }
    let agg = after_10m();
    let groups = agg.len().max(1);
    let three = aggregated(three_distributions(), REPORT_RECORDS / 10);
    println!(
        "groups: {}; memory after {} records: {} bytes/group (default config, 8 sketches + 1 tool), \
         {} bytes/group (3 distributions); GroupStats struct {} bytes, at most {} bytes of \
         counters per sketch",
        agg.len(),
        REPORT_RECORDS,
        agg.memory_bytes() / groups,
        three.memory_bytes() / three.len().max(1),
        std::mem::size_of::<runmeta_core::aggregate::GroupStats>(),
        runmeta_core::aggregate::sketch::WORST_CASE_BYTES,
    );
    divan::main();
}
