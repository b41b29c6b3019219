//! Store benchmarks: sustained `StoreSink` ingest and the dashboard report over many runs.
//!
//! ```text
//! cargo bench -p runmeta-store --bench store
//! RUNMETA_BENCH_RUNS=200000 cargo bench -p runmeta-store --bench store   # smaller
//! RUNMETA_BENCH_INGEST_ONLY=1 cargo bench -p runmeta-store --bench store  # the two ingests
//! RUNMETA_BENCH_RANDOM_SESSIONS=1 cargo bench -p runmeta-store --bench store  # random ids
//! ```
//!
//! Prints one line per measurement. Targets: ingest ≥ 200 000 runs/s, report over 1 000 000
//! runs grouped by two labels ≤ 1 s.
//!
//! Runs are typical: a session id (four runs per session), metadata with two labels, one model
//! call and one tool call; a second ingest measures run-level records (no message or tool-call
//! rows). Besides the wall-clock rate (which depends on what else the machine runs), each
//! ingest prints the writer thread's CPU time and the rate it implies on a core of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map};

use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{MetadataRecord, MetadataValue, RunId, RunRecord, RunStatus, Sink};
use runmeta_core::schema::JsonMetadata;
use runmeta_store::{GroupBy, Overflow, ReportQuery, RunFilter, SinkConfig, Store, StoreSink};

const TIERS: [&str; 3] = ["free", "pro", "enterprise"];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];

fn metadata(tier: &str, priority: &str) -> MetadataRecord {
    let mut values = Map::new();
    values.insert("ticket_id".into(), json!("SUP-2024-001234"));
    values.insert("priority".into(), json!(priority));
    values.insert("customer_tier".into(), json!(tier));
    values.insert("customer_id".into(), json!("[redacted]"));
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "SupportRun".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into(), "customer_tier".into()],
            sla_deadline_key: None,
            sla_target_key: None,
        }),
        errors: None,
    }
}

/// A typical run: one model call, one tool call, metadata with two labels.
fn template(start: Timestamp) -> RunRecord {
    let mut r = RunRecord::new("support", start);
    r.duration = Duration::from_millis(900);
    r.metrics = Metrics {
        usage: Usage::new(150, 500),
        duration: Some(r.duration),
        time_to_first_token: Some(Duration::from_millis(400)),
        cost: Some(Cost::from_nanos(2_500)),
        ..Metrics::default()
    };
    r.time_to_first_token = r.metrics.time_to_first_token;
    r.messages.push(MessageMetrics {
        model: Some(ModelRef {
            role: ModelRole::Model,
            provider: "openai".into(),
            id: "gpt-4o-mini".into(),
        }),
        started_at: Some(start),
        metrics: Metrics::from_usage(Usage::new(150, 500)),
    });
    r.tool_calls.push(ToolCallMetrics {
        name: "search_docs".into(),
        started_at: start,
        duration: Duration::from_millis(20),
        status: ToolStatus::Success,
        error_class: None,
    });
    r
}

/// A cheap deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Gives run `i` its id, start, latency, status and labels.
fn vary(r: &mut RunRecord, i: u64, rng: &mut Rng, start: Timestamp, metas: &[MetadataRecord]) {
    r.run_id = RunId::new();
    let offset = i64::try_from(i).unwrap_or(i64::MAX);
    r.started_at = start + SignedDuration::from_millis(offset);
    let ms = 200 + rng.next() % 3_000;
    r.duration = Duration::from_millis(ms);
    r.metrics.duration = Some(r.duration);
    r.status = if rng.next().is_multiple_of(20) {
        RunStatus::Error
    } else {
        RunStatus::Success
    };
    let m = usize::try_from(rng.next() % metas.len() as u64).unwrap_or(0);
    r.metadata = Some(metas[m].clone());
    // Four runs per session, as a conversation would have.
    if i.is_multiple_of(4) {
        r.session_id = Some(Arc::from(if random_sessions() {
            // Like UUIDs: no order between one session's id and the next one's.
            format!("{:016x}-{:016x}", mix(i / 4), mix(!(i / 4)))
        } else {
            format!("sess-{}", i / 4)
        }));
    }
}

/// `RUNMETA_BENCH_RANDOM_SESSIONS=1`: session ids as random as UUIDs instead of `sess-N`
/// (consecutive sessions then have neighbouring ids, which favours a text index).
fn random_sessions() -> bool {
    static RANDOM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *RANDOM.get_or_init(|| std::env::var_os("RUNMETA_BENCH_RANDOM_SESSIONS").is_some())
}

/// splitmix64's finalizer: a fixed, well-mixed function of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// CPU seconds (user + system) used so far by a thread, from its `stat` file (Linux).
fn cpu_seconds(stat: &std::path::Path) -> Option<f64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU seconds used so far by this process's thread named `name` (Linux).
fn thread_cpu_seconds(name: &str) -> Option<f64> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .find(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name)
        })
        .and_then(|task| cpu_seconds(&task.path().join("stat")))
}

/// Records `runs` runs through a blocking sink and prints the committed rate and CPU use.
fn ingest(
    path: &std::path::Path,
    what: &str,
    run: &mut RunRecord,
    runs: u64,
    rng: &mut Rng,
    start: Timestamp,
    metas: &[MetadataRecord],
) {
    let sink = StoreSink::open(
        path,
        SinkConfig {
            overflow: Overflow::Block,
            ..SinkConfig::default()
        },
    )
    .expect("open sink");
    let producer_before = cpu_seconds(std::path::Path::new("/proc/thread-self/stat"));
    let t = Instant::now();
    for i in 0..runs {
        vary(run, i, rng, start, metas);
        sink.record(run);
    }
    let enqueue = t.elapsed();
    assert!(
        sink.flush_within(Duration::from_secs(600)),
        "flush timed out"
    );
    let total = t.elapsed();
    let writer_cpu = thread_cpu_seconds("runmeta-store-w");
    let checkpoint_cpu = thread_cpu_seconds("runmeta-store-c");
    let producer_cpu = cpu_seconds(std::path::Path::new("/proc/thread-self/stat"))
        .zip(producer_before)
        .map(|(after, before)| after - before);
    let stats = sink.shutdown();
    assert_eq!(stats.written, runs, "{stats:?}");
    println!(
        "sink ingest ({what}): {runs} runs committed in {:.2} s = {:.0} runs/s ({} batches; \
         producer done after {:.2} s)",
        total.as_secs_f64(),
        runs as f64 / total.as_secs_f64(),
        stats.batches,
        enqueue.as_secs_f64(),
    );
    if let Some(c) = checkpoint_cpu {
        println!("  CPU: checkpoint thread (WAL copies, freeing batches) {c:.2} s");
    }
    if let (Some(writer), Some(producer)) = (writer_cpu, producer_cpu) {
        println!(
            "  CPU: writer thread {writer:.2} s = {:.0} runs per writer-CPU-second (the rate \
             with a core to itself); producer thread (building runs + record()) {producer:.2} \
             s; load average {}",
            runs as f64 / writer,
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
        );
    }
}

fn main() {
    let runs: u64 = std::env::var("RUNMETA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    // RUNMETA_BENCH_KEEP=1 keeps the databases for inspection.
    let keep = std::env::var_os("RUNMETA_BENCH_KEEP").is_some();
    let metas: Vec<MetadataRecord> = TIERS
        .iter()
        .flat_map(|t| PRIORITIES.iter().map(move |p| metadata(t, p)))
        .collect();
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    println!(
        "runmeta-store bench: {runs} runs, database in {}",
        dir.path().display()
    );

    // 1. Sustained ingest through the sink, every record committed (blocking policy: the
    //    producer waits when the queue is full, so this is the writer's throughput).
    let path = dir.path().join("ingest.db");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut run = template(start);
    ingest(
        &path,
        "1 message + 1 tool call + 2 labels per run",
        &mut run,
        runs,
        &mut rng,
        start,
        &metas,
    );
    let mut bare = template(start);
    bare.messages.clear();
    bare.tool_calls.clear();
    ingest(
        &dir.path().join("bare.db"),
        "run-level records: metrics + 2 labels, no message or tool-call rows",
        &mut bare,
        runs.min(500_000),
        &mut rng,
        start,
        &metas,
    );

    if std::env::var_os("RUNMETA_BENCH_INGEST_ONLY").is_some() {
        if keep {
            println!("kept {}", dir.keep().display());
        }
        return;
    }

    // 2. Caller-side cost of `record` with the default drop-newest policy.
    let sink = StoreSink::open(dir.path().join("drop.db"), SinkConfig::default()).expect("open");
    let n = 200_000u64.min(runs);
    let t = Instant::now();
    for i in 0..n {
        vary(&mut run, i, &mut rng, start, &metas);
        sink.record(&run);
    }
    let per_call = t.elapsed().as_nanos() as f64 / n as f64;
    let stats = sink.shutdown();
    println!(
        "record() on the caller's thread (drop-newest): {per_call:.0} ns/call incl. building \
         the run; {} written, {} dropped",
        stats.written, stats.dropped
    );

    // 3. The dashboard report over the ingested runs, grouped by two labels.
    let store = Store::open_read_only(&path).expect("open store");
    let end = start + SignedDuration::from_millis(i64::try_from(runs).unwrap_or(i64::MAX));
    let by = GroupBy::parse("customer_tier,priority").expect("dims");
    for (name, filter) in [
        ("all runs", RunFilter::default()),
        ("--from/--to covering all", RunFilter::between(start, end)),
    ] {
        let query = ReportQuery {
            filter,
            group_by: by.clone(),
            tools: false,
        };
        let mut best = Duration::MAX;
        let mut rows = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let report = store.report(&query).expect("report");
            best = best.min(t.elapsed());
            rows = report.rows.len();
            assert_eq!(report.rows.iter().map(|r| r.run_count).sum::<u64>(), runs);
        }
        println!(
            "report by customer_tier,priority over {runs} runs ({name}): {rows} groups in \
             {:.3} s (best of 3)",
            best.as_secs_f64()
        );
    }
    let half = start + SignedDuration::from_millis(i64::try_from(runs / 2).unwrap_or(0));
    let query = ReportQuery {
        filter: RunFilter::between(half, end),
        group_by: by,
        tools: false,
    };
    let t = Instant::now();
    let trend = store.report_with_trend(&query).expect("trend");
    println!(
        "report with trend (two windows of {} runs each): {} groups in {:.3} s",
        runs / 2,
        trend.rows.len(),
        t.elapsed().as_secs_f64()
    );
}
