//! The global collector: where finished runs go, installed once like tracing's global default.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::counter::StripedCounter;
use super::{RunRecord, Sink};

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
            if catch_unwind(AssertUnwindSafe(|| enrich(record))).is_err() {
                self.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Hands a finished run to every sink: sinks that keep records share the `Arc`.
    pub(crate) fn deliver_shared(&self, record: Arc<RunRecord>) {
        if !self.shared {
            self.deliver(&record);
            return;
        }
        self.runs.add(1);
        for (sink, &keeps) in self.sinks.iter().zip(&self.keeps) {
            let delivered = if keeps {
                catch_unwind(AssertUnwindSafe(|| sink.record_shared(&record)))
            } else {
                catch_unwind(AssertUnwindSafe(|| sink.record(&record)))
            };
            if delivered.is_err() {
                self.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Hands a record to every sink (runs tracked with `#[track_run]` arrive here by
    /// themselves; this is for records built by hand or imported).
    pub fn deliver(&self, record: &RunRecord) {
        self.runs.add(1);
        for sink in &self.sinks {
            if catch_unwind(AssertUnwindSafe(|| sink.record(record))).is_err() {
                self.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Flushes every sink.
    pub fn flush(&self) {
        for sink in &self.sinks {
            if catch_unwind(AssertUnwindSafe(|| sink.flush())).is_err() {
                self.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
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
pub fn flush() {
    if let Some(c) = global() {
        c.flush();
    }
}
