//! Records a sink let go of, kept per thread for the next run to reuse.
//!
//! A finished record whose last reference is dropped by a sink (the in-memory sink evicting
//! its oldest run, a sink that only counts) goes back to a small per-thread pool instead of
//! the allocator; the next run started on that thread takes it, resets every field in place
//! and keeps the capacity of its `Vec`s. Its metadata value, when no one else holds it, is
//! reused the same way by the next run's metadata of the same type. This is what
//! `tracing-subscriber`'s registry does with its span slots: the steady state of a tracked
//! call allocates nothing for the record.
//!
//! The pool holds at most [`KEEP`] records per thread, and only records whose collections are
//! small, so what it keeps is bounded (a few KiB per thread).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use jiff::Timestamp;

use super::{RunId, RunRecord};
use crate::schema::{DynMetadata, RunMetadata};

/// Records kept per thread.
const KEEP: usize = 4;
/// A record whose `Vec`s grew past this many elements is freed, not kept.
const MAX_KEPT_CAPACITY: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Arc<RunRecord>>> = const { RefCell::new(Vec::new()) };
}

/// A record for a run starting now, as [`RunRecord::with_id`] builds it then `fill` completes
/// it: a pooled one reset in place when this thread has one, else a new allocation.
pub(crate) fn fresh_record(
    run_id: RunId,
    agent: Cow<'static, str>,
    started_at: Timestamp,
    fill: impl FnOnce(&mut RunRecord),
) -> Arc<RunRecord> {
    if let Some(mut pooled) = take() {
        if let Some(record) = Arc::get_mut(&mut pooled) {
            record.reset(run_id, agent, started_at);
            fill(record);
            return pooled;
        }
    }
    let mut record = RunRecord::with_id(run_id, agent, started_at);
    fill(&mut record);
    Arc::new(record)
}

/// Takes a record to reuse (reset it before use).
fn take() -> Option<Arc<RunRecord>> {
    SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
}

/// `value` cloned behind an `Arc`: into the metadata allocation of the record the next run on
/// this thread will reuse when it holds the same type and no one else holds it, else into a
/// new one.
pub(crate) fn reuse_metadata<M>(value: &M) -> Arc<dyn DynMetadata>
where
    M: RunMetadata + DynMetadata + Clone,
{
    if let Some(mut spare) = take_metadata() {
        let same_type = Arc::get_mut(&mut spare).and_then(|spare| {
            let spare: &mut dyn std::any::Any = spare;
            spare.downcast_mut::<M>()
        });
        if let Some(slot) = same_type {
            // Field by field, so the value's strings keep their buffers; a derived `Clone`'s
            // `clone_from` would allocate them anew.
            if !slot.__assign_from(value) {
                slot.clone_from(value);
            }
            return spare;
        }
    }
    Arc::new(value.clone())
}

/// Takes the metadata value out of the record the next run will reuse.
fn take_metadata() -> Option<Arc<dyn DynMetadata>> {
    SPARE
        .try_with(|spare| {
            let mut spare = spare.try_borrow_mut().ok()?;
            // Whether anyone else holds the value is `reuse_metadata`'s check, made once.
            let record = Arc::get_mut(spare.last_mut()?)?;
            record.metadata.take().map(|m| m.value)
        })
        .ok()
        .flatten()
}

/// Gives back a record a sink is done with. It is kept for reuse if this was its last
/// reference, its collections are small and this thread's pool has room; otherwise it is
/// dropped as usual.
pub(crate) fn recycle(mut record: Arc<RunRecord>) {
    let Some(unique) = Arc::get_mut(&mut record) else {
        return;
    };
    if unique.messages.capacity() > MAX_KEPT_CAPACITY
        || unique.tool_calls.capacity() > MAX_KEPT_CAPACITY
        || unique.per_model.capacity() > MAX_KEPT_CAPACITY
    {
        return;
    }
    // Outside a thread's lifetime (TLS destroyed) or re-entered from a drop: just drop.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEEP {
                spare.push(record);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Arc<RunRecord> {
        Arc::new(RunRecord::new(
            Cow::Borrowed("a"),
            jiff::Timestamp::UNIX_EPOCH,
        ))
    }

    #[test]
    fn keeps_only_unique_records_up_to_its_bound() {
        while take().is_some() {}
        let shared = record();
        let other = Arc::clone(&shared);
        recycle(shared);
        assert!(take().is_none(), "a record still referenced is not kept");
        drop(other);
        for _ in 0..KEEP + 3 {
            recycle(record());
        }
        let mut kept = 0;
        while take().is_some() {
            kept += 1;
        }
        assert_eq!(kept, KEEP);
    }

    #[test]
    fn large_records_are_freed() {
        while take().is_some() {}
        let mut big = record();
        Arc::get_mut(&mut big)
            .expect("unique")
            .tool_calls
            .reserve(MAX_KEPT_CAPACITY + 1);
        recycle(big);
        assert!(take().is_none());
    }
}
