//! The global collector: where finished runs go, installed once like tracing's global default.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::counter::StripedCounter;
use super::{RunRecord, SharedRecord, Sink};

type Enricher = Box<dyn Fn(&mut RunRecord) + Send + Sync>;

/// Receives every finished run and hands it to its sinks.
///
/// Install one per process with [`Collector::install`]; until then, tracked fns run
/// untracked at the cost of one atomic load. Each sink is called on the thread that finished
/// the run, inside `catch_unwind`: a panicking sink is counted in [`Collector::sink_panics`]
/// and never reaches the agent.
///
/// ```
/// use std::sync::Arc;
/// use runmeta_core::run::{Collector, InMemorySink};
/// let memory = Arc::new(InMemorySink::new(10_000));
/// let collector = Collector::builder().release("v1.2.3").sink(memory.clone()).build();
/// # let _ = collector;
/// // collector.install().expect("first install");
/// ```
pub struct Collector {
    pub(crate) release: Option<Arc<str>>,
    sinks: Vec<Box<dyn Sink>>,
    /// Which sinks keep records (read once, at build): they get the `Arc`.
    keeps: Vec<bool>,
    enrichers: Vec<Enricher>,
    /// Some sink keeps records: hand records over behind an `Arc`.
    shared: bool,
    sink_panics: AtomicU64,
    runs: StripedCounter,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("release", &self.release)
            .field("sinks", &self.sinks.len())
            .field("enrichers", &self.enrichers.len())
            .field("runs", &self.runs.get())
            .field("sink_panics", &self.sink_panics.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds a [`Collector`].
#[derive(Default)]
pub struct CollectorBuilder {
    release: Option<Arc<str>>,
    sinks: Vec<Box<dyn Sink>>,
    enrichers: Vec<Enricher>,
}

impl CollectorBuilder {
    /// The release (version) of the agent code, recorded on every run.
    #[must_use]
    pub fn release(mut self, release: impl Into<Arc<str>>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Adds a sink.
    #[must_use]
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Adds a step that completes each record before the sinks see it (pricing fills costs
    /// this way: `.enrich(move |r| pricing.apply(r))`).
    #[must_use]
    pub fn enrich(mut self, f: impl Fn(&mut RunRecord) + Send + Sync + 'static) -> Self {
        self.enrichers.push(Box::new(f));
        self
    }

    /// The collector.
    #[must_use]
    pub fn build(self) -> Collector {
        Collector {
            release: self.release,
            keeps: self.sinks.iter().map(|s| s.keeps_records()).collect(),
            shared: self.sinks.iter().any(|s| s.keeps_records()),
            sinks: self.sinks,
            enrichers: self.enrichers,
            sink_panics: AtomicU64::new(0),
            runs: StripedCounter::default(),
        }
    }
}

/// [`Collector::install`] was called when a collector was already installed.
#[derive(Debug, thiserror::Error)]
#[error("a runmeta collector is already installed; install one per process, at startup")]
pub struct AlreadyInstalled;

static GLOBAL: OnceLock<Collector> = OnceLock::new();

/// The installed collector.
pub(crate) fn global() -> Option<&'static Collector> {
    GLOBAL.get()
}

impl Collector {
    /// A builder.
    #[must_use]
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// Installs this collector for the whole process.
    ///
    /// # Errors
    /// [`AlreadyInstalled`] if one is installed (the first stays).
    pub fn install(self) -> Result<&'static Collector, AlreadyInstalled> {
        super::clock::calibrate();
        let mut mine = Some(self);
        let installed =
            GLOBAL.get_or_init(|| mine.take().unwrap_or_else(|| Collector::builder().build()));
        if mine.is_some() {
            Err(AlreadyInstalled)
        } else {
            Ok(installed)
        }
    }

    /// The installed collector, if any.
    #[must_use]
    pub fn global() -> Option<&'static Collector> {
        global()
    }

    #[inline]
    pub(crate) fn enrich(&self, record: &mut RunRecord) {
        if self.enrichers.is_empty() {
            return;
        }
        self.enrich_each(record);
    }

    fn enrich_each(&self, record: &mut RunRecord) {
        for enrich in &self.enrichers {
            self.count_panic(catch_unwind(AssertUnwindSafe(|| enrich(record))));
        }
    }

    /// Hands a finished run to every sink: sinks that keep records share it, and the last
    /// sink, if it keeps records, takes the collector's own reference (no count to add here
    /// and drop again). A record no sink kept goes back to this thread's pool, for the next
    /// run to reuse instead of allocating its own.
    #[inline]
    pub(crate) fn deliver_shared(&self, record: SharedRecord) {
        if !self.shared {
            self.deliver(&record);
            super::pool::recycle(record);
            return;
        }
        // Some sink keeps records, so there is a last sink.
        let Some((last, others)) = self.sinks.split_last() else {
            return;
        };
        self.runs.add(1);
        for (sink, &keeps) in others.iter().zip(&self.keeps) {
            let delivered = if keeps {
                catch_unwind(AssertUnwindSafe(|| sink.record_shared(record.clone())))
            } else {
                catch_unwind(AssertUnwindSafe(|| sink.record(&record)))
            };
            self.count_panic(delivered);
        }
        if self.keeps.last() == Some(&true) {
            let delivered = catch_unwind(AssertUnwindSafe(move || last.record_shared(record)));
            self.count_panic(delivered);
        } else {
            let delivered = catch_unwind(AssertUnwindSafe(|| last.record(&record)));
            self.count_panic(delivered);
            // Reused only if the sinks that keep records let go of it already.
            super::pool::recycle(record);
        }
    }

    fn count_panic(&self, outcome: std::thread::Result<()>) {
        if outcome.is_err() {
            self.sink_panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands a record to every sink (runs tracked with `#[track_run]` arrive here by
    /// themselves; this is for records built by hand or imported).
    pub fn deliver(&self, record: &RunRecord) {
        self.runs.add(1);
        for sink in &self.sinks {
            self.count_panic(catch_unwind(AssertUnwindSafe(|| sink.record(record))));
        }
    }

    /// Flushes every sink.
    pub fn flush(&self) {
        for sink in &self.sinks {
            self.count_panic(catch_unwind(AssertUnwindSafe(|| sink.flush())));
        }
    }

    /// Runs delivered so far.
    #[must_use]
    pub fn runs(&self) -> u64 {
        self.runs.get()
    }

    /// Panics caught in sinks and enrichers so far.
    #[must_use]
    pub fn sink_panics(&self) -> u64 {
        self.sink_panics.load(Ordering::Relaxed)
    }
}

/// Flushes the installed collector's sinks, if one is installed.
///
/// The collector is a static, and statics are never dropped: nothing flushes by itself when
/// the process exits. Call this before `main` returns, or hold a [`FlushGuard`].
pub fn flush() {
    if let Some(c) = global() {
        c.flush();
    }
}

/// Flushes the installed collector's sinks when dropped, as `tracing-appender`'s
/// `WorkerGuard` does: runs still queued in a [`QueuedSink`](super::QueuedSink) or a store's
/// writer reach their sink before `main` returns. Bind it for the life of `main`
/// (`let _guard = ...`; `let _ = ...` drops it at once).
///
/// ```
/// use std::sync::Arc;
/// use runmeta_core::run::{flush_guard, Collector, InMemorySink, Overflow, QueuedSink};
/// let memory = Arc::new(InMemorySink::new(100));
/// Collector::builder()
///     .sink(QueuedSink::new(memory.clone(), 1024, Overflow::Block))
///     .build()
///     .install()
///     .unwrap();
/// let guard = flush_guard();
/// // ... tracked runs ...
/// drop(guard); // every run queued so far is now in `memory`
/// ```
#[must_use = "the guard flushes when it is dropped: bind it with `let _guard = flush_guard();`"]
#[derive(Debug, Default)]
pub struct FlushGuard(());

/// A [`FlushGuard`] for the installed collector (or for the one installed later).
pub fn flush_guard() -> FlushGuard {
    FlushGuard(())
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::InMemorySink;

    /// Counts what it receives; keeps nothing.
    #[derive(Default)]
    struct Counting(AtomicU64);

    impl Sink for Counting {
        fn record(&self, _run: &RunRecord) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Claims to keep records, then panics on each.
    struct PanicsKeeping;

    impl Sink for PanicsKeeping {
        fn record(&self, _run: &RunRecord) {
            panic!("a failing sink");
        }

        fn keeps_records(&self) -> bool {
            true
        }
    }

    fn run(agent: &'static str) -> SharedRecord {
        SharedRecord::new(RunRecord::new(agent, jiff::Timestamp::UNIX_EPOCH))
    }

    #[test]
    fn keeping_sinks_share_one_record_and_the_others_see_it() {
        let (first, last) = (
            Arc::new(InMemorySink::new(4)),
            Arc::new(InMemorySink::new(4)),
        );
        let counting = Arc::new(Counting::default());
        let collector = Collector::builder()
            .sink(Arc::clone(&first))
            .sink(Arc::clone(&counting))
            .sink(Arc::clone(&last))
            .build();
        collector.deliver_shared(run("a"));
        collector.deliver_shared(run("b"));
        let (kept_first, kept_last) = (first.shared_records(), last.shared_records());
        assert_eq!(kept_last.len(), 2);
        for (a, b) in kept_first.iter().zip(&kept_last) {
            assert!(SharedRecord::ptr_eq(a, b), "shared, not copied");
        }
        assert_eq!(kept_last[1].agent, "b");
        assert_eq!(counting.0.load(Ordering::Relaxed), 2);
        assert_eq!((collector.runs(), collector.sink_panics()), (2, 0));
    }

    #[test]
    fn a_panicking_keeping_sink_is_counted_wherever_it_stands() {
        for panicking_first in [true, false] {
            let memory = Arc::new(InMemorySink::new(4));
            let builder = Collector::builder();
            let collector = if panicking_first {
                builder.sink(PanicsKeeping).sink(Arc::clone(&memory))
            } else {
                builder.sink(Arc::clone(&memory)).sink(PanicsKeeping)
            }
            .build();
            collector.deliver_shared(run("a"));
            assert_eq!(memory.records().len(), 1, "first: {panicking_first}");
            assert_eq!(collector.sink_panics(), 1, "first: {panicking_first}");
        }
    }
}
