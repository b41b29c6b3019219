//! Time windows: one aggregator per fixed-width window, the last N kept, for trends
//! ("p95 now vs 30 minutes ago").

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::{Aggregator, AggregatorConfig, Report, WindowSpan};
use crate::run::RunRecord;

/// Window width and how many windows are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowConfig {
    /// Width of one window (at least 1 ms). Default: one minute.
    pub width: Duration,
    /// Windows kept, the newest included (at least 1). Default: 120 (two hours of minutes).
    pub keep: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            width: Duration::from_secs(60),
            keep: 120,
        }
    }
}

/// A run's aggregates per time window, by the time the run **ended** (`started_at +
/// duration`), so that records replayed from a store land where they happened.
///
/// Windows are aligned on the Unix epoch. A run older than the oldest kept window is not
/// counted (see [`WindowedAggregator::late_runs`]); a run in a newer window starts it and
/// drops the windows that fall out of the kept range.
///
/// ```
/// use std::time::Duration;
/// use runmeta_core::aggregate::{AggregatorConfig, GroupBy, WindowConfig, WindowedAggregator};
/// use runmeta_core::run::RunRecord;
///
/// let mut w = WindowedAggregator::new(
///     AggregatorConfig::new(GroupBy::parse("agent").unwrap()),
///     WindowConfig { width: Duration::from_secs(60), keep: 60 },
/// );
/// let t0: jiff::Timestamp = "2024-01-15T13:00:00Z".parse().unwrap();
/// for (minute, ms) in [(0, 1_000), (30, 1_500)] {
///     let mut run = RunRecord::new("support", t0 + jiff::SignedDuration::from_mins(minute));
///     run.duration = Duration::from_millis(ms);
///     w.record(&run);
/// }
/// let now = t0 + jiff::SignedDuration::from_mins(30);
/// let report = w.trend(now, Duration::from_secs(60), Duration::from_secs(30 * 60));
/// let trend = report.rows[0].trend.unwrap();
/// assert!((trend.latency_p95_change.unwrap() - 0.5).abs() < 0.02); // +50%
/// ```
#[derive(Clone, Debug)]
pub struct WindowedAggregator {
    config: Arc<AggregatorConfig>,
    width_ns: i128,
    keep: usize,
    windows: VecDeque<(i64, Aggregator)>,
    late_runs: u64,
}

impl WindowedAggregator {
    /// Empty windows.
    #[must_use]
    pub fn new(config: AggregatorConfig, windows: WindowConfig) -> Self {
        let width_ns = windows.width.as_nanos().max(1_000_000);
        WindowedAggregator {
            config: Arc::new(config),
            width_ns: i128::try_from(width_ns).unwrap_or(i128::MAX),
            keep: windows.keep.max(1),
            windows: VecDeque::new(),
            late_runs: 0,
        }
    }

    /// The aggregators' configuration.
    #[must_use]
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Runs not counted because their window was older than the oldest kept.
    #[must_use]
    pub fn late_runs(&self) -> u64 {
        self.late_runs
    }

    /// The index of the window holding `at` (windows since the Unix epoch).
    #[must_use]
    pub fn window_index(&self, at: Timestamp) -> i64 {
        let i = at.as_nanosecond().div_euclid(self.width_ns);
        i64::try_from(i).unwrap_or(if i < 0 { i64::MIN } else { i64::MAX })
    }

    /// The time range of window `index`.
    #[must_use]
    pub fn span_of(&self, index: i64) -> WindowSpan {
        let ts = |i: i128| {
            i.checked_mul(self.width_ns)
                .and_then(|ns| Timestamp::from_nanosecond(ns).ok())
                .unwrap_or(if i < 0 {
                    Timestamp::MIN
                } else {
                    Timestamp::MAX
                })
        };
        WindowSpan {
            start: ts(i128::from(index)),
            end: ts(i128::from(index) + 1),
        }
    }

    /// How many windows are kept before the newest (`keep` is at least 1; a `keep` past
    /// `i64::MAX`, such as `usize::MAX` for "all", keeps them all).
    fn kept_before(&self) -> i64 {
        i64::try_from(self.keep).map_or(i64::MAX, |keep| keep - 1)
    }

    /// Counts a finished run in the window of its end time. Returns the index of the window
    /// this run closed, if it was the first run of a newer window.
    pub fn record(&mut self, run: &RunRecord) -> Option<i64> {
        let ended = SignedDuration::try_from(run.duration)
            .ok()
            .and_then(|d| run.started_at.checked_add(d).ok())
            .unwrap_or(run.started_at);
        let index = self.window_index(ended);
        let newest = self.windows.back().map(|w| w.0);
        let mut closed = None;
        match newest {
            Some(n) if index <= n => {
                let oldest_allowed = n.saturating_sub(self.kept_before());
                if index < oldest_allowed {
                    self.late_runs = self.late_runs.saturating_add(1);
                    return None;
                }
                let pos = self.windows.iter().rposition(|w| w.0 <= index);
                match pos {
                    Some(p) if self.windows[p].0 == index => self.windows[p].1.record(run),
                    _ => {
                        let at = pos.map_or(0, |p| p + 1);
                        let mut agg = Aggregator::with_shared_config(Arc::clone(&self.config));
                        agg.record(run);
                        self.windows.insert(at, (index, agg));
                    }
                }
                return None;
            }
            Some(n) => closed = Some(n),
            None => {}
        }
        let mut agg = Aggregator::with_shared_config(Arc::clone(&self.config));
        agg.record(run);
        self.windows.push_back((index, agg));
        let oldest_allowed = index.saturating_sub(self.kept_before());
        while self.windows.front().is_some_and(|w| w.0 < oldest_allowed) {
            self.windows.pop_front();
        }
        closed
    }

    /// The kept windows that have runs, oldest first.
    pub fn windows(&self) -> impl Iterator<Item = (WindowSpan, &Aggregator)> + '_ {
        self.windows.iter().map(|(i, a)| (self.span_of(*i), a))
    }

    /// The window with this index, if kept and not empty.
    #[must_use]
    pub fn window(&self, index: i64) -> Option<&Aggregator> {
        self.windows.iter().find(|w| w.0 == index).map(|w| &w.1)
    }

    /// The newest window's index.
    #[must_use]
    pub fn newest_index(&self) -> Option<i64> {
        self.windows.back().map(|w| w.0)
    }

    /// The windows with index in `first..=last` merged into one aggregator.
    #[must_use]
    pub fn merged_range(&self, first: i64, last: i64) -> Aggregator {
        let mut out = Aggregator::with_shared_config(Arc::clone(&self.config));
        for (_, agg) in self.windows.iter().filter(|w| w.0 >= first && w.0 <= last) {
            // Same configuration, so the grouping always matches.
            let _ = out.merge(agg);
        }
        out
    }

    /// The last `span` (rounded up to whole windows) up to the window holding `now`,
    /// merged into one aggregator, with its time range.
    #[must_use]
    pub fn merged(&self, now: Timestamp, span: Duration) -> (WindowSpan, Aggregator) {
        let last = self.window_index(now);
        let first = last.saturating_sub(self.windows_in(span) - 1);
        (
            WindowSpan {
                start: self.span_of(first).start,
                end: self.span_of(last).end,
            },
            self.merged_range(first, last),
        )
    }

    fn windows_in(&self, span: Duration) -> i64 {
        let n = i128::try_from(span.as_nanos())
            .unwrap_or(i128::MAX)
            .saturating_add(self.width_ns - 1)
            / self.width_ns;
        i64::try_from(n.max(1)).unwrap_or(i64::MAX)
    }

    /// The report of the last `span` up to `now`, with each row's trend against the same
    /// span `ago` earlier ("p95 now vs 30 minutes ago": `span` = 1 min, `ago` = 30 min).
    /// Spans are rounded up to whole windows.
    #[must_use]
    pub fn trend(&self, now: Timestamp, span: Duration, ago: Duration) -> Report {
        let (cur_span, current) = self.merged(now, span);
        let shift = self.windows_in(ago);
        let earlier = self.span_of(self.window_index(now).saturating_sub(shift));
        let (prev_span, previous) = self.merged(earlier.start, span);
        let mut report = current.report_with_trend(&previous);
        report.window = Some(cur_span);
        report.previous_window = Some(prev_span);
        report
    }

    /// Bytes held by every kept window.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.windows.iter().map(|w| w.1.memory_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::GroupBy;

    fn run_at(minute: i64) -> RunRecord {
        RunRecord::new(
            "a",
            Timestamp::UNIX_EPOCH + SignedDuration::from_mins(minute),
        )
    }

    #[test]
    fn old_windows_fall_out_and_late_runs_are_counted() {
        let mut w = WindowedAggregator::new(
            AggregatorConfig::new(GroupBy::none()),
            WindowConfig {
                width: Duration::from_secs(60),
                keep: 3,
            },
        );
        assert_eq!(w.record(&run_at(0)), None);
        assert_eq!(w.record(&run_at(1)), Some(0));
        assert_eq!(w.record(&run_at(5)), Some(1));
        assert_eq!(
            w.windows().count(),
            1,
            "windows 0 and 1 are older than 3..=5"
        );
        w.record(&run_at(2));
        assert_eq!(w.late_runs(), 1);
        w.record(&run_at(4));
        w.record(&run_at(3));
        let idx: Vec<i64> = w.windows.iter().map(|x| x.0).collect();
        assert_eq!(idx, vec![3, 4, 5]);
        let (_, merged) = w.merged(
            Timestamp::UNIX_EPOCH + SignedDuration::from_mins(5),
            Duration::from_secs(180),
        );
        assert_eq!(merged.total().runs, 3);
    }
}
