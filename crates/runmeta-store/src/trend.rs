//! Trends: a report compared with the previous window of the same length.

use crate::error::{Result, StoreError};
use crate::report::{Report, ReportQuery, ReportRow};
use crate::Store;

/// One group's row now, its row in the previous window, and the changes.
///
/// Relative changes are fractions (`0.38` = +38 %); rate changes are in percentage points
/// (`-5.3` = -5.3 pp). A change is `None` when the group had no runs before or the value is
/// undefined in either window.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendRow {
    /// The current window's row.
    pub current: ReportRow,
    /// The previous window's row for the same group.
    pub previous: Option<ReportRow>,
    /// Relative change of the run count.
    pub run_count_change: Option<f64>,
    /// Change of the success rate, in percentage points.
    pub success_rate_change_pp: Option<f64>,
    /// Relative change of the p50 latency.
    pub latency_p50_change: Option<f64>,
    /// Relative change of the p95 latency.
    pub latency_p95_change: Option<f64>,
    /// Relative change of tokens per run.
    pub tokens_per_run_change: Option<f64>,
    /// Relative change of cost per run.
    pub cost_per_run_change: Option<f64>,
    /// Change of the tool error rate, in percentage points.
    pub tool_error_rate_change_pp: Option<f64>,
    /// Change of the SLA breach rate, in percentage points.
    pub sla_breach_rate_change_pp: Option<f64>,
}

/// A report with its trend against the previous window.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    /// The dimension names.
    pub dimensions: Vec<String>,
    /// Start of the current window.
    pub from: jiff::Timestamp,
    /// End of the current window (exclusive).
    pub to: jiff::Timestamp,
    /// Start of the previous window (it ends at `from`).
    pub previous_from: jiff::Timestamp,
    /// One row per group of the current window, largest first.
    pub rows: Vec<TrendRow>,
}

fn relative(now: f64, before: f64) -> Option<f64> {
    (before > 0.0 && now.is_finite() && before.is_finite()).then(|| (now - before) / before)
}

#[allow(clippy::cast_precision_loss)]
fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

impl TrendRow {
    /// Compares a row with the same group's row of the previous window.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn new(current: ReportRow, previous: Option<ReportRow>) -> Self {
        let p = previous.as_ref();
        let pp = |now: Option<f64>, before: Option<f64>| Some((now? - before?) * 100.0);
        TrendRow {
            run_count_change: p
                .and_then(|p| relative(current.run_count as f64, p.run_count as f64)),
            success_rate_change_pp: p
                .and_then(|p| pp(Some(current.success_rate), Some(p.success_rate))),
            latency_p50_change: p
                .and_then(|p| relative(secs(current.latency_p50), secs(p.latency_p50))),
            latency_p95_change: p
                .and_then(|p| relative(secs(current.latency_p95), secs(p.latency_p95))),
            tokens_per_run_change: p
                .and_then(|p| relative(current.tokens_per_run, p.tokens_per_run)),
            cost_per_run_change: p.and_then(|p| relative(current.cost_per_run?, p.cost_per_run?)),
            tool_error_rate_change_pp: p
                .and_then(|p| pp(current.tool_error_rate, p.tool_error_rate)),
            sla_breach_rate_change_pp: p
                .and_then(|p| pp(current.sla_breach_rate, p.sla_breach_rate)),
            current,
            previous,
        }
    }
}

/// Pairs each row of `current` with the row of the same group in `previous`.
#[must_use]
pub fn compare(current: &Report, previous: &Report) -> Vec<TrendRow> {
    current
        .rows
        .iter()
        .map(|row| {
            let before = previous.rows.iter().find(|p| p.group == row.group).cloned();
            TrendRow::new(row.clone(), before)
        })
        .collect()
}

impl Store {
    /// The report of `query` and its trend against the previous window of the same length
    /// (`[from - (to - from), from)`). The filter must set both `from` and `to`.
    ///
    /// # Errors
    /// A filter without both ends, `from` not before `to`, or an SQLite error.
    pub fn report_with_trend(&self, query: &ReportQuery) -> Result<Trend> {
        let (Some(from), Some(to)) = (query.filter.from, query.filter.to) else {
            return Err(StoreError::InvalidQuery(
                "a trend needs a window with both a start and an end".into(),
            ));
        };
        if from >= to {
            return Err(StoreError::InvalidQuery(format!(
                "the window start {from} is not before its end {to}"
            )));
        }
        let len = to.duration_since(from);
        let previous_from = from.checked_sub(len).unwrap_or(jiff::Timestamp::MIN);
        let current = self.report(query)?;
        let mut prev_query = query.clone();
        prev_query.filter.from = Some(previous_from);
        prev_query.filter.to = Some(from);
        let previous = self.report(&prev_query)?;
        Ok(Trend {
            dimensions: current.dimensions.clone(),
            from,
            to,
            previous_from,
            rows: compare(&current, &previous),
        })
    }
}
