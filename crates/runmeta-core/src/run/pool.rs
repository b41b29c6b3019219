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

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use triomphe::UniqueArc;

use super::record::{RecordStart, StartMetadata};
use super::{MetadataRecord, MetadataValue, RunRecord, SharedRecord};
use crate::schema::{DynMetadata, RunMetadata};

/// Records (and values) kept per thread.
const KEEP: usize = 4;
/// A record whose `Vec`s grew past this many elements is freed, not kept.
const MAX_KEPT_CAPACITY: usize = 64;

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            records: Vec::new(),
            values: Vec::new(),
        })
    };
}

/// What a thread keeps for its next runs.
struct Pool {
    /// Finished records, each with the metadata value its run had.
    records: Vec<UniqueArc<RunRecord>>,
    /// Metadata values taken out of records reused by runs that could not use them.
    values: Vec<MetadataValue>,
}

impl Pool {
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
        let mut record = pool.records.pop()?;
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
        let mut record = pool.records.pop()?;
        if record.metadata.is_some() {
            pool.keep_metadata_of(&mut record);
        }
        Some(record)
    })
    .flatten()
}

/// Gives back a record a sink is done with. It is kept for reuse if this was its last
/// reference, its collections are small and this thread's pool has room; otherwise it is
/// dropped as usual.
pub(crate) fn recycle(record: SharedRecord) {
    // One load (no weak count to lock): `triomphe`'s uniqueness check.
    let Ok(unique) = triomphe::Arc::try_unique(record.0) else {
        return;
    };
    if unique.messages.capacity() > MAX_KEPT_CAPACITY
        || unique.tool_calls.capacity() > MAX_KEPT_CAPACITY
        || unique.per_model.capacity() > MAX_KEPT_CAPACITY
    {
        return;
    }
    // Its metadata stays: the next run's metadata of the same type takes its place.
    // Outside a thread's lifetime (TLS destroyed) or re-entered from a drop: just drop.
    with_pool(|pool| {
        if pool.records.len() < KEEP {
            pool.records.push(unique);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn record() -> SharedRecord {
        SharedRecord::new(RunRecord::new(
            Cow::Borrowed("a"),
            jiff::Timestamp::UNIX_EPOCH,
        ))
    }

    #[test]
    fn keeps_only_unique_records_up_to_its_bound() {
        while take_emptied().is_some() {}
        let shared = record();
        let other = shared.clone();
        recycle(shared);
        assert!(
            take_emptied().is_none(),
            "a record still referenced is not kept"
        );
        drop(other);
        for _ in 0..KEEP + 3 {
            recycle(record());
        }
        let mut kept = 0;
        while take_emptied().is_some() {
            kept += 1;
        }
        assert_eq!(kept, KEEP);
    }

    #[test]
    fn large_records_are_freed() {
        while take_emptied().is_some() {}
        let mut big = RunRecord::new(Cow::Borrowed("a"), jiff::Timestamp::UNIX_EPOCH);
        big.tool_calls.reserve(MAX_KEPT_CAPACITY + 1);
        recycle(SharedRecord::new(big));
        assert!(take_emptied().is_none());
    }
}
