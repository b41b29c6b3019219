//! `runmeta import --from agno`: Agno session and run JSON into run records.
//!
//! Accepted input: one JSON document or JSONL of documents, each a session (an object with a
//! `runs` list; its `session_id`, `agent_id`/`agent_name`, `team_id`/`team_name` apply to
//! runs that lack them), a run (an object with `run_id`), or an array of those. Team runs'
//! `member_responses` become child runs. Per run:
//!
//! - `metrics` with Agno v2 or v1 names; v1's per-message lists are summed (`time_to_first_token`
//!   takes the first value);
//! - `metadata` (a free-form dict) is kept as JSON metadata of schema `agno`; keys given with
//!   `--labels` whose values are strings or booleans become labels;
//! - `status` `COMPLETED`/`ERROR`/`CANCELLED` (missing: success); unfinished runs
//!   (`RUNNING`, `PENDING`, `PAUSED`) are reported and skipped;
//! - assistant `messages` become model calls (with the run's `model`/`model_provider`), `tools`
//!   (Agno `ToolExecution`) become tool calls.

use std::io::{BufRead, Read};

use serde_json::{json, Map, Value};

use runmeta_core::run::RunRecord;
use runmeta_store::{ImportSummary, LineError, Store};

use crate::Failure;

/// Largest input read (the whole document is parsed at once).
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Runs stored per transaction.
const BATCH: usize = 5_000;

/// Session-level values that runs inherit.
#[derive(Clone, Default)]
struct Context {
    session_id: Option<Value>,
    agent: Option<Value>,
    team: Option<Value>,
    parent_run_id: Option<Value>,
}

struct Importer<'a, P> {
    store: &'a mut Store,
    labels: &'a [String],
    batch: Vec<RunRecord>,
    summary: ImportSummary,
    progress: P,
    bytes: u64,
}

/// Imports Agno JSON from `input`.
pub fn import<P: FnMut(u64, u64)>(
    store: &mut Store,
    input: Box<dyn BufRead>,
    labels: &[String],
    progress: P,
) -> Result<ImportSummary, Failure> {
    let mut text = String::new();
    let read = Read::take(input, MAX_INPUT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure::runtime(format!("cannot read the input: {e}")))?;
    if read as u64 > MAX_INPUT_BYTES {
        return Err(Failure::runtime(format!(
            "the input is larger than {} MiB; split it into JSONL documents",
            MAX_INPUT_BYTES >> 20
        )));
    }
    let mut imp = Importer {
        store,
        labels,
        batch: Vec::with_capacity(BATCH),
        summary: ImportSummary::default(),
        progress,
        bytes: read as u64,
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(doc) => {
            imp.summary.lines = u64::try_from(text.lines().count()).unwrap_or(u64::MAX);
            imp.document(1, "", &doc, &Context::default())?;
        }
        Err(whole) => {
            // Not one document: JSONL, one document per line.
            let mut documents = 0;
            for (i, line) in text.lines().enumerate() {
                let n = i as u64 + 1;
                imp.summary.lines = n;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(doc) => {
                        documents += 1;
                        imp.document(n, "", &doc, &Context::default())?;
                    }
                    Err(e) => imp.error(n, format!("invalid JSON: {e}")),
                }
            }
            if documents == 0 {
                return Err(Failure::runtime(format!("the input is not JSON: {whole}")));
            }
        }
    }
    imp.flush()?;
    Ok(imp.summary)
}

fn first<'v>(obj: &'v Map<String, Value>, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .filter_map(|k| obj.get(*k))
        .find(|v| !v.is_null())
}

impl<P: FnMut(u64, u64)> Importer<'_, P> {
    fn error(&mut self, line: u64, message: String) {
        self.summary.error_count += 1;
        if self.summary.errors.len() < runmeta_store::MAX_LISTED_ERRORS {
            self.summary.errors.push(LineError { line, message });
        }
    }

    fn document(
        &mut self,
        line: u64,
        path: &str,
        doc: &Value,
        ctx: &Context,
    ) -> Result<(), Failure> {
        match doc {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.document(line, &format!("{path}[{i}]"), item, ctx)?;
                }
            }
            Value::Object(obj) if obj.get("runs").is_some_and(Value::is_array) => {
                let mut inner = ctx.clone();
                if let Some(v) = first(obj, &["session_id"]) {
                    inner.session_id = Some(v.clone());
                }
                if let Some(v) = first(obj, &["agent_name", "agent_id"]) {
                    inner.agent = Some(v.clone());
                }
                if let Some(v) = first(obj, &["team_name", "team_id"]) {
                    inner.team = Some(v.clone());
                }
                if let Some(Value::Array(runs)) = obj.get("runs") {
                    for (i, run) in runs.iter().enumerate() {
                        self.document(line, &format!("{path}.runs[{i}]"), run, &inner)?;
                    }
                }
            }
            Value::Object(obj) if obj.contains_key("run_id") => {
                let where_ = if path.is_empty() {
                    "run".to_owned()
                } else {
                    path.trim_start_matches('.').to_owned()
                };
                match normalize(obj, ctx, self.labels) {
                    Ok(value) => match RunRecord::from_json(&value) {
                        Ok(record) => {
                            self.batch.push(record);
                            if self.batch.len() >= BATCH {
                                self.flush()?;
                            }
                        }
                        Err(e) => self.error(line, format!("{where_}: {e}")),
                    },
                    Err(message) => self.error(line, format!("{where_}: {message}")),
                }
                if let Some(Value::Array(members)) = obj.get("member_responses") {
                    let mut inner = ctx.clone();
                    inner.parent_run_id = obj.get("run_id").cloned();
                    if let Some(v) = first(obj, &["session_id"]) {
                        inner.session_id = Some(v.clone());
                    }
                    for (i, m) in members.iter().enumerate() {
                        self.document(line, &format!("{where_}.member_responses[{i}]"), m, &inner)?;
                    }
                }
            }
            _ => {
                self.error(
                    line,
                    format!(
                    "{}: not an Agno session (object with `runs`) or run (object with `run_id`)",
                    if path.is_empty() { "document" } else { path.trim_start_matches('.') }
                ),
                )
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let written = self.store.insert(&self.batch)?;
        self.summary.imported += written.inserted;
        self.summary.duplicates += written.duplicates;
        for r in written.rejected {
            self.error(0, r);
        }
        self.batch.clear();
        (self.progress)(self.bytes, self.summary.imported);
        Ok(())
    }
}

/// Sums v1's per-message lists (`time_to_first_token`: the first value).
fn normalize_metrics(metrics: &Value) -> Value {
    let Value::Object(m) = metrics else {
        return metrics.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let value = match v {
            Value::Array(items) if items.iter().all(Value::is_number) => {
                if k == "time_to_first_token" {
                    items.first().cloned().unwrap_or(Value::Null)
                } else if items.iter().all(|i| i.is_u64()) {
                    Value::from(
                        items
                            .iter()
                            .filter_map(Value::as_u64)
                            .fold(0u64, u64::saturating_add),
                    )
                } else {
                    Value::from(items.iter().filter_map(Value::as_f64).sum::<f64>())
                }
            }
            other => other.clone(),
        };
        if !value.is_null() {
            out.insert(k.clone(), value);
        }
    }
    Value::Object(out)
}

/// An Agno run as the core's run JSON.
fn normalize(run: &Map<String, Value>, ctx: &Context, labels: &[String]) -> Result<Value, String> {
    let get = |keys: &[&str]| first(run, keys).cloned();
    let agent = get(&["agent_name", "agent_id"])
        .or_else(|| ctx.agent.clone())
        .or_else(|| get(&["team_name", "team_id"]))
        .or_else(|| ctx.team.clone())
        .ok_or("no agent_name, agent_id or team to name the agent")?;
    let status = match run.get("status").and_then(Value::as_str) {
        None => "success",
        Some(s) => match s.to_ascii_uppercase().as_str() {
            "COMPLETED" | "SUCCESS" => "success",
            "ERROR" => "error",
            "CANCELLED" => "cancelled",
            "PANICKED" => "panicked",
            other => return Err(format!("unfinished run (status {other}) skipped")),
        },
    };
    let created_at = get(&["created_at", "started_at"]).ok_or("no created_at")?;
    let mut out = Map::new();
    out.insert("run_id".into(), get(&["run_id"]).unwrap_or(Value::Null));
    out.insert("agent_name".into(), agent);
    out.insert("created_at".into(), created_at.clone());
    out.insert("status".into(), status.into());
    for (key, value) in [
        (
            "session_id",
            get(&["session_id"]).or_else(|| ctx.session_id.clone()),
        ),
        (
            "team_name",
            get(&["team_name", "team_id"]).or_else(|| ctx.team.clone()),
        ),
        (
            "parent_run_id",
            get(&["parent_run_id"]).or_else(|| ctx.parent_run_id.clone()),
        ),
    ] {
        if let Some(v) = value {
            out.insert(key.into(), v);
        }
    }
    if let Some(m) = run.get("metrics") {
        out.insert("metrics".into(), normalize_metrics(m));
    }
    let model = run.get("model").cloned();
    let provider = run.get("model_provider").cloned();
    if let Some(Value::Array(messages)) = run.get("messages") {
        let calls: Vec<Value> = messages
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
            .map(|m| {
                let mut call = Map::new();
                if let Some(v) = &model {
                    call.insert("model".into(), v.clone());
                }
                if let Some(v) = &provider {
                    call.insert("model_provider".into(), v.clone());
                }
                if let Some(t) = m.get("created_at").filter(|t| !t.is_null()) {
                    call.insert("started_at".into(), t.clone());
                }
                if let Some(metrics) = m.get("metrics") {
                    call.insert("metrics".into(), normalize_metrics(metrics));
                }
                Value::Object(call)
            })
            .collect();
        out.insert("messages".into(), Value::Array(calls));
    }
    if let Some(Value::Array(tools)) = run.get("tools") {
        let calls: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if let Value::Object(o) = &mut t {
                    let has_start = o.get("created_at").is_some_and(|v| !v.is_null())
                        || o.get("started_at").is_some_and(|v| !v.is_null())
                        || o.get("metrics")
                            .and_then(|m| m.get("start_time"))
                            .is_some_and(|v| !v.is_null());
                    if !has_start {
                        o.insert("created_at".into(), created_at.clone());
                    }
                }
                t
            })
            .collect();
        out.insert("tools".into(), Value::Array(calls));
    }
    match run.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(values)) => {
            let label_keys: Vec<&String> = labels
                .iter()
                .filter(|k| {
                    matches!(
                        values.get(k.as_str()),
                        Some(Value::String(_) | Value::Bool(_))
                    )
                })
                .collect();
            out.insert(
                "metadata".into(),
                json!({ "schema": "agno", "version": 0, "values": values, "labels": label_keys }),
            );
        }
        Some(_) => return Err("metadata is not an object".into()),
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_metric_lists_are_summed() {
        let m = normalize_metrics(&json!({
            "input_tokens": [10, 20], "time": [1.5, 0.5], "time_to_first_token": [0.3, 0.9],
            "output_tokens": 7
        }));
        assert_eq!(
            m,
            json!({"input_tokens": 30, "time": 2.0, "time_to_first_token": 0.3, "output_tokens": 7})
        );
    }

    #[test]
    fn a_run_inherits_its_session_and_keeps_chosen_labels() {
        let ctx = Context {
            session_id: Some(json!("s1")),
            agent: Some(json!("support")),
            ..Context::default()
        };
        let run = json!({
            "run_id": "6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f",
            "created_at": 1736949600,
            "status": "COMPLETED",
            "metrics": {"prompt_tokens": 150, "completion_tokens": 500, "time": 2.3},
            "metadata": {"priority": "high", "ticket_id": "SUP-1", "escalation_level": 2},
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "metrics": {"input_tokens": 150}}],
            "tools": [{"tool_name": "search_docs", "tool_call_error": false}]
        });
        let Value::Object(obj) = run else {
            unreachable!()
        };
        let labels = vec!["priority".to_owned(), "escalation_level".to_owned()];
        let v = normalize(&obj, &ctx, &labels).unwrap();
        let record = RunRecord::from_json(&v).unwrap();
        assert_eq!(record.agent, "support");
        assert_eq!(record.session_id.as_deref(), Some("s1"));
        assert_eq!(record.metrics.usage.total_tokens, 650);
        assert_eq!(record.duration.as_millis(), 2_300);
        assert_eq!(record.label("priority"), Some("high"));
        assert_eq!(record.label("escalation_level"), None); // not a string or bool
        assert_eq!(record.messages.len(), 1);
        assert_eq!(record.tool_calls.len(), 1);
    }

    #[test]
    fn unfinished_and_anonymous_runs_are_refused() {
        let obj = |v: Value| match v {
            Value::Object(o) => o,
            _ => unreachable!(),
        };
        let ctx = Context::default();
        let running =
            obj(json!({"run_id": "x", "agent_id": "a", "created_at": 1, "status": "RUNNING"}));
        assert!(normalize(&running, &ctx, &[])
            .unwrap_err()
            .contains("RUNNING"));
        let anonymous = obj(json!({"run_id": "x", "created_at": 1}));
        assert!(normalize(&anonymous, &ctx, &[])
            .unwrap_err()
            .contains("agent"));
    }
}
