//! `runmeta runs`, `show`, `sessions` and `teams`.

use serde_json::{json, Value};

use runmeta_core::run::{RunId, RunRecord};
use runmeta_store::{RunQuery, RunSummary, Store};

use crate::cli::{Format, ListArgs, RunsArgs, ShowArgs};
use crate::output::{self, cell, count, ms, pct, sanitize, Cell, Out};
use crate::{time, CmdResult, Failure};

/// A full run id, or the one stored run whose id starts with `text`.
fn resolve(store: &Store, text: &str) -> Result<RunId, Failure> {
    if let Ok(u) = uuid::Uuid::try_parse(text.trim()) {
        return Ok(RunId(u));
    }
    let hex = text.chars().filter(|c| *c != '-').count();
    if hex < 4 {
        return Err(Failure::runtime(format!(
            "`{}` is not a run id (give the full id or at least 4 hex digits of it)",
            sanitize(text)
        )));
    }
    let ids = store.find_run_ids(text.trim(), 2)?;
    match ids.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::runtime(format!(
            "no stored run id starts with `{}`",
            sanitize(text)
        ))),
        _ => Err(Failure::runtime(format!(
            "`{}` matches several runs; give more digits",
            sanitize(text)
        ))),
    }
}

fn secs(d: std::time::Duration) -> String {
    #[allow(clippy::cast_precision_loss)]
    ms(Some(d.as_nanos() as f64 / 1e6))
}

fn summary_json(r: &RunSummary) -> Value {
    json!({
        "run_id": r.run_id.to_string(),
        "parent_run_id": r.parent_run_id.map(|p| p.to_string()),
        "session_id": r.session_id,
        "agent_name": r.agent,
        "team_name": r.team,
        "release": r.release,
        "model": r.model,
        "created_at": r.started_at.to_string(),
        "duration": r.duration.as_secs_f64(),
        "time_to_first_token": r.time_to_first_token.map(|d| d.as_secs_f64()),
        "status": r.status,
        "stop_reason": r.stop_reason,
        "error_class": r.error_class,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "total_tokens": r.total_tokens,
        "cost": r.cost.map(runmeta_core::metrics::Cost::as_f64),
        "messages": r.messages,
        "tool_calls": r.tool_calls,
        "tool_errors": r.tool_errors,
        "child_runs": r.child_runs,
        "sla_breached": r.sla_breached,
        "labels": r.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
    })
}

fn labels_text(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `runmeta runs`.
pub fn runs(args: &RunsArgs, out: &Out) -> CmdResult {
    let filter = time::filter(&args.filter, jiff::Timestamp::now())?;
    let store = crate::open_store(&args.db.db, out)?;
    let after = match &args.after {
        Some(a) => Some(resolve(&store, a)?),
        None => None,
    };
    let page = store.runs(&RunQuery {
        filter,
        limit: args.limit as usize,
        after,
    })?;
    let text = match args.format {
        Format::Json => {
            let list: Vec<Value> = page.runs.iter().map(summary_json).collect();
            let doc = json!({ "runs": list, "next": page.next.map(|n| n.to_string()) });
            format!("{}\n", serde_json::to_string_pretty(&doc)?)
        }
        Format::Csv => {
            let headers = [
                "run_id",
                "created_at",
                "agent",
                "session_id",
                "status",
                "stop_reason",
                "duration_s",
                "ttft_s",
                "total_tokens",
                "cost",
                "tool_calls",
                "tool_errors",
                "labels",
            ];
            let rows: Vec<Vec<String>> = page
                .runs
                .iter()
                .map(|r| {
                    vec![
                        r.run_id.to_string(),
                        r.started_at.to_string(),
                        r.agent.clone(),
                        r.session_id.clone().unwrap_or_default(),
                        r.status.clone(),
                        r.stop_reason.clone(),
                        format!("{:.6}", r.duration.as_secs_f64()),
                        r.time_to_first_token
                            .map(|d| format!("{:.6}", d.as_secs_f64()))
                            .unwrap_or_default(),
                        r.total_tokens.to_string(),
                        r.cost.map(|c| c.to_string()).unwrap_or_default(),
                        r.tool_calls.to_string(),
                        r.tool_errors.to_string(),
                        labels_text(&r.labels),
                    ]
                })
                .collect();
            output::csv(&headers, &rows)
        }
        Format::Table => {
            let rows: Vec<Vec<Cell>> = page
                .runs
                .iter()
                .map(|r| {
                    vec![
                        cell(r.run_id.to_string()),
                        cell(r.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string()),
                        cell(&r.agent),
                        cell(&r.status),
                        cell(secs(r.duration)),
                        cell(count(u64_f64(r.total_tokens))),
                        cell(
                            r.cost
                                .map_or_else(|| "-".into(), |c| format!("{:.5}", c.as_f64())),
                        ),
                        cell(format!("{}/{}", r.tool_errors, r.tool_calls)),
                        cell(labels_text(&r.labels)),
                    ]
                })
                .collect();
            output::table(
                out,
                &[
                    "run_id",
                    "started (UTC)",
                    "agent",
                    "status",
                    "duration",
                    "tokens",
                    "cost",
                    "tool err",
                    "labels",
                ],
                &rows,
            )
        }
    };
    out.print(&text)?;
    if let Some(next) = page.next {
        out.note(&format!("more runs: add --after {next}"));
    } else if page.runs.is_empty() {
        out.note("no runs match");
    }
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn u64_f64(n: u64) -> f64 {
    n as f64
}

/// Runs `runmeta show`.
pub fn show(args: &ShowArgs, out: &Out) -> CmdResult {
    let store = crate::open_store(&args.db.db, out)?;
    let id = resolve(&store, &args.run_id)?;
    let Some(run) = store.run(id)? else {
        return Err(Failure::runtime(format!("no stored run {id}")));
    };
    if args.format == "json" {
        return out.print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&run.to_json())?
        ));
    }
    let children = store.children(id)?;
    out.print(&tree(&run, &children))
}

fn usage_line(u: &runmeta_core::metrics::Usage) -> String {
    let mut s = format!(
        "in {} out {} total {}",
        u.input_tokens, u.output_tokens, u.total_tokens
    );
    for (name, n) in [
        ("reasoning", u.reasoning_tokens),
        ("cache read", u.cache_read_tokens),
        ("cache write", u.cache_write_tokens),
        ("audio", u.audio_total_tokens),
    ] {
        if n > 0 {
            s.push_str(&format!(" · {name} {n}"));
        }
    }
    s
}

/// The run as a tree of lines.
fn tree(run: &RunRecord, children: &[RunSummary]) -> String {
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut head = format!(
        "run {} · {} · {} ({})",
        run.run_id, run.agent, run.status, run.stop_reason
    );
    if let Some(class) = &run.error_class {
        head.push_str(&format!(" · {class}"));
    }
    lines.push((0, head));
    let mut context = vec![format!("started {}", run.started_at)];
    for (k, v) in [
        ("session", run.session_id.as_deref()),
        ("team", run.team.as_deref()),
        ("release", run.release.as_deref()),
    ] {
        if let Some(v) = v {
            context.push(format!("{k} {v}"));
        }
    }
    if let Some(p) = run.parent_run_id {
        context.push(format!("parent {p}"));
    }
    lines.push((1, context.join(" · ")));
    let ttft = run
        .time_to_first_token
        .map_or_else(String::new, |t| format!(" · first token {}", secs(t)));
    lines.push((
        1,
        format!(
            "duration {} · model time {}{ttft}",
            secs(run.duration),
            secs(run.model_time)
        ),
    ));
    let cost = run
        .metrics
        .cost
        .map_or_else(|| "cost unknown".into(), |c| format!("cost {c}"));
    let unpriced = if run.unpriced_messages > 0 {
        format!(" ({} unpriced calls)", run.unpriced_messages)
    } else {
        String::new()
    };
    lines.push((
        1,
        format!(
            "tokens {} · {cost}{unpriced}",
            usage_line(&run.metrics.usage)
        ),
    ));
    if let Some(meta) = &run.metadata {
        let values = serde_json::to_string(&meta.value.to_json()).unwrap_or_default();
        let mut line = format!(
            "metadata {} v{} {values}",
            meta.value.schema_name(),
            meta.value.schema_version()
        );
        if let Some(errors) = &meta.errors {
            line.push_str(&format!(" · INVALID: {errors}"));
        }
        lines.push((1, line));
    }
    lines.push((1, format!("messages ({})", run.messages.len())));
    for (i, m) in run.messages.iter().enumerate() {
        let model = m
            .model
            .as_ref()
            .map_or_else(|| "unknown model".into(), ToString::to_string);
        let mut line = format!("#{i} {model} · {}", usage_line(&m.metrics.usage));
        if let Some(d) = m.metrics.duration {
            line.push_str(&format!(" · {}", secs(d)));
        }
        if let Some(t) = m.metrics.time_to_first_token {
            line.push_str(&format!(" · first token {}", secs(t)));
        }
        if let Some(c) = m.metrics.cost {
            line.push_str(&format!(" · cost {c}"));
        }
        lines.push((2, line));
    }
    lines.push((1, format!("tool calls ({})", run.tool_calls.len())));
    for t in &run.tool_calls {
        let mut line = format!("{} · {} · {}", t.name, t.status, secs(t.duration));
        if let Some(c) = &t.error_class {
            line.push_str(&format!(" · {c}"));
        }
        lines.push((2, line));
    }
    lines.push((
        1,
        format!(
            "child runs ({})",
            children.len().max(run.child_runs as usize)
        ),
    ));
    for c in children {
        lines.push((
            2,
            format!(
                "{} · {} · {} · {} · {} tokens",
                c.run_id,
                c.agent,
                c.status,
                secs(c.duration),
                c.total_tokens
            ),
        ));
    }
    render_tree(&lines)
}

/// Draws `(depth, text)` lines with tree branches.
fn render_tree(lines: &[(usize, String)]) -> String {
    let mut s = String::new();
    for (i, (depth, text)) in lines.iter().enumerate() {
        let mut prefix = String::new();
        for level in 1..=*depth {
            // Is there a later line at this level before the tree climbs above it?
            let more = lines[i + 1..]
                .iter()
                .take_while(|(d, _)| *d >= level)
                .any(|(d, _)| *d == level);
            prefix.push_str(if level == *depth {
                if more {
                    "├─ "
                } else {
                    "└─ "
                }
            } else if more {
                "│  "
            } else {
                "   "
            });
        }
        s.push_str(&prefix);
        s.push_str(&sanitize(text));
        s.push('\n');
    }
    s
}

/// Runs `runmeta sessions`.
pub fn sessions(args: &ListArgs, out: &Out) -> CmdResult {
    let filter = time::filter(&args.filter, jiff::Timestamp::now())?;
    let store = crate::open_store(&args.db.db, out)?;
    let list = store.sessions(&filter, args.limit as usize)?;
    if list.is_empty() {
        out.note("no sessions match");
    }
    let headers = [
        "session_id",
        "runs",
        "success",
        "agents",
        "first_started",
        "last_started",
        "duration_s",
        "total_tokens",
        "cost",
        "unpriced_runs",
        "tool_calls",
        "tool_errors",
    ];
    let rows: Vec<Vec<Value>> = list
        .iter()
        .map(|s| {
            vec![
                s.session_id.clone().into(),
                s.runs.into(),
                ratio(s.successes, s.runs).into(),
                s.agents.join(" ").into(),
                s.first_started.to_string().into(),
                s.last_started.to_string().into(),
                s.duration.as_secs_f64().into(),
                s.usage.total_tokens.into(),
                s.cost.as_f64().into(),
                s.unpriced_runs.into(),
                s.tool_calls.into(),
                s.tool_errors.into(),
            ]
        })
        .collect();
    emit(args.format, &headers, rows, out)
}

/// Runs `runmeta teams`.
pub fn teams(args: &ListArgs, out: &Out) -> CmdResult {
    let filter = time::filter(&args.filter, jiff::Timestamp::now())?;
    let store = crate::open_store(&args.db.db, out)?;
    let mut list = store.teams(&filter)?;
    list.truncate(args.limit as usize);
    if list.is_empty() {
        out.note("no team runs match");
    }
    let headers = [
        "team",
        "team_runs",
        "member_runs",
        "success",
        "duration_s",
        "leader_tokens",
        "full_team_tokens",
        "leader_cost",
        "full_team_cost",
    ];
    let rows: Vec<Vec<Value>> = list
        .iter()
        .map(|t| {
            vec![
                t.team.clone().into(),
                t.team_runs.into(),
                t.member_runs.into(),
                ratio(t.successes, t.team_runs).into(),
                t.duration.as_secs_f64().into(),
                t.leader_usage.total_tokens.into(),
                t.full_total_tokens.into(),
                t.leader_cost.as_f64().into(),
                t.full_cost.as_f64().into(),
            ]
        })
        .collect();
    emit(args.format, &headers, rows, out)
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A value as table or CSV text: rates (`success`) as percentages, seconds with 3 decimals.
fn text_of(header: &str, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if header == "success" {
                pct(Some(f))
            } else if header.ends_with("cost") {
                format!("{f:.6}")
            } else {
                format!("{f:.3}")
            }
        }
        other => other.to_string(),
    }
}

/// Prints typed rows as a table, CSV or a JSON array of objects.
fn emit(format: Format, headers: &[&str], rows: Vec<Vec<Value>>, out: &Out) -> CmdResult {
    let as_text = |rows: &[Vec<Value>], human: bool| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .zip(headers)
                    .map(|(v, h)| match v {
                        Value::String(s) => s.clone(),
                        _ if human => text_of(h, v),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect()
    };
    let text = match format {
        Format::Csv => output::csv(headers, &as_text(&rows, false)),
        Format::Json => {
            let list: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    Value::Object(
                        headers
                            .iter()
                            .zip(r)
                            .map(|(h, v)| ((*h).to_owned(), v))
                            .collect(),
                    )
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&list)?)
        }
        Format::Table => {
            let cells: Vec<Vec<Cell>> = as_text(&rows, true)
                .iter()
                .map(|r| r.iter().map(cell).collect())
                .collect();
            output::table(out, headers, &cells)
        }
    };
    out.print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_draw_branches() {
        let lines = vec![
            (0, "run".to_owned()),
            (1, "a".to_owned()),
            (1, "messages (1)".to_owned()),
            (2, "#0".to_owned()),
            (1, "tools (0)".to_owned()),
        ];
        assert_eq!(
            render_tree(&lines),
            "run\n├─ a\n├─ messages (1)\n│  └─ #0\n└─ tools (0)\n"
        );
    }
}
