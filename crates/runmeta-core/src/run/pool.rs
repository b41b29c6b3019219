//! Records a sink let go of, kept per thread for the next run to reuse.
//!
//! A finished record whose last reference is let go of (by the in-memory sink evicting its
//! oldest run, or by the collector when no sink keeps records: sinks that aggregate, export
//! or queue a copy) goes back to a small per-thread pool instead of the allocator; the next
//! run started on that thread takes it, resets every field in place and keeps the capacity
//! of its `Vec`s. Its metadata value stays in it: a tracked call takes
//! the record when its `metadata = expr` is evaluated (a record whose value is of the same
//! type, when the pool has one) and, when no one else holds the value, assigns the new one in
//! place, field by field. A value a run cannot use (a run without metadata, or with metadata
//! of another type) is kept beside the records for a later run with that schema. This is
//! what `tracing-subscriber`'s registry does with its span slots: the steady state of a
//! tracked call allocates nothing for the record.
//!
//! The pool holds at most [`KEEP`] records and [`KEEP`] values per thread, and only records
//! whose collections are small, so what it keeps is bounded (a few KiB per thread).
//!
//! A record is not always let go of on the thread that ran it: a [`QueuedSink`]'s worker
//! thread lets go of every record the agent threads hand it, and a future that moves between
//! a runtime's threads starts on one and is evicted on another. So a thread whose pool is
//! full moves its records to a process-wide depot (at most [`DEPOT_KEEP`] records), and a
//! thread whose pool is empty refills it from there, [`KEEP`] records at a time, before it
//! allocates: one lock for a batch of records, and no lock at all while a thread takes back
//! as many records as it lets go of (the steady state of the in-memory sink). A thread that
//! ends leaves its records there too, for the next thread's first runs.
//!
//! [`QueuedSink`]: super::QueuedSink

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use triomphe::UniqueArc;

use super::record::{RecordStart, StartMetadata};
use super::{MetadataRecord, MetadataValue, RunRecord, SharedRecord};
use crate::schema::{DynMetadata, RunMetadata};

/// Records (and values) kept per thread.
const KEEP: usize = 4;
/// A record whose `Vec`s grew past this many elements is freed, not kept.
const MAX_KEPT_CAPACITY: usize = 64;
/// Records kept in the process-wide depot, for the threads whose pools run empty.
const DEPOT_KEEP: usize = 64;

/// Records let go of by threads whose pools were full (see the module docs).
static DEPOT: Depot = Depot(Mutex::new(Vec::new()));

/// Records shared by the threads of the process, at most [`DEPOT_KEEP`].
struct Depot(Mutex<Vec<UniqueArc<RunRecord>>>);

impl Depot {
    /// Moves up to [`KEEP`] records into `pool`.
    #[cold]
    #[inline(never)]
    fn take_into(&self, pool: &mut Vec<UniqueArc<RunRecord>>) {
        let mut depot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let from = depot.len().saturating_sub(KEEP);
        pool.extend(depot.drain(from..));
    }

    /// Moves `pool`'s records here, as many as there is room for; the rest are freed,
    /// outside the lock.
    #[cold]
    #[inline(never)]
    fn put_from(&self, pool: &mut Vec<UniqueArc<RunRecord>>) {
        let mut depot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let room = DEPOT_KEEP.saturating_sub(depot.len());
        depot.extend(pool.drain(..pool.len().min(room)));
        drop(depot);
        pool.clear();
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            records: Vec::new(),
            values: Vec::new(),
            depot: &DEPOT,
        })
    };
}

/// What a thread keeps for its next runs.
struct Pool {
    /// Finished records, each with the metadata value its run had.
    records: Vec<UniqueArc<RunRecord>>,
    /// Metadata values taken out of records reused by runs that could not use them.
    values: Vec<MetadataValue>,
    /// Where a full pool moves its records, and an empty one takes them from.
    depot: &'static Depot,
}

impl Pool {
    /// A record to reuse: this thread's last one, else one from the depot.
    #[inline]
    fn pop_record(&mut self) -> Option<UniqueArc<RunRecord>> {
        match self.records.pop() {
            Some(record) => Some(record),
            None => {
                self.depot.take_into(&mut self.records);
                self.records.pop()
            }
        }
    }

    /// Keeps `record` for a later run on this thread; a full pool first moves its records
    /// to the depot.
    #[inline]
    fn push_record(&mut self, record: UniqueArc<RunRecord>) {
        if self.records.len() >= KEEP {
            self.depot.put_from(&mut self.records);
        }
        self.records.push(record);
    }

    /// Makes `record`'s metadata a value equal to `value` when its own is not an `M` no one
    /// else holds (the fast path's miss): swaps in a kept record whose value is an `M` if
    /// there is one, else assigns to a kept value of that type or allocates one, keeping the
    /// record's value for a later run of its type.
    #[cold]
    #[inline(never)]
    fn refit<M>(&mut self, record: &mut UniqueArc<RunRecord>, value: &M)
    where
        M: RunMetadata + DynMetadata + Clone,
    {
        let holds_m = |record: &UniqueArc<RunRecord>| {
            record
                .metadata
                .as_ref()
                .is_some_and(|held| held.value.is::<M>())
        };
        if let Some(other) = self.records.iter_mut().rev().find(|r| holds_m(r)) {
            std::mem::swap(record, other);
        }
        if let Some(held) = &mut record.metadata {
            if assign_in_place(&mut held.value, value) {
                return;
            }
        }
        let value = self.value_for(value);
        if let Some(held) = record.metadata.replace(MetadataRecord::new(value)) {
            self.keep_value(held.value);
        }
    }

    /// `value` in a kept value of its type that no one else holds, else in a new allocation.
    fn value_for<M>(&mut self, value: &M) -> MetadataValue
    where
        M: RunMetadata + DynMetadata + Clone,
    {
        if let Some(at) = self.values.iter().rposition(MetadataValue::is::<M>) {
            let mut kept = self.values.swap_remove(at);
            if assign_in_place(&mut kept, value) {
                return kept;
            }
        }
        MetadataValue::new(value.clone())
    }

    /// Keeps the metadata value of a record taken by a run without metadata.
    #[cold]
    #[inline(never)]
    fn keep_metadata_of(&mut self, record: &mut RunRecord) {
        if let Some(held) = record.metadata.take() {
            self.keep_value(held.value);
        }
    }

    /// Keeps a value a run could not use, for a later run's value of its type.
    fn keep_value(&mut self, value: MetadataValue) {
        if self.values.len() < KEEP {
            self.values.push(value);
        }
    }
}

impl Drop for Pool {
    /// A thread that ends leaves its records to the depot: a thread started for one run
    /// takes the records of one that ended.
    fn drop(&mut self) {
        if !self.records.is_empty() {
            self.depot.put_from(&mut self.records);
        }
    }
}

/// Calls `f` with this thread's pool; `None` outside a thread's lifetime (TLS destroyed) or
/// re-entered from a drop.
fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
    POOL.try_with(|pool| Some(f(&mut *pool.try_borrow_mut().ok()?)))
        .ok()
        .flatten()
}

/// The metadata of a tracked call, prepared when the call is made (`metadata = expr` is
/// evaluated then): validated, and already in the record the run will fill when this thread
/// had one to reuse — the steady state, where the previous run's value of the same type takes
/// the new one field by field.
pub struct PreparedMetadata(Prepared);

enum Prepared {
    /// A pooled record whose `metadata` is the run's; its other fields are reset at start.
    InRecord(UniqueArc<RunRecord>),
    /// The metadata alone (no record to reuse on this thread).
    Alone(MetadataRecord),
}

impl From<MetadataRecord> for PreparedMetadata {
    fn from(metadata: MetadataRecord) -> Self {
        PreparedMetadata(Prepared::Alone(metadata))
    }
}

impl fmt::Debug for PreparedMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = match &self.0 {
            Prepared::InRecord(record) => record.metadata.as_ref(),
            Prepared::Alone(metadata) => Some(metadata),
        };
        f.debug_tuple("PreparedMetadata").field(&metadata).finish()
    }
}

/// `value` validated and prepared for a run: assigned in place to the metadata of a record
/// this thread can reuse when that is a value of the same type no one else holds, else
/// cloned into a kept value of its type or a new allocation.
pub(crate) fn prepare_metadata<M>(value: &M) -> PreparedMetadata
where
    M: RunMetadata + DynMetadata + Clone,
{
    let errors = value.validate().err().map(Arc::new);
    let pooled = with_pool(|pool| {
        let mut record = pool.pop_record()?;
        // The steady state: the last record's value is an `M` no one else holds.
        let in_place = record
            .metadata
            .as_mut()
            .is_some_and(|held| assign_in_place(&mut held.value, value));
        if !in_place {
            pool.refit(&mut record, value);
        }
        Some(record)
    })
    .flatten();
    match pooled {
        Some(mut record) => {
            if let Some(held) = &mut record.metadata {
                held.errors = errors;
            }
            PreparedMetadata(Prepared::InRecord(record))
        }
        None => {
            let value = with_pool(|pool| pool.value_for(value))
                .unwrap_or_else(|| MetadataValue::new(value.clone()));
            PreparedMetadata(Prepared::Alone(MetadataRecord { value, errors }))
        }
    }
}

/// Makes `held` equal to `value` in place if it is an `M` no one else holds.
fn assign_in_place<M: RunMetadata + Clone>(held: &mut MetadataValue, value: &M) -> bool {
    match held.downcast_mut::<M>() {
        Some(held) => {
            assign(held, value);
            true
        }
        None => false,
    }
}

/// Makes `held` equal to `value` field by field, so the value's strings keep their buffers
/// (a derived `Clone`'s `clone_from` would allocate them anew).
fn assign<M: RunMetadata + Clone>(held: &mut M, value: &M) {
    if !held.__assign_from(value) {
        held.clone_from(value);
    }
}

/// The record for a run starting now, and what its metadata will be: the record `metadata`
/// was prepared in (which keeps it), else a pooled one when this thread has one, else a new
/// allocation. The run [`RunRecord::reset`]s it with its starting fields. Unique by type, so
/// the run writes to it with no check, and shareable at its end for free.
#[inline]
pub(crate) fn take_record(
    metadata: Option<PreparedMetadata>,
) -> (UniqueArc<RunRecord>, StartMetadata) {
    let (record, metadata) = match metadata.map(|m| m.0) {
        Some(Prepared::InRecord(record)) => return (record, StartMetadata::InPlace),
        Some(Prepared::Alone(metadata)) => (take_emptied(), StartMetadata::Set(Some(metadata))),
        None => (take_emptied(), StartMetadata::Set(None)),
    };
    (record.unwrap_or_else(new_record), metadata)
}

/// A new record for a thread with none to reuse, to be `reset` by its run.
#[cold]
#[inline(never)]
fn new_record() -> UniqueArc<RunRecord> {
    let placeholder = RecordStart::new(
        super::RunId(uuid::Uuid::nil()),
        std::borrow::Cow::Borrowed(""),
        jiff::Timestamp::UNIX_EPOCH,
    );
    UniqueArc::new(RunRecord::starting(placeholder))
}

/// Takes a record to reuse for a run whose metadata is not prepared in one; its metadata
/// value is kept for a later run of its type.
fn take_emptied() -> Option<UniqueArc<RunRecord>> {
    with_pool(|pool| {
        let mut record = pool.pop_record()?;
        if record.metadata.is_some() {
            pool.keep_metadata_of(&mut record);
        }
        Some(record)
    })
    .flatten()
}

/// Gives back a record a sink is done with. It is kept for reuse if this was its last
/// reference and its collections are small, in this thread's pool or, when that is full, in
/// the depot; otherwise it is dropped as usual.
pub(crate) fn recycle(record: SharedRecord) {
    let Some(unique) = keepable(record) else {
        return;
    };
    // Its metadata stays: the next run's metadata of the same type takes its place.
    // Outside a thread's lifetime (TLS destroyed) or re-entered from a drop: just drop.
    with_pool(|pool| pool.push_record(unique));
}

/// `record`, unique, if it is worth keeping: its last reference, with small collections.
#[inline]
fn keepable(record: SharedRecord) -> Option<UniqueArc<RunRecord>> {
    // One load (no weak count to lock): `triomphe`'s uniqueness check.
    let unique = triomphe::Arc::try_unique(record.0).ok()?;
    let small = unique.messages.capacity() <= MAX_KEPT_CAPACITY
        && unique.tool_calls.capacity() <= MAX_KEPT_CAPACITY
        && unique.per_model.capacity() <= MAX_KEPT_CAPACITY;
    small.then_some(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn record(agent: &str) -> SharedRecord {
        SharedRecord::new(RunRecord::new(
            Cow::Owned(agent.to_owned()),
            jiff::Timestamp::UNIX_EPOCH,
        ))
    }

    /// A depot of its own for each test (the process's is shared by every test thread).
    fn depot() -> &'static Depot {
        Box::leak(Box::new(Depot(Mutex::new(Vec::new()))))
    }

    fn pool(depot: &'static Depot) -> Pool {
        Pool {
            records: Vec::new(),
            values: Vec::new(),
            depot,
        }
    }

    fn depot_len(depot: &Depot) -> usize {
        depot.0.lock().unwrap().len()
    }

    fn unique(agent: &str) -> UniqueArc<RunRecord> {
        keepable(record(agent)).expect("a new record is unique")
    }

    #[test]
    fn only_last_references_to_small_records_are_kept() {
        let shared = record("a");
        let other = shared.clone();
        assert!(keepable(shared).is_none(), "a record still referenced");
        assert!(keepable(other).is_some(), "its last reference");
        let mut big = RunRecord::new(Cow::Borrowed("a"), jiff::Timestamp::UNIX_EPOCH);
        big.tool_calls.reserve(MAX_KEPT_CAPACITY + 1);
        assert!(keepable(SharedRecord::new(big)).is_none(), "a large record");
    }

    #[test]
    fn a_full_pool_moves_its_records_to_the_depot_for_an_empty_one() {
        let depot = depot();
        let (mut producer, mut worker) = (pool(depot), pool(depot));
        assert!(producer.pop_record().is_none(), "nothing anywhere");
        for i in 0..KEEP {
            worker.push_record(unique(&i.to_string()));
        }
        assert_eq!((worker.records.len(), depot_len(depot)), (KEEP, 0));
        worker.push_record(unique("last"));
        assert_eq!((worker.records.len(), depot_len(depot)), (1, KEEP));
        assert_eq!(worker.records[0].agent, "last");
        // The empty pool takes the batch at once: one lock for KEEP records.
        let mut taken: Vec<String> = std::iter::from_fn(|| producer.pop_record())
            .map(|r| r.agent.to_string())
            .collect();
        taken.sort();
        let expected: Vec<String> = (0..KEEP).map(|i| i.to_string()).collect();
        assert_eq!(taken, expected);
        assert_eq!(depot_len(depot), 0);
    }

    #[test]
    fn the_depot_keeps_a_bounded_number_of_records() {
        let depot = depot();
        let mut worker = pool(depot);
        for i in 0..DEPOT_KEEP * 3 {
            worker.push_record(unique(&i.to_string()));
        }
        assert_eq!(depot_len(depot), DEPOT_KEEP);
        assert!(worker.records.len() <= KEEP);
    }

    #[test]
    fn a_pool_that_goes_leaves_its_records_to_the_depot() {
        let depot = depot();
        let mut ending = pool(depot);
        ending.push_record(unique("a"));
        ending.push_record(unique("b"));
        drop(ending);
        assert_eq!(depot_len(depot), 2);
        let mut next = pool(depot);
        assert_eq!(
            next.pop_record().map(|r| r.agent.to_string()).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn recycled_records_come_back_on_this_thread() {
        // A fresh thread: its pool starts empty (the depot may hold other tests' records).
        std::thread::spawn(|| {
            let kept = record("mine");
            let at = std::ptr::from_ref::<RunRecord>(&kept);
            recycle(kept);
            let again = take_emptied().expect("the record just recycled");
            assert_eq!(std::ptr::from_ref::<RunRecord>(&again), at);
        })
        .join()
        .unwrap();
    }
}
