//! With sinks that keep no records (what production installs: an aggregator, the Prometheus
//! exporter, the store's queue), a finished run's record goes back to the thread's pool as it
//! does when the in-memory sink evicts it: a tracked call in the steady state allocates
//! nothing, and each run still reaches the sinks with its own values.
//!
//! This binary installs its own collector (one per process), so it does not share `common`.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

mod ticket;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use runmeta::prelude::*;
use ticket::{expected_totals, handle, plain, ticket, Summing, Ticket};

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

#[test]
fn steady_state_calls_allocate_nothing_when_no_sink_keeps_records() {
    let _turn = serial();
    let metas: Vec<Ticket> = (0..64).map(ticket).collect();
    for meta in &metas[..4] {
        handle(meta);
    }
    let before = sink().totals();
    let info = allocation_counter::measure(|| {
        for meta in &metas {
            handle(meta);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // Every run arrived, each with its own metadata (a reused record carries no stale value).
    let after = sink().totals();
    let added: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(added, expected_totals(&metas));
}

#[test]
fn runs_without_metadata_allocate_nothing_either() {
    let _turn = serial();
    for x in 0..4 {
        plain(x);
    }
    let [runs, ..] = sink().totals();
    let info = allocation_counter::measure(|| {
        for x in 0..64 {
            assert_eq!(plain(x), x + 1);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    assert_eq!(sink().totals()[0] - runs, 64);
}

#[test]
fn a_thread_that_ends_leaves_its_records_to_the_next_one() {
    let _turn = serial();
    // A thread that runs and ends: its pooled record, with its `Ticket` value, outlives it.
    std::thread::spawn(|| {
        for i in 0..4 {
            handle(&ticket(i));
        }
    })
    .join()
    .unwrap();
    let allocations = std::thread::spawn(|| {
        let next = ticket(7);
        // The first run also reaches this thread's locals for the first time (registering
        // their destructors); it takes the record the ended thread left, and keeps its value.
        plain(0);
        allocation_counter::measure(|| {
            handle(&next);
        })
        .count_total
    })
    .join()
    .unwrap();
    assert_eq!(allocations, 0, "a run with metadata on a new thread");
}
