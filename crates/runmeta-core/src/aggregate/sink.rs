//! The aggregator as a collector sink.

use std::cell::RefCell;
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
    /// Runs recorded from inside a [`AggregatorSink::with_aggregator`] or
    /// [`AggregatorSink::with_windows_ref`] closure, on the thread that holds the lock: they
    /// are recorded once the closure returns.
    deferred: Mutex<Vec<RunRecord>>,
}

thread_local! {
    /// The sinks whose lock this thread holds while a caller's closure runs.
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks this thread as running a caller's closure under `sink`'s lock. Declared before the
/// lock's guard, so that it is dropped after it: then the runs deferred meanwhile are
/// recorded, the lock released, even if the closure panicked.
struct Inside<'a>(&'a AggregatorSink);

impl<'a> Inside<'a> {
    fn enter(sink: &'a AggregatorSink) -> Self {
        let _ = INSIDE.try_with(|inside| {
            if let Ok(mut inside) = inside.try_borrow_mut() {
                inside.push(sink.id());
            }
        });
        Inside(sink)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        let id = self.0.id();
        let _ = INSIDE.try_with(|inside| {
            if let Ok(mut inside) = inside.try_borrow_mut() {
                if let Some(at) = inside.iter().rposition(|&held| held == id) {
                    inside.remove(at);
                }
            }
        });
        let runs = std::mem::take(&mut *lock(&self.0.deferred));
        for run in &runs {
            self.0.record(run);
        }
    }
}

/// Locks `mutex`. A panic while holding the lock cannot leave the counters torn in a way that
/// matters more than losing all of them; keep going.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
            deferred: Mutex::new(Vec::new()),
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
        lock(&self.inner)
    }

    /// This sink's identity, for [`INSIDE`].
    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// True when this thread runs a caller's closure under this sink's lock.
    fn inside(&self) -> bool {
        let id = self.id();
        INSIDE
            .try_with(|inside| inside.try_borrow().is_ok_and(|held| held.contains(&id)))
            .unwrap_or(false)
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

    /// Runs `f` on the all-time aggregator, under the lock: keep it short. Runs that finish
    /// inside `f` on this thread (a tracked fn it calls) are recorded when it returns; runs of
    /// other threads wait for the lock.
    pub fn with_aggregator<R>(&self, f: impl FnOnce(&Aggregator) -> R) -> R {
        let _inside = Inside::enter(self);
        let inner = self.lock();
        f(&inner.total)
    }

    /// Runs `f` on the windows, if kept, under the lock: keep it short (runs that finish
    /// inside it are recorded as with [`AggregatorSink::with_aggregator`]).
    pub fn with_windows_ref<R>(&self, f: impl FnOnce(&WindowedAggregator) -> R) -> Option<R> {
        let _inside = Inside::enter(self);
        let inner = self.lock();
        inner.windows.as_ref().map(f)
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
        if self.inside() {
            // Locking again on this thread would deadlock.
            lock(&self.deferred).push(run.clone());
            return;
        }
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

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::mpsc;

    use super::*;
    use crate::aggregate::GroupBy;

    fn sink() -> Arc<AggregatorSink> {
        let config = AggregatorConfig::new(GroupBy::parse("agent").expect("group by"));
        Arc::new(AggregatorSink::new(config).with_windows(WindowConfig::default()))
    }

    fn run() -> RunRecord {
        RunRecord::new("inner", Timestamp::UNIX_EPOCH)
    }

    /// Runs `f` on a thread of its own and waits for it at most 10 s: a deadlock fails.
    fn within_10_s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("finished (a run recorded under the sink's own lock deadlocked)")
    }

    #[test]
    fn a_run_that_finishes_inside_a_closure_is_recorded_after_it() {
        let sink = sink();
        let s = Arc::clone(&sink);
        let (seen, windows) = within_10_s(move || {
            let seen = s.with_aggregator(|agg| {
                s.record(&run());
                agg.report().rows.len()
            });
            let windows = s.with_windows_ref(|w| {
                s.record(&run());
                w.windows().count()
            });
            (seen, windows)
        });
        assert_eq!(seen, 0, "the closure sees the aggregates as they were");
        assert_eq!(
            windows,
            Some(1),
            "the first run was recorded when its closure returned"
        );
        assert_eq!(sink.report().rows[0].run_count, 2);
        assert!(!sink.inside());
    }

    #[test]
    fn a_run_deferred_by_a_closure_that_panics_is_still_recorded() {
        let sink = sink();
        let s = Arc::clone(&sink);
        let panicked = within_10_s(move || {
            catch_unwind(AssertUnwindSafe(|| {
                s.with_aggregator(|_| {
                    s.record(&run());
                    panic!("reader boom");
                })
            }))
            .is_err()
        });
        assert!(panicked);
        assert_eq!(sink.report().rows[0].run_count, 1);
    }

    #[test]
    fn another_threads_runs_wait_for_the_lock() {
        let sink = sink();
        let s = Arc::clone(&sink);
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            s.with_aggregator(|agg| {
                entered_tx.send(()).expect("send");
                release_rx.recv().expect("release");
                agg.report().rows.len()
            })
        });
        entered_rx.recv().expect("entered");
        let s = Arc::clone(&sink);
        let writer = std::thread::spawn(move || s.record(&run()));
        release_tx.send(()).expect("send");
        assert_eq!(reader.join().expect("reader"), 0);
        writer.join().expect("writer");
        assert_eq!(sink.report().rows[0].run_count, 1);
    }
}
