//! What `#[track_run]` expands to: a sync call run inside a run, and a future wrapped so that
//! its run is entered around each poll.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::active::{ActiveRun, RunArgs, RunSpec};
use super::clock::Instant;
use super::{Outcome, RunStatus};

/// True when a collector is installed: the macro builds the run's arguments (metadata,
/// session) only then.
#[must_use]
#[inline]
pub fn enabled() -> bool {
    super::collector::global().is_some()
}

fn panicked() -> Outcome {
    Outcome {
        status: RunStatus::Panicked,
        error_class: Some("panic".into()),
    }
}

/// When a sync tracked call began: the clock reading its run starts at, taken by the code
/// `#[track_run]` expands to before it prepares the run's arguments, so that reading the
/// clock overlaps preparing them (3 ns of a 77 ns call, see BENCHMARKS.md).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Began(Instant);

/// Reads the clock for [`run_sync_began`] when a collector is installed; `None` otherwise.
#[doc(hidden)]
#[must_use]
#[inline]
pub fn begin() -> Option<Began> {
    enabled().then(|| Began(Instant::now()))
}

/// Runs `f` as a tracked run. `classify` turns the return value into an outcome; a panic is
/// recorded as `panicked`, then resumed. With `args == None` (no collector) `f` just runs.
pub fn run_sync<R>(
    spec: &RunSpec,
    args: Option<RunArgs>,
    classify: impl FnOnce(&R) -> Outcome,
    f: impl FnOnce() -> R,
) -> R {
    let began = args.as_ref().map(|_| Began(Instant::now()));
    run_sync_began(spec, began, args, classify, f)
}

/// [`run_sync`] for a run that began at `began` (see [`begin`]); `f` just runs when either
/// is `None`.
///
/// Always inlined into the one call `#[track_run]` makes of each instance (no code is
/// duplicated): called, it copied the run's arguments the caller had just written, and the
/// copy's 16-byte loads of 8-byte stores could not be forwarded, a stall of 7–9 ns of a
/// 75 ns call (see BENCHMARKS.md).
#[doc(hidden)]
#[inline(always)]
pub fn run_sync_began<R>(
    spec: &RunSpec,
    began: Option<Began>,
    args: Option<RunArgs>,
    classify: impl FnOnce(&R) -> Outcome,
    f: impl FnOnce() -> R,
) -> R {
    let (Some(Began(start)), Some(args)) = (began, args) else {
        return f();
    };
    let (result, slot) =
        ActiveRun::run_entered(spec, args, start, || catch_unwind(AssertUnwindSafe(f)));
    match result {
        Ok(value) => {
            if let Some(run) = slot {
                // `classify` calls user code (`ErrorClass::error_class`): its panic is the
                // run's, recorded before it is resumed.
                match catch_unwind(AssertUnwindSafe(|| classify(&value))) {
                    Ok(outcome) => run.finish(outcome),
                    Err(panic) => {
                        run.finish(panicked());
                        resume_unwind(panic)
                    }
                }
            }
            value
        }
        Err(panic) => {
            if let Some(run) = slot {
                run.finish(panicked());
            }
            resume_unwind(panic)
        }
    }
}

enum State {
    /// Not polled yet: the run starts at the first poll.
    Waiting(&'static RunSpec, Option<RunArgs>),
    /// Polled at least once; `None` when untracked (no collector).
    Running(Option<ActiveRun>),
    /// Finished and recorded.
    Done,
}

pin_project_lite::pin_project! {
    /// A future measured as a run: started at its first poll, entered around each poll,
    /// recorded when it completes, panics (then the panic is resumed) or is dropped before
    /// completion (`cancelled`).
    pub struct Tracked<F, C> {
        #[pin]
        inner: F,
        state: State,
        classify: Option<C>,
    }

    impl<F, C> PinnedDrop for Tracked<F, C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let state = std::mem::replace(this.state, State::Done);
            let outcome = if std::thread::panicking() { panicked() } else { Outcome { status: RunStatus::Cancelled, error_class: None } };
            match state {
                State::Running(Some(run)) => run.finish(outcome),
                State::Waiting(spec, Some(args)) => {
                    // Dropped before its first poll: it never ran, but it was asked for.
                    if let Some(run) = ActiveRun::start(spec, args) {
                        run.finish(outcome);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<F, C> Tracked<F, C>
where
    F: Future,
    C: FnOnce(&F::Output) -> Outcome,
{
    /// Wraps `inner`. With `args == None` (no collector) it is polled as is.
    pub fn new(spec: &'static RunSpec, args: Option<RunArgs>, classify: C, inner: F) -> Self {
        let state = if args.is_some() {
            State::Waiting(spec, args)
        } else {
            State::Running(None)
        };
        Tracked {
            inner,
            state,
            classify: Some(classify),
        }
    }
}

impl<F, C> Future for Tracked<F, C>
where
    F: Future,
    C: FnOnce(&F::Output) -> Outcome,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let State::Waiting(spec, args) = this.state {
            let run = args.take().and_then(|args| ActiveRun::start(spec, args));
            *this.state = State::Running(run);
        }
        let State::Running(slot) = this.state else {
            // Polled after completion: the inner future decides what that means.
            return this.inner.poll(cx);
        };
        if slot.is_none() {
            return this.inner.poll(cx);
        }
        let inner = this.inner;
        let result = ActiveRun::enter(slot, || catch_unwind(AssertUnwindSafe(|| inner.poll(cx))));
        match result {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => {
                if let (Some(run), Some(classify)) = (slot.take(), this.classify.take()) {
                    // As in `run_sync`: a panic in `classify` is the run's.
                    match catch_unwind(AssertUnwindSafe(|| classify(&value))) {
                        Ok(outcome) => run.finish(outcome),
                        Err(panic) => {
                            run.finish(panicked());
                            *this.state = State::Done;
                            resume_unwind(panic)
                        }
                    }
                }
                *this.state = State::Done;
                Poll::Ready(value)
            }
            Err(panic) => {
                if let Some(run) = slot.take() {
                    run.finish(panicked());
                }
                *this.state = State::Done;
                resume_unwind(panic)
            }
        }
    }
}
