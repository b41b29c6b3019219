//! Runs queued behind a slow sink reach it when the `FlushGuard` held in `main` drops, before
//! the process would exit (the collector is a static: nothing flushes it by itself).
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runmeta::prelude::*;
use runmeta::run::{Overflow, QueuedSink, RunRecord, Sink};

/// Takes a millisecond per run.
#[derive(Default)]
struct Slow(AtomicUsize);

impl Sink for Slow {
    fn record(&self, _: &RunRecord) {
        std::thread::sleep(Duration::from_millis(1));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[track_run(agent = "queued_work")]
fn work(x: u32) -> u32 {
    x + 1
}

#[test]
fn a_dropped_guard_delivers_every_queued_run() {
    let slow = Arc::new(Slow::default());
    Collector::builder()
        .sink(QueuedSink::new(Arc::clone(&slow), 1_000, Overflow::Block))
        .build()
        .install()
        .expect("one collector per test binary");
    let guard = runmeta::flush_guard();
    for i in 0..50 {
        assert_eq!(work(i), i + 1);
    }
    assert!(
        slow.0.load(Ordering::SeqCst) < 50,
        "the sink takes 50 ms for 50 runs: they are still queued here"
    );
    drop(guard);
    assert_eq!(slow.0.load(Ordering::SeqCst), 50);
}
