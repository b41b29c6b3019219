//! Exactness under concurrency: many tokio tasks on a multi-thread runtime and many std
//! threads run tracked fns that record known usage; the in-memory sink, the aggregator and a
//! blocking queued sink see every run and every token exactly once, and a dropping queued sink
//! accounts for every run it was handed.
//!
//! One collector per test binary: it is installed once with all the sinks, each test uses its
//! own agent names, and the tests that compare global counters before and after take
//! `serial()`.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy, TokenType};
use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, RunRecord, RunStatus, Sink};

/// Counts runs and input tokens per agent, slowly.
#[derive(Default)]
struct SlowSink {
    delay: Duration,
    per_agent: Mutex<HashMap<String, (u64, u64)>>,
    total: AtomicU64,
}

impl SlowSink {
    fn new(delay: Duration) -> Self {
        SlowSink {
            delay,
            ..SlowSink::default()
        }
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }
}

impl Sink for SlowSink {
    fn record(&self, run: &RunRecord) {
        std::thread::sleep(self.delay);
        let mut map = self
            .per_agent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(run.agent.to_string()).or_default();
        entry.0 += 1;
        entry.1 += run.metrics.usage.input_tokens;
        self.total.fetch_add(1, Ordering::SeqCst);
    }
}

struct Sinks {
    collector: &'static Collector,
    memory: Arc<InMemorySink>,
    aggregate: Arc<AggregatorSink>,
    /// `Overflow::Block` with a tiny queue in front of `blocked_memory`.
    blocking: Arc<QueuedSink>,
    blocked_memory: Arc<InMemorySink>,
    /// `Overflow::DropNewest` with a small queue in front of a slow sink.
    dropping: Arc<QueuedSink>,
    slow: Arc<SlowSink>,
}

fn sinks() -> &'static Sinks {
    static SINKS: OnceLock<Sinks> = OnceLock::new();
    SINKS.get_or_init(|| {
        let memory = Arc::new(InMemorySink::new(1_000_000));
        let aggregate = Arc::new(AggregatorSink::new(AggregatorConfig::new(
            GroupBy::parse("agent").expect("valid dimension"),
        )));
        let blocked_memory = Arc::new(InMemorySink::new(1_000_000));
        let blocking = Arc::new(QueuedSink::new(
            Arc::clone(&blocked_memory),
            8,
            Overflow::Block,
        ));
        let slow = Arc::new(SlowSink::new(Duration::from_micros(200)));
        let dropping = Arc::new(QueuedSink::new(Arc::clone(&slow), 16, Overflow::DropNewest));
        let collector = Collector::builder()
            .release("reliability")
            .sink(Arc::clone(&memory))
            .sink(Arc::clone(&aggregate))
            .sink(Arc::clone(&blocking))
            .sink(Arc::clone(&dropping))
            .build()
            .install()
            .expect("one collector per test binary");
        Sinks {
            collector,
            memory,
            aggregate,
            blocking,
            blocked_memory,
            dropping,
            slow,
        }
    })
}

/// Serializes the tests that read global counters.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The usage of run `i` of worker `w`: every token type nonzero and distinct.
fn usage_of(w: u64, i: u64) -> Usage {
    let input = 1 + (w * 131 + i * 7) % 5_000;
    let output = 1 + (w * 17 + i * 3) % 700;
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
        reasoning_tokens: output / 3,
        cache_read_tokens: input / 2,
        cache_write_tokens: input / 5,
        audio_input_tokens: i % 3,
        audio_output_tokens: i % 5,
        audio_total_tokens: i % 3 + i % 5,
    }
}

/// Half of a usage (rounded down, field by field) and the rest.
fn split(u: Usage) -> (Usage, Usage) {
    let half = Usage {
        input_tokens: u.input_tokens / 2,
        output_tokens: u.output_tokens / 2,
        total_tokens: u.total_tokens / 2,
        reasoning_tokens: u.reasoning_tokens / 2,
        cache_read_tokens: u.cache_read_tokens / 2,
        cache_write_tokens: u.cache_write_tokens / 2,
        audio_input_tokens: u.audio_input_tokens / 2,
        audio_output_tokens: u.audio_output_tokens / 2,
        audio_total_tokens: u.audio_total_tokens / 2,
    };
    let rest = Usage {
        input_tokens: u.input_tokens - half.input_tokens,
        output_tokens: u.output_tokens - half.output_tokens,
        total_tokens: u.total_tokens - half.total_tokens,
        reasoning_tokens: u.reasoning_tokens - half.reasoning_tokens,
        cache_read_tokens: u.cache_read_tokens - half.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens - half.cache_write_tokens,
        audio_input_tokens: u.audio_input_tokens - half.audio_input_tokens,
        audio_output_tokens: u.audio_output_tokens - half.audio_output_tokens,
        audio_total_tokens: u.audio_total_tokens - half.audio_total_tokens,
    };
    (half, rest)
}

/// Each run records its usage in two parts with a yield between, so its second half often
/// lands on another worker thread.
#[track_run(agent = "conc_async")]
async fn async_run(w: u64, i: u64) -> Result<u64, std::fmt::Error> {
    let (a, b) = split(usage_of(w, i));
    runmeta::record_usage(a);
    tokio::task::yield_now().await;
    runmeta::record_usage(b);
    Ok(i)
}

#[track_run(agent = "conc_sync")]
fn sync_run(w: u64, i: u64) -> u64 {
    let (a, b) = split(usage_of(w, i));
    runmeta::record_usage(a);
    std::thread::yield_now();
    runmeta::record_usage(b);
    i
}

/// Sums of every usage field of `runs`.
fn sum(runs: impl IntoIterator<Item = Usage>) -> Usage {
    runs.into_iter().fold(Usage::default(), |acc, u| Usage {
        input_tokens: acc.input_tokens + u.input_tokens,
        output_tokens: acc.output_tokens + u.output_tokens,
        total_tokens: acc.total_tokens + u.total_tokens,
        reasoning_tokens: acc.reasoning_tokens + u.reasoning_tokens,
        cache_read_tokens: acc.cache_read_tokens + u.cache_read_tokens,
        cache_write_tokens: acc.cache_write_tokens + u.cache_write_tokens,
        audio_input_tokens: acc.audio_input_tokens + u.audio_input_tokens,
        audio_output_tokens: acc.audio_output_tokens + u.audio_output_tokens,
        audio_total_tokens: acc.audio_total_tokens + u.audio_total_tokens,
    })
}

/// Every sink that keeps everything has exactly `runs` runs of `agent` with usage `expected`.
fn assert_exact(agent: &str, runs: u64, expected: Usage) {
    let s = sinks();
    s.blocking.flush();
    for (name, sink) in [("memory", &s.memory), ("blocked", &s.blocked_memory)] {
        let kept = sink.filter(|r| r.agent == agent);
        assert_eq!(kept.len() as u64, runs, "{name}: runs of {agent}");
        assert!(kept.iter().all(|r| r.status == RunStatus::Success));
        let total = sum(kept.iter().map(|r| r.metrics.usage));
        assert_eq!(total, expected, "{name}: usage of {agent}");
    }
    s.aggregate.with_aggregator(|agg| {
        let group = agg.group(&[Some(agent)]).expect("group of the agent");
        assert_eq!(group.runs, runs, "aggregator: runs of {agent}");
        assert_eq!(group.status_count(RunStatus::Success), runs);
        for t in TokenType::ALL {
            assert_eq!(
                group.token(t).sum,
                t.of(&expected),
                "aggregator: {t:?} of {agent}"
            );
        }
    });
}

const TASKS: u64 = 32;
const RUNS_PER_TASK: u64 = 250;
const THREADS: u64 = 8;
const RUNS_PER_THREAD: u64 = 1_000;

#[test]
fn tasks_and_threads_count_every_run_and_token_once() {
    let _serial = serial();
    let s = sinks();
    let runs_before = s.collector.runs();

    // Std threads and a multi-thread runtime at the same time.
    let threads: Vec<_> = (0..THREADS)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..RUNS_PER_THREAD {
                    assert_eq!(sync_run(w, i), i);
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|w| {
                tokio::spawn(async move {
                    for i in 0..RUNS_PER_TASK {
                        assert_eq!(async_run(w, i).await, Ok(i));
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task completes");
        }
    });
    for t in threads {
        t.join().expect("thread completes");
    }

    let expected_async =
        sum((0..TASKS).flat_map(|w| (0..RUNS_PER_TASK).map(move |i| usage_of(w, i))));
    let expected_sync =
        sum((0..THREADS).flat_map(|w| (0..RUNS_PER_THREAD).map(move |i| usage_of(w, i))));
    assert_exact("conc_async", TASKS * RUNS_PER_TASK, expected_async);
    assert_exact("conc_sync", THREADS * RUNS_PER_THREAD, expected_sync);
    assert_eq!(
        s.collector.runs() - runs_before,
        TASKS * RUNS_PER_TASK + THREADS * RUNS_PER_THREAD
    );
    assert_eq!(s.memory.evicted(), 0, "capacity is enough");
}

// ----- teams under concurrency: children's usage counted once, in the right parent -----

#[track_run(agent = "conc_member")]
async fn member(w: u64, i: u64) -> u64 {
    tokio::task::yield_now().await;
    runmeta::record_usage(usage_of(w, i));
    i
}

#[track_run(agent = "conc_leader")]
async fn leader(w: u64) -> u64 {
    runmeta::record_usage(Usage::new(w, 1));
    let (a, b, c) = tokio::join!(member(w, 1), member(w, 2), member(w, 3));
    let d = tokio::spawn(async move { member(w, 4).await })
        .await
        .unwrap_or(0);
    a + b + c + d
}

#[test]
fn concurrent_teams_attribute_children_exactly() {
    let _serial = serial();
    let s = sinks();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    const LEADERS: u64 = 64;
    rt.block_on(async {
        let tasks: Vec<_> = (0..LEADERS).map(|w| tokio::spawn(leader(w))).collect();
        for t in tasks {
            assert_eq!(t.await.expect("leader completes"), 10);
        }
    });
    let leaders = s.memory.filter(|r| r.agent == "conc_leader");
    assert_eq!(leaders.len() as u64, LEADERS);
    for lead in &leaders {
        let w = lead.metrics.usage.input_tokens;
        // The three joined members are children; the spawned one is not (a spawned task does
        // not inherit the run context), so it is a root run of its own.
        assert_eq!(lead.child_runs, 3, "leader {w}");
        assert_eq!(
            lead.children_usage,
            sum((1..=3).map(|i| usage_of(w, i))),
            "leader {w}"
        );
        let children = s
            .memory
            .filter(|r| r.agent == "conc_member" && r.parent_run_id == Some(lead.run_id));
        assert_eq!(children.len(), 3);
        assert_eq!(
            sum(children.iter().map(|r| r.metrics.usage)),
            lead.children_usage
        );
    }
    let members = s.memory.filter(|r| r.agent == "conc_member");
    assert_eq!(members.len() as u64, LEADERS * 4);
    assert_eq!(
        members.iter().filter(|r| r.parent_run_id.is_none()).count() as u64,
        LEADERS,
        "spawned members are roots"
    );
}

// ----- queued sinks -----

#[test]
fn dropping_queue_accounts_for_every_run() {
    let _serial = serial();
    let s = sinks();
    s.dropping.flush();
    let before = s.dropping.stats();
    let runs_before = s.collector.runs();
    let threads: Vec<_> = (0..4u64)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..500 {
                    drop_probe(w, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread completes");
    }
    s.dropping.flush();
    let after = s.dropping.stats();
    let produced = s.collector.runs() - runs_before;
    assert_eq!(produced, 2_000);
    let delivered = after.delivered - before.delivered;
    let dropped = after.dropped - before.dropped;
    assert_eq!(delivered + dropped, produced, "{before:?} → {after:?}");
    assert!(
        dropped > 0,
        "a 16-slot queue in front of a slow sink overflows"
    );
    assert_eq!(after.panicked, 0);
    let seen = s
        .slow
        .per_agent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get("conc_drop_probe")
        .map_or(0, |e| e.0);
    assert_eq!(seen, delivered, "the inner sink got what was delivered");
    assert!(s.slow.total() >= delivered);
}

#[track_run(agent = "conc_drop_probe")]
fn drop_probe(w: u64, i: u64) -> u64 {
    runmeta::record_usage(usage_of(w, i));
    i
}

/// Records `n` runs from each of `threads` threads straight into `sink`.
fn flood(sink: &Arc<QueuedSink>, threads: u64, n: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let sink = Arc::clone(sink);
            std::thread::spawn(move || {
                for i in 0..n {
                    let mut run = RunRecord::new("flood", jiff::Timestamp::UNIX_EPOCH);
                    run.metrics.usage = usage_of(w, i);
                    sink.record(&run);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer completes");
    }
}

#[test]
fn blocking_queue_loses_nothing_with_a_slow_sink() {
    let slow = Arc::new(SlowSink::new(Duration::from_micros(20)));
    let queue = Arc::new(QueuedSink::new(Arc::clone(&slow), 4, Overflow::Block));
    flood(&queue, 8, 500);
    queue.flush();
    let stats = queue.stats();
    assert_eq!(stats.delivered, 4_000);
    assert_eq!(stats.dropped, 0);
    assert_eq!(slow.total(), 4_000);
    let expected = sum((0..8).flat_map(|w| (0..500).map(move |i| usage_of(w, i))));
    let seen = slow
        .per_agent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)["flood"];
    assert_eq!(seen, (4_000, expected.input_tokens));
    queue.shutdown();
    // After shutdown, records are dropped and counted, never lost silently or blocking.
    queue.record(&RunRecord::new("late", jiff::Timestamp::UNIX_EPOCH));
    assert_eq!(queue.stats().dropped, 1);
}

#[test]
fn dropping_queue_counts_what_it_drops() {
    let slow = Arc::new(SlowSink::new(Duration::from_micros(100)));
    let queue = Arc::new(QueuedSink::new(Arc::clone(&slow), 8, Overflow::DropNewest));
    flood(&queue, 8, 1_000);
    queue.flush();
    let stats = queue.stats();
    assert_eq!(stats.delivered + stats.dropped, 8_000, "{stats:?}");
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(slow.total(), stats.delivered);
    assert_eq!(stats.panicked, 0);
}
