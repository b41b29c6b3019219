//! Panics: a panic in a tracked fn (or in user code the tracking calls) is recorded as
//! `panicked` and reaches the caller with its payload; a panicking sink or enricher is
//! contained and counted; nothing is left poisoned or half-entered afterwards.
#![allow(missing_docs)]

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy};
use runmeta::metrics::{ToolStatus, Usage};
use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, RunRecord, RunStatus, Sink};

/// Panics on (and counts) runs of agents whose name starts with `boom_sink`.
struct PanickySink {
    seen: AtomicU64,
}

impl Sink for PanickySink {
    fn record(&self, run: &RunRecord) {
        if run.agent.starts_with("boom_sink") {
            self.seen.fetch_add(1, Ordering::SeqCst);
            panic!("sink boom on {}", run.agent);
        }
    }
    fn flush(&self) {
        panic!("flush boom");
    }
}

struct Env {
    collector: &'static Collector,
    memory: Arc<InMemorySink>,
    aggregate: Arc<AggregatorSink>,
    panicky: Arc<PanickySink>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let memory = Arc::new(InMemorySink::new(100_000));
        let aggregate = Arc::new(AggregatorSink::new(AggregatorConfig::new(
            GroupBy::parse("agent").expect("valid dimension"),
        )));
        let panicky = Arc::new(PanickySink {
            seen: AtomicU64::new(0),
        });
        let collector = Collector::builder()
            // The panicking sink and enricher come first: the sinks after them still get
            // every run.
            .sink(Arc::clone(&panicky))
            .enrich(|r| {
                if r.agent == "boom_enricher" {
                    r.stop_reason = Cow::Borrowed("half-enriched");
                    panic!("enricher boom");
                }
            })
            .enrich(|r| {
                r.metrics
                    .additional_metrics
                    .insert("enriched".into(), true.into());
            })
            .sink(Arc::clone(&memory))
            .sink(Arc::clone(&aggregate))
            .build()
            .install()
            .expect("one collector per test binary");
        Env {
            collector,
            memory,
            aggregate,
            panicky,
        }
    })
}

/// Serializes the tests that compare the collector's panic counter before and after.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

fn runs(agent: &str) -> Vec<RunRecord> {
    env().memory.filter(|r| r.agent == agent)
}

fn only(agent: &str) -> RunRecord {
    let mut runs = runs(agent);
    assert_eq!(runs.len(), 1, "runs of {agent}: {runs:#?}");
    runs.remove(0)
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

// ----- user panics -----

#[track_run(agent = "user_panic_str")]
fn user_panic_str() -> u32 {
    runmeta::record_usage(Usage::new(10, 1));
    panic!("user boom")
}

#[track_run(agent = "user_panic_string")]
fn user_panic_string(n: u32) -> Result<u32, std::fmt::Error> {
    if n > 0 {
        panic!("user boom {n}");
    }
    Ok(n)
}

#[track_run(agent = "user_panic_tool")]
fn user_panic_in_tool() -> u32 {
    runmeta::tool("explodes", || -> u32 { panic!("tool boom") })
}

#[test]
fn user_panics_are_recorded_and_propagated_with_their_payload() {
    env();
    let err = catch_unwind(user_panic_str).expect_err("the panic reaches the caller");
    assert_eq!(message(&*err), "user boom");
    let run = only("user_panic_str");
    assert_eq!(run.status, RunStatus::Panicked);
    assert_eq!(run.stop_reason, "panicked");
    assert_eq!(
        run.metrics.usage,
        Usage::new(10, 1),
        "usage before the panic is kept"
    );

    let err = catch_unwind(|| user_panic_string(7)).expect_err("panics");
    assert_eq!(message(&*err), "user boom 7");
    assert_eq!(user_panic_string(0), Ok(0));
    let statuses: Vec<_> = runs("user_panic_string").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RunStatus::Panicked, RunStatus::Success]);

    let err = catch_unwind(user_panic_in_tool).expect_err("panics");
    assert_eq!(message(&*err), "tool boom");
    let run = only("user_panic_tool");
    assert_eq!(run.status, RunStatus::Panicked);
    assert_eq!(run.tool_calls.len(), 1);
    assert_eq!(run.tool_calls[0].status, ToolStatus::Panicked);

    assert!(
        runmeta::current_run().is_none(),
        "no run is left entered on this thread"
    );
}

#[track_run(agent = "async_panic")]
async fn async_panic(n: u64) -> u64 {
    tokio::task::yield_now().await;
    if n % 2 == 1 {
        panic!("async boom {n}");
    }
    n
}

#[track_run(agent = "async_tool_panic")]
async fn async_tool_panic() -> u32 {
    runmeta::tool_async("explodes_async", async {
        tokio::task::yield_now().await;
        panic!("async tool boom")
    })
    .await
}

#[test]
fn async_panics_are_recorded_and_propagated() {
    env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let handles: Vec<_> = (0..20u64).map(|n| tokio::spawn(async_panic(n))).collect();
        for (n, h) in handles.into_iter().enumerate() {
            match h.await {
                Ok(v) => assert_eq!(v, n as u64),
                Err(e) => {
                    assert!(e.is_panic());
                    assert_eq!(message(&*e.into_panic()), format!("async boom {n}"));
                }
            }
        }
        let e = tokio::spawn(async_tool_panic()).await.expect_err("panics");
        assert_eq!(message(&*e.into_panic()), "async tool boom");
    });
    let all = runs("async_panic");
    assert_eq!(all.len(), 20);
    assert_eq!(
        all.iter()
            .filter(|r| r.status == RunStatus::Panicked)
            .count(),
        10
    );
    let run = only("async_tool_panic");
    assert_eq!(run.status, RunStatus::Panicked);
    assert_eq!(run.tool_calls[0].status, ToolStatus::Panicked);

    // On a current-thread runtime the panic leaves `block_on` itself.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let err = catch_unwind(AssertUnwindSafe(|| rt.block_on(async_panic(3)))).expect_err("panics");
    assert_eq!(message(&*err), "async boom 3");
    assert_eq!(runs("async_panic").len(), 21);
}

#[track_run(agent = "nested_child_panics")]
fn child_that_panics() -> u32 {
    panic!("child boom")
}

#[track_run(agent = "nested_parent_survives")]
fn parent_that_catches() -> Option<String> {
    let me = runmeta::current_run().map(|r| r.run_id);
    let caught = catch_unwind(child_that_panics).is_err();
    // After the child's panic the parent is the current run again, and keeps recording.
    runmeta::record_usage(Usage::new(5, 5));
    let after = runmeta::current_run().map(|r| r.run_id);
    (caught && me == after).then(|| "recovered".to_owned())
}

#[test]
fn a_caught_child_panic_leaves_the_parent_run_intact() {
    env();
    assert_eq!(parent_that_catches().as_deref(), Some("recovered"));
    let parent = only("nested_parent_survives");
    let child = only("nested_child_panics");
    assert_eq!(parent.status, RunStatus::Success);
    assert_eq!(parent.metrics.usage, Usage::new(5, 5));
    assert_eq!(child.status, RunStatus::Panicked);
    assert_eq!(child.parent_run_id, Some(parent.run_id));
    assert_eq!(parent.child_runs, 1);
}

// ----- panics in user code the tracking calls -----

#[derive(Debug)]
struct ExplodingClass;

impl ErrorClass for ExplodingClass {
    fn error_class(&self) -> Cow<'static, str> {
        panic!("error_class boom")
    }
}

#[track_run(agent = "class_panic_sync")]
fn class_panic_sync() -> Result<(), ExplodingClass> {
    Err(ExplodingClass)
}

#[track_run(agent = "class_panic_async")]
async fn class_panic_async() -> Result<(), ExplodingClass> {
    tokio::task::yield_now().await;
    Err(ExplodingClass)
}

#[derive(Debug)]
struct Reply;

fn exploding_usage(_: &Reply) -> Usage {
    panic!("usage boom")
}

#[track_run(agent = "usage_fn_panic", usage = exploding_usage)]
fn usage_fn_panic() -> Reply {
    Reply
}

#[test]
fn panics_in_error_class_and_usage_fns_are_recorded_and_propagated() {
    env();
    let err = catch_unwind(class_panic_sync).expect_err("panics");
    assert_eq!(message(&*err), "error_class boom");
    assert_eq!(only("class_panic_sync").status, RunStatus::Panicked);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let err =
        catch_unwind(AssertUnwindSafe(|| rt.block_on(class_panic_async()))).expect_err("panics");
    assert_eq!(message(&*err), "error_class boom");
    assert_eq!(only("class_panic_async").status, RunStatus::Panicked);

    let err = catch_unwind(usage_fn_panic).expect_err("panics");
    assert_eq!(message(&*err), "usage boom");
    assert_eq!(only("usage_fn_panic").status, RunStatus::Panicked);
    assert!(runmeta::current_run().is_none());
}

// ----- sinks and enrichers -----

#[track_run(agent = "boom_sink")]
fn boom_sink(n: u64) -> u64 {
    runmeta::record_usage(Usage::new(n, 1));
    n
}

#[track_run(agent = "boom_enricher")]
fn boom_enricher() -> &'static str {
    "ok"
}

#[track_run(agent = "after_the_storm")]
fn after_the_storm() -> u32 {
    1
}

#[test]
fn a_panicking_sink_is_contained_and_counted() {
    let _serial = serial();
    let e = env();
    let before = e.collector.sink_panics();
    let seen_before = e.panicky.seen.load(Ordering::SeqCst);
    assert_eq!(boom_sink(1), 1, "the agent never sees the sink's panic");
    assert_eq!(e.collector.sink_panics(), before + 1);

    // From many threads at once.
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..100 {
                    assert_eq!(boom_sink(t * 100 + i), t * 100 + i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic reaches the thread");
    }
    assert_eq!(e.collector.sink_panics(), before + 801);
    assert_eq!(e.panicky.seen.load(Ordering::SeqCst), seen_before + 801);
    // The sinks after the panicking one got every run, whole.
    let kept = runs("boom_sink");
    assert_eq!(kept.len(), 801);
    assert!(kept.iter().all(|r| r.status == RunStatus::Success
        && r.metrics.additional_metrics.get("enriched") == Some(&true.into())));
    let input: u64 = kept.iter().map(|r| r.metrics.usage.input_tokens).sum();
    assert_eq!(input, 1 + (0..800).sum::<u64>());
    e.aggregate.with_aggregator(|agg| {
        assert_eq!(agg.group(&[Some("boom_sink")]).expect("group").runs, 801);
    });

    // A panicking flush is contained too.
    let before = e.collector.sink_panics();
    runmeta::flush();
    assert_eq!(e.collector.sink_panics(), before + 1);

    assert_eq!(after_the_storm(), 1);
    assert_eq!(only("after_the_storm").status, RunStatus::Success);
}

#[test]
fn a_panicking_enricher_is_contained_and_counted() {
    let _serial = serial();
    let e = env();
    let before = e.collector.sink_panics();
    assert_eq!(boom_enricher(), "ok");
    assert_eq!(boom_enricher(), "ok");
    assert_eq!(e.collector.sink_panics(), before + 2);
    let kept = runs("boom_enricher");
    assert_eq!(kept.len(), 2, "the run is delivered anyway");
    // The enrichers after the panicking one still ran.
    assert!(kept
        .iter()
        .all(|r| r.metrics.additional_metrics.get("enriched") == Some(&true.into())));
}

// ----- no poisoned state -----

#[track_run(agent = "after_poison")]
fn after_poison(n: u64) -> u64 {
    runmeta::record_usage(Usage::new(n, n));
    n
}

#[test]
fn sinks_keep_working_after_a_panic_under_their_lock() {
    let e = env();
    // A panic inside `filter`'s closure happens while the in-memory sink holds its lock, and
    // one inside `with_aggregator` while the aggregator holds its own.
    assert!(catch_unwind(AssertUnwindSafe(|| e
        .memory
        .filter(|_| panic!("reader boom"))))
    .is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| {
        e.aggregate.with_aggregator(|_| panic!("reader boom"))
    }))
    .is_err());
    for n in 1..=3 {
        assert_eq!(after_poison(n), n);
    }
    let kept = runs("after_poison");
    assert_eq!(kept.len(), 3);
    assert!(!e.memory.records().is_empty());
    let report = e.aggregate.report();
    let row = report
        .row(&[("agent", "after_poison")])
        .expect("aggregated after the panic");
    assert_eq!(row.run_count, 3);
    e.aggregate.with_aggregator(|agg| {
        let group = agg.group(&[Some("after_poison")]).expect("group");
        assert_eq!(group.token(runmeta::aggregate::TokenType::Input).sum, 6);
    });
}

#[test]
fn a_queued_sink_contains_its_inner_sinks_panics() {
    let panicky = Arc::new(PanickySink {
        seen: AtomicU64::new(0),
    });
    let queue = QueuedSink::new(Arc::clone(&panicky), 64, Overflow::Block);
    for i in 0..100 {
        let agent = if i % 4 == 0 {
            "boom_sink_queued"
        } else {
            "calm"
        };
        queue.record(&RunRecord::new(agent, jiff::Timestamp::UNIX_EPOCH));
    }
    queue.flush();
    let stats = queue.stats();
    // 25 record panics, plus 1 for the panicking flush.
    assert_eq!(stats.panicked, 26, "{stats:?}");
    assert_eq!(stats.delivered, 75, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    assert_eq!(panicky.seen.load(Ordering::SeqCst), 25);
    // The worker thread survived: later records still arrive.
    queue.record(&RunRecord::new("calm", jiff::Timestamp::UNIX_EPOCH));
    queue.flush();
    assert_eq!(queue.stats().delivered, 76);
}
