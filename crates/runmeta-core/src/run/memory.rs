//! An in-memory sink: the most recent runs, for tests, examples and small services.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::counter::{thread_slot, SLOTS};
use super::{RunId, RunRecord, SharedRecord, Sink};
use crate::metrics::{SessionMetrics, TeamMetrics};

/// Keeps the last `capacity` runs of each thread slot in memory; older ones are evicted and
/// counted.
///
/// Threads finishing runs at once never wait for one another: runs are kept per thread slot
/// (threads are spread over 8 slots in the order they first finish a run, each slot under a
/// lock of its own), and reads merge the slots by the runs' end times. So runs finished on
/// one thread — the usual test — are exactly its last `capacity` runs, in order; from many
/// threads the sink keeps the last `capacity` of each slot, at most `8 × capacity` runs.
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
    slots: [Slot; SLOTS],
}

/// One thread slot's runs and evictions, under a lock of its own, on cache lines of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(Mutex<Kept>);

/// A slot's runs, in the order they were kept, and eviction count.
#[derive(Debug, Default)]
struct Kept {
    records: VecDeque<SharedRecord>,
    evicted: u64,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        // A panic while holding the lock cannot leave the queue half-updated (push/pop are
        // atomic for our purposes), so a poisoned lock is safe to use.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When a run ended, in Unix nanoseconds: the order of runs across slots.
fn end_time(run: &RunRecord) -> i128 {
    run.started_at
        .as_nanosecond()
        .saturating_add(i128::try_from(run.duration.as_nanos()).unwrap_or(i128::MAX))
}

impl InMemorySink {
    /// A sink keeping at most `capacity` runs per thread slot (see the type's docs).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        InMemorySink {
            capacity,
            slots: Default::default(),
        }
    }

    /// The kept runs, oldest (earliest end) first: each slot's runs in the order they were
    /// kept, the slots merged by end time. `take` empties the slots as it reads them.
    fn merged(&self, take: bool) -> Vec<SharedRecord> {
        let mut slots: Vec<VecDeque<SharedRecord>> = self
            .slots
            .iter()
            .map(|slot| {
                let mut kept = slot.lock();
                if take {
                    std::mem::take(&mut kept.records)
                } else {
                    kept.records.clone()
                }
            })
            .filter(|records| !records.is_empty())
            .collect();
        let mut merged = Vec::with_capacity(slots.iter().map(VecDeque::len).sum());
        // A k-way merge (not a sort): a slot's own order is kept even if a clock step made
        // its end times go backwards.
        while let Some(next) = slots
            .iter()
            .enumerate()
            .filter_map(|(i, records)| records.front().map(|run| (end_time(run), i)))
            .min()
            .map(|(_, i)| i)
        {
            if let Some(run) = slots[next].pop_front() {
                merged.push(run);
            }
        }
        merged
    }

    /// A copy of the kept runs, oldest first.
    #[must_use]
    pub fn records(&self) -> Vec<RunRecord> {
        self.merged(false)
            .iter()
            .map(|r| RunRecord::clone(r))
            .collect()
    }

    /// The kept runs, oldest first, shared rather than copied.
    #[must_use]
    pub fn shared_records(&self) -> Vec<SharedRecord> {
        self.merged(false)
    }

    /// Removes and returns the kept runs, oldest first.
    #[must_use]
    pub fn take(&self) -> Vec<RunRecord> {
        self.merged(true)
            .into_iter()
            .map(SharedRecord::unwrap_or_clone)
            .collect()
    }

    /// The kept runs that match `f`, oldest first.
    #[must_use]
    pub fn filter(&self, f: impl Fn(&RunRecord) -> bool) -> Vec<RunRecord> {
        self.merged(false)
            .iter()
            .filter(|r| f(r))
            .map(|r| RunRecord::clone(r))
            .collect()
    }

    /// The run with this id, if kept.
    #[must_use]
    pub fn get(&self, run_id: RunId) -> Option<RunRecord> {
        self.slots.iter().find_map(|slot| {
            slot.lock()
                .records
                .iter()
                .find(|r| r.run_id == run_id)
                .map(|r| RunRecord::clone(r))
        })
    }

    /// Runs evicted to respect the capacity.
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.slots.iter().map(|slot| slot.lock().evicted).sum()
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
    fn keep(&self, run: SharedRecord) {
        let evicted = {
            let mut kept = self.slots[thread_slot().index].lock();
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
        self.keep(SharedRecord::new(run.clone()));
    }

    fn record_shared(&self, run: SharedRecord) {
        self.keep(run);
    }

    fn keeps_records(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(agent: &'static str, end_second: i64) -> RunRecord {
        let mut run = RunRecord::new(agent, jiff::Timestamp::from_second(end_second - 1).unwrap());
        run.duration = Duration::from_secs(1);
        run
    }

    #[test]
    fn runs_of_several_threads_merge_by_end_time() {
        let sink = InMemorySink::new(100);
        std::thread::scope(|s| {
            s.spawn(|| [1, 4, 5].map(|t| sink.record(&run("even", t * 10))));
            s.spawn(|| [2, 3, 6].map(|t| sink.record(&run("odd", t * 10))));
        });
        let ends: Vec<i64> = sink
            .records()
            .iter()
            .map(|r| (r.started_at.as_second() + 1) / 10)
            .collect();
        assert_eq!(ends, [1, 2, 3, 4, 5, 6]);
        assert_eq!(sink.take().len(), 6);
        assert!(sink.records().is_empty());
    }

    #[test]
    fn a_slot_keeps_its_order_even_when_end_times_go_backwards() {
        let sink = InMemorySink::new(10);
        for (agent, end) in [("a", 30), ("b", 10), ("c", 20)] {
            sink.record(&run(agent, end));
        }
        let agents: Vec<_> = sink.records().into_iter().map(|r| r.agent).collect();
        assert_eq!(agents, ["a", "b", "c"]);
    }

    #[test]
    fn each_slot_keeps_its_last_runs() {
        let sink = InMemorySink::new(3);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for t in 0..10 {
                        sink.record(&run("x", t));
                    }
                });
            }
        });
        let kept = sink.records().len();
        // Two threads: one slot or two, each keeping its last 3 runs.
        assert!(kept == 3 || kept == 6, "{kept}");
        assert_eq!(sink.evicted(), 20 - kept as u64);
    }

    #[test]
    fn many_threads_on_shared_slots_lose_no_run() {
        let sink = InMemorySink::new(3);
        std::thread::scope(|s| {
            for _ in 0..SLOTS * 3 {
                s.spawn(|| {
                    for t in 0..10 {
                        sink.record(&run("x", t));
                    }
                });
            }
        });
        let kept = sink.records().len();
        assert!(kept <= SLOTS * 3, "{kept}");
        assert_eq!(sink.evicted() + kept as u64, SLOTS as u64 * 3 * 10);
        assert_eq!(sink.take().len(), kept);
        assert!(sink.records().is_empty());
    }
}
