//! A tracked call made from a thread-local's destructor, while the thread is torn down (after
//! runmeta's own per-thread state may be gone), runs, never panics (a panic there aborts the
//! process), and is recorded with its metadata. Once the thread's run stack is gone, what the
//! run's code records inside it (usage, tool calls) has no run to reach: documented no-ops.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

use std::cell::Cell;
use std::sync::Arc;

use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::RunStatus;

#[derive(Clone, Copy, PartialEq, Eq, MetadataEnum)]
pub enum Tier {
    Free,
    Pro,
}

#[derive(Clone, RunMetadata)]
pub struct Meta {
    #[run_metadata(label)]
    pub tier: Tier,
}

/// Whether the run it made could see itself (`current_run`), i.e. ran on the thread's stack.
static SAW_ITSELF: std::sync::Mutex<Vec<bool>> = std::sync::Mutex::new(Vec::new());

#[track_run(agent = "late", metadata = meta)]
fn late(meta: &Meta) -> u32 {
    runmeta::record_usage(Usage::new(3, 2));
    let _ = runmeta::tool("lookup", || Ok::<_, std::io::Error>(()));
    SAW_ITSELF
        .lock()
        .expect("not poisoned")
        .push(runmeta::current_run().is_some());
    u32::from(meta.tier == Tier::Pro)
}

#[track_run(agent = "early", metadata = meta)]
fn early(meta: &Meta) -> u32 {
    u32::from(meta.tier == Tier::Pro)
}

/// Makes a tracked call when its thread's thread-locals are destroyed.
struct CallsOnDrop;

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        late(&Meta { tier: Tier::Pro });
    }
}

thread_local! {
    static BEFORE: Cell<Option<CallsOnDrop>> = const { Cell::new(None) };
    static AFTER: Cell<Option<CallsOnDrop>> = const { Cell::new(None) };
}

#[test]
fn a_run_started_during_thread_teardown_is_recorded() {
    let sink = Arc::new(InMemorySink::new(16));
    Collector::builder()
        .sink(Arc::clone(&sink))
        .build()
        .install()
        .expect("one collector per test binary");
    std::thread::spawn(|| {
        // Destructors run in an order of registration: one guard registered before runmeta's
        // per-thread state, one after, so that one of them runs once that state is gone,
        // whichever the order.
        BEFORE.set(Some(CallsOnDrop));
        assert_eq!(early(&Meta { tier: Tier::Free }), 0);
        AFTER.set(Some(CallsOnDrop));
    })
    .join()
    .expect("the thread ended without a panic");

    let runs = sink.records();
    let agents: Vec<&str> = runs.iter().map(|r| r.agent.as_ref()).collect();
    assert_eq!(agents, ["early", "late", "late"]);
    let saw = SAW_ITSELF.lock().expect("not poisoned").clone();
    assert_eq!(saw.len(), 2);
    assert!(
        saw.contains(&false),
        "one late run started after the thread's run stack was gone: {saw:?}"
    );
    let late: Vec<_> = runs.iter().filter(|r| r.agent == "late").collect();
    for (run, on_stack) in late.iter().zip(&saw) {
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(run.stop_reason, "completed");
        assert_eq!(run.label("tier"), Some("pro"));
        let (tokens, tools) = if *on_stack { (5, 1) } else { (0, 0) };
        assert_eq!(run.metrics.usage.total_tokens, tokens);
        assert_eq!(run.tool_calls.len(), tools);
    }
}
