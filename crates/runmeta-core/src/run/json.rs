//! Agno-compatible JSON of a [`RunRecord`].
//!
//! The keys are listed on [`RunRecord::to_json`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{MetadataRecord, MetadataValue, RunId, RunRecord, RunStatus};
use crate::metrics::json::{
    cost_value, put_count, put_usage, quoted, read_count, read_usage, seconds_value,
    timestamp_value, Fields, EXPECT_STRING, EXPECT_TIMESTAMP,
};
use crate::metrics::json_calls::{details_from_json, details_json};
use crate::metrics::{Cost, JsonFieldError, MessageMetrics, Metrics, ToolCallMetrics};
use crate::schema::limits::MAX_KEYS;
use crate::schema::{FieldError, JsonMetadata, MetadataErrors, Problem};

/// A run record's JSON could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordJsonError {
    /// A field is missing or has the wrong type.
    #[error(transparent)]
    Field(#[from] JsonFieldError),
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
}

impl RunRecord {
    /// The record as Agno-compatible JSON.
    ///
    /// Names follow Agno's `RunOutput.to_dict()` where Agno has the field, and are ours otherwise:
    ///
    /// | key | value | Agno |
    /// |---|---|---|
    /// | `run_id`, `parent_run_id`, `session_id` | UUID / UUID / text | same names |
    /// | `agent_name` | the agent (read also from `agent_id`) | `agent_name` |
    /// | `team_name` | the team (read also from `team`) | `team_name` (team runs) |
    /// | `model` | the model the run requests (read also from `request_model`) | `model` |
    /// | `release` | the agent code's release | – |
    /// | `created_at` | the run's start, RFC 3339 UTC (read also from `started_at` or Unix seconds) | `created_at` (Unix seconds) |
    /// | `status` | `success`, `error`, `panicked`, `cancelled` (read also Agno's `COMPLETED`, `ERROR`, `CANCELLED`) | `status` |
    /// | `stop_reason`, `error_class` | text | – |
    /// | `metrics` | [`Metrics::to_json`] of the run's own metrics with `duration` = wall time, plus `model_time` (seconds) and `details` (per model, grouped by model type) | `metrics` (`RunMetrics` with `details`) |
    /// | `unpriced_messages` | count, omitted when 0 | – |
    /// | `messages` | [`MessageMetrics::to_json`] list | `messages[].metrics` |
    /// | `tools` | [`ToolCallMetrics::to_json`] list (read also from `tool_calls`) | `tools` (`ToolExecution`) |
    /// | `children` | `runs`, token counts and `cost` of the child runs | – |
    /// | `metadata` | `schema`, `version`, `values` (redacted), `labels` (label keys), `sla_deadline_key`, `sla_target_key`, `errors` | `metadata` (free-form) |
    ///
    /// Empty lists, absent values and zero counts are omitted, as Agno does.
    ///
    /// ```
    /// use runmeta_core::metrics::{Metrics, Usage};
    /// use runmeta_core::run::RunRecord;
    ///
    /// let mut run = RunRecord::new("support", "2024-01-15T14:00:00Z".parse().unwrap());
    /// run.metrics = Metrics::from_usage(Usage::new(150, 500));
    /// let json = run.to_json();
    /// assert_eq!(json["agent_name"], "support");
    /// assert_eq!(json["created_at"], "2024-01-15T14:00:00Z");
    /// assert_eq!(json["metrics"]["total_tokens"], 650);
    /// let back = RunRecord::from_json(&json).unwrap();
    /// assert_eq!(back.metrics.usage, run.metrics.usage);
    /// assert_eq!(back.run_id, run.run_id);
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("run_id".to_owned(), self.run_id.to_string().into());
        if let Some(parent) = self.parent_run_id {
            map.insert("parent_run_id".to_owned(), parent.to_string().into());
        }
        if let Some(session) = &self.session_id {
            map.insert("session_id".to_owned(), session.as_ref().into());
        }
        map.insert("agent_name".to_owned(), self.agent.as_ref().into());
        if let Some(team) = &self.team {
            map.insert("team_name".to_owned(), team.as_ref().into());
        }
        if let Some(model) = &self.request_model {
            map.insert("model".to_owned(), model.as_ref().into());
        }
        if let Some(release) = &self.release {
            map.insert("release".to_owned(), release.as_ref().into());
        }
        map.insert("created_at".to_owned(), timestamp_value(self.started_at));
        map.insert("status".to_owned(), self.status.as_str().into());
        map.insert("stop_reason".to_owned(), self.stop_reason.as_ref().into());
        if let Some(class) = &self.error_class {
            map.insert("error_class".to_owned(), class.as_ref().into());
        }
        map.insert("metrics".to_owned(), Value::Object(self.metrics_json()));
        put_count(
            &mut map,
            "unpriced_messages",
            u64::from(self.unpriced_messages),
        );
        if !self.messages.is_empty() {
            let list = self.messages.iter().map(MessageMetrics::to_json).collect();
            map.insert("messages".to_owned(), Value::Array(list));
        }
        if !self.tool_calls.is_empty() {
            let list = self
                .tool_calls
                .iter()
                .map(ToolCallMetrics::to_json)
                .collect();
            map.insert("tools".to_owned(), Value::Array(list));
        }
        if self.child_runs > 0 || !self.children_usage.is_zero() || self.children_cost != Cost::ZERO
        {
            let mut children = Map::new();
            put_count(&mut children, "runs", u64::from(self.child_runs));
            put_usage(&mut children, &self.children_usage);
            if self.children_cost != Cost::ZERO {
                children.insert("cost".to_owned(), cost_value(self.children_cost));
            }
            map.insert("children".to_owned(), Value::Object(children));
        }
        if let Some(meta) = &self.metadata {
            map.insert("metadata".to_owned(), meta.to_json());
        }
        Value::Object(map)
    }

    fn metrics_json(&self) -> Map<String, Value> {
        let mut metrics = self.run_metrics().to_json_map();
        if self.model_time > Duration::ZERO {
            metrics.insert("model_time".to_owned(), seconds_value(self.model_time));
        }
        let details = details_json(&self.per_model);
        if !details.is_empty() {
            metrics.insert("details".to_owned(), Value::Object(details));
        }
        metrics
    }

    /// Reads [`RunRecord::to_json`]'s form (and the Agno aliases listed in the
    /// keys listed on [`RunRecord::to_json`]). `run_id`, `agent_name`, `created_at` and `status` are required;
    /// a missing `stop_reason` is the status's default. The run's duration is
    /// `metrics.duration`, its time to first token `metrics.time_to_first_token`. Metadata
    /// comes back as a [`JsonMetadata`].
    ///
    /// # Errors
    /// The first missing or mistyped field, named by its path (`messages[2].metrics.input_tokens`).
    pub fn from_json(value: &Value) -> Result<RunRecord, RecordJsonError> {
        Ok(read_record(&Fields::of(value)?)?)
    }

    /// [`RunRecord::from_json`] of JSON text.
    ///
    /// # Errors
    /// The text is not JSON, or see [`RunRecord::from_json`].
    pub fn from_json_str(json: &str) -> Result<RunRecord, RecordJsonError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| RecordJsonError::Syntax(e.to_string()))?;
        RunRecord::from_json(&value)
    }
}

impl serde::Serialize for RunRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RunRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        RunRecord::from_json(&value).map_err(serde::de::Error::custom)
    }
}

fn run_id(f: &Fields<'_>, key: &str) -> Result<Option<RunId>, JsonFieldError> {
    match f.string(key)? {
        None => Ok(None),
        Some(s) => uuid::Uuid::parse_str(s)
            .map(|u| Some(RunId(u)))
            .map_err(|_| JsonFieldError::invalid(key, "a UUID", quoted(s))),
    }
}

fn first_string<'a>(
    f: &Fields<'a>,
    keys: &[&'static str],
) -> Result<Option<&'a str>, JsonFieldError> {
    match f.first(keys) {
        Some((key, _)) => f.string(key),
        None => Ok(None),
    }
}

fn status(f: &Fields<'_>) -> Result<RunStatus, JsonFieldError> {
    const EXPECTED: &str = "one of `success`, `error`, `panicked`, `cancelled` (or Agno's `COMPLETED`, `ERROR`, `CANCELLED`)";
    let value = f
        .get("status")
        .ok_or_else(|| JsonFieldError::missing("status", EXPECTED))?;
    let name = value
        .as_str()
        .ok_or_else(|| JsonFieldError::wrong("status", EXPECTED, value))?;
    RunStatus::from_wire(name)
        .or(match name {
            "COMPLETED" => Some(RunStatus::Success),
            "ERROR" => Some(RunStatus::Error),
            "CANCELLED" => Some(RunStatus::Cancelled),
            _ => None,
        })
        .ok_or_else(|| JsonFieldError::invalid("status", EXPECTED, quoted(name)))
}

fn small_count(f: &Fields<'_>, key: &str) -> Result<u32, JsonFieldError> {
    match f.get(key) {
        None => Ok(0),
        Some(v) => read_count(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| JsonFieldError::wrong(key, "a non-negative integer below 2^32", v)),
    }
}

fn list<T>(
    f: &Fields<'_>,
    keys: &[&'static str],
    read: impl Fn(&Value) -> Result<T, JsonFieldError>,
) -> Result<Vec<T>, JsonFieldError> {
    let Some((key, _)) = f.first(keys) else {
        return Ok(Vec::new());
    };
    let Some(items) = f.array(key)? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read(item).map_err(|e| e.within(&format!("{key}[{i}]"))))
        .collect()
}

fn read_record(f: &Fields<'_>) -> Result<RunRecord, JsonFieldError> {
    let run_id = run_id(f, "run_id")?.ok_or_else(|| JsonFieldError::missing("run_id", "a UUID"))?;
    let agent = first_string(f, &["agent_name", "agent_id"])?
        .ok_or_else(|| JsonFieldError::missing("agent_name", EXPECT_STRING))?;
    let started_at = match f.first(&["created_at", "started_at"]) {
        Some((key, _)) => f.timestamp(key)?,
        None => None,
    }
    .ok_or_else(|| JsonFieldError::missing("created_at", EXPECT_TIMESTAMP))?;

    let mut record = RunRecord::new(agent.to_owned(), started_at);
    record.run_id = run_id;
    record.parent_run_id = run_id_opt(f)?;
    record.session_id = f.string("session_id")?.map(Arc::from);
    record.team = first_string(f, &["team_name", "team"])?.map(|t| Cow::Owned(t.to_owned()));
    record.request_model =
        first_string(f, &["model", "request_model"])?.map(|m| Cow::Owned(m.to_owned()));
    record.release = f.string("release")?.map(Arc::from);
    record.status = status(f)?;
    record.stop_reason = match f.string("stop_reason")? {
        Some(s) => Cow::Owned(s.to_owned()),
        None => Cow::Borrowed(record.status.default_stop_reason()),
    };
    record.error_class = f.string("error_class")?.map(|c| Cow::Owned(c.to_owned()));

    if let Some(m) = f.object("metrics")? {
        let mf = Fields::from_map(m);
        let within = |e: JsonFieldError| e.within("metrics");
        record.metrics = Metrics::from_fields(&mf).map_err(within)?;
        record.duration = record.metrics.duration.unwrap_or_default();
        record.time_to_first_token = record.metrics.time_to_first_token;
        record.model_time = mf
            .seconds("model_time")
            .map_err(within)?
            .unwrap_or_default();
        if let Some(details) = mf.get("details") {
            record.per_model =
                details_from_json(details).map_err(|e| within(e.within("details")))?;
        }
    }
    if record.per_model.is_empty() {
        if let Some(details) = f.get("details") {
            record.per_model = details_from_json(details).map_err(|e| e.within("details"))?;
        }
    }
    record.unpriced_messages = small_count(f, "unpriced_messages")?;
    record.messages = list(f, &["messages"], MessageMetrics::from_json)?;
    record.tool_calls = list(f, &["tools", "tool_calls"], ToolCallMetrics::from_json)?;

    if let Some(children) = f.object("children")? {
        let cf = Fields::from_map(children);
        let within = |e: JsonFieldError| e.within("children");
        record.child_runs = small_count(&cf, "runs").map_err(within)?;
        record.children_usage = read_usage(&cf).map_err(within)?;
        record.children_cost = cf.cost("cost").map_err(within)?.unwrap_or(Cost::ZERO);
    }
    if let Some(meta) = f.get("metadata") {
        record.metadata = Some(MetadataRecord::from_json(meta).map_err(|e| e.within("metadata"))?);
    }
    Ok(record)
}

fn run_id_opt(f: &Fields<'_>) -> Result<Option<RunId>, JsonFieldError> {
    run_id(f, "parent_run_id")
}

impl MetadataRecord {
    /// The metadata as JSON: `schema`, `version`, `values` (redacted fields masked),
    /// `labels` (the label keys, in schema order), `sla_deadline_key` and `sla_target_key`
    /// (the keys whose values are the SLA deadline and target, when set and not redacted),
    /// and `errors` ([`MetadataErrors::to_json`]) when the value was invalid.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let meta = &*self.value;
        let values = meta.to_json();
        let mut labels = Vec::new();
        meta.for_each_label(&mut |key, _| labels.push(Value::String(key.to_owned())));
        let mut map = Map::new();
        map.insert("schema".to_owned(), meta.schema_name().into());
        map.insert("version".to_owned(), meta.schema_version().into());
        if let Some(key) = meta.sla_deadline_key() {
            map.insert("sla_deadline_key".to_owned(), key.into());
        }
        if let Some(key) = meta.sla_target_key() {
            map.insert("sla_target_key".to_owned(), key.into());
        }
        map.insert("values".to_owned(), Value::Object(values));
        if !labels.is_empty() {
            map.insert("labels".to_owned(), Value::Array(labels));
        }
        if let Some(errors) = &self.errors {
            map.insert("errors".to_owned(), errors.to_json());
        }
        Value::Object(map)
    }

    /// Reads [`MetadataRecord::to_json`]'s form; the value comes back as a [`JsonMetadata`]
    /// and the errors as [`MetadataErrors`] (the allowed values of a `not_allowed` problem
    /// are not restored). An object with neither `schema` nor `values` is Agno's free-form
    /// `metadata` dict: it becomes the values of a schema-less [`JsonMetadata`].
    ///
    /// # Errors
    /// A field of the wrong type, named by its key.
    pub fn from_json(value: &Value) -> Result<MetadataRecord, JsonFieldError> {
        let f = Fields::of(value)?;
        if f.get("schema").is_none() && f.get("values").is_none() {
            // Agno's free-form `metadata` dict: the object is the values.
            return Ok(MetadataRecord {
                value: MetadataValue::new(JsonMetadata {
                    values: f.map().clone(),
                    ..JsonMetadata::default()
                }),
                errors: None,
            });
        }
        let label_keys = match f.array("labels")? {
            None => Vec::new(),
            // A schema has at most MAX_KEYS fields; more labels would only make every series
            // of the run (and recording it) as large as the list.
            Some(items) if items.len() > MAX_KEYS => {
                return Err(JsonFieldError::invalid(
                    "labels",
                    "at most 256 label keys",
                    format!("{} keys", items.len()),
                ))
            }
            Some(items) => {
                let mut keys: Vec<String> = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    let key = v.as_str().ok_or_else(|| {
                        JsonFieldError::wrong(format!("labels[{i}]"), EXPECT_STRING, v)
                    })?;
                    // A key listed twice is one label (at most 256: the check is cheap).
                    if !keys.iter().any(|k| k == key) {
                        keys.push(key.to_owned());
                    }
                }
                keys
            }
        };
        let version = match f.get("version") {
            None => 0,
            Some(v) => read_count(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| JsonFieldError::wrong("version", "a non-negative integer", v))?,
        };
        let values = f.object("values")?.cloned().unwrap_or_default();
        let meta = JsonMetadata {
            schema: f.string("schema")?.unwrap_or_default().to_owned(),
            version,
            values,
            label_keys,
            sla_deadline_key: f.string("sla_deadline_key")?.map(str::to_owned),
            sla_target_key: f.string("sla_target_key")?.map(str::to_owned),
        };
        let errors = match f.get("errors") {
            None => None,
            Some(e) => Some(Arc::new(
                metadata_errors(e, &meta.schema).map_err(|e| e.within("errors"))?,
            )),
        };
        Ok(MetadataRecord {
            value: MetadataValue::new(meta),
            errors,
        })
    }
}

/// The JSON type names `Problem::WrongType` uses.
const KINDS: [&str; 7] = [
    "null", "bool", "integer", "float", "string", "array", "object",
];

fn metadata_errors(value: &Value, schema: &str) -> Result<MetadataErrors, JsonFieldError> {
    let f = Fields::of(value)?;
    let schema = f.string("schema")?.unwrap_or(schema).to_owned();
    let mut errors = Vec::new();
    for (i, item) in f.array("errors")?.into_iter().flatten().enumerate() {
        let e = Fields::of(item).map_err(|e| e.within(&format!("errors[{i}]")))?;
        errors.push(field_error(&e).map_err(|e| e.within(&format!("errors[{i}]")))?);
    }
    Ok(MetadataErrors::new(schema, errors))
}

fn int(f: &Fields<'_>, key: &str) -> Result<i128, JsonFieldError> {
    let v = f
        .get(key)
        .ok_or_else(|| JsonFieldError::missing(key, "an integer"))?;
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .ok_or_else(|| JsonFieldError::wrong(key, "an integer", v))
}

fn size(f: &Fields<'_>, key: &str) -> Result<usize, JsonFieldError> {
    let v = f
        .get(key)
        .ok_or_else(|| JsonFieldError::missing(key, "a non-negative integer"))?;
    read_count(v)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| JsonFieldError::wrong(key, "a non-negative integer", v))
}

fn field_error(f: &Fields<'_>) -> Result<FieldError, JsonFieldError> {
    let key = f.string("key")?.unwrap_or_default().to_owned();
    let tag = f
        .string("problem")?
        .ok_or_else(|| JsonFieldError::missing("problem", EXPECT_STRING))?;
    let text = |k: &str| -> Result<String, JsonFieldError> {
        Ok(f.string(k)?.unwrap_or_default().to_owned())
    };
    let found =
        || -> Result<Option<String>, JsonFieldError> { Ok(f.string("found")?.map(str::to_owned)) };
    let problem = match tag {
        "missing" => Problem::Missing,
        "unknown" => Problem::Unknown,
        "duplicate" => Problem::Duplicate,
        "wrong_type" => {
            let found = f.string("found")?.unwrap_or_default();
            Problem::WrongType {
                expected: Cow::Owned(text("expected")?),
                found: KINDS
                    .iter()
                    .find(|k| **k == found)
                    .copied()
                    .unwrap_or("value"),
            }
        }
        "not_allowed" => Problem::NotAllowed {
            found: found()?,
            allowed: &[],
        },
        "out_of_range" => Problem::OutOfRange {
            found: found()?,
            min: int(f, "min")?,
            max: int(f, "max")?,
        },
        "invalid_deadline" => Problem::InvalidDeadline {
            reason: text("reason")?,
        },
        "non_finite" => Problem::NonFinite,
        "string_too_long" => Problem::StringTooLong {
            len: size(f, "len")?,
            max: size(f, "max")?,
        },
        "too_many_keys" => Problem::TooManyKeys {
            max: size(f, "max")?,
        },
        "document_too_large" => Problem::DocumentTooLarge {
            len: size(f, "len")?,
            max: size(f, "max")?,
        },
        "malformed" => Problem::Malformed {
            message: text("message")?,
        },
        other => Problem::Malformed {
            message: format!("unrecognized problem `{other}`"),
        },
    };
    Ok(FieldError { key, problem })
}
