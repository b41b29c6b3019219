//! With sinks that keep no records (what production installs: an aggregator, the Prometheus
//! exporter, the store's queue), a finished run's record goes back to the thread's pool as it
//! does when the in-memory sink evicts it: a tracked call in the steady state allocates
//! nothing, and each run still reaches the sinks with its own values.
//!
//! This binary installs its own collector (one per process), so it does not share `common`.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use runmeta::prelude::*;
use runmeta::run::{RunRecord, Sink};

#[derive(Clone, RunMetadata)]
pub struct Ticket {
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(redact)]
    pub customer_id: String,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

/// Counts runs and sums their escalation levels: a sink that reads each record and keeps
/// nothing of it.
#[derive(Default)]
struct Summing {
    runs: AtomicU64,
    levels: AtomicU64,
    /// The redacted id length of the last run, to check its own value arrived.
    last_id_len: AtomicUsize,
}

impl Sink for Summing {
    fn record(&self, run: &RunRecord) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(meta) = &run.metadata {
            let ticket = meta.value.downcast_ref::<Ticket>().expect("a Ticket");
            self.levels
                .fetch_add(u64::from(ticket.escalation_level), Ordering::Relaxed);
            self.last_id_len
                .store(ticket.customer_id.len(), Ordering::Relaxed);
        }
    }
}

fn sink() -> &'static Arc<Summing> {
    static SINK: OnceLock<Arc<Summing>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(Summing::default());
        Collector::builder()
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("one collector per test binary");
        sink
    })
}

/// The tests read the sink's totals: they take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    sink();
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
fn steady_state_calls_allocate_nothing_when_no_sink_keeps_records() {
    let _turn = serial();
    let metas: Vec<Ticket> = (0..64).map(ticket).collect();
    for meta in &metas[..4] {
        handle(meta);
    }
    let (runs, levels) = (
        sink().runs.load(Ordering::Relaxed),
        sink().levels.load(Ordering::Relaxed),
    );
    let info = allocation_counter::measure(|| {
        for meta in &metas {
            handle(meta);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // Every run arrived, each with its own metadata (a reused record carries no stale value).
    assert_eq!(sink().runs.load(Ordering::Relaxed) - runs, 64);
    let expected: u64 = metas.iter().map(|m| u64::from(m.escalation_level)).sum();
    assert_eq!(sink().levels.load(Ordering::Relaxed) - levels, expected);
    assert_eq!(
        sink().last_id_len.load(Ordering::Relaxed),
        "cust_000063".len()
    );
}

#[test]
fn runs_without_metadata_allocate_nothing_either() {
    let _turn = serial();
    for x in 0..4 {
        plain(x);
    }
    let runs = sink().runs.load(Ordering::Relaxed);
    let info = allocation_counter::measure(|| {
        for x in 0..64 {
            assert_eq!(plain(x), x + 1);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    assert_eq!(sink().runs.load(Ordering::Relaxed) - runs, 64);
}
