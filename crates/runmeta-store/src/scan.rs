//! The report's scan over runs: per-group totals, from one connection and row range; parts
//! scanned in parallel merge into one.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection};

use runmeta_core::aggregate::{Dimension, GroupLabel, UNKNOWN_ERROR_CLASS};

use crate::codec::uint;
use crate::error::Result;
use crate::group::{integer, text, Counts, Grouper, Interner};
use crate::query::{where_clause, RunFilter};
use crate::schema::flags;

/// Everything the report keeps about one group while scanning.
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

/// One group's totals after a scan, with names instead of codes (mergeable across scans).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// The runs started before [`ScanSpec::split`] (the previous window of a trend).
    pub previous: bool,
    pub group: Vec<GroupLabel>,
    pub runs: u64,
    pub success: u64,
    pub errors: u64,
    pub cancelled: u64,
    pub error_classes: HashMap<String, u64>,
    pub durations: Vec<i64>,
    pub ttfts: Vec<i64>,
    pub tokens: [u64; 6],
    pub cost_total: u64,
    pub priced_runs: u64,
    pub priced_cost: u64,
    pub unpriced_runs: u64,
    pub tool_calls: u64,
    pub tool_errors: u64,
    pub stop_reasons: HashMap<String, u64>,
    pub sla_runs: u64,
    pub sla_breaches: u64,
    pub sla_at_risk: u64,
}

impl Totals {
    /// Adds `o` (the same group from another part of the table).
    fn merge(&mut self, o: Totals) {
        // Saturating: the counts read from a database are not to be trusted to stay small.
        let add = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        add(&mut self.runs, o.runs);
        add(&mut self.success, o.success);
        add(&mut self.errors, o.errors);
        add(&mut self.cancelled, o.cancelled);
        for (k, n) in o.error_classes {
            add(self.error_classes.entry(k).or_insert(0), n);
        }
        self.durations.extend(o.durations);
        self.ttfts.extend(o.ttfts);
        for (a, b) in self.tokens.iter_mut().zip(o.tokens) {
            *a = a.saturating_add(b);
        }
        self.cost_total = self.cost_total.saturating_add(o.cost_total);
        add(&mut self.priced_runs, o.priced_runs);
        self.priced_cost = self.priced_cost.saturating_add(o.priced_cost);
        add(&mut self.unpriced_runs, o.unpriced_runs);
        add(&mut self.tool_calls, o.tool_calls);
        add(&mut self.tool_errors, o.tool_errors);
        for (k, n) in o.stop_reasons {
            add(self.stop_reasons.entry(k).or_insert(0), n);
        }
        add(&mut self.sla_runs, o.sla_runs);
        add(&mut self.sla_breaches, o.sla_breaches);
        add(&mut self.sla_at_risk, o.sla_at_risk);
    }
}

/// The columns one scan reads per run (few: each costs per row).
const RUN_SCAN: &str = "r.duration_ns, r.ttft_ns, r.input_tokens, r.output_tokens, \
    r.total_tokens, r.reasoning_tokens, r.cache_read_tokens, r.cache_write_tokens, \
    r.cost_nanos, r.flags, r.stop_reason, r.error_class, r.tool_call_count, \
    r.tool_error_count, r.started_at, r.label_set";
/// Column of `r.started_at` in [`RUN_SCAN`] (read only to split windows).
const RUN_STARTED_COL: usize = 14;
/// Column of `r.label_set` in [`RUN_SCAN`]; the dimension columns follow it.
const RUN_SET_COL: usize = 15;

/// What one scan covers.
pub(crate) struct ScanSpec<'a> {
    /// Group by these.
    pub dims: &'a [Dimension],
    /// The columns of the non-label dimensions, in order.
    pub columns: &'a [&'static str],
    /// Which runs.
    pub filter: &'a RunFilter,
    /// `runs r` or `runs r NOT INDEXED`.
    pub source: &'static str,
    /// Unix nanoseconds: runs started before it count in the previous window (a trend's
    /// two windows in one pass); `None` for one window.
    pub split: Option<i64>,
}

/// Scans the runs matching the spec whose row id is in `range`, both ends included (all
/// without one).
pub(crate) fn scan(
    conn: &Connection,
    spec: &ScanSpec<'_>,
    range: Option<(i64, i64)>,
) -> Result<Vec<Totals>> {
    let mut g = Grouper::new(conn, spec.dims, !spec.columns.is_empty())?;
    let mut params = Vec::new();
    let mut conds = spec.filter.conditions(&mut params);
    if let Some((lo, hi)) = range {
        conds.push("r.id BETWEEN ? AND ?");
        params.push(SqlValue::Integer(lo));
        params.push(SqlValue::Integer(hi));
    }
    let extra: String = spec.columns.iter().map(|c| format!(", {c}")).collect();
    let sql = format!(
        "SELECT {RUN_SCAN}{extra} FROM {}{}",
        spec.source,
        where_clause(&conds)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(params.iter()))?;
    let mut accs: Vec<Acc> = Vec::new();
    let mut stop_names = Interner::default();
    let mut class_names = Interner::default();
    while let Some(row) = rows.next()? {
        let Some(gi) = g.group(row, RUN_SET_COL, RUN_SET_COL + 1, true)? else {
            continue;
        };
        let int = |i: usize| row.get_ref(i).map(integer);
        // Accumulators alternate: current window at 2 * group, previous at 2 * group + 1.
        let previous = match spec.split {
            Some(split) => int(RUN_STARTED_COL)?.unwrap_or(i64::MIN) < split,
            None => false,
        };
        let ai = 2 * gi + usize::from(previous);
        if accs.len() <= ai {
            accs.resize_with(ai + 1, Acc::default);
        }
        let acc = &mut accs[ai];
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
        acc.tool_calls = acc.tool_calls.saturating_add(uint(int(12)?.unwrap_or(0)));
        acc.tool_errors = acc.tool_errors.saturating_add(uint(int(13)?.unwrap_or(0)));
        if f & flags::HAS_SLA != 0 {
            acc.sla_runs += 1;
            acc.sla_breaches += u64::from(f & flags::SLA_BREACHED != 0);
        }
        acc.sla_at_risk += u64::from(f & flags::SLA_AT_RISK != 0);
    }
    Ok(accs
        .into_iter()
        .enumerate()
        .filter(|(_, a)| a.runs > 0)
        .map(|(ai, a)| Totals {
            previous: ai % 2 == 1,
            group: g.labels(ai / 2),
            runs: a.runs,
            success: a.success,
            errors: a.errors,
            cancelled: a.cancelled,
            error_classes: a.error_classes.named(&class_names),
            durations: a.durations,
            ttfts: a.ttfts,
            tokens: a.tokens,
            cost_total: a.cost_total,
            priced_runs: a.priced_runs,
            priced_cost: a.priced_cost,
            unpriced_runs: a.unpriced_runs,
            tool_calls: a.tool_calls,
            tool_errors: a.tool_errors,
            stop_reasons: a.stop_reasons.named(&stop_names),
            sla_runs: a.sla_runs,
            sla_breaches: a.sla_breaches,
            sla_at_risk: a.sla_at_risk,
        })
        .collect())
}

/// Merges the parts of a parallel scan: one `Totals` per group and window.
pub(crate) fn merge(parts: Vec<Vec<Totals>>) -> Vec<Totals> {
    let mut index: HashMap<(bool, Vec<GroupLabel>), usize> = HashMap::new();
    let mut out: Vec<Totals> = Vec::new();
    for t in parts.into_iter().flatten() {
        let key = (t.previous, t.group.clone());
        match index.get(&key) {
            Some(&i) => out[i].merge(t),
            None => {
                index.insert(key, out.len());
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(group: &str, runs: u64, durations: Vec<i64>) -> Totals {
        Totals {
            group: vec![GroupLabel {
                dimension: "agent".into(),
                value: Some(group.into()),
            }],
            runs,
            durations,
            stop_reasons: HashMap::from([("completed".to_owned(), runs)]),
            ..Totals::default()
        }
    }

    #[test]
    fn parts_merge_by_group() {
        let merged = merge(vec![
            vec![totals("a", 2, vec![1, 2]), totals("b", 1, vec![5])],
            vec![totals("a", 1, vec![3])],
        ]);
        assert_eq!(merged.len(), 2);
        let a = merged
            .iter()
            .find(|t| t.group[0].value.as_deref() == Some("a"))
            .unwrap();
        assert_eq!(a.runs, 3);
        assert_eq!(a.durations, vec![1, 2, 3]);
        assert_eq!(a.stop_reasons.get("completed"), Some(&3));
    }
}
