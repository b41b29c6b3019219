//! The aggregator as a collector sink.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;

use super::{
    AggregateSnapshot, Aggregator, AggregatorConfig, Report, WindowConfig, WindowedAggregator,
};
use crate::alert::AlertEngine;
use crate::run::{RunRecord, Sink};

struct Inner {
    total: Aggregator,
    windows: Option<WindowedAggregator>,
    last_evaluated: Option<i64>,
}

/// A [`Sink`] that aggregates every finished run: all-time per group, optionally per time
/// window, and optionally through alert rules. Share it with `Arc`: the collector holds one
/// clone, the dashboard code another.
///
/// Recording takes one short lock (no allocation once a run's group exists). Alerts are
/// delivered after the lock is released. A window's rules are evaluated when the first run
/// of a later window arrives, or by [`AggregatorSink::tick`] when traffic stops.
///
/// ```
/// use std::sync::Arc;
/// use runmeta_core::aggregate::{AggregatorConfig, AggregatorSink, GroupBy};
/// use runmeta_core::run::{RunRecord, Sink};
///
/// let sink = Arc::new(AggregatorSink::new(AggregatorConfig::new(GroupBy::parse("agent").unwrap())));
/// let as_sink: Arc<dyn Sink> = sink.clone();
/// as_sink.record(&RunRecord::new("support", jiff::Timestamp::UNIX_EPOCH));
/// assert_eq!(sink.report().rows[0].run_count, 1);
/// ```
pub struct AggregatorSink {
    inner: Mutex<Inner>,
    alerts: Option<Arc<AlertEngine>>,
}

impl std::fmt::Debug for AggregatorSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregatorSink")
            .field("alerts", &self.alerts)
            .finish_non_exhaustive()
    }
}

impl AggregatorSink {
    /// A sink keeping all-time aggregates.
    #[must_use]
    pub fn new(config: AggregatorConfig) -> Self {
        AggregatorSink {
            inner: Mutex::new(Inner {
                total: Aggregator::with_config(config),
                windows: None,
                last_evaluated: None,
            }),
            alerts: None,
        }
    }

    /// Also keeps time windows.
    #[must_use]
    pub fn with_windows(self, windows: WindowConfig) -> Self {
        {
            let mut inner = self.lock();
            let config = inner.total.config().clone();
            inner.windows = Some(WindowedAggregator::new(config, windows));
        }
        self
    }

    /// Also evaluates alert rules: run rules on every run, window rules on every closed
    /// window (needs [`AggregatorSink::with_windows`]).
    #[must_use]
    pub fn with_alerts(mut self, engine: impl Into<Arc<AlertEngine>>) -> Self {
        self.alerts = Some(engine.into());
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the counters torn in a way that
        // matters more than losing all of them; keep going.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The alert engine, if any.
    #[must_use]
    pub fn alerts(&self) -> Option<&AlertEngine> {
        self.alerts.as_deref()
    }

    /// The all-time report.
    #[must_use]
    pub fn report(&self) -> Report {
        self.lock().total.report()
    }

    /// The report of the last `span` up to `now` with trends against `ago` earlier; `None`
    /// without windows.
    #[must_use]
    pub fn trend(&self, now: Timestamp, span: Duration, ago: Duration) -> Option<Report> {
        self.lock()
            .windows
            .as_ref()
            .map(|w| w.trend(now, span, ago))
    }

    /// A snapshot of the all-time aggregates.
    #[must_use]
    pub fn snapshot(&self) -> AggregateSnapshot {
        self.lock().total.snapshot()
    }

    /// Runs `f` on the all-time aggregator (under the lock: keep it short).
    pub fn with_aggregator<R>(&self, f: impl FnOnce(&Aggregator) -> R) -> R {
        f(&self.lock().total)
    }

    /// Runs `f` on the windows, if kept (under the lock: keep it short).
    pub fn with_windows_ref<R>(&self, f: impl FnOnce(&WindowedAggregator) -> R) -> Option<R> {
        self.lock().windows.as_ref().map(f)
    }

    /// Returns the all-time aggregator and starts a new, empty one (windows are kept).
    #[must_use]
    pub fn take(&self) -> Aggregator {
        let mut inner = self.lock();
        let fresh = Aggregator::with_config(inner.total.config().clone());
        std::mem::replace(&mut inner.total, fresh)
    }

    /// Evaluates the window rules on the newest window if it ended before `now` and was not
    /// evaluated yet (call it periodically when runs may stop arriving).
    pub fn tick(&self, now: Timestamp) {
        let Some(engine) = &self.alerts else { return };
        let job = {
            let mut inner = self.lock();
            let Some(w) = inner.windows.as_ref() else {
                return;
            };
            match w.newest_index() {
                Some(n) if n < w.window_index(now) && inner.last_evaluated < Some(n) => {
                    let job = closed_window_job(w, n);
                    inner.last_evaluated = Some(n);
                    job
                }
                _ => None,
            }
        };
        if let Some((span, cur, prev)) = job {
            engine.evaluate_window(&cur, prev.as_ref(), Some(span));
        }
    }
}

type Job = (super::WindowSpan, Aggregator, Option<Aggregator>);

fn closed_window_job(w: &WindowedAggregator, index: i64) -> Option<Job> {
    let cur = w.window(index)?.clone();
    let prev = w.window(index.saturating_sub(1)).cloned();
    Some((w.span_of(index), cur, prev))
}

impl Sink for AggregatorSink {
    fn record(&self, run: &RunRecord) {
        let job = {
            let mut inner = self.lock();
            inner.total.record(run);
            let closed = inner.windows.as_mut().and_then(|w| w.record(run));
            match (closed, &self.alerts, inner.windows.as_ref()) {
                (Some(n), Some(_), Some(w)) if inner.last_evaluated < Some(n) => {
                    let job = closed_window_job(w, n);
                    inner.last_evaluated = Some(n);
                    job
                }
                _ => None,
            }
        };
        if let Some(engine) = &self.alerts {
            engine.observe_run(run);
            if let Some((span, cur, prev)) = job {
                engine.evaluate_window(&cur, prev.as_ref(), Some(span));
            }
        }
    }
}
