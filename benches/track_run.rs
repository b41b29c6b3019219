//! Run tracking overhead: `#[track_run]` on a trivial fn against its peers, in one process.
//!
//! Run: `cargo bench --bench track_run`
//!
//! The process installs, once at startup, a runmeta collector with a small [`InMemorySink`]
//! (capacity 64: every record pushed evicts one) and `tracing_subscriber::registry()` with a
//! no-op layer (`Identity`) as the global `tracing` subscriber, so every contender runs with
//! its machinery live. The layer matters: `tracing-subscriber` 0.3.23 frees a closed span's
//! slot only through `Layered`'s close guard, so a bare `registry()` as the global
//! subscriber keeps every span it ever created (about 130 bytes each: 1.5 GB after 12 M
//! spans, measured), and its time per call then includes page faults. Any real subscriber
//! (fmt, OpenTelemetry) is layered, so the layered form is the fair and the faster peer.
//!
//! - `sync_call/*`: one call of `x + 1` (through `black_box`): `bare`, `instant_pair` (the
//!   floor: the bare call between two `Instant::now()`), `tracing_instrument`
//!   (`#[tracing::instrument]`, metadata and `x` as span fields), `track_run_metadata`
//!   (`#[track_run(metadata = meta)]` with a 4-label schema, the same value every call),
//!   `track_run_metadata_changing` (a different value each call),
//!   `track_run_metadata_session` (and `session = session`, a `&str`),
//!   `track_run_metadata_model` (and `model = model`, a `&str`),
//!   `track_run_no_metadata`,
//!   `autometrics` (`#[autometrics]`, 3.0 with its `prometheus-client` backend: a call counter
//!   and a duration histogram per function, labelled by function, module and result).
//! - `threads/*`: the same fns from 1 and 2 threads at once (divan reports time per call per
//!   thread).
//! - `async_call/*`: a ready future on a current-thread tokio runtime, `block_on` per
//!   iteration: bare, `#[track_run]`, `#[tracing::instrument]`.
//! - `steps/*`: the sub-steps a tracked call performs, each alone, to show where the time goes.
//!
//! `RUNMETA_BENCH_SINK=count cargo bench --bench track_run` installs a sink that only counts
//! runs instead of the `InMemorySink`: the difference is what the in-memory copy costs in situ.
//! `RUNMETA_BENCH_SINK=prometheus` installs `runmeta-export`'s `PrometheusExporter` (with its
//! default configuration) instead: the call as a service exporting its runs pays for it.
//! `RUNMETA_BENCH_SINK=queued` installs the counting sink behind a [`QueuedSink`]
//! (`Overflow::Block`): what handing each run to a background thread costs the agent.
//! `RUNMETA_BENCH_SINK=store` installs a `StoreSink` (default configuration) on a database in
//! the temporary directory: what a run costs the agent thread when it is stored (the writer
//! thread's own work is `runmeta-store`'s bench).
//! `RUNMETA_BENCH_RELEASE=v1` sets the collector's release, which every run records.
//! `RUNMETA_BENCH_TRACING=timed` gives the registry a [`TimingLayer`] instead of the no-op
//! layer: `tracing_instrument*` then measure what `tracing` costs once it measures durations,
//! as a run does (the same time-stamp counter read when the span opens and when it closes).
//! `RUNMETA_BENCH_TRACING=timed-enter` gives it the cheapest timing layer instead, an
//! [`EnterTimingLayer`] that times each span from enter to exit.
#![allow(missing_docs)]

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use divan::{black_box, Bencher};
use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, RunId, RunRecord, Sink};
use runmeta_export::prometheus::PrometheusExporter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const SINK_CAPACITY: usize = 64;
/// The queue of `RUNMETA_BENCH_SINK=queued`.
const QUEUE_CAPACITY: usize = 1024;

static SINK: OnceLock<Arc<InMemorySink>> = OnceLock::new();
/// The sink of `RUNMETA_BENCH_SINK=store`.
static STORE: OnceLock<Arc<runmeta_store::StoreSink>> = OnceLock::new();

/// The database of `RUNMETA_BENCH_SINK=store`, new for each process.
fn store_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("runmeta-bench-{}.db", std::process::id()))
}
static COUNTED: AtomicU64 = AtomicU64::new(0);

/// A sink that keeps nothing: it counts the runs it receives.
struct CountingSink;

impl Sink for CountingSink {
    fn record(&self, _run: &RunRecord) {
        COUNTED.fetch_add(1, Ordering::Relaxed);
    }
}

/// `RUNMETA_BENCH_SINK=queued`: a counting sink behind a queue and its worker thread, the
/// queue blocking when full, so that every run is handed over (none dropped).
fn queued() -> &'static Arc<QueuedSink> {
    static QUEUED: OnceLock<Arc<QueuedSink>> = OnceLock::new();
    QUEUED.get_or_init(|| {
        Arc::new(QueuedSink::new(
            CountingSink,
            QUEUE_CAPACITY,
            Overflow::Block,
        ))
    })
}

fn main() {
    let sink = Arc::new(InMemorySink::new(SINK_CAPACITY));
    SINK.set(Arc::clone(&sink)).expect("set once");
    let choice = std::env::var("RUNMETA_BENCH_SINK").unwrap_or_default();
    let exporter = Arc::new(PrometheusExporter::new());
    let collector = match choice.as_str() {
        "count" => {
            println!("sink: CountingSink (keeps nothing)");
            Collector::builder().sink(CountingSink)
        }
        "prometheus" => {
            println!("sink: PrometheusExporter::new()");
            Collector::builder().sink(Arc::clone(&exporter))
        }
        "queued" => {
            println!("sink: QueuedSink::new(CountingSink, {QUEUE_CAPACITY}, Overflow::Block)");
            Collector::builder().sink(Arc::clone(queued()))
        }
        "store" => {
            println!(
                "sink: StoreSink::open({}, SinkConfig::default())",
                store_path().display()
            );
            let store =
                runmeta_store::StoreSink::open(store_path(), runmeta_store::SinkConfig::default())
                    .expect("open the bench store");
            Collector::builder().sink(Arc::clone(STORE.get_or_init(|| Arc::new(store))))
        }
        _ => {
            println!("sink: InMemorySink::new({SINK_CAPACITY})");
            Collector::builder().sink(sink)
        }
    };
    let collector = match std::env::var("RUNMETA_BENCH_RELEASE") {
        Ok(release) if !release.is_empty() => {
            println!("release: {release:?}");
            collector.release(release)
        }
        _ => collector,
    };
    collector
        .build()
        .install()
        .expect("one collector per bench process");
    let layer = std::env::var("RUNMETA_BENCH_TRACING").unwrap_or_default();
    let timed = matches!(layer.as_str(), "timed" | "timed-enter");
    let installed = match layer.as_str() {
        "timed" => {
            println!("tracing: registry().with(TimingLayer)");
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(TimingLayer),
            )
        }
        "timed-enter" => {
            println!("tracing: registry().with(EnterTimingLayer)");
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(EnterTimingLayer),
            )
        }
        _ => {
            println!("tracing: registry().with(Identity)");
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new()),
            )
        }
    };
    installed.expect("one tracing subscriber per bench process");
    // The timing layer measures each span it closes.
    assert_eq!(instrumented(&meta(), 1), 2);
    assert_eq!(TIMED_SPANS.get(), u64::from(timed), "a span was timed");
    let autometrics = autometrics::settings::AutometricsSettings::builder().init();

    // The tracked fn records its runs with the metadata's labels.
    let meta = meta();
    assert_eq!(tracked(&meta, 1), 2);
    if choice == "count" {
        assert_eq!(COUNTED.load(Ordering::Relaxed), 1, "a run was recorded");
    } else if choice == "queued" {
        queued().flush();
        assert_eq!(COUNTED.load(Ordering::Relaxed), 1, "a run was delivered");
    } else if choice == "store" {
        let store = STORE.get().expect("installed");
        assert!(store.flush_within(std::time::Duration::from_secs(30)));
        let read = runmeta_store::Store::open_read_only(store_path()).expect("open the store");
        assert_eq!(read.run_count().expect("count"), 1, "a run was stored");
    } else if choice == "prometheus" {
        let text = exporter.render();
        assert!(
            text.contains(r#"agent="bench""#) && text.contains(r#"priority="high""#),
            "a run was exported: {text}"
        );
    } else {
        let last = SINK
            .get()
            .unwrap()
            .records()
            .pop()
            .expect("a run was recorded");
        assert_eq!(last.label("priority"), Some("high"));
        assert_eq!(last.label("channel"), Some("chat"));
    }
    // `#[autometrics]` records into its prometheus-client registry.
    assert_eq!(with_autometrics(&meta, 1), 2);
    let mut text = String::new();
    prometheus_client_022::encoding::text::encode(
        &mut text,
        autometrics.prometheus_client_registry(),
    )
    .expect("encode");
    assert!(
        text.contains("function_calls_total{function=\"with_autometrics\""),
        "{text}"
    );
    println!(
        "size_of::<RunRecord>() = {} bytes",
        std::mem::size_of::<RunRecord>()
    );
    divan::main();
}

/// The process's time-stamp counter clock, as `run/clock.rs` reads it.
fn tsc() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

thread_local! {
    static TIMED_NANOS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static TIMED_SPANS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// [`EnterTimingLayer`]'s readings of the spans entered on this thread.
    static ENTERED_AT: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Adds the time since `start` (a raw `tsc()` reading) to this thread's timed total.
fn add_timed(start: u64) {
    let nanos = tsc().delta(start, tsc().raw()).as_nanos();
    TIMED_NANOS.set(
        TIMED_NANOS
            .get()
            .wrapping_add(u64::try_from(nanos).unwrap_or(u64::MAX)),
    );
    TIMED_SPANS.set(TIMED_SPANS.get() + 1);
}

/// Cheaper still than [`TimingLayer`]: the clock read when a span is entered, onto a
/// thread-local stack, and again when it is exited; no extensions. For a sync fn that is its
/// duration; for a future it is only the time spent in its polls, not a run's wall time.
struct EnterTimingLayer;

impl<S> tracing_subscriber::Layer<S> for EnterTimingLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_enter(&self, _id: &tracing::span::Id, _ctx: Context<'_, S>) {
        ENTERED_AT.with_borrow_mut(|stack| stack.push(tsc().raw()));
    }

    fn on_exit(&self, _id: &tracing::span::Id, _ctx: Context<'_, S>) {
        if let Some(start) = ENTERED_AT.with_borrow_mut(Vec::pop) {
            add_timed(start);
        }
    }
}

/// A `tracing` layer that measures span durations the way such layers are built, through the
/// span's extensions, and does the least of them (tracing-opentelemetry, tracing-timing and
/// fmt's close events all do more): the clock read into the span's
/// extensions when it opens, read again when it closes, the difference added to this
/// thread's total. It reads runmeta's clock, and sums into plain thread-locals, not atomics.
struct TimingLayer;

/// A span's opening reading of the clock.
struct SpanStart(u64);

impl<S> tracing_subscriber::Layer<S> for TimingLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanStart(tsc().raw()));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let start = span.extensions().get::<SpanStart>().map(|start| start.0);
        if let Some(start) = start {
            add_timed(start);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, MetadataEnum)]
pub enum Channel {
    Chat,
    Email,
    Voice,
}

/// A 4-label schema, with one redacted string and one ranged integer.
#[derive(Clone, RunMetadata)]
pub struct SupportMeta {
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    #[run_metadata(label)]
    pub channel: Channel,
    #[run_metadata(label)]
    pub business_impact: BusinessImpact,
    #[run_metadata(redact)]
    pub customer_id: String,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

fn meta() -> SupportMeta {
    SupportMeta {
        priority: Priority::High,
        customer_tier: CustomerTier::Enterprise,
        channel: Channel::Chat,
        business_impact: BusinessImpact::Critical,
        customer_id: "cust_abc123".into(),
        escalation_level: 2,
    }
}

/// Three values that differ in their redacted string and one label.
fn three_metas() -> [SupportMeta; 3] {
    let other = |id: &str, channel| SupportMeta {
        customer_id: id.into(),
        channel,
        ..meta()
    };
    [
        meta(),
        other("cust_def456", Channel::Email),
        other("cust_ghi789", Channel::Voice),
    ]
}

#[inline(never)]
fn bare(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
fn instant_pair(meta: &SupportMeta, x: u64) -> u64 {
    let start = Instant::now();
    let r = bare(meta, x);
    black_box(start.elapsed());
    r
}

/// The clock reads a tracked run makes, around the bare fn: `quanta`'s raw time-stamp
/// counter at each end and one scaling of the difference (runmeta's `run/clock.rs`).
#[inline(never)]
fn tsc_pair(meta: &SupportMeta, x: u64) -> u64 {
    let clock = tsc();
    let start = clock.raw();
    let r = bare(meta, x);
    black_box(clock.delta(start, clock.raw()));
    r
}

#[inline(never)]
#[tracing::instrument]
fn instrumented(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
#[track_run(agent = "bench", metadata = meta)]
fn tracked(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
#[track_run(agent = "bench", metadata = meta, session = session)]
fn tracked_session(meta: &SupportMeta, session: &str, x: u64) -> u64 {
    black_box(meta);
    black_box(session);
    black_box(x) + 1
}

#[inline(never)]
#[track_run(agent = "bench", metadata = meta, model = model)]
fn tracked_model(meta: &SupportMeta, model: &str, x: u64) -> u64 {
    black_box(meta);
    black_box(model);
    black_box(x) + 1
}

#[inline(never)]
#[track_run(agent = "bench_plain")]
fn tracked_no_metadata(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
#[autometrics::autometrics]
fn with_autometrics(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[divan::bench_group(sample_count = 1000, sample_size = 200)]
mod sync_call {
    use super::{black_box, meta, Bencher};

    #[divan::bench]
    fn bare(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::bare(&meta, black_box(1)));
    }

    #[divan::bench]
    fn instant_pair(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::instant_pair(&meta, black_box(1)));
    }

    /// The two clock reads every tracked run makes (`tracing` with a no-op layer makes
    /// none): the part of `track_run_*` that no code change can remove.
    #[divan::bench]
    fn tsc_pair(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::tsc_pair(&meta, black_box(1)));
    }

    #[divan::bench]
    fn tracing_instrument(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::instrumented(&meta, black_box(1)));
    }

    #[divan::bench]
    fn track_run_metadata(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::tracked(&meta, black_box(1)));
    }

    #[divan::bench]
    fn track_run_no_metadata(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::tracked_no_metadata(&meta, black_box(1)));
    }

    /// With metadata and `session = session` (a `&str`, the same session every call).
    #[divan::bench]
    fn track_run_metadata_session(b: Bencher<'_, '_>) {
        let meta = meta();
        let session = String::from("session-0001");
        b.bench_local(|| super::tracked_session(&meta, black_box(&session), black_box(1)));
    }

    /// With metadata and `model = model` (a `&str` chosen at run time, the same every call).
    #[divan::bench]
    fn track_run_metadata_model(b: Bencher<'_, '_>) {
        let meta = meta();
        let model = String::from("gpt-4o-mini");
        b.bench_local(|| super::tracked_model(&meta, black_box(&model), black_box(1)));
    }

    /// Each call's metadata differs from the reused value's (three values in turn; the
    /// record that comes back to the pool is the one the sink evicts, 64 runs old, whose
    /// value is never the next call's): its string and a label change on every call.
    #[divan::bench]
    fn track_run_metadata_changing(b: Bencher<'_, '_>) {
        let metas = super::three_metas();
        let mut i = 0;
        b.bench_local(|| {
            i = (i + 1) % 3;
            super::tracked(&metas[i], black_box(1))
        });
    }

    #[divan::bench]
    fn autometrics(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| super::with_autometrics(&meta, black_box(1)));
    }
}

#[divan::bench_group(sample_count = 1000, sample_size = 200, threads = [1, 2])]
mod threads {
    use super::{black_box, meta, Bencher};

    #[divan::bench]
    fn bare(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::bare(&meta, black_box(1)));
    }

    #[divan::bench]
    fn instant_pair(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::instant_pair(&meta, black_box(1)));
    }

    #[divan::bench]
    fn tracing_instrument(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::instrumented(&meta, black_box(1)));
    }

    #[divan::bench]
    fn track_run_metadata(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::tracked(&meta, black_box(1)));
    }

    #[divan::bench]
    fn track_run_no_metadata(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::tracked_no_metadata(&meta, black_box(1)));
    }

    #[divan::bench]
    fn autometrics(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench(|| super::with_autometrics(&meta, black_box(1)));
    }
}

#[inline(never)]
async fn bare_async(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
#[tracing::instrument]
async fn instrumented_async(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[inline(never)]
#[track_run(agent = "bench_async", metadata = meta)]
async fn tracked_async(meta: &SupportMeta, x: u64) -> u64 {
    black_box(meta);
    black_box(x) + 1
}

#[divan::bench_group(sample_count = 1000, sample_size = 200)]
mod async_call {
    use super::{black_box, meta, Bencher};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[divan::bench]
    fn bare_future(b: Bencher<'_, '_>) {
        let (rt, meta) = (runtime(), meta());
        b.bench_local(|| rt.block_on(super::bare_async(&meta, black_box(1))));
    }

    #[divan::bench]
    fn tracing_instrument_future(b: Bencher<'_, '_>) {
        let (rt, meta) = (runtime(), meta());
        b.bench_local(|| rt.block_on(super::instrumented_async(&meta, black_box(1))));
    }

    #[divan::bench]
    fn track_run_future(b: Bencher<'_, '_>) {
        let (rt, meta) = (runtime(), meta());
        b.bench_local(|| rt.block_on(super::tracked_async(&meta, black_box(1))));
    }
}

/// The steps of one tracked call with metadata, each measured alone.
#[divan::bench_group(sample_count = 1000, sample_size = 200)]
mod steps {
    use super::{black_box, meta, Arc, Bencher, Cow, Instant, RunId, RunRecord, Sink};
    use runmeta::__private::MetadataArg;
    use runmeta::prelude::{Collector, InMemorySink, RunMetadata};

    fn record() -> RunRecord {
        let mut record = RunRecord::new(Cow::Borrowed("bench"), jiff::Timestamp::now());
        record.metadata = Some(runmeta::run::MetadataRecord {
            value: runmeta::run::MetadataValue::new(meta()),
            errors: None,
        });
        record
    }

    /// Whether a collector is installed (the macro's first check).
    #[divan::bench]
    fn enabled() -> bool {
        runmeta::__private::enabled()
    }

    /// `RunId::new()`: `SystemTime::now()` and a UUIDv7 with random bits.
    #[divan::bench]
    fn run_id_new() -> RunId {
        RunId::new()
    }

    /// `jiff::Timestamp::now()` (the record's `started_at`).
    #[divan::bench]
    fn timestamp_now() -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    #[divan::bench]
    fn instant_now() -> Instant {
        Instant::now()
    }

    /// `Instant::elapsed()`: the run's duration at its end.
    #[divan::bench]
    fn instant_elapsed(b: Bencher<'_, '_>) {
        let start = Instant::now();
        b.bench_local(|| black_box(start).elapsed());
    }

    /// `validate()` of the 4-label schema.
    #[divan::bench]
    fn metadata_validate(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| black_box(&meta).validate().is_ok());
    }

    /// `Arc::new(meta.clone())` (divan drops outputs outside the timing): the type-erased copy the record holds.
    #[divan::bench]
    fn metadata_clone_into_arc(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| Arc::new(black_box(&meta).clone()));
    }

    /// `prepare_metadata()`, what `metadata = meta` does: validate, then copy into a record
    /// this thread can reuse (here none is pooled between iterations, as divan keeps each
    /// output alive until the sample ends: the copy goes into a value the pool kept or a new one).
    #[divan::bench]
    fn prepare_metadata(b: Bencher<'_, '_>) {
        let meta = meta();
        b.bench_local(|| black_box(&meta).prepare_metadata());
    }

    /// `RunRecord::new` (with its `RunId::new`) and `Timestamp::now()`.
    #[divan::bench]
    fn run_record_new() -> RunRecord {
        RunRecord::new(Cow::Borrowed("bench"), jiff::Timestamp::now())
    }

    /// `RunRecord::clone` of a record with metadata: what `InMemorySink` copies.
    #[divan::bench]
    fn run_record_clone(b: Bencher<'_, '_>) {
        let record = record();
        b.bench_local(|| black_box(&record).clone());
    }

    /// `InMemorySink::record` on a full sink (clone, lock, push, evict and drop the oldest).
    #[divan::bench]
    fn in_memory_sink_record(b: Bencher<'_, '_>) {
        let sink = InMemorySink::new(super::SINK_CAPACITY);
        let record = record();
        b.bench_local(|| sink.record(black_box(&record)));
    }

    /// `Collector::deliver` to an `InMemorySink` (the run counter, `catch_unwind`, the sink).
    #[divan::bench]
    fn collector_deliver(b: Bencher<'_, '_>) {
        let collector = Collector::builder()
            .sink(Arc::new(InMemorySink::new(super::SINK_CAPACITY)))
            .build();
        let record = record();
        b.bench_local(|| collector.deliver(black_box(&record)));
    }

    /// Dropping a record that owns the last reference to its metadata (what the sink does
    /// with the record it evicts).
    #[divan::bench]
    fn run_record_drop(b: Bencher<'_, '_>) {
        b.with_inputs(record).bench_local_values(drop::<RunRecord>);
    }

    /// Dropping a record without metadata (its empty `Vec`s and JSON maps).
    #[divan::bench]
    fn run_record_drop_empty(b: Bencher<'_, '_>) {
        b.with_inputs(|| RunRecord::new(Cow::Borrowed("bench"), jiff::Timestamp::UNIX_EPOCH))
            .bench_local_values(drop::<RunRecord>);
    }

    /// Moving a `RunRecord` by value (memcpy of the struct), as start → stack → finish do.
    #[divan::bench]
    fn run_record_move(b: Bencher<'_, '_>) {
        let mut slot = Some(record());
        b.bench_local(|| {
            let r = black_box(slot.take());
            slot = black_box(r);
        });
    }
}
