//! The dashboard table: one plain, serializable row per group, with trends.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Aggregator, GroupLabel, GroupStats, Sketch, TokenType};
use crate::metrics::Cost;
use crate::run::RunStatus;

/// A time range `[start, end)` that a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpan {
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

/// The dashboard table of production agent metrics (reference 003): one [`ReportRow`] per
/// group. Plain data: the CLI and the stores read and write the same shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The dimension names, in order; each row's `group` follows it.
    pub group_by: Vec<String>,
    /// The time range covered, when the report comes from time windows.
    pub window: Option<WindowSpan>,
    /// The range the trends compare against, when there is one.
    pub previous_window: Option<WindowSpan>,
    /// One row per group, in first-seen order.
    pub rows: Vec<ReportRow>,
    /// Runs counted in the overflow group because the group cap was reached.
    pub overflow_runs: u64,
}

/// Mean and 95th percentile of one token count per run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenStat {
    /// Mean per run (exact).
    pub mean: f64,
    /// 95th percentile per run (within 1%), when its distribution is kept.
    pub p95: Option<u64>,
}

/// Tokens per run, by token type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokensPerRun {
    /// `input_tokens` (cached included).
    pub input: TokenStat,
    /// `output_tokens` (reasoning included).
    pub output: TokenStat,
    /// `total_tokens`.
    pub total: TokenStat,
    /// `reasoning_tokens`.
    pub reasoning: TokenStat,
    /// `cache_read_tokens`.
    pub cache_read: TokenStat,
    /// `cache_write_tokens`.
    pub cache_write: TokenStat,
}

impl TokensPerRun {
    /// The statistic of one token type.
    #[must_use]
    pub fn get(&self, t: TokenType) -> &TokenStat {
        match t {
            TokenType::Input => &self.input,
            TokenType::Output => &self.output,
            TokenType::Total => &self.total,
            TokenType::Reasoning => &self.reasoning,
            TokenType::CacheRead => &self.cache_read,
            TokenType::CacheWrite => &self.cache_write,
        }
    }

    fn get_mut(&mut self, t: TokenType) -> &mut TokenStat {
        match t {
            TokenType::Input => &mut self.input,
            TokenType::Output => &mut self.output,
            TokenType::Total => &mut self.total,
            TokenType::Reasoning => &mut self.reasoning,
            TokenType::CacheRead => &mut self.cache_read,
            TokenType::CacheWrite => &mut self.cache_write,
        }
    }
}

/// One tool's line within a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolRow {
    /// The tool's name.
    pub tool: String,
    /// Calls.
    pub calls: u64,
    /// Failed calls (error or panic).
    pub errors: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Failures by error class.
    pub errors_by_class: BTreeMap<String, u64>,
    /// Median call latency in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 95th-percentile call latency in milliseconds.
    pub latency_p95_ms: Option<f64>,
}

/// One group's line of the dashboard.
///
/// Rates are fractions (`0.914` = 91.4%); durations are milliseconds; percentiles are
/// within 1% of the exact value; costs are exact integer nano-units ([`Cost`]), serialized as
/// decimal currency units. Build one from a group's statistics with
/// [`ReportRow::from_stats`], add a trend with [`ReportRow::with_trend`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The group's value in each dimension of [`Report::group_by`].
    pub group: Vec<GroupLabel>,
    /// Runs.
    pub run_count: u64,
    /// Successful runs.
    pub success_count: u64,
    /// Failed runs (error or panic).
    pub error_count: u64,
    /// Cancelled runs.
    pub cancelled_count: u64,
    /// `success_count / run_count`.
    pub success_rate: f64,
    /// Failed runs by error class.
    pub errors_by_class: BTreeMap<String, u64>,
    /// Median run latency (wall time).
    pub latency_p50_ms: Option<f64>,
    /// 95th-percentile run latency.
    pub latency_p95_ms: Option<f64>,
    /// 99th-percentile run latency.
    pub latency_p99_ms: Option<f64>,
    /// Longest run (exact).
    pub latency_max_ms: Option<f64>,
    /// Median time to first token (runs that produced one).
    pub ttft_p50_ms: Option<f64>,
    /// 95th-percentile time to first token.
    pub ttft_p95_ms: Option<f64>,
    /// Tokens per run by type (the runs' own usage: each token counted once).
    pub tokens_per_run: TokensPerRun,
    /// Sum of every known cost (a lower bound when `unpriced_runs > 0`).
    pub cost_total: Cost,
    /// Mean cost of the fully priced runs; `None` when no run was fully priced.
    pub cost_per_run: Option<Cost>,
    /// Runs whose every model call had a price.
    pub priced_runs: u64,
    /// Runs with an unpriced model call: their cost is unknown, never counted as 0.
    pub unpriced_runs: u64,
    /// Tool calls.
    pub tool_calls: u64,
    /// `tool_calls / run_count`.
    pub tool_calls_per_run: f64,
    /// Failed tool calls per tool call; `None` without tool calls.
    pub tool_error_rate: Option<f64>,
    /// Per-tool lines.
    pub tools: Vec<ToolRow>,
    /// Runs by stop reason (the stop-reason distribution).
    pub stop_reasons: BTreeMap<String, u64>,
    /// Runs that had an SLA (deadline or target).
    pub sla_runs: u64,
    /// Runs that breached it.
    pub sla_breaches: u64,
    /// Runs at risk at their start.
    pub sla_at_risk: u64,
    /// `sla_breaches / sla_runs`; `None` when no run had an SLA.
    pub sla_breach_rate: Option<f64>,
    /// Change against the previous window, when one was given.
    pub trend: Option<Trend>,
}

/// A row's change against the same group in a previous window.
///
/// Relative changes are fractions (`0.38` = +38%); `_pp` changes are in percentage points
/// (`-5.3` = 91.4% → 86.1%). A change is `None` when either side has no value or the
/// previous value is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Runs in the previous window (0: the group is new).
    pub previous_run_count: u64,
    /// Relative change of `run_count`.
    pub run_count_change: Option<f64>,
    /// Change of `success_rate` in percentage points.
    pub success_rate_change_pp: Option<f64>,
    /// Relative change of `latency_p50_ms`.
    pub latency_p50_change: Option<f64>,
    /// Relative change of `latency_p95_ms`.
    pub latency_p95_change: Option<f64>,
    /// Relative change of `latency_p99_ms`.
    pub latency_p99_change: Option<f64>,
    /// Relative change of `ttft_p95_ms`.
    pub ttft_p95_change: Option<f64>,
    /// Relative change of mean total tokens per run.
    pub tokens_per_run_change: Option<f64>,
    /// Relative change of `cost_per_run`.
    pub cost_per_run_change: Option<f64>,
    /// Relative change of `tool_calls_per_run`.
    pub tool_calls_per_run_change: Option<f64>,
    /// Change of `tool_error_rate` in percentage points.
    pub tool_error_rate_change_pp: Option<f64>,
    /// Change of `sla_breach_rate` in percentage points.
    pub sla_breach_rate_change_pp: Option<f64>,
}

#[allow(clippy::cast_precision_loss)]
fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

#[allow(clippy::cast_precision_loss)]
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn classes(c: &super::CappedCounts) -> BTreeMap<String, u64> {
    c.entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn rel(cur: Option<f64>, prev: Option<f64>) -> Option<f64> {
    match (cur, prev) {
        (Some(c), Some(p)) if p != 0.0 => Some((c - p) / p),
        _ => None,
    }
}

fn pp(cur: Option<f64>, prev: Option<f64>) -> Option<f64> {
    Some((cur? - prev?) * 100.0)
}

fn sketch_ms(s: &Sketch) -> [Option<f64>; 3] {
    match s.quantiles([0.5, 0.95, 0.99]) {
        Some(q) => q.map(|v| Some(ms(v))),
        None => [None; 3],
    }
}

impl ReportRow {
    /// The row of a group with these labels and statistics.
    #[must_use]
    pub fn from_stats(group: Vec<GroupLabel>, s: &GroupStats) -> Self {
        let [p50, p95, p99] = sketch_ms(&s.latency_us);
        let [t50, t95, _] = sketch_ms(&s.ttft_us);
        let mut tokens = TokensPerRun::default();
        for t in TokenType::ALL {
            let d = s.token(t);
            #[allow(clippy::cast_precision_loss)]
            let mean = if s.runs == 0 {
                0.0
            } else {
                d.sum as f64 / s.runs as f64
            };
            *tokens.get_mut(t) = TokenStat {
                mean,
                p95: d.sketch.as_ref().and_then(|k| k.quantile(0.95)),
            };
        }
        let cost_per_run = (s.priced_runs > 0).then(|| {
            let n = u128::from(s.priced_runs);
            let mean = (u128::from(s.priced_cost.as_nanos()) + n / 2) / n;
            Cost::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX))
        });
        let tools = s
            .tools
            .iter()
            .map(|(name, t)| {
                let [l50, l95, _] = sketch_ms(&t.latency_us);
                ToolRow {
                    tool: name.to_string(),
                    calls: t.calls,
                    errors: t.errors,
                    error_rate: ratio(t.errors, t.calls),
                    errors_by_class: classes(&t.error_classes),
                    latency_p50_ms: l50,
                    latency_p95_ms: l95,
                }
            })
            .collect();
        ReportRow {
            group,
            run_count: s.runs,
            success_count: s.status_count(RunStatus::Success),
            error_count: s
                .status_count(RunStatus::Error)
                .saturating_add(s.status_count(RunStatus::Panicked)),
            cancelled_count: s.status_count(RunStatus::Cancelled),
            success_rate: ratio(s.status_count(RunStatus::Success), s.runs),
            errors_by_class: classes(&s.error_classes),
            latency_p50_ms: p50,
            latency_p95_ms: p95,
            latency_p99_ms: p99,
            latency_max_ms: (s.runs > 0).then(|| ms(s.latency_max_us)),
            ttft_p50_ms: t50,
            ttft_p95_ms: t95,
            tokens_per_run: tokens,
            cost_total: s.cost_total,
            cost_per_run,
            priced_runs: s.priced_runs,
            unpriced_runs: s.unpriced_runs,
            tool_calls: s.tool_calls,
            tool_calls_per_run: ratio(s.tool_calls, s.runs),
            tool_error_rate: (s.tool_calls > 0).then(|| ratio(s.tool_errors, s.tool_calls)),
            tools,
            stop_reasons: classes(&s.stop_reasons),
            sla_runs: s.sla.with_sla,
            sla_breaches: s.sla.breached,
            sla_at_risk: s.sla.at_risk,
            sla_breach_rate: s.sla.breach_rate(),
            trend: None,
        }
    }

    /// This row with its change against `previous` (the same group in an earlier window;
    /// `None` when the group had no run then).
    #[must_use]
    pub fn with_trend(mut self, previous: Option<&ReportRow>) -> Self {
        self.trend = Some(match previous {
            None => Trend::default(),
            Some(p) => Trend::between(&self, p),
        });
        self
    }

    /// The value of one dimension (`None` when absent or not a dimension of the report).
    #[must_use]
    pub fn label(&self, dimension: &str) -> Option<&str> {
        self.group
            .iter()
            .find(|l| l.dimension == dimension)
            .and_then(|l| l.value.as_deref())
    }
}

impl Trend {
    /// The change from `previous` to `current`.
    #[must_use]
    pub fn between(current: &ReportRow, previous: &ReportRow) -> Trend {
        #[allow(clippy::cast_precision_loss)]
        let count = |r: &ReportRow| (r.run_count > 0).then_some(r.run_count as f64);
        let rate = |r: &ReportRow| (r.run_count > 0).then_some(r.success_rate);
        #[allow(clippy::cast_precision_loss)]
        let cost = |r: &ReportRow| r.cost_per_run.map(|c| c.as_nanos() as f64);
        let tpr = |r: &ReportRow| (r.run_count > 0).then_some(r.tool_calls_per_run);
        let tokens = |r: &ReportRow| (r.run_count > 0).then_some(r.tokens_per_run.total.mean);
        Trend {
            previous_run_count: previous.run_count,
            run_count_change: rel(count(current), count(previous)),
            success_rate_change_pp: pp(rate(current), rate(previous)),
            latency_p50_change: rel(current.latency_p50_ms, previous.latency_p50_ms),
            latency_p95_change: rel(current.latency_p95_ms, previous.latency_p95_ms),
            latency_p99_change: rel(current.latency_p99_ms, previous.latency_p99_ms),
            ttft_p95_change: rel(current.ttft_p95_ms, previous.ttft_p95_ms),
            tokens_per_run_change: rel(tokens(current), tokens(previous)),
            cost_per_run_change: rel(cost(current), cost(previous)),
            tool_calls_per_run_change: rel(tpr(current), tpr(previous)),
            tool_error_rate_change_pp: pp(current.tool_error_rate, previous.tool_error_rate),
            sla_breach_rate_change_pp: pp(current.sla_breach_rate, previous.sla_breach_rate),
        }
    }
}

impl Report {
    pub(crate) fn from_aggregator(agg: &Aggregator, previous: Option<&Aggregator>) -> Report {
        let by = agg.group_by();
        let rows = agg
            .entries()
            .iter()
            .map(|e| {
                let row = ReportRow::from_stats(e.labels(by), &e.value);
                match previous {
                    None => row,
                    Some(p) => {
                        let prev = p
                            .find_stats(&e.key)
                            .map(|s| ReportRow::from_stats(Vec::new(), s));
                        row.with_trend(prev.as_ref())
                    }
                }
            })
            .collect();
        Report {
            group_by: by
                .dimensions()
                .iter()
                .map(|d| d.name().to_owned())
                .collect(),
            window: None,
            previous_window: None,
            rows,
            overflow_runs: agg.overflow_runs(),
        }
    }

    /// The row whose dimensions have these values (`(dimension, value)` pairs; other
    /// dimensions unconstrained).
    #[must_use]
    pub fn row(&self, labels: &[(&str, &str)]) -> Option<&ReportRow> {
        self.rows
            .iter()
            .find(|r| labels.iter().all(|(d, v)| r.label(d) == Some(*v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_of_rates_is_in_points() {
        let cur = ReportRow {
            run_count: 10,
            success_rate: 0.861,
            latency_p95_ms: Some(2400.0),
            ..ReportRow::default()
        };
        let prev = ReportRow {
            run_count: 10,
            success_rate: 0.914,
            latency_p95_ms: Some(1739.13),
            ..ReportRow::default()
        };
        let t = Trend::between(&cur, &prev);
        assert!((t.success_rate_change_pp.unwrap() + 5.3).abs() < 1e-9);
        assert!((t.latency_p95_change.unwrap() - 0.38).abs() < 1e-3);
        assert_eq!(t.cost_per_run_change, None);
    }

    #[test]
    fn empty_stats_row_has_no_percentiles() {
        let row = ReportRow::from_stats(vec![], &GroupStats::default());
        assert_eq!(row.latency_p95_ms, None);
        assert_eq!(row.cost_per_run, None);
        assert_eq!(row.tool_error_rate, None);
    }
}
