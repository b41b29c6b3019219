//! Agno import: Agno session and run JSON into run records ([`parse_agno`],
//! [`Store::import_agno`]; what `runmeta import --from agno` runs).
//! The accepted shapes are listed on [`parse_agno`].

use std::io::Read;

use serde_json::{json, Map, Value};

use runmeta_core::run::RunRecord;

use crate::encode::{encode, EncodedRun};
use crate::error::{Result, StoreError};
use crate::jsonl::{ImportProgress, ImportSummary, LineError};
use crate::Store;

/// The default of [`AgnoOptions::max_input_bytes`]: 1 GiB.
pub const MAX_AGNO_INPUT_BYTES: u64 = 1 << 30;

/// Records written per transaction by an Agno import.
const IMPORT_BATCH: usize = 5_000;

/// How Agno input is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgnoOptions {
    /// Metadata keys that become labels of the imported runs when their value is a string or
    /// a boolean (default: none).
    pub labels: Vec<String>,
    /// Largest input [`Store::import_agno`] reads, in bytes (default
    /// [`MAX_AGNO_INPUT_BYTES`]); the whole document is parsed at once, so larger input is
    /// refused: split it into JSONL documents.
    pub max_input_bytes: u64,
}

impl Default for AgnoOptions {
    fn default() -> Self {
        AgnoOptions {
            labels: Vec::new(),
            max_input_bytes: MAX_AGNO_INPUT_BYTES,
        }
    }
}

impl AgnoOptions {
    /// The defaults with these label keys.
    #[must_use]
    pub fn with_labels<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AgnoOptions {
            labels: labels.into_iter().map(Into::into).collect(),
            ..AgnoOptions::default()
        }
    }
}

/// One entry of Agno input: a run, converted or refused, or a part of the input that is not
/// an Agno session or run.
#[derive(Clone, Debug)]
pub struct AgnoEntry {
    /// 1-based line of the JSONL document holding it; 1 for a single document.
    pub line: u64,
    /// Where in the document: `run` (a document that is one run), `runs[2]`,
    /// `runs[0].member_responses[1]`, `[3]` (an array element), `document`; empty for a JSONL
    /// line that is not JSON.
    pub path: String,
    /// The record, or what is wrong (without the path).
    pub result: std::result::Result<RunRecord, String>,
}

impl AgnoEntry {
    /// The error an import reports for this entry (`path: what is wrong`), if it was refused.
    #[must_use]
    pub fn error(&self) -> Option<LineError> {
        let message = self.result.as_ref().err()?;
        Some(LineError {
            line: self.line,
            message: if self.path.is_empty() {
                message.clone()
            } else {
                format!("{}: {message}", self.path)
            },
        })
    }
}

/// Converts Agno text (one document, or JSONL of documents) into run records, calling `each`
/// with every run, converted or refused, and every part of the input that is not a session
/// or a run, in input order. Returns the number of lines read.
///
/// Accepted input: one JSON document or JSONL of documents, each a session (an object with a
/// `runs` list; its `session_id`, `agent_id`/`agent_name`, `team_id`/`team_name` apply to
/// runs that lack them), a run (an object with `run_id`), or an array of those. Team runs'
/// `member_responses` become child runs. Per run:
///
/// - `metrics` with Agno v2 or v1 names; v1's per-message lists are summed (`time_to_first_token`
///   takes the first value);
/// - `metadata` (a free-form dict) is kept as JSON metadata of schema `agno`; keys listed in
///   [`AgnoOptions::labels`] whose values are strings or booleans become labels;
/// - `status` `COMPLETED`/`ERROR`/`CANCELLED` (missing: success); unfinished runs
///   (`RUNNING`, `PENDING`, `PAUSED`) are reported and skipped;
/// - assistant `messages` become model calls (with the run's `model`/`model_provider`), `tools`
///   (Agno `ToolExecution`) become tool calls.
///
/// Each run stands alone: one that cannot be read is reported with its line and its place in
/// the document (`runs[2]: ...`), and its siblings still import.
///
/// ```
/// use runmeta_store::{parse_agno, AgnoOptions};
/// let session = r#"{"session_id": "s1", "agent_id": "support", "runs": [
///     {"run_id": "6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f", "created_at": 1736949600,
///      "metrics": {"input_tokens": 150, "output_tokens": 500, "duration": 2.3},
///      "metadata": {"priority": "high"}},
///     {"run_id": "not-a-uuid", "created_at": 1736949700}
/// ]}"#;
/// let mut entries = Vec::new();
/// parse_agno(session, &AgnoOptions::with_labels(["priority"]), |e| entries.push(e))?;
/// let run = entries[0].result.as_ref().unwrap();
/// assert_eq!(run.agent, "support");
/// assert_eq!(run.label("priority"), Some("high"));
/// assert!(entries[1].error().unwrap().message.starts_with("runs[1]: "));
/// # Ok::<(), runmeta_store::StoreError>(())
/// ```
///
/// # Errors
/// [`StoreError::InvalidInput`] when the input is neither one JSON document nor a JSONL
/// line of one.
pub fn parse_agno(
    text: &str,
    options: &AgnoOptions,
    mut each: impl FnMut(AgnoEntry),
) -> Result<u64> {
    walk_input(text, &options.labels, &mut |entry| {
        each(entry);
        Ok(())
    })
}

/// Reads the documents of `text`, calling `each` with every entry; stops at `each`'s first
/// error.
fn walk_input(
    text: &str,
    labels: &[String],
    each: &mut dyn FnMut(AgnoEntry) -> Result<()>,
) -> Result<u64> {
    // A byte order mark (a file saved by an editor that writes one) is not the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = u64::try_from(text.lines().count()).unwrap_or(u64::MAX);
    let mut walker = Walker { labels, each };
    match serde_json::from_str::<Value>(text) {
        Ok(doc) => walker.document(1, "", &doc, &Context::default())?,
        Err(whole) => {
            // Not one document: JSONL, one document per line.
            let mut documents = 0;
            for (i, line) in text.lines().enumerate() {
                let n = i as u64 + 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(doc) => {
                        documents += 1;
                        walker.document(n, "", &doc, &Context::default())?;
                    }
                    Err(e) => walker.emit(n, String::new(), Err(format!("invalid JSON: {e}")))?,
                }
            }
            if documents == 0 {
                return Err(StoreError::InvalidInput(format!(
                    "the input is not JSON: {whole}"
                )));
            }
        }
    }
    Ok(lines)
}

/// Session-level values that runs inherit.
#[derive(Clone, Default)]
struct Context {
    session_id: Option<Value>,
    agent: Option<Value>,
    team: Option<Value>,
    parent_run_id: Option<Value>,
}

struct Walker<'a, 'f> {
    labels: &'a [String],
    each: &'f mut dyn FnMut(AgnoEntry) -> Result<()>,
}

fn first<'v>(obj: &'v Map<String, Value>, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .filter_map(|k| obj.get(*k))
        .find(|v| !v.is_null())
}

impl Walker<'_, '_> {
    fn emit(
        &mut self,
        line: u64,
        path: String,
        result: std::result::Result<RunRecord, String>,
    ) -> Result<()> {
        (self.each)(AgnoEntry { line, path, result })
    }

    fn document(&mut self, line: u64, path: &str, doc: &Value, ctx: &Context) -> Result<()> {
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
                let place = if path.is_empty() {
                    "run".to_owned()
                } else {
                    path.trim_start_matches('.').to_owned()
                };
                let result = normalize(obj, ctx, self.labels)
                    .and_then(|value| RunRecord::from_json(&value).map_err(|e| e.to_string()));
                if let Some(Value::Array(members)) = obj.get("member_responses") {
                    self.emit(line, place.clone(), result)?;
                    let mut inner = ctx.clone();
                    inner.parent_run_id = obj.get("run_id").cloned();
                    if let Some(v) = first(obj, &["session_id"]) {
                        inner.session_id = Some(v.clone());
                    }
                    for (i, m) in members.iter().enumerate() {
                        self.document(line, &format!("{place}.member_responses[{i}]"), m, &inner)?;
                    }
                } else {
                    self.emit(line, place, result)?;
                }
            }
            _ => {
                let place = if path.is_empty() {
                    "document"
                } else {
                    path.trim_start_matches('.')
                };
                self.emit(
                    line,
                    place.to_owned(),
                    Err(
                        "not an Agno session (object with `runs`) or run (object with `run_id`)"
                            .to_owned(),
                    ),
                )?;
            }
        }
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
                } else if items.iter().all(Value::is_u64) {
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
fn normalize(
    run: &Map<String, Value>,
    ctx: &Context,
    labels: &[String],
) -> std::result::Result<Value, String> {
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
            let mut label_keys: Vec<&String> = Vec::new();
            for key in labels {
                let label = matches!(
                    values.get(key.as_str()),
                    Some(Value::String(_) | Value::Bool(_))
                );
                // A key listed twice is one label.
                if label && !label_keys.contains(&key) {
                    label_keys.push(key);
                }
            }
            out.insert(
                "metadata".into(),
                json!({ "schema": "agno", "version": 0, "values": values, "labels": label_keys }),
            );
        }
        Some(_) => return Err("metadata is not an object".into()),
    }
    Ok(Value::Object(out))
}

impl Store {
    /// Imports Agno session and run JSON from `input` (the accepted shapes are listed
    /// on [`parse_agno`]): every run that converts is stored, in batches of one transaction
    /// each; every run that does not, and every part of the input that is not a session or a
    /// run, is reported in the summary with its line and place (`runs[2]: ...`) and skipped
    /// without affecting its siblings. A run the store cannot represent (a start time outside
    /// 1677..2262) is reported the same way. Runs already stored are skipped and counted.
    /// `progress` is called after every batch.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the input is larger than
    /// [`AgnoOptions::max_input_bytes`], not UTF-8, or not JSON (neither one document nor
    /// JSONL with one); an I/O error reading `input`; an SQLite error (the batches before it
    /// stay committed).
    pub fn import_agno<R: Read>(
        &mut self,
        input: R,
        options: &AgnoOptions,
        progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let mut bytes = Vec::new();
        input
            .take(options.max_input_bytes.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > options.max_input_bytes {
            return Err(StoreError::InvalidInput(format!(
                "the input is larger than {}; split it into JSONL documents",
                size(options.max_input_bytes)
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| StoreError::InvalidInput(format!("the input is not UTF-8: {e}")))?;
        self.import_agno_str(&text, options, progress)
    }

    /// [`Store::import_agno`] of text already in memory (`max_input_bytes` does not apply).
    ///
    /// # Errors
    /// As [`Store::import_agno`].
    pub fn import_agno_str(
        &mut self,
        text: &str,
        options: &AgnoOptions,
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let mut batch: Vec<EncodedRun> = Vec::with_capacity(IMPORT_BATCH.min(64));
        let bytes = text.len() as u64;
        let lines = walk_input(text, &options.labels, &mut |entry| {
            summary.lines = summary.lines.max(entry.line);
            match &entry.result {
                Ok(record) => match encode(record) {
                    Ok(run) => batch.push(run),
                    Err(e) => summary.error(entry.line, format!("{}: {e}", entry.path)),
                },
                Err(_) => {
                    if let Some(e) = entry.error() {
                        summary.error(e.line, e.message);
                    }
                }
            }
            if batch.len() >= IMPORT_BATCH {
                self.import_batch(&mut batch, &mut summary, bytes, &mut progress)?;
            }
            Ok(())
        })?;
        summary.lines = lines;
        self.import_batch(&mut batch, &mut summary, bytes, &mut progress)?;
        Ok(summary)
    }
}

/// `1 GiB`, `16 MiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
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

    #[test]
    fn sizes_are_readable() {
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(100), "100 bytes");
    }
}
