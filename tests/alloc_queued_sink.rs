//! Behind a `QueuedSink` a run's record is queued as it is, not copied, and the worker thread
//! gives it back to the record pool once the inner sink is done with it, so that the agent
//! thread takes it again: a tracked call in the steady state allocates nothing on the agent's
//! thread, and each run still reaches the inner sink with its own values.
//!
//! This binary installs its own collector (one per process), so it does not share `common`.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

mod ticket;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, Sink};
use ticket::{expected_totals, handle, plain, ticket, Summing, Ticket};

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
    let before = inner.totals();
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
    let after = inner.totals();
    let added: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(added, expected_totals(&metas));
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
    let [runs, ..] = inner.totals();
    let mut allocations = 0;
    for x in 0..64 {
        allocations += allocation_counter::measure(|| assert_eq!(plain(x), x + 1)).count_total;
        queued.flush();
    }
    assert_eq!(allocations, 0, "allocations in 64 steady-state calls");
    assert_eq!(inner.totals()[0] - runs, 64);
}

#[test]
fn a_burst_from_another_thread_is_delivered_whole() {
    let _turn = serial();
    let Installed { inner, queued } = installed();
    let before = inner.totals();
    // No flush between calls: the agent thread runs ahead of the worker, takes records back
    // when it can and allocates when it cannot. Nothing is lost, and no run gets another's
    // metadata, either way.
    let tickets: Vec<Ticket> = (0..5_000_u32)
        .map(|i| ticket(u8::try_from(i % 200).unwrap()))
        .collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            for t in &tickets {
                handle(t);
            }
        });
    });
    queued.flush();
    let after = inner.totals();
    let added: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(added, expected_totals(&tickets));
    assert_eq!(queued.stats().dropped, 0);
}
