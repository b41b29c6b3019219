//! The run in progress: its state, the per-thread stack of active runs, and the functions
//! agent code calls inside a run.
//!
//! A run's state lives in the tracked call (the guard of a sync fn, the wrapper of a future).
//! It is pushed on this thread's stack while the run's code executes — for a future, around
//! each poll, the way `tracing::Instrument` enters its span — so it follows a task across
//! threads and never leaks into another task polled on the same thread. A run started while
//! another is on the stack is its child.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use super::clock::{self, Instant};
use super::collector;
use super::record::StartMetadata;
use super::{Outcome, PreparedMetadata, RunId, RunRecord, SharedRecord};
use crate::metrics::{MessageMetrics, Metrics, ToolCallMetrics, Usage};

/// What a tracked fn declares once: `#[track_run(agent = .., team = .., model = ..)]`.
#[derive(Debug)]
pub struct RunSpec {
    /// The agent's name.
    pub agent: &'static str,
    /// The team, if any.
    pub team: Option<&'static str>,
}

/// What a tracked call supplies each time: metadata, session, model.
#[derive(Debug, Default)]
pub struct RunArgs {
    /// The run's metadata.
    pub metadata: Option<PreparedMetadata>,
    /// The session id.
    pub session: Option<Arc<str>>,
    /// The model the run requests (`gen_ai.request.model`).
    pub model: Option<Cow<'static, str>>,
}

/// A run in progress.
///
/// The record is allocated once, behind the `Arc` the sinks will share, and never moves: the
/// run state that moves between the tracked call and this thread's stack around each poll is
/// two words, passed in registers. The run holds it as a `UniqueArc` until
/// [`ActiveRun::finish`] makes it shareable, so writing to it needs no check. While the run
/// is in progress, the record's `time_to_first_token` holds the earliest explicit mark
/// ([`first_token`]) and its `stop_reason` the reason set by [`set_stop_reason`], empty
/// until one is.
pub(crate) struct ActiveRun {
    record: triomphe::UniqueArc<RunRecord>,
    start: Instant,
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
}

impl ActiveRun {
    /// The record being built.
    fn record_mut(&mut self) -> &mut RunRecord {
        &mut self.record
    }
}

/// True when `a` and `b` are the same release: both none, or the same allocation.
fn same_release(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// A run's stop reason until [`set_stop_reason`] sets one.
const UNSET_STOP_REASON: &str = "";

thread_local! {
    static STACK: RefCell<Vec<ActiveRun>> = const { RefCell::new(Vec::new()) };
}

/// Ids of the run in progress on this thread; see [`current_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentRun {
    /// The run's id.
    pub run_id: RunId,
    /// Its parent's id, if it was started inside another run.
    pub parent_run_id: Option<RunId>,
    /// Its session id.
    pub session_id: Option<Arc<str>>,
    /// Its agent.
    pub agent: Cow<'static, str>,
}

impl ActiveRun {
    /// Starts a run now, or returns `None` when no collector is installed (then tracking
    /// costs a load and a branch).
    pub(crate) fn start(spec: &RunSpec, args: RunArgs) -> Option<ActiveRun> {
        ActiveRun::start_at(spec, args, Instant::now())
    }

    /// Starts a run at `start`, a reading just taken on this thread; `None` without a
    /// collector.
    pub(crate) fn start_at(spec: &RunSpec, args: RunArgs, start: Instant) -> Option<ActiveRun> {
        let collector = collector::global()?;
        // The wall-clock start (and the id's millisecond) come from the same monotonic read.
        let time = clock::unix_time_at(start);
        let run_id = RunId::at_unix(u64::try_from(time.second).unwrap_or(0), time.subsec);
        let RunArgs {
            metadata,
            session,
            model,
        } = args;
        let (mut record, metadata) = super::pool::take_record(metadata);
        // The starting fields written straight into the record, from where they are.
        record.clear_for_run();
        record.run_id = run_id;
        record.session_id = session;
        record.agent = Cow::Borrowed(spec.agent);
        record.team = spec.team.map(Cow::Borrowed);
        record.request_model = model;
        // A pooled record usually holds this release from its last run: then there is no
        // count to add and drop again (two atomic read-modify-writes).
        if !same_release(&record.release, &collector.release) {
            record.release.clone_from(&collector.release);
        }
        record.started_at = time.timestamp();
        record.stop_reason = Cow::Borrowed(UNSET_STOP_REASON);
        if let StartMetadata::Set(metadata) = metadata {
            record.metadata = metadata;
        }
        // A run started inside another is its child, in its session and team unless it has
        // its own.
        let _ = STACK.try_with(|stack| {
            if let Ok(stack) = stack.try_borrow() {
                if let Some(parent) = stack.last() {
                    record.parent_run_id = Some(parent.record.run_id);
                    if record.session_id.is_none() {
                        record.session_id.clone_from(&parent.record.session_id);
                    }
                    if record.team.is_none() {
                        record.team.clone_from(&parent.record.team);
                    }
                }
            }
        });
        #[cfg(feature = "tracing")]
        let span = super::spans::run_span(&record);
        Some(ActiveRun {
            record,
            start,
            #[cfg(feature = "tracing")]
            span,
        })
    }

    /// Pushes the run on this thread's stack while `f` runs, then takes it back. The run is
    /// taken back even if `f` panics.
    pub(crate) fn enter<R>(slot: &mut Option<ActiveRun>, f: impl FnOnce() -> R) -> R {
        struct Exit<'a>(&'a mut Option<ActiveRun>, usize);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                *self.0 = pop(self.1);
            }
        }
        let Some(run) = slot.as_ref() else {
            return f();
        };
        #[cfg(feature = "tracing")]
        let span = run.span.clone();
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        #[cfg(not(feature = "tracing"))]
        let _ = run;
        // If this thread's stack is gone (thread teardown), the run stays in `slot` and goes
        // on outside it.
        let Some(depth) = push(slot) else {
            return f();
        };
        let _exit = Exit(slot, depth);
        f()
    }

    /// Runs `f` inside a new run that stays on this thread's stack, unmoved, until `f`
    /// returns (or unwinds); returns `f`'s result and the run, to finish. A sync call's run
    /// is built in place and moved once, at the end: `start` + `enter` moves it five times.
    /// Without a collector `f` just runs, and the run is `None`.
    pub(crate) fn run_entered<R>(
        spec: &RunSpec,
        args: RunArgs,
        start: Instant,
        f: impl FnOnce() -> R,
    ) -> (R, Option<ActiveRun>) {
        struct Exit(usize);
        impl Drop for Exit {
            fn drop(&mut self) {
                // Unwinding: the run is dropped unrecorded only if `f` itself escaped the
                // caller's `catch_unwind`, which cannot happen for `run_sync`.
                drop(pop(self.0));
            }
        }
        let mut run = ActiveRun::start_at(spec, args, start);
        let Some(started) = &run else {
            return (f(), None);
        };
        #[cfg(feature = "tracing")]
        let span = started.span.clone();
        #[cfg(feature = "tracing")]
        let entered = span.enter();
        #[cfg(not(feature = "tracing"))]
        let _ = started;
        // If this thread's stack is gone (thread teardown), the run goes on outside it.
        let Some(depth) = push(&mut run) else {
            return (f(), run);
        };
        let exit = Exit(depth);
        let value = f();
        #[cfg(feature = "tracing")]
        drop(entered);
        std::mem::forget(exit);
        (value, pop(depth))
    }

    /// Ends the run and hands its record to the collector. If this run ran inside another on
    /// this thread, its totals are added to that parent's children totals.
    pub(crate) fn finish(mut self, outcome: Outcome) {
        let duration = self.start.elapsed();
        // Installed once, never removed: the run started because it was there.
        let Some(collector) = collector::global() else {
            return;
        };
        let record: &mut RunRecord = &mut self.record;
        record.duration = duration;
        record.status = outcome.status;
        record.error_class = outcome.error_class;
        if record.stop_reason.is_empty() {
            record.stop_reason = Cow::Borrowed(outcome.status.default_stop_reason());
        }
        let first_token = record.time_to_first_token.take();
        if !record.messages.is_empty() {
            record.recompute_totals();
        }
        record.metrics.duration = Some(duration);
        if let Some(explicit) = first_token {
            let earliest = record
                .time_to_first_token
                .map_or(explicit, |t| t.min(explicit));
            record.time_to_first_token = Some(earliest);
            record.metrics.time_to_first_token = Some(earliest);
        }
        collector.enrich(record);
        #[cfg(feature = "tracing")]
        super::spans::close_run_span(&self.span, record);
        if let Some(parent_run_id) = record.parent_run_id {
            let (usage, cost) = (record.total_usage(), record.total_cost());
            with_current(|parent| {
                if parent.record.run_id == parent_run_id {
                    let parent = parent.record_mut();
                    parent.children_usage += usage;
                    parent.children_cost += cost;
                    parent.child_runs = parent.child_runs.saturating_add(1);
                }
            });
        }
        collector.deliver_shared(SharedRecord(self.record.shareable()));
    }
}

// This thread's stack is reached with `try_with`, not `with`, on the hot path: std marks
// `LocalKey::try_with` `#[inline]`, so each codegen unit gets its own copy to inline, while
// `with` is instantiated in one codegen unit, and from the others it is an out-of-line call
// that goes through the key's accessor pointer (+≈ 40 instructions per tracked call, see
// BENCHMARKS.md). It also never panics: a tracked call made from a thread-local's destructor,
// once this thread's stack is gone, still runs and is recorded, outside the stack.

/// Moves the run in `run` onto this thread's stack and returns the depth to [`pop`] it at;
/// `None`, leaving `run` as it was, if the stack is gone.
fn push(run: &mut Option<ActiveRun>) -> Option<usize> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(run) = run.take() {
                stack.push(run);
            }
            stack.len()
        })
        .ok()
}

/// Takes back the run [`push`] left at `depth`.
fn pop(depth: usize) -> Option<ActiveRun> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.borrow_mut();
            // Runs entered inside this one have been popped by their own guards; anything
            // above `depth` here would be a bug, so it is dropped rather than leaked.
            stack.truncate(depth);
            if stack.len() == depth {
                stack.pop()
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Calls `f` with the innermost run in progress on this thread; `None` outside a run.
fn with_current<R>(f: impl FnOnce(&mut ActiveRun) -> R) -> Option<R> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            stack.last_mut().map(f)
        })
        .ok()
        .flatten()
}

/// The ids of the run in progress, or `None` outside a tracked run.
///
/// ```
/// assert!(runmeta_core::run::current_run().is_none());
/// ```
#[must_use]
pub fn current_run() -> Option<CurrentRun> {
    with_current(|run| CurrentRun {
        run_id: run.record.run_id,
        parent_run_id: run.record.parent_run_id,
        session_id: run.record.session_id.clone(),
        agent: run.record.agent.clone(),
    })
}

/// Records one model call's metrics in the current run. Outside a run it does nothing.
pub fn record_message(message: MessageMetrics) {
    with_current(|run| run.record_mut().messages.push(message));
}

/// Records token usage of a model call in the current run (no timing, no model). Outside a
/// run it does nothing.
///
/// ```
/// use runmeta_core::metrics::Usage;
/// runmeta_core::run::record_usage(Usage::new(10, 5)); // no run: a no-op
/// ```
pub fn record_usage(usage: impl Into<Usage>) {
    let usage = usage.into();
    with_current(|run| {
        run.record_mut().messages.push(MessageMetrics {
            metrics: Metrics::from_usage(usage),
            ..MessageMetrics::default()
        });
    });
}

/// Marks the first token of the run now (the run's time to first token is the earliest mark
/// or message). Outside a run it does nothing.
pub fn first_token() {
    with_current(|run| {
        let now = run.start.elapsed();
        let mark = &mut run.record.time_to_first_token;
        *mark = Some(mark.map_or(now, |t| t.min(now)));
    });
}

/// Sets why the current run stopped (`max_turns`, `handoff`, `content_filter`, ...); the
/// defaults are `completed`, `error`, `panicked` and `cancelled`, and an empty reason keeps
/// the default. Outside a run it does nothing.
pub fn set_stop_reason(reason: impl Into<Cow<'static, str>>) {
    let reason = reason.into();
    with_current(|run| run.record.stop_reason = reason);
}

/// Adds a value to the current run's `additional_metrics` (numbers sum, other values keep the
/// latest). Outside a run it does nothing.
pub fn add_metric(key: &str, value: impl Into<serde_json::Value>) {
    let value = value.into();
    with_current(|run| {
        let mut one = serde_json::Map::new();
        one.insert(key.to_owned(), value);
        crate::metrics::merge_json_maps(&mut run.record_mut().metrics.additional_metrics, &one);
    });
}

/// Records a finished tool call in the current run.
pub(crate) fn record_tool(call: ToolCallMetrics) {
    with_current(|run| run.record_mut().tool_calls.push(call));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_release_is_the_same_allocation() {
        let v1: Arc<str> = Arc::from("v1");
        assert!(same_release(&None, &None));
        assert!(same_release(&Some(Arc::clone(&v1)), &Some(Arc::clone(&v1))));
        assert!(
            !same_release(&Some(Arc::clone(&v1)), &Some(Arc::from("v1"))),
            "an equal text elsewhere is copied: the record then shares the collector's"
        );
        assert!(!same_release(&Some(Arc::clone(&v1)), &None));
        assert!(!same_release(&None, &Some(v1)));
    }
}
