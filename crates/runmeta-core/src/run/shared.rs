//! A finished run's record as the sinks that keep it share it.
//!
//! The record is [`triomphe`]'s `Arc` rather than `std`'s. It has no weak count, and the run
//! in progress holds it as a `UniqueArc` (unique by type, so the run writes to it without any
//! check) that becomes shareable, for free, when the run ends. Telling that a kept record has
//! been let go of by everyone else, when the in-memory sink evicts it and it can go back to
//! the thread's pool, is one load. With `std::sync::Arc` each of those three steps was an
//! atomic read-modify-write (`get_mut` and `make_mut` lock the weak count), about 6 ns each
//! on the machine measured in BENCHMARKS.md.

use std::ops::Deref;

use super::RunRecord;

/// A finished run's record, shared by the sinks that keep it: cloning it adds a reference,
/// it never copies the record. It dereferences to the [`RunRecord`].
///
/// ```
/// use runmeta_core::run::{RunRecord, SharedRecord};
/// let shared = SharedRecord::new(RunRecord::new("support", jiff::Timestamp::UNIX_EPOCH));
/// let kept = shared.clone();
/// assert_eq!(kept.agent, "support");
/// let record: RunRecord = SharedRecord::unwrap_or_clone(shared);
/// assert_eq!(record.agent, kept.agent);
/// ```
#[derive(Clone, Debug)]
pub struct SharedRecord(pub(crate) triomphe::Arc<RunRecord>);

impl SharedRecord {
    /// Shares `record`.
    #[must_use]
    pub fn new(record: RunRecord) -> Self {
        SharedRecord(triomphe::Arc::new(record))
    }

    /// The record: moved out if this was its last reference, else cloned.
    #[must_use]
    pub fn unwrap_or_clone(this: Self) -> RunRecord {
        triomphe::Arc::try_unwrap(this.0).unwrap_or_else(|shared| RunRecord::clone(&shared))
    }

    /// True when both point to the same record.
    #[must_use]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        triomphe::Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for SharedRecord {
    type Target = RunRecord;

    fn deref(&self) -> &RunRecord {
        &self.0
    }
}

impl AsRef<RunRecord> for SharedRecord {
    fn as_ref(&self) -> &RunRecord {
        &self.0
    }
}

impl From<RunRecord> for SharedRecord {
    fn from(record: RunRecord) -> Self {
        SharedRecord::new(record)
    }
}
