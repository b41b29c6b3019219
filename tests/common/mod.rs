//! Shared by the test binaries that reuse pooled records: a collector whose in-memory sink
//! keeps one run, so that every run evicts the previous one and its record goes back to the
//! thread's pool.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use runmeta::prelude::*;
use runmeta::run::RunRecord;

/// The sink (capacity 1), installed with the process's collector on first use.
pub fn sink() -> &'static Arc<InMemorySink> {
    static SINK: OnceLock<Arc<InMemorySink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(InMemorySink::new(1));
        Collector::builder()
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("one collector per test binary");
        sink
    })
}

/// The sink keeps one run a thread: tests take turns, each starting with an empty sink.
///
/// The runs earlier tests' threads left would otherwise stay, one a thread, and [`last`]
/// would find one of them now and then: each thread derives its wall-clock times from its
/// own anchor (`run/clock.rs`), so a run that ended a few microseconds before another on
/// another thread can read as the later one (1 test run in about 35 failed that way).
pub fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    drop(sink().take());
    turn
}

/// The run the sink keeps.
pub fn last() -> RunRecord {
    sink().records().pop().expect("a run was kept")
}
