//! `runmeta report`: the dashboard table.

use runmeta_store::{GroupBy, Report, ReportQuery, ReportRow};

use crate::cli::{Format, ReportArgs};
use crate::output::{self, cell, count, ms, pct, toned, Cell, Out, Tone};
use crate::{time, CmdResult, Failure};

/// Runs `runmeta report`.
pub fn report(args: &ReportArgs, out: &Out) -> CmdResult {
    let group_by = GroupBy::parse(&args.by).map_err(|e| Failure::usage(format!("--by: {e}")))?;
    for d in group_by.dimensions() {
        if let runmeta_store::Dimension::Label(key) = d {
            runmeta_core::schema::check_key(key).map_err(|e| {
                Failure::usage(format!(
                    "--by: `{}` is not a dimension or a label key: {e}",
                    output::sanitize(key)
                ))
            })?;
        }
    }
    let filter = time::filter(&args.filter, jiff::Timestamp::now())?;
    let store = crate::open_store(&args.db.db, out)?;
    let query = ReportQuery {
        filter,
        group_by,
        tools: args.tools,
    };
    let report = if query.filter.from.is_some() && query.filter.to.is_some() {
        store.report_with_trend(&query)
    } else {
        store.report(&query)
    }
    .map_err(|e| match e {
        // The arguments asked for something the store cannot group or filter by.
        runmeta_store::StoreError::InvalidQuery(_) => Failure::usage(e.to_string()),
        other => other.into(),
    })?;
    if report.rows.is_empty() {
        out.note("no runs match");
    }
    let text = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s
        }
        Format::Csv => csv(&report),
        Format::Table => table(&report, out),
    };
    out.print(&text)
}

fn stop_reasons(row: &ReportRow) -> String {
    let mut v: Vec<(&String, &u64)> = row.stop_reasons.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    #[allow(clippy::cast_precision_loss)]
    let share = |n: u64| n as f64 / row.run_count.max(1) as f64;
    v.iter()
        .take(3)
        .map(|(k, n)| format!("{k} {}", pct(Some(share(**n)))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cost for people: enough digits to show small per-run costs.
fn money(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.6}")
    } else {
        format!("{v:.4}")
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(String::new, |x| format!("{x:.digits$}"))
}

fn cost_per_run(row: &ReportRow) -> Option<f64> {
    row.cost_per_run.map(runmeta_core::metrics::Cost::as_f64)
}

const CSV_COLUMNS: &[&str] = &[
    "runs",
    "success_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "tokens_per_run",
    "cost_total",
    "cost_per_run",
    "unpriced_runs",
    "tool_calls_per_run",
    "tool_error_rate",
    "sla_breach_rate",
    "stop_reasons",
    "run_count_change",
    "success_rate_change_pp",
    "latency_p95_change",
    "tokens_per_run_change",
    "cost_per_run_change",
    "tool_error_rate_change_pp",
    // Added after the columns above, which keep their places.
    "previous_run_count",
    "latency_p50_change",
    "latency_p99_change",
    "ttft_p95_change",
    "tool_calls_per_run_change",
    "sla_breach_rate_change_pp",
];

fn csv(report: &Report) -> String {
    let mut headers: Vec<&str> = report.group_by.iter().map(String::as_str).collect();
    headers.extend_from_slice(CSV_COLUMNS);
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let mut v: Vec<String> = r
                .group
                .iter()
                .map(|l| l.value.clone().unwrap_or_default())
                .collect();
            let t = r.trend.unwrap_or_default();
            let has_trend = r.trend.is_some();
            let tr = |x: Option<f64>| if has_trend { opt(x, 4) } else { String::new() };
            v.extend([
                r.run_count.to_string(),
                format!("{:.4}", r.success_rate),
                opt(r.latency_p50_ms, 3),
                opt(r.latency_p95_ms, 3),
                opt(r.latency_p99_ms, 3),
                opt(r.ttft_p50_ms, 3),
                opt(r.ttft_p95_ms, 3),
                format!("{:.2}", r.tokens_per_run.total.mean),
                r.cost_total.to_string(),
                r.cost_per_run.map(|c| c.to_string()).unwrap_or_default(),
                r.unpriced_runs.to_string(),
                format!("{:.3}", r.tool_calls_per_run),
                opt(r.tool_error_rate, 4),
                opt(r.sla_breach_rate, 4),
                r.stop_reasons
                    .iter()
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                tr(t.run_count_change),
                tr(t.success_rate_change_pp),
                tr(t.latency_p95_change),
                tr(t.tokens_per_run_change),
                tr(t.cost_per_run_change),
                tr(t.tool_error_rate_change_pp),
                if has_trend {
                    t.previous_run_count.to_string()
                } else {
                    String::new()
                },
                tr(t.latency_p50_change),
                tr(t.latency_p99_change),
                tr(t.ttft_p95_change),
                tr(t.tool_calls_per_run_change),
                tr(t.sla_breach_rate_change_pp),
            ]);
            v
        })
        .collect();
    output::csv(&headers, &rows)
}

/// A value with its change: `2.40 s (+38%)`, colored when the change is bad or good.
/// `higher_is_bad` says which direction hurts.
fn with_change(value: String, change: Option<f64>, points: bool, higher_is_bad: bool) -> Cell {
    let Some(c) = change else {
        return cell(value);
    };
    let text = if points {
        format!("{value} ({c:+.1}pp)")
    } else {
        format!("{value} ({:+.0}%)", c * 100.0)
    };
    let threshold = if points { 0.5 } else { 0.05 };
    let tone = if c.abs() < threshold {
        Tone::Plain
    } else if (c > 0.0) == higher_is_bad {
        Tone::Bad
    } else {
        Tone::Good
    };
    toned(text, tone)
}

fn table(report: &Report, out: &Out) -> String {
    let mut s = String::new();
    if let Some(w) = report.window {
        s.push_str(&format!("runs started {} .. {}", w.start, w.end));
        if let Some(p) = report.previous_window {
            s.push_str(&format!("; trend against {} .. {}", p.start, p.end));
        }
        s.push('\n');
    }
    let mut headers: Vec<&str> = report.group_by.iter().map(String::as_str).collect();
    headers.extend_from_slice(&[
        "runs",
        "success",
        "p50",
        "p95",
        "p99",
        "ttft p50",
        "tokens/run",
        "cost/run",
        "tools/run",
        "tool errors",
        "sla breach",
        "stop reasons",
    ]);
    let rows: Vec<Vec<Cell>> = report
        .rows
        .iter()
        .map(|r| {
            let t = r.trend;
            let mut v: Vec<Cell> = r
                .group
                .iter()
                .map(|l| cell(l.value.as_deref().unwrap_or("-")))
                .collect();
            let runs = r.run_count.to_string();
            v.push(match t {
                Some(t) if t.previous_run_count == 0 => cell(format!("{runs} (new)")),
                _ => with_change(runs, t.and_then(|t| t.run_count_change), false, false),
            });
            v.push(with_change(
                pct(Some(r.success_rate)),
                t.and_then(|t| t.success_rate_change_pp),
                true,
                false,
            ));
            v.push(with_change(
                ms(r.latency_p50_ms),
                t.and_then(|t| t.latency_p50_change),
                false,
                true,
            ));
            v.push(with_change(
                ms(r.latency_p95_ms),
                t.and_then(|t| t.latency_p95_change),
                false,
                true,
            ));
            v.push(cell(ms(r.latency_p99_ms)));
            v.push(cell(ms(r.ttft_p50_ms)));
            v.push(with_change(
                count(r.tokens_per_run.total.mean),
                t.and_then(|t| t.tokens_per_run_change),
                false,
                true,
            ));
            let cost = match cost_per_run(r) {
                Some(c) if r.unpriced_runs > 0 => {
                    format!("{} ({} unpriced)", money(c), r.unpriced_runs)
                }
                Some(c) => money(c),
                None if r.unpriced_runs > 0 => format!("- ({} unpriced)", r.unpriced_runs),
                None => "-".into(),
            };
            v.push(with_change(
                cost,
                t.and_then(|t| t.cost_per_run_change),
                false,
                true,
            ));
            v.push(cell(format!("{:.2}", r.tool_calls_per_run)));
            v.push(with_change(
                pct(r.tool_error_rate),
                t.and_then(|t| t.tool_error_rate_change_pp),
                true,
                true,
            ));
            v.push(with_change(
                pct(r.sla_breach_rate),
                t.and_then(|t| t.sla_breach_rate_change_pp),
                true,
                true,
            ));
            v.push(cell(stop_reasons(r)));
            v
        })
        .collect();
    s.push_str(&output::table(out, &headers, &rows));
    let tool_rows: Vec<Vec<Cell>> = report
        .rows
        .iter()
        .flat_map(|r| {
            let group = r
                .group
                .iter()
                .map(|l| l.value.as_deref().unwrap_or("-"))
                .collect::<Vec<_>>()
                .join(" / ");
            r.tools.iter().map(move |t| {
                vec![
                    cell(if group.is_empty() { "all" } else { &group }),
                    cell(&t.tool),
                    cell(t.calls.to_string()),
                    cell(pct(Some(t.error_rate))),
                    cell(ms(t.latency_p50_ms)),
                    cell(ms(t.latency_p95_ms)),
                ]
            })
        })
        .collect();
    if !tool_rows.is_empty() {
        s.push('\n');
        s.push_str(&output::table(
            out,
            &["group", "tool", "calls", "errors", "p50", "p95"],
            &tool_rows,
        ));
    }
    s
}
