//! The schema, tracked fns and reading sink of the allocation tests whose binaries install a
//! collector of their own (so they cannot share `common`): `alloc_non_keeping_sink.rs` and
//! `alloc_queued_sink.rs`.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// Ticket `i`: customer `cust_{i:06}`, escalation level `1 + i % 3`.
pub fn ticket(i: u8) -> Ticket {
    Ticket {
        priority: Priority::High,
        customer_id: format!("cust_{i:06}"),
        escalation_level: 1 + i % 3,
    }
}

#[track_run(agent = "ticket", metadata = meta)]
pub fn handle(meta: &Ticket) -> usize {
    meta.customer_id.len()
}

#[track_run(agent = "plain")]
pub fn plain(x: u64) -> u64 {
    x + 1
}

/// Counts runs and sums their escalation levels and ticket numbers: a sink that reads each
/// record, keeps nothing of it and allocates nothing (it may run on the agent's thread).
#[derive(Default)]
pub struct Summing {
    pub runs: AtomicU64,
    pub levels: AtomicU64,
    /// The sum of the runs' ticket numbers (`cust_000042` → 42): each run's own value
    /// arrived when it matches the tickets handled.
    pub numbers: AtomicU64,
}

impl Summing {
    /// Runs, levels and numbers so far.
    pub fn totals(&self) -> [u64; 3] {
        [&self.runs, &self.levels, &self.numbers].map(|n| n.load(Ordering::Relaxed))
    }
}

impl Sink for Summing {
    fn record(&self, run: &RunRecord) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(meta) = &run.metadata {
            let ticket = meta.value.downcast_ref::<Ticket>().expect("a Ticket");
            self.levels
                .fetch_add(u64::from(ticket.escalation_level), Ordering::Relaxed);
            self.numbers.fetch_add(number(ticket), Ordering::Relaxed);
        }
    }
}

/// The ticket's number: `cust_000042` → 42 (parsed without allocating).
fn number(ticket: &Ticket) -> u64 {
    ticket.customer_id["cust_".len()..]
        .parse()
        .expect("a ticket number")
}

/// What `tickets` add to [`Summing::totals`].
pub fn expected_totals(tickets: &[Ticket]) -> [u64; 3] {
    let levels = tickets.iter().map(|t| u64::from(t.escalation_level)).sum();
    let numbers = tickets.iter().map(number).sum();
    [u64::try_from(tickets.len()).unwrap(), levels, numbers]
}
