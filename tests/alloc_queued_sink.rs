//! Behind a `QueuedSink` a run's record is queued as it is, not copied, and the worker thread
//! gives it back to the record pool once the inner sink is done with it, so that the agent
//! thread takes it again: a tracked call in the steady state allocates nothing on the agent's
//! thread, and each run still reaches the inner sink with its own values.
//!
//! This binary installs its own collector (one per process), so it does not share `common`.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, RunRecord, Sink};

#[derive(Clone, RunMetadata)]
pub struct Ticket {
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(redact)]
    pub customer_id: String,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

/// Reads each record on the worker thread and keeps nothing of it.
#[derive(Default)]
struct Summing {
    runs: AtomicU64,
    levels: AtomicU64,
    /// The customer ids seen, in order, to check each run's own value arrived.
    ids: Mutex<Vec<String>>,
}

impl Sink for Summing {
    fn record(&self, run: &RunRecord) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(meta) = &run.metadata {
            let ticket = meta.value.downcast_ref::<Ticket>().expect("a Ticket");
            self.levels
                .fetch_add(u64::from(ticket.escalation_level), Ordering::Relaxed);
            self.ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(ticket.customer_id.clone());
        }
    }
}

struct Installed {
    inner: Arc<Summing>,
    queued: Arc<QueuedSink>,
}

fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let inner = Arc::new(Summing::default());
        let queued = Arc::new(QueuedSink::new(Arc::clone(&inner), 1024, Overflow::Block));
        Collector::builder()
            .sink(Arc::clone(&queued))
            .build()
            .install()
            .expect("one collector per test binary");
        Installed { inner, queued }
    })
}

/// The tests read the sink's totals: they take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    installed();
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

#[track_run(agent = "ticket", metadata = meta)]
fn handle(meta: &Ticket) -> usize {
    meta.customer_id.len()
}

#[track_run(agent = "plain")]
fn plain(x: u64) -> u64 {
    x + 1
}

fn ticket(i: u8) -> Ticket {
    Ticket {
        priority: Priority::High,
        customer_id: format!("cust_{i:06}"),
        escalation_level: 1 + i % 3,
    }
}

#[test]
fn queued_runs_come_back_to_the_agent_thread_and_allocate_nothing() {
    let _turn = serial();
    let Installed { inner, queued } = installed();
    let metas: Vec<Ticket> = (0..64).map(ticket).collect();
    // Warm-up: the records in circulation between this thread and the worker are allocated.
    for meta in &metas[..16] {
        handle(meta);
        queued.flush();
    }
    let (runs, levels) = (
        inner.runs.load(Ordering::Relaxed),
        inner.levels.load(Ordering::Relaxed),
    );
    inner
        .ids
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let mut allocations = 0;
    for meta in &metas {
        allocations += allocation_counter::measure(|| {
            handle(meta);
        })
        .count_total;
        // Each run reaches the worker before the next starts (the flush itself allocates,
        // outside what is measured).
        queued.flush();
    }
    assert_eq!(allocations, 0, "allocations in 64 steady-state calls");
    // Every run arrived, each with its own metadata (a reused record carries no stale value).
    assert_eq!(inner.runs.load(Ordering::Relaxed) - runs, 64);
    let expected: u64 = metas.iter().map(|m| u64::from(m.escalation_level)).sum();
    assert_eq!(inner.levels.load(Ordering::Relaxed) - levels, expected);
    let ids = inner.ids.lock().unwrap_or_else(PoisonError::into_inner);
    let expected: Vec<&str> = metas.iter().map(|m| m.customer_id.as_str()).collect();
    assert_eq!(*ids, expected);
    assert_eq!(queued.stats().dropped, 0);
}

#[test]
fn queued_runs_without_metadata_allocate_nothing_either() {
    let _turn = serial();
    let Installed { inner, queued } = installed();
    for x in 0..16 {
        plain(x);
        queued.flush();
    }
    let runs = inner.runs.load(Ordering::Relaxed);
    let mut allocations = 0;
    for x in 0..64 {
        allocations += allocation_counter::measure(|| assert_eq!(plain(x), x + 1)).count_total;
        queued.flush();
    }
    assert_eq!(allocations, 0, "allocations in 64 steady-state calls");
    assert_eq!(inner.runs.load(Ordering::Relaxed) - runs, 64);
}

#[test]
fn a_burst_from_another_thread_is_delivered_whole() {
    let _turn = serial();
    let Installed { inner, queued } = installed();
    let runs = inner.runs.load(Ordering::Relaxed);
    // No flush between calls: the agent thread runs ahead of the worker, takes records back
    // when it can and allocates when it cannot. Nothing is lost either way.
    std::thread::spawn(|| {
        for i in 0..5_000_u32 {
            handle(&ticket(u8::try_from(i % 200).unwrap()));
        }
    })
    .join()
    .unwrap();
    queued.flush();
    assert_eq!(inner.runs.load(Ordering::Relaxed) - runs, 5_000);
    assert_eq!(queued.stats().dropped, 0);
}
