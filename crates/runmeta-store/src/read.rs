//! Reading whole run records back: the run row, its messages and tool calls.

use std::borrow::Cow;
use std::sync::Arc;

use rusqlite::{params, Connection, Row};
use serde_json::{Map, Value};

use runmeta_core::metrics::{Cost, MessageMetrics, Metrics, ModelRef, ToolCallMetrics, ToolStatus};
use runmeta_core::run::{MetadataRecord, RunId, RunRecord, RunStatus};

use crate::codec::{self, duration, timestamp, uint, usage_from_row};
use crate::error::Result;
use crate::query::run_id_from_blob;
use crate::schema::{CHILD_SHIFT, MAX_RUN_ROW_ID};
use crate::Store;

/// Every column of `runs` needed to rebuild a record, on alias `r`; `r.id` first.
pub(crate) const RECORD_COLUMNS: &str = "r.id, r.run_id, r.parent_run_id, \
    (SELECT session_id FROM sessions WHERE id = r.session), r.agent, r.team, r.release, \
    r.started_at, r.duration_ns, r.model_time_ns, r.ttft_ns, r.status, r.stop_reason, \
    r.error_class, r.input_tokens, r.output_tokens, r.total_tokens, \
    r.reasoning_tokens, r.cache_read_tokens, r.cache_write_tokens, r.audio_input_tokens, \
    r.audio_output_tokens, r.audio_total_tokens, r.cost_nanos, r.children_cost_nanos, \
    r.child_runs, r.unpriced_messages, r.meta_schema, r.meta_version, r.metadata, r.extra, \
    (SELECT canonical FROM label_sets WHERE id = r.label_set), r.request_model";

/// A run row decoded, before its messages and tool calls are attached.
pub(crate) struct RunRow {
    pub id: i64,
    pub record: RunRecord,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {e}").into(),
    )
}

fn json_object(text: Option<String>, what: &str) -> rusqlite::Result<Map<String, Value>> {
    match text {
        None => Ok(Map::new()),
        Some(t) => match serde_json::from_str::<Value>(&t) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(corrupt(what, "not a JSON object")),
            Err(e) => Err(corrupt(what, e)),
        },
    }
}

/// Decodes a row selected with [`RECORD_COLUMNS`].
pub(crate) fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    let id: i64 = row.get(0)?;
    let run_id = run_id_from_blob(&row.get::<_, Vec<u8>>(1)?)?;
    let status: String = row.get(11)?;
    let mut record = RunRecord::new(Cow::Owned(row.get::<_, String>(4)?), timestamp(row.get(7)?));
    record.run_id = run_id;
    record.parent_run_id = row
        .get::<_, Option<Vec<u8>>>(2)?
        .map(|b| run_id_from_blob(&b))
        .transpose()?;
    record.session_id = row.get::<_, Option<String>>(3)?.map(Arc::from);
    record.team = row.get::<_, Option<String>>(5)?.map(Cow::Owned);
    record.release = row.get::<_, Option<String>>(6)?.map(Arc::from);
    record.duration = duration(row.get(8)?);
    record.model_time = duration(row.get(9)?);
    record.time_to_first_token = row.get::<_, Option<i64>>(10)?.map(duration);
    record.status = RunStatus::from_wire(&status)
        .ok_or_else(|| corrupt("status", format!("unknown status `{status}`")))?;
    record.stop_reason = Cow::Owned(row.get(12)?);
    record.error_class = row.get::<_, Option<String>>(13)?.map(Cow::Owned);
    let extra = json_object(row.get(30)?, "extra")?;
    record.metrics = Metrics {
        usage: usage_from_row(row, 14)?,
        duration: match extra.get("metrics_duration_ns") {
            Some(v) => v.as_i64().map(duration),
            None => Some(record.duration),
        },
        time_to_first_token: match extra.get("metrics_ttft_ns") {
            Some(v) => v.as_i64().map(duration),
            None => record.time_to_first_token,
        },
        cost: row
            .get::<_, Option<i64>>(23)?
            .map(|c| Cost::from_nanos(uint(c))),
        ..Metrics::default()
    };
    codec::read_maps(&extra, &mut record.metrics);
    record.per_model = codec::per_model_from_json(extra.get("per_model"));
    record.children_usage = codec::usage_from_json(extra.get("children_usage"));
    record.children_cost = Cost::from_nanos(uint(row.get(24)?));
    record.child_runs = u32::try_from(row.get::<_, i64>(25)?).unwrap_or(u32::MAX);
    record.unpriced_messages = u32::try_from(row.get::<_, i64>(26)?).unwrap_or(u32::MAX);
    if let Some(text) = row.get::<_, Option<String>>(29)? {
        let mut map = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(corrupt("metadata", "not a JSON object")),
            Err(e) => return Err(corrupt("metadata", e)),
        };
        // What the row keeps in other columns (a store written before this layout has it
        // in the JSON already).
        if let Some(schema) = row.get::<_, Option<String>>(27)? {
            map.entry("schema").or_insert(Value::String(schema));
        }
        if let Some(version) = row.get::<_, Option<i64>>(28)? {
            map.entry("version").or_insert(Value::from(version));
        }
        if !map.contains_key("labels") {
            let keys: Vec<Value> =
                crate::query::labels_from_canonical(row.get::<_, Option<String>>(31)?.as_deref())
                    .into_iter()
                    .map(|(k, _)| Value::String(k))
                    .collect();
            if !keys.is_empty() {
                map.insert("labels".into(), Value::Array(keys));
            }
        }
        record.metadata = Some(
            MetadataRecord::from_json(&Value::Object(map)).map_err(|e| corrupt("metadata", e))?,
        );
    }
    record.request_model = row.get::<_, Option<String>>(32)?.map(Cow::Owned);
    Ok(RunRow { id, record })
}

/// Attaches the messages and tool calls of the run with row id `id`.
pub(crate) fn attach_children(conn: &Connection, id: i64, record: &mut RunRecord) -> Result<()> {
    // The children's keys are `(run << CHILD_SHIFT) | seq`: one run's rows are a key range.
    // The writer gives no children to a run whose id the shift would overflow; such an id
    // (a database another tool wrote) must not read another run's.
    if !(0..=MAX_RUN_ROW_ID).contains(&id) {
        return Ok(());
    }
    let first = id << CHILD_SHIFT;
    let last = first | ((1 << CHILD_SHIFT) - 1);
    let mut stmt = conn.prepare_cached(
        "SELECT role, provider, model, started_at, duration_ns, ttft_ns, input_tokens, \
         output_tokens, total_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens, \
         audio_input_tokens, audio_output_tokens, audio_total_tokens, cost_nanos, extra \
         FROM messages WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    record.messages = stmt
        .query_map(params![first, last], |row| {
            let role: Option<String> = row.get(0)?;
            let model = role.map(|role| -> rusqlite::Result<ModelRef> {
                Ok(ModelRef {
                    role: codec::role_from_str(&role),
                    provider: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    id: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            });
            let mut metrics = Metrics {
                usage: usage_from_row(row, 6)?,
                duration: row.get::<_, Option<i64>>(4)?.map(duration),
                time_to_first_token: row.get::<_, Option<i64>>(5)?.map(duration),
                cost: row
                    .get::<_, Option<i64>>(15)?
                    .map(|c| Cost::from_nanos(uint(c))),
                ..Metrics::default()
            };
            codec::read_maps(&json_object(row.get(16)?, "message extra")?, &mut metrics);
            Ok(MessageMetrics {
                model: model.transpose()?,
                started_at: row.get::<_, Option<i64>>(3)?.map(timestamp),
                metrics,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT name, started_at, duration_ns, status, error_class FROM tool_calls \
         WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    record.tool_calls = stmt
        .query_map(params![first, last], |row| {
            let status: String = row.get(3)?;
            Ok(ToolCallMetrics {
                name: row.get(0)?,
                started_at: timestamp(row.get(1)?),
                duration: duration(row.get(2)?),
                status: ToolStatus::from_wire(&status)
                    .ok_or_else(|| corrupt("tool status", format!("unknown `{status}`")))?,
                error_class: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(())
}

impl Store {
    /// The whole record of one run (messages, tool calls, metadata as a
    /// [`JsonMetadata`](runmeta_core::schema::JsonMetadata)), or `None` if it is not stored.
    ///
    /// # Errors
    /// An SQLite error, or a row that cannot be decoded (an SQLite conversion error naming
    /// the column).
    pub fn run(&self, run_id: RunId) -> Result<Option<RunRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM runs r WHERE r.run_id = ?1");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query([run_id.0.as_bytes().as_slice()])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let RunRow { id, mut record } = run_from_row(row)?;
        attach_children(self.conn(), id, &mut record)?;
        Ok(Some(record))
    }

    /// Calls `f` with every stored record matching `filter`, oldest first, reading in chunks
    /// so memory stays flat. Stops early when `f` returns an error.
    ///
    /// # Errors
    /// An SQLite error, a row that cannot be decoded, or `f`'s error.
    pub fn for_each_record<F>(&self, filter: &crate::RunFilter, mut f: F) -> Result<u64>
    where
        F: FnMut(RunRecord) -> Result<()>,
    {
        const CHUNK: i64 = 1_000;
        let mut last = (i64::MIN, i64::MIN);
        let mut seen = 0u64;
        loop {
            let mut params = Vec::new();
            let mut conds = filter.conditions(&mut params);
            conds.push("(r.started_at, r.id) > (?, ?)");
            params.push(rusqlite::types::Value::Integer(last.0));
            params.push(rusqlite::types::Value::Integer(last.1));
            params.push(rusqlite::types::Value::Integer(CHUNK));
            let sql = format!(
                "SELECT {RECORD_COLUMNS}, r.started_at FROM runs r{} \
                 ORDER BY r.started_at, r.id LIMIT ?",
                crate::query::where_clause(&conds)
            );
            let rows: Vec<(RunRow, i64)> = {
                let mut stmt = self.conn().prepare_cached(&sql)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(params), |row| {
                        Ok((run_from_row(row)?, row.get(33)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows
            };
            let n = rows.len();
            for (RunRow { id, mut record }, started) in rows {
                attach_children(self.conn(), id, &mut record)?;
                last = (started, id);
                seen += 1;
                f(record)?;
            }
            if n < usize::try_from(CHUNK).unwrap_or(usize::MAX) {
                return Ok(seen);
            }
        }
    }
}
