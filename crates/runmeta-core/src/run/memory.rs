//! An in-memory sink: the most recent runs, for tests, examples and small services.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{RunId, RunRecord, Sink};
use crate::metrics::{SessionMetrics, TeamMetrics};

/// Keeps the last `capacity` runs in memory; older ones are evicted and counted.
///
/// ```
/// use runmeta_core::run::{InMemorySink, RunRecord, Sink};
/// let sink = InMemorySink::new(2);
/// for agent in ["a", "b", "c"] {
///     sink.record(&RunRecord::new(agent, jiff::Timestamp::UNIX_EPOCH));
/// }
/// let agents: Vec<_> = sink.records().into_iter().map(|r| r.agent).collect();
/// assert_eq!(agents, ["b", "c"]);
/// assert_eq!(sink.evicted(), 1);
/// ```
#[derive(Debug)]
pub struct InMemorySink {
    capacity: usize,
    kept: Mutex<Kept>,
}

/// The runs and the eviction count, under one lock (the count is written with the runs, so
/// it never needs a cache line of its own that threads would pass around).
#[derive(Debug, Default)]
struct Kept {
    records: VecDeque<Arc<RunRecord>>,
    evicted: u64,
}

impl InMemorySink {
    /// A sink keeping at most `capacity` runs.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        InMemorySink {
            capacity,
            kept: Mutex::new(Kept::default()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the lock cannot leave the queue half-updated (push/pop are
        // atomic for our purposes), so a poisoned lock is safe to use.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the kept runs, oldest first.
    #[must_use]
    pub fn records(&self) -> Vec<RunRecord> {
        self.kept()
            .records
            .iter()
            .map(|r| RunRecord::clone(r))
            .collect()
    }

    /// The kept runs, oldest first, shared rather than copied.
    #[must_use]
    pub fn shared_records(&self) -> Vec<Arc<RunRecord>> {
        self.kept().records.iter().cloned().collect()
    }

    /// Removes and returns the kept runs.
    #[must_use]
    pub fn take(&self) -> Vec<RunRecord> {
        let taken: Vec<_> = self.kept().records.drain(..).collect();
        taken
            .into_iter()
            .map(|r| Arc::try_unwrap(r).unwrap_or_else(|shared| RunRecord::clone(&shared)))
            .collect()
    }

    /// The kept runs that match `f`.
    #[must_use]
    pub fn filter(&self, f: impl Fn(&RunRecord) -> bool) -> Vec<RunRecord> {
        self.kept()
            .records
            .iter()
            .filter(|r| f(r))
            .map(|r| RunRecord::clone(r))
            .collect()
    }

    /// The run with this id, if kept.
    #[must_use]
    pub fn get(&self, run_id: RunId) -> Option<RunRecord> {
        self.kept()
            .records
            .iter()
            .find(|r| r.run_id == run_id)
            .map(|r| RunRecord::clone(r))
    }

    /// Runs evicted to respect the capacity.
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.kept().evicted
    }

    /// The rollup of a session's kept runs.
    #[must_use]
    pub fn session(&self, session_id: &str) -> SessionMetrics {
        let records = self.filter(|r| r.session_id.as_deref() == Some(session_id));
        SessionMetrics::from_runs(&records)
    }

    /// The leader-only and full-team rollup of a team run (the leader and its kept
    /// descendants); `None` if the leader run is not kept.
    #[must_use]
    pub fn team(&self, leader: RunId) -> Option<TeamMetrics> {
        let records = self.records();
        TeamMetrics::for_leader(leader, &records)
    }
}

impl InMemorySink {
    fn keep(&self, run: Arc<RunRecord>) {
        let evicted = {
            let mut kept = self.kept();
            let evicted = if self.capacity == 0 {
                Some(run)
            } else {
                let evicted = if kept.records.len() >= self.capacity {
                    kept.records.pop_front()
                } else {
                    None
                };
                kept.records.push_back(run);
                evicted
            };
            kept.evicted += u64::from(evicted.is_some());
            evicted
        };
        // The evicted record is let go of after the lock is released: back to this thread's
        // pool for the next run to reuse when this was its last reference.
        if let Some(evicted) = evicted {
            super::pool::recycle(evicted);
        }
    }
}

impl Sink for InMemorySink {
    fn record(&self, run: &RunRecord) {
        self.keep(Arc::new(run.clone()));
    }

    fn record_shared(&self, run: &Arc<RunRecord>) {
        self.keep(Arc::clone(run));
    }

    fn keeps_records(&self) -> bool {
        true
    }
}
