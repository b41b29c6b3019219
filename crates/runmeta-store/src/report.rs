//! The dashboard report from the store, in the core's shape
//! ([`runmeta_core::aggregate::Report`] / [`ReportRow`]): runs grouped by agent, team,
//! release, model, status, stop reason and metadata labels.
//!
//! Percentiles here are **exact** (nearest rank over every run of the group: the p-th
//! percentile is the smallest value with at least p % of the runs at or below it), computed in
//! Rust from the values one scan fetches; no sketch, no interpolation. Memory is 8 bytes per
//! run in the window (16 with time to first token). Token `p95` values are not computed
//! (`None`); their means are exact.

use std::collections::HashMap;

use rusqlite::params_from_iter;

use runmeta_core::aggregate::{
    Dimension, GroupBy, GroupLabel, Report, ReportRow, TokenStat, TokensPerRun, ToolRow,
    WindowSpan, UNKNOWN_ERROR_CLASS,
};
use runmeta_core::metrics::Cost;

use crate::codec::uint;
use crate::error::{Result, StoreError};
use crate::group::{integer, text, Counts, Grouper, Interner};
use crate::query::{where_clause, RunFilter};
use crate::schema::flags;
use crate::Store;

/// A report request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Which runs.
    pub filter: RunFilter,
    /// Group by these dimensions, in order (`GroupBy::parse("customer_tier,priority")`);
    /// none for one row over every run. Grouping by `tool` is not supported here.
    pub group_by: GroupBy,
    /// Also fill each row's per-tool lines ([`ReportRow::tools`]); costs a second scan over
    /// the tool calls.
    pub tools: bool,
}

#[derive(Default)]
struct Acc {
    runs: u64,
    success: u64,
    errors: u64,
    cancelled: u64,
    error_classes: Counts,
    durations: Vec<i64>,
    ttfts: Vec<i64>,
    tokens: [u64; 6],
    cost_total: u64,
    priced_runs: u64,
    priced_cost: u64,
    unpriced_runs: u64,
    tool_calls: u64,
    tool_errors: u64,
    stop_reasons: Counts,
    sla_runs: u64,
    sla_breaches: u64,
    sla_at_risk: u64,
}

#[derive(Default)]
struct ToolAcc {
    calls: u64,
    errors: u64,
    classes: Counts,
    durations: Vec<i64>,
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

#[allow(clippy::cast_precision_loss)]
fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn column(d: &Dimension) -> Result<Option<&'static str>> {
    Ok(Some(match d {
        Dimension::Agent => "r.agent",
        Dimension::Team => "r.team",
        Dimension::Release => "r.release",
        Dimension::Model => "r.model",
        Dimension::Status => "r.status",
        Dimension::StopReason => "r.stop_reason",
        Dimension::Label(_) => return Ok(None),
        Dimension::Tool => {
            return Err(StoreError::InvalidQuery(
                "grouping by tool is not supported by the store report; use --tools for \
                 per-tool lines"
                    .into(),
            ))
        }
    }))
}

/// The columns one report scan reads per run (few: each costs per row).
const RUN_SCAN: &str = "r.duration_ns, r.ttft_ns, r.input_tokens, r.output_tokens, \
    r.total_tokens, r.reasoning_tokens, r.cache_read_tokens, r.cache_write_tokens, \
    r.cost_nanos, r.flags, r.stop_reason, r.error_class, r.tool_call_count, \
    r.tool_error_count, r.label_set";
/// Column of `r.label_set` in [`RUN_SCAN`]; the dimension columns follow it.
const RUN_SET_COL: usize = 14;

impl Store {
    /// The dashboard report over the runs matching `query.filter`, grouped by
    /// `query.group_by`, largest group first. Percentiles are exact (see the module docs).
    /// `window` is set when the filter has both ends.
    ///
    /// # Errors
    /// Grouping by `tool`, or an SQLite error.
    pub fn report(&self, query: &ReportQuery) -> Result<Report> {
        let dims = query.group_by.dimensions();
        let mut columns = Vec::new();
        for d in dims {
            columns.extend(column(d)?);
        }
        let label_keys: Vec<&str> = dims
            .iter()
            .filter_map(|d| match d {
                Dimension::Label(k) => Some(&**k),
                _ => None,
            })
            .collect();
        let mut g = Grouper {
            dims,
            set_codes: HashMap::new(),
            no_labels: vec![0; label_keys.len()],
            interners: dims.iter().map(|_| Interner::default()).collect(),
            groups: HashMap::default(),
            keys: Vec::new(),
            key: vec![0; dims.len()],
            by_set: columns.is_empty().then(HashMap::default),
        };
        self.load_label_codes(&label_keys, &mut g)?;

        let mut params = Vec::new();
        let conds = query.filter.conditions(&mut params);
        let source = self.scan_source(&query.filter)?;
        let extra: String = columns.iter().map(|c| format!(", {c}")).collect();
        let sql = format!(
            "SELECT {RUN_SCAN}{extra} FROM {source}{}",
            where_clause(&conds)
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut accs: Vec<Acc> = Vec::new();
        let mut stop_names = Interner::default();
        let mut class_names = Interner::default();
        while let Some(row) = rows.next()? {
            let Some(gi) = g.group(row, RUN_SET_COL, RUN_SET_COL + 1, true)? else {
                continue;
            };
            if accs.len() <= gi {
                accs.resize_with(gi + 1, Acc::default);
            }
            let acc = &mut accs[gi];
            let int = |i: usize| row.get_ref(i).map(integer);
            acc.runs += 1;
            acc.durations.push(int(0)?.unwrap_or(0));
            if let Some(t) = int(1)? {
                acc.ttfts.push(t);
            }
            for (k, sum) in acc.tokens.iter_mut().enumerate() {
                *sum = sum.saturating_add(uint(int(2 + k)?.unwrap_or(0)));
            }
            let cost = uint(int(8)?.unwrap_or(0));
            acc.cost_total = acc.cost_total.saturating_add(cost);
            let f = int(9)?.unwrap_or(0);
            if f & flags::UNPRICED != 0 {
                acc.unpriced_runs += 1;
            } else {
                acc.priced_runs += 1;
                acc.priced_cost = acc.priced_cost.saturating_add(cost);
            }
            match f & flags::STATUS_MASK {
                0 => acc.success += 1,
                3 => acc.cancelled += 1,
                _ => {
                    acc.errors += 1;
                    let class = text(row.get_ref(11)?).unwrap_or(UNKNOWN_ERROR_CLASS);
                    acc.error_classes.add(class_names.code(class));
                }
            }
            acc.stop_reasons
                .add(text(row.get_ref(10)?).map_or(0, |s| stop_names.code(s)));
            acc.tool_calls += uint(int(12)?.unwrap_or(0));
            acc.tool_errors += uint(int(13)?.unwrap_or(0));
            if f & flags::HAS_SLA != 0 {
                acc.sla_runs += 1;
                acc.sla_breaches += u64::from(f & flags::SLA_BREACHED != 0);
            }
            acc.sla_at_risk += u64::from(f & flags::SLA_AT_RISK != 0);
        }
        drop(rows);
        drop(stmt);

        let tools = if query.tools {
            self.tool_lines(&query.filter, &columns, &mut g)?
        } else {
            HashMap::new()
        };
        let mut out: Vec<ReportRow> = accs
            .into_iter()
            .enumerate()
            .map(|(gi, acc)| {
                let mut row = finish(g.labels(gi), acc, &stop_names, &class_names);
                if let Some(t) = tools.get(&gi) {
                    row.tools.clone_from(t);
                }
                row
            })
            .collect();
        out.sort_by(|a, b| {
            b.run_count.cmp(&a.run_count).then_with(|| {
                a.group
                    .iter()
                    .map(|l| &l.value)
                    .cmp(b.group.iter().map(|l| &l.value))
            })
        });
        let window = match (query.filter.from, query.filter.to) {
            (Some(start), Some(end)) => Some(WindowSpan { start, end }),
            _ => None,
        };
        Ok(Report {
            group_by: dims.iter().map(|d| d.name().to_owned()).collect(),
            window,
            previous_window: None,
            rows: out,
            overflow_runs: 0,
        })
    }

    /// Loads the codes of the label dimensions of every label set (label sets are few).
    fn load_label_codes(&self, label_keys: &[&str], g: &mut Grouper<'_>) -> Result<()> {
        if label_keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT set_id, key, value FROM label_values WHERE key IN ({})",
            vec!["?"; label_keys.len()].join(", ")
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(label_keys.iter()))?;
        while let Some(row) = rows.next()? {
            let set: i64 = row.get(0)?;
            let key: String = row.get(1)?;
            let value: String = row.get(2)?;
            let Some(li) = label_keys.iter().position(|k| *k == key) else {
                continue;
            };
            let Some(di) = g
                .dims
                .iter()
                .position(|d| matches!(d, Dimension::Label(k) if **k == *key))
            else {
                continue;
            };
            let code = g.interners[di].code(&value);
            let n = label_keys.len();
            g.set_codes.entry(set).or_insert_with(|| vec![0; n])[li] = code;
        }
        Ok(())
    }

    /// Per-tool lines of each group: a scan of the tool calls of the matching runs.
    fn tool_lines(
        &self,
        filter: &RunFilter,
        columns: &[&str],
        g: &mut Grouper<'_>,
    ) -> Result<HashMap<usize, Vec<ToolRow>>> {
        let mut params = Vec::new();
        let conds = filter.conditions(&mut params);
        let extra: String = columns.iter().map(|c| format!(", {c}")).collect();
        let sql = format!(
            "SELECT t.name, t.status, t.error_class, t.duration_ns, r.label_set{extra} \
             FROM tool_calls t JOIN runs r ON r.id = t.run{}",
            where_clause(&conds)
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut names = Interner::default();
        let mut classes = Interner::default();
        let mut accs: HashMap<(usize, u32), ToolAcc> = HashMap::new();
        while let Some(row) = rows.next()? {
            let Some(gi) = g.group(row, 4, 5, false)? else {
                continue;
            };
            let name = names.code(text(row.get_ref(0)?).unwrap_or(""));
            let acc = accs.entry((gi, name)).or_default();
            acc.calls += 1;
            if matches!(text(row.get_ref(1)?), Some("error" | "panicked")) {
                acc.errors += 1;
                let class = text(row.get_ref(2)?).unwrap_or(UNKNOWN_ERROR_CLASS);
                acc.classes.add(classes.code(class));
            }
            acc.durations.push(integer(row.get_ref(3)?).unwrap_or(0));
        }
        let mut out: HashMap<usize, Vec<ToolRow>> = HashMap::new();
        for ((gi, name), mut acc) in accs {
            acc.durations.sort_unstable();
            out.entry(gi).or_default().push(ToolRow {
                tool: names.value(name).unwrap_or("").to_owned(),
                calls: acc.calls,
                errors: acc.errors,
                error_rate: ratio(acc.errors, acc.calls),
                errors_by_class: acc.classes.to_map(&classes),
                latency_p50_ms: percentile(&acc.durations, 0.50).map(ms),
                latency_p95_ms: percentile(&acc.durations, 0.95).map(ms),
            });
        }
        for tools in out.values_mut() {
            tools.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.tool.cmp(&b.tool)));
        }
        Ok(out)
    }

    /// `runs r`, or `runs r NOT INDEXED` when the time range covers most of the table: a
    /// sequential scan then beats an index walk with one table lookup per run.
    fn scan_source(&self, filter: &RunFilter) -> Result<&'static str> {
        if filter.from.is_none() && filter.to.is_none() {
            return Ok("runs r");
        }
        let total: i64 =
            self.conn()
                .query_row("SELECT coalesce(max(id), 0) FROM runs", [], |r| r.get(0))?;
        let mut p = Vec::new();
        let time_only = RunFilter {
            from: filter.from,
            to: filter.to,
            ..RunFilter::default()
        };
        let c = time_only.conditions(&mut p);
        let sql = format!("SELECT count(*) FROM runs r{}", where_clause(&c));
        let in_range: i64 = self
            .conn()
            .query_row(&sql, params_from_iter(p), |r| r.get(0))?;
        Ok(if in_range.saturating_mul(4) > total {
            "runs r NOT INDEXED"
        } else {
            "runs r"
        })
    }
}

fn finish(group: Vec<GroupLabel>, mut acc: Acc, stops: &Interner, classes: &Interner) -> ReportRow {
    acc.durations.sort_unstable();
    acc.ttfts.sort_unstable();
    let p = |v: &[i64], q: f64| percentile(v, q).map(ms);
    #[allow(clippy::cast_precision_loss)]
    let mean = |sum: u64| {
        if acc.runs == 0 {
            0.0
        } else {
            sum as f64 / acc.runs as f64
        }
    };
    let stat = |i: usize| TokenStat {
        mean: mean(acc.tokens[i]),
        p95: None,
    };
    let cost_per_run = (acc.priced_runs > 0).then(|| {
        let n = u128::from(acc.priced_runs);
        let avg = (u128::from(acc.priced_cost) + n / 2) / n;
        Cost::from_nanos(u64::try_from(avg).unwrap_or(u64::MAX))
    });
    ReportRow {
        group,
        run_count: acc.runs,
        success_count: acc.success,
        error_count: acc.errors,
        cancelled_count: acc.cancelled,
        success_rate: ratio(acc.success, acc.runs),
        errors_by_class: acc.error_classes.to_map(classes),
        latency_p50_ms: p(&acc.durations, 0.50),
        latency_p95_ms: p(&acc.durations, 0.95),
        latency_p99_ms: p(&acc.durations, 0.99),
        latency_max_ms: acc.durations.last().copied().map(ms),
        ttft_p50_ms: p(&acc.ttfts, 0.50),
        ttft_p95_ms: p(&acc.ttfts, 0.95),
        tokens_per_run: TokensPerRun {
            input: stat(0),
            output: stat(1),
            total: stat(2),
            reasoning: stat(3),
            cache_read: stat(4),
            cache_write: stat(5),
        },
        cost_total: Cost::from_nanos(acc.cost_total),
        cost_per_run,
        priced_runs: acc.priced_runs,
        unpriced_runs: acc.unpriced_runs,
        tool_calls: acc.tool_calls,
        tool_calls_per_run: ratio(acc.tool_calls, acc.runs),
        tool_error_rate: (acc.tool_calls > 0).then(|| ratio(acc.tool_errors, acc.tool_calls)),
        tools: Vec::new(),
        stop_reasons: acc.stop_reasons.to_map(stops),
        sla_runs: acc.sla_runs,
        sla_breaches: acc.sla_breaches,
        sla_at_risk: acc.sla_at_risk,
        sla_breach_rate: (acc.sla_runs > 0).then(|| ratio(acc.sla_breaches, acc.sla_runs)),
        trend: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_exact() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), Some(50));
        assert_eq!(percentile(&v, 0.95), Some(95));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
    }

    #[test]
    fn tool_and_unknown_dimensions_are_refused() {
        assert!(column(&Dimension::Tool).is_err());
        assert_eq!(column(&Dimension::Agent).unwrap(), Some("r.agent"));
        assert_eq!(column(&Dimension::Label("priority".into())).unwrap(), None);
    }
}
