//! The dashboard report from the store, in the core's shape
//! ([`runmeta_core::aggregate::Report`] / [`ReportRow`]): runs grouped by agent, team,
//! release, model, status, stop reason and metadata labels.
//!
//! Percentiles here are **exact** (nearest rank over every run of the group: the p-th
//! percentile is the smallest value with at least p % of the runs at or below it), computed in
//! Rust from the values the scan fetches; no sketch, no interpolation. Memory is 8 bytes per
//! run in the window (16 with time to first token). Large tables are scanned by several
//! threads over row-id ranges, each on its own read-only connection, and the parts merged. Token `p95` values are not computed
//! (`None`); their means are exact.

use std::collections::HashMap;

use rusqlite::params_from_iter;

use runmeta_core::aggregate::{
    Dimension, GroupBy, GroupLabel, Report, ReportRow, TokenStat, TokensPerRun, ToolRow,
    WindowSpan, UNKNOWN_ERROR_CLASS,
};
use runmeta_core::metrics::Cost;

use crate::error::{Result, StoreError};
use crate::group::{capped, integer, text, Counts, Grouper, Interner};
use crate::query::{where_clause, RunFilter};
use crate::scan::{merge, scan, ScanSpec, Totals};
use crate::Store;

/// Most threads one report scans with.
const MAX_SCAN_THREADS: usize = 4;

/// Tables with fewer runs are scanned on one thread.
const PARALLEL_SCAN_MIN_RUNS: i64 = 100_000;

/// A read-only connection for a part of a parallel scan.
fn open_reader(path: &std::path::Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    crate::schema::configure_reads(&conn)?;
    Ok(conn)
}

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

impl Store {
    /// The dashboard report over the runs matching `query.filter`, grouped by
    /// `query.group_by`, largest group first. Percentiles are exact (see the module docs).
    /// `window` is set when the filter has both ends.
    ///
    /// # Errors
    /// Grouping by `tool`, or an SQLite error.
    pub fn report(&self, query: &ReportQuery) -> Result<Report> {
        Ok(self.report_windows(query, None)?.0)
    }

    /// The report of `query`; with `split`, runs started before it form a second report
    /// (the previous window of a trend), from the same pass over the table.
    pub(crate) fn report_windows(
        &self,
        query: &ReportQuery,
        split: Option<jiff::Timestamp>,
    ) -> Result<(Report, Report)> {
        let dims = query.group_by.dimensions();
        let mut columns = Vec::new();
        for d in dims {
            columns.extend(column(d)?);
        }
        let spec = ScanSpec {
            dims,
            columns: &columns,
            filter: &query.filter,
            source: self.scan_source(&query.filter)?,
            split: split.map(crate::query::clamp_ts),
        };
        let totals = self.scan_parallel(&spec, PARALLEL_SCAN_MIN_RUNS)?;
        let tools = if query.tools {
            let mut current = query.filter.clone();
            if split.is_some() {
                current.from = split;
            }
            self.tool_lines(&current, dims, &columns)?
        } else {
            HashMap::new()
        };
        let (previous, current): (Vec<Totals>, Vec<Totals>) =
            totals.into_iter().partition(|t| t.previous);
        let rows = |totals: Vec<Totals>, tools: &HashMap<Vec<GroupLabel>, Vec<ToolRow>>| {
            let mut out: Vec<ReportRow> = totals
                .into_iter()
                .map(|t| {
                    let tools = tools.get(&t.group).cloned();
                    let mut row = finish(t);
                    if let Some(tools) = tools {
                        row.tools = tools;
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
            out
        };
        let group_by: Vec<String> = dims.iter().map(|d| d.name().to_owned()).collect();
        let (start, end) = (query.filter.from, query.filter.to);
        let span = |start: Option<jiff::Timestamp>, end: Option<jiff::Timestamp>| match (start, end)
        {
            (Some(start), Some(end)) => Some(WindowSpan { start, end }),
            _ => None,
        };
        let current = Report {
            group_by: group_by.clone(),
            window: span(split.or(start), end),
            previous_window: None,
            rows: rows(current, &tools),
            overflow_runs: 0,
        };
        let previous = Report {
            group_by,
            window: span(start, split),
            previous_window: None,
            rows: rows(previous, &HashMap::new()),
            overflow_runs: 0,
        };
        Ok((current, previous))
    }

    /// Scans with one thread per core (at most [`MAX_SCAN_THREADS`]) over row-id ranges, each
    /// on its own read-only connection, when the table is large; else on this connection.
    /// Each part reads its own snapshot, so runs committed during a report may or may not
    /// count.
    fn scan_parallel(&self, spec: &ScanSpec<'_>, min_runs: i64) -> Result<Vec<Totals>> {
        let (lo, hi): (i64, i64) = self.conn().query_row(
            "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_SCAN_THREADS);
        let span = hi.saturating_sub(lo).saturating_add(1);
        if threads < 2 || span < min_runs || !self.path().is_file() {
            return scan(self.conn(), spec, None);
        }
        let ranges = id_ranges(lo, hi, threads);
        let path = self.path();
        let parts = std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|&range| {
                    s.spawn(move || {
                        let conn = open_reader(path)?;
                        scan(&conn, spec, Some(range))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StoreError::Corrupt("a report scan thread panicked".into()))
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(merge(parts))
    }

    /// Per-tool lines of each group: a scan of the tool calls of the matching runs.
    fn tool_lines(
        &self,
        filter: &RunFilter,
        dims: &[Dimension],
        columns: &[&str],
    ) -> Result<HashMap<Vec<GroupLabel>, Vec<ToolRow>>> {
        let mut g = Grouper::new(self.conn(), dims, !columns.is_empty())?;
        let mut params = Vec::new();
        let conds = filter.conditions(&mut params);
        let extra: String = columns.iter().map(|c| format!(", {c}")).collect();
        let sql = format!(
            "SELECT t.name, t.status, t.error_class, t.duration_ns, r.label_set{extra} \
             FROM tool_calls t JOIN runs r ON r.id = t.run \
             AND t.id BETWEEN r.id << 20 AND (r.id << 20) | 1048575{}",
            where_clause(&conds)
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut names = Interner::default();
        let mut classes = Interner::default();
        let mut accs: HashMap<(usize, u32), ToolAcc> = HashMap::new();
        while let Some(row) = rows.next()? {
            let Some(gi) = g.group(row, 4, 5, true)? else {
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
        let mut out: HashMap<Vec<GroupLabel>, Vec<ToolRow>> = HashMap::new();
        for ((gi, name), mut acc) in accs {
            acc.durations.sort_unstable();
            out.entry(g.labels(gi)).or_default().push(ToolRow {
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

    /// `runs r`, or `runs r NOT INDEXED` when the time range covers much of the table: a
    /// sequential scan then beats an index walk with one table lookup per run. The share is
    /// estimated from the first and last start times (two index lookups), assuming runs
    /// spread evenly between them.
    fn scan_source(&self, filter: &RunFilter) -> Result<&'static str> {
        if filter.from.is_none() && filter.to.is_none() {
            return Ok("runs r");
        }
        let (first, last): (Option<i64>, Option<i64>) = self.conn().query_row(
            "SELECT min(started_at), max(started_at) FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok("runs r");
        };
        let from = filter.from.map_or(first, crate::query::clamp_ts).max(first);
        let to = filter
            .to
            .map_or(last, crate::query::clamp_ts)
            .min(last.saturating_add(1));
        #[allow(clippy::cast_precision_loss)]
        let share = if to <= from {
            0.0
        } else {
            (to as f64 - from as f64) / ((last as f64 - first as f64) + 1.0)
        };
        Ok(if share > 0.25 {
            "runs r NOT INDEXED"
        } else {
            "runs r"
        })
    }
}

fn finish(mut t: Totals) -> ReportRow {
    t.durations.sort_unstable();
    t.ttfts.sort_unstable();
    let p = |v: &[i64], q: f64| percentile(v, q).map(ms);
    #[allow(clippy::cast_precision_loss)]
    let mean = |sum: u64| {
        if t.runs == 0 {
            0.0
        } else {
            sum as f64 / t.runs as f64
        }
    };
    let stat = |i: usize| TokenStat {
        mean: mean(t.tokens[i]),
        p95: None,
    };
    let cost_per_run = (t.priced_runs > 0).then(|| {
        let n = u128::from(t.priced_runs);
        let avg = (u128::from(t.priced_cost) + n / 2) / n;
        Cost::from_nanos(u64::try_from(avg).unwrap_or(u64::MAX))
    });
    ReportRow {
        run_count: t.runs,
        success_count: t.success,
        error_count: t.errors,
        cancelled_count: t.cancelled,
        success_rate: ratio(t.success, t.runs),
        latency_p50_ms: p(&t.durations, 0.50),
        latency_p95_ms: p(&t.durations, 0.95),
        latency_p99_ms: p(&t.durations, 0.99),
        latency_max_ms: t.durations.last().copied().map(ms),
        ttft_p50_ms: p(&t.ttfts, 0.50),
        ttft_p95_ms: p(&t.ttfts, 0.95),
        tokens_per_run: TokensPerRun {
            input: stat(0),
            output: stat(1),
            total: stat(2),
            reasoning: stat(3),
            cache_read: stat(4),
            cache_write: stat(5),
        },
        cost_total: Cost::from_nanos(t.cost_total),
        cost_per_run,
        priced_runs: t.priced_runs,
        unpriced_runs: t.unpriced_runs,
        tool_calls: t.tool_calls,
        tool_calls_per_run: ratio(t.tool_calls, t.runs),
        tool_error_rate: (t.tool_calls > 0).then(|| ratio(t.tool_errors, t.tool_calls)),
        tools: Vec::new(),
        stop_reasons: capped(std::mem::take(&mut t.stop_reasons)),
        errors_by_class: capped(std::mem::take(&mut t.error_classes)),
        sla_runs: t.sla_runs,
        sla_breaches: t.sla_breaches,
        sla_at_risk: t.sla_at_risk,
        sla_breach_rate: (t.sla_runs > 0).then(|| ratio(t.sla_breaches, t.sla_runs)),
        trend: None,
        group: t.group,
    }
}

/// `lo..=hi` cut into at most `parts` ranges of row ids, both ends included, in 128-bit
/// arithmetic: ids near `i64::MAX` (a database another tool wrote) cannot overflow it.
fn id_ranges(lo: i64, hi: i64, parts: usize) -> Vec<(i64, i64)> {
    let (lo, hi) = (i128::from(lo), i128::from(hi));
    let parts = i128::try_from(parts.max(1)).unwrap_or(1);
    let span = (hi - lo + 1).max(1);
    let step = (span + parts - 1) / parts;
    (0..parts)
        .map(|i| (lo + i * step, (lo + (i + 1) * step - 1).min(hi)))
        .take_while(|&(first, last)| first <= last)
        .filter_map(|(first, last)| Some((i64::try_from(first).ok()?, i64::try_from(last).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_ranges_cover_the_ids_once_even_at_the_ends_of_i64() {
        for (lo, hi, parts) in [
            (1, 10, 2),
            (1, 10, 3),
            (5, 5, 4),
            (1, i64::MAX, 2),
            (i64::MIN, i64::MAX, 3),
            (i64::MAX - 2, i64::MAX, 8),
        ] {
            let ranges = id_ranges(lo, hi, parts);
            assert!(
                !ranges.is_empty() && ranges.len() <= parts,
                "{lo}..={hi}: {ranges:?}"
            );
            assert_eq!(ranges[0].0, lo);
            assert_eq!(ranges[ranges.len() - 1].1, hi);
            for pair in ranges.windows(2) {
                assert_eq!(
                    i128::from(pair[0].1) + 1,
                    i128::from(pair[1].0),
                    "{ranges:?}"
                );
            }
            assert!(ranges.iter().all(|&(first, last)| first <= last));
        }
    }

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
    fn a_parallel_scan_equals_a_single_one() {
        use runmeta_core::run::{MetadataRecord, MetadataValue, RunRecord, RunStatus};
        use runmeta_core::schema::JsonMetadata;

        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("p.db")).unwrap();
        let t0 = jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(500_000);
        let runs: Vec<RunRecord> = (0..3_000u64)
            .map(|i| {
                let mut r = RunRecord::new(if i % 3 == 0 { "a" } else { "b" }, t0);
                r.duration = std::time::Duration::from_millis(i % 977);
                if i % 7 == 0 {
                    r.status = RunStatus::Error;
                }
                let mut values = serde_json::Map::new();
                values.insert("tier".into(), ["free", "pro"][(i % 2) as usize].into());
                r.metadata = Some(MetadataRecord {
                    value: MetadataValue::new(JsonMetadata {
                        schema: "S".into(),
                        version: 1,
                        values,
                        label_keys: vec!["tier".into()],
                        ..JsonMetadata::default()
                    }),
                    errors: None,
                });
                r
            })
            .collect();
        store.insert(&runs).unwrap();
        for by in ["tier", "agent,tier", ""] {
            let group_by = GroupBy::parse(by).unwrap();
            let mut columns = Vec::new();
            for d in group_by.dimensions() {
                columns.extend(column(d).unwrap());
            }
            let filter = RunFilter::default();
            let spec = ScanSpec {
                dims: group_by.dimensions(),
                columns: &columns,
                filter: &filter,
                source: "runs r",
                split: None,
            };
            let sorted = |v: Vec<Totals>| {
                let mut rows: Vec<ReportRow> = v.into_iter().map(finish).collect();
                rows.sort_by(|a, b| format!("{:?}", a.group).cmp(&format!("{:?}", b.group)));
                rows
            };
            let single = sorted(scan(store.conn(), &spec, None).unwrap());
            let parallel = sorted(store.scan_parallel(&spec, 1).unwrap());
            assert_eq!(single, parallel, "by {by}");
            assert_eq!(single.iter().map(|r| r.run_count).sum::<u64>(), 3_000);
        }
    }

    #[test]
    fn tool_and_unknown_dimensions_are_refused() {
        assert!(column(&Dimension::Tool).is_err());
        assert_eq!(column(&Dimension::Agent).unwrap(), Some("r.agent"));
        assert_eq!(column(&Dimension::Label("priority".into())).unwrap(), None);
    }
}
