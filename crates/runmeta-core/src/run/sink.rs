//! Where finished runs go.

use super::{RunRecord, SharedRecord};

/// Receives every finished run from the collector.
///
/// `record` is called on the thread that finished the run, so it must be quick and must not
/// block: a sink that does I/O queues the record for a background thread. A panic in a sink is caught and counted by the
/// collector; it never reaches the agent.
pub trait Sink: Send + Sync + 'static {
    /// Receives one finished run.
    fn record(&self, run: &RunRecord);

    /// Receives one finished run that the sink may keep without copying it. Called instead of
    /// [`Sink::record`] when [`Sink::keeps_records`] is true. The last such sink gets the
    /// collector's own reference, the others a clone of it.
    fn record_shared(&self, run: SharedRecord) {
        self.record(&run);
    }

    /// True for a sink that keeps records (the collector then hands it a [`SharedRecord`]
    /// rather than a reference it would have to clone). Read once, when the collector is
    /// built.
    fn keeps_records(&self) -> bool {
        false
    }

    /// Writes out whatever the sink buffers. Called by `Collector::flush`, `runmeta::flush()`
    /// and a dropped `FlushGuard`; not at process exit by itself (the collector is a static,
    /// never dropped).
    fn flush(&self) {}
}

impl<S: Sink + ?Sized> Sink for std::sync::Arc<S> {
    fn record(&self, run: &RunRecord) {
        (**self).record(run);
    }
    fn record_shared(&self, run: SharedRecord) {
        (**self).record_shared(run);
    }
    fn keeps_records(&self) -> bool {
        (**self).keeps_records()
    }
    fn flush(&self) {
        (**self).flush();
    }
}
