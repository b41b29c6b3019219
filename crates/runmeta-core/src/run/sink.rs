//! Where finished runs go.

use super::RunRecord;

/// Receives every finished run from the collector.
///
/// `record` is called on the thread that finished the run, so it must be quick and must not
/// block: a sink that does I/O queues the record for a background thread. A panic in a sink is caught and counted by the
/// collector; it never reaches the agent.
pub trait Sink: Send + Sync + 'static {
    /// Receives one finished run.
    fn record(&self, run: &RunRecord);

    /// Writes out whatever the sink buffers. Called by `Collector::flush` and at shutdown.
    fn flush(&self) {}
}

impl<S: Sink + ?Sized> Sink for std::sync::Arc<S> {
    fn record(&self, run: &RunRecord) {
        (**self).record(run);
    }
    fn flush(&self) {
        (**self).flush();
    }
}
