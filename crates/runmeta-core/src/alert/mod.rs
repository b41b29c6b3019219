//! Alert rules on run values and windowed group statistics, delivered typed to a callback or
//! a channel, with hysteresis.
//!
//! A rule watches either a value of each finished run ([`RunValue`]: duration, total
//! tokens, cost) or a statistic of each group over a closed time window ([`WindowStat`]:
//! p95 latency, error rate, tool error rate, success-rate drop and token-usage rise against
//! the previous window, SLA breach rate). It fires when the value goes **above** its
//! threshold, once: a sustained breach does not fire again until the value comes back to or
//! under the rule's clear threshold (which defaults to the threshold), which re-arms it.
//! State is kept per rule and per group.
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use runmeta_core::aggregate::GroupBy;
//! use runmeta_core::alert::{AlertEngine, AlertRule, RunValue};
//! use runmeta_core::run::RunRecord;
//!
//! let (tx, rx) = mpsc::channel();
//! let engine = AlertEngine::with_channel(GroupBy::parse("agent").unwrap(), tx)
//!     .rule(AlertRule::run("slow_run", RunValue::DurationSeconds, 5.0).clear_at(4.0));
//! for secs in [6, 7, 3, 8] {
//!     let mut run = RunRecord::new("support", "2024-01-15T13:00:00Z".parse().unwrap());
//!     run.duration = Duration::from_secs(secs);
//!     engine.observe_run(&run);
//! }
//! // 6 fires, 7 is the same breach, 3 re-arms, 8 fires again.
//! let fired: Vec<f64> = rx.try_iter().map(|a| a.value).collect();
//! assert_eq!(fired, vec![6.0, 8.0]);
//! ```

mod engine;

pub use engine::{AlertEngine, AlertStats};

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::aggregate::{GroupLabel, ReportRow, WindowSpan};
use crate::run::{RunId, RunRecord};

/// A value of one finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunValue {
    /// Wall time, in seconds.
    DurationSeconds,
    /// The run's own `total_tokens`.
    TotalTokens,
    /// The run's own cost in currency units (runs without a known cost are skipped).
    Cost,
}

impl RunValue {
    /// The value for `run`, when it has one.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn of(self, run: &RunRecord) -> Option<f64> {
        match self {
            RunValue::DurationSeconds => Some(run.duration.as_secs_f64()),
            RunValue::TotalTokens => Some(run.metrics.usage.total_tokens as f64),
            RunValue::Cost => run.metrics.cost.map(crate::metrics::Cost::as_f64),
        }
    }
}

/// A statistic of one group over a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStat {
    /// 95th-percentile run latency, in seconds.
    LatencyP95Seconds,
    /// 99th-percentile run latency, in seconds.
    LatencyP99Seconds,
    /// Failed runs per run (0..=1).
    ErrorRate,
    /// Failed tool calls per tool call (0..=1); groups without tool calls are skipped.
    ToolErrorRate,
    /// SLA breaches per run with an SLA (0..=1).
    SlaBreachRate,
    /// Drop of the success rate against the previous window, in percentage points
    /// (`5.3` = 91.4% → 86.1%).
    SuccessRateDropPp,
    /// Rise of mean total tokens per run against the previous window, as a fraction
    /// (`0.22` = +22%).
    TokensPerRunRise,
}

impl WindowStat {
    /// True when the statistic compares against the previous window.
    #[must_use]
    pub const fn needs_previous(self) -> bool {
        matches!(
            self,
            WindowStat::SuccessRateDropPp | WindowStat::TokensPerRunRise
        )
    }

    /// The statistic of a group's `current` row, against its `previous` row for the
    /// comparing statistics.
    #[must_use]
    pub fn of(self, current: &ReportRow, previous: Option<&ReportRow>) -> Option<f64> {
        if current.run_count == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = |n: u64, d: u64| n as f64 / d as f64;
        match self {
            WindowStat::LatencyP95Seconds => current.latency_p95_ms.map(|v| v / 1000.0),
            WindowStat::LatencyP99Seconds => current.latency_p99_ms.map(|v| v / 1000.0),
            WindowStat::ErrorRate => Some(rate(current.error_count, current.run_count)),
            WindowStat::ToolErrorRate => current.tool_error_rate,
            WindowStat::SlaBreachRate => current.sla_breach_rate,
            WindowStat::SuccessRateDropPp => {
                let p = previous.filter(|p| p.run_count > 0)?;
                Some((p.success_rate - current.success_rate) * 100.0)
            }
            WindowStat::TokensPerRunRise => {
                let p = previous.filter(|p| p.tokens_per_run.total.mean > 0.0)?;
                let prev = p.tokens_per_run.total.mean;
                Some((current.tokens_per_run.total.mean - prev) / prev)
            }
        }
    }
}

/// What a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// A value of each finished run.
    Run(RunValue),
    /// A statistic of each group over a closed window.
    Window(WindowStat),
}

impl fmt::Display for AlertMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertMetric::Run(v) => write!(f, "run.{v:?}"),
            AlertMetric::Window(s) => write!(f, "window.{s:?}"),
        }
    }
}

/// One alert rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    /// The rule's name, carried by its alerts.
    pub name: Arc<str>,
    /// What it watches.
    pub metric: AlertMetric,
    /// Fires when the value goes above this.
    pub threshold: f64,
    /// Re-arms when the value comes back to or under this (≤ `threshold`).
    pub clear_threshold: f64,
    /// Window rules skip groups with fewer runs in the window (default 1).
    pub min_runs: u64,
}

impl AlertRule {
    /// A rule on a value of each run.
    #[must_use]
    pub fn run(name: impl Into<Arc<str>>, value: RunValue, threshold: f64) -> Self {
        AlertRule {
            name: name.into(),
            metric: AlertMetric::Run(value),
            threshold,
            clear_threshold: threshold,
            min_runs: 1,
        }
    }

    /// A rule on a statistic of each group over each closed window.
    #[must_use]
    pub fn window(name: impl Into<Arc<str>>, stat: WindowStat, threshold: f64) -> Self {
        AlertRule {
            name: name.into(),
            metric: AlertMetric::Window(stat),
            threshold,
            clear_threshold: threshold,
            min_runs: 1,
        }
    }

    /// Sets the clear threshold (capped at the threshold).
    #[must_use]
    pub fn clear_at(mut self, clear_threshold: f64) -> Self {
        self.clear_threshold = clear_threshold.min(self.threshold);
        self
    }

    /// Sets the minimum runs per window.
    #[must_use]
    pub fn min_runs(mut self, min_runs: u64) -> Self {
        self.min_runs = min_runs;
        self
    }
}

/// A fired alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// What the rule watches.
    pub metric: AlertMetric,
    /// The group the value belongs to.
    pub group: Vec<GroupLabel>,
    /// The value that crossed the threshold.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// The window, for a window rule.
    pub window: Option<WindowSpan>,
    /// The run, for a run rule.
    pub run_id: Option<RunId>,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} > {}",
            self.rule, self.metric, self.value, self.threshold
        )?;
        for l in &self.group {
            write!(f, " {}={}", l.dimension, l.value.as_deref().unwrap_or("-"))?;
        }
        Ok(())
    }
}
