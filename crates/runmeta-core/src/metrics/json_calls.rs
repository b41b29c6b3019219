//! JSON of one model call ([`MessageMetrics`]), one tool call ([`ToolCallMetrics`]) and one
//! model's share of a run ([`ModelBreakdown`]).
//!
//! Wire names:
//!
//! - a message: `model_type` (the role), `model_provider` and `model` (Agno's `RunOutput`
//!   names), `started_at` (RFC 3339 UTC) and `metrics` (Agno's message metrics, as
//!   [`Metrics::to_json`]);
//! - a tool call, after Agno's `ToolExecution`: `tool_name`, `started_at`, `duration`
//!   (seconds), `status`, `error_class`, and `tool_call_error: true` when it did not succeed.
//!   Agno's own form is read too: `metrics.start_time` (Unix seconds) or `created_at` for
//!   the start, `metrics.duration` for the duration, `tool_call_error` for the status;
//! - a model breakdown, after Agno's `ModelMetrics`: `model_type`, `provider`, `id`, `calls`
//!   and the metrics fields alongside.

use serde_json::{Map, Value};

use super::json::{
    put_count, quoted, read_timestamp, seconds_value, timestamp_value, Fields, JsonFieldError,
    EXPECT_STRING, EXPECT_TIMESTAMP,
};
use super::{MessageMetrics, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus};
use crate::run::ModelBreakdown;

impl MessageMetrics {
    /// The call as JSON: `model_type`, `model_provider`, `model`, `started_at`, `metrics`.
    ///
    /// ```
    /// use runmeta_core::metrics::{MessageMetrics, Metrics, ModelRef, Usage};
    /// let m = MessageMetrics {
    ///     model: Some(ModelRef::new("openai", "gpt-4o-mini")),
    ///     started_at: Some("2024-01-15T14:00:00Z".parse().unwrap()),
    ///     metrics: Metrics::from_usage(Usage::new(10, 2)),
    /// };
    /// let json = m.to_json();
    /// assert_eq!(json["model"], "gpt-4o-mini");
    /// assert_eq!(json["metrics"]["total_tokens"], 12);
    /// assert_eq!(MessageMetrics::from_json(&json).unwrap(), m);
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(model) = &self.model {
            map.insert("model_type".to_owned(), model.role.as_str().into());
            map.insert("model_provider".to_owned(), model.provider.clone().into());
            map.insert("model".to_owned(), model.id.clone().into());
        }
        if let Some(ts) = self.started_at {
            map.insert("started_at".to_owned(), timestamp_value(ts));
        }
        map.insert("metrics".to_owned(), self.metrics.to_json());
        Value::Object(map)
    }

    /// Reads [`MessageMetrics::to_json`]'s form. The model is present when any of
    /// `model_type`, `model_provider`, `model` is (a missing role is `model`).
    ///
    /// # Errors
    /// A value of the wrong type, named by its path (`metrics.input_tokens`, ...).
    pub fn from_json(value: &Value) -> Result<MessageMetrics, JsonFieldError> {
        let f = Fields::of(value)?;
        let role = f.string("model_type")?;
        let provider = f.string("model_provider")?;
        let id = f.string("model")?;
        let model = (role.is_some() || provider.is_some() || id.is_some()).then(|| ModelRef {
            role: role.map_or(ModelRole::Model, ModelRole::from_wire),
            provider: provider.unwrap_or_default().to_owned(),
            id: id.unwrap_or_default().to_owned(),
        });
        let metrics = match f.get("metrics") {
            None => Metrics::default(),
            Some(m) => Metrics::from_json(m).map_err(|e| e.within("metrics"))?,
        };
        Ok(MessageMetrics {
            model,
            started_at: f.timestamp("started_at")?,
            metrics,
        })
    }
}

impl ToolCallMetrics {
    /// The call as JSON, after Agno's `ToolExecution`: `tool_name`, `started_at`, `duration`,
    /// `status`, `error_class`, and `tool_call_error: true` unless it succeeded.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("tool_name".to_owned(), self.name.clone().into());
        map.insert("started_at".to_owned(), timestamp_value(self.started_at));
        map.insert("duration".to_owned(), seconds_value(self.duration));
        map.insert("status".to_owned(), self.status.as_str().into());
        if let Some(class) = &self.error_class {
            map.insert("error_class".to_owned(), class.clone().into());
        }
        if self.status != ToolStatus::Success {
            map.insert("tool_call_error".to_owned(), true.into());
        }
        Value::Object(map)
    }

    /// Reads [`ToolCallMetrics::to_json`]'s form or Agno's `ToolExecution`. `tool_name` and
    /// a start time are required; a missing duration is zero; a missing status is `error`
    /// when `tool_call_error` is true, else `success`.
    ///
    /// ```
    /// use runmeta_core::metrics::{ToolCallMetrics, ToolStatus};
    /// let agno = serde_json::json!({
    ///     "tool_call_id": "call_1", "tool_name": "get_current_stock_price",
    ///     "tool_args": {"symbol": "NVDA"}, "tool_call_error": false,
    ///     "metrics": {"start_time": 1736949600.25, "end_time": 1736949600.75, "duration": 0.5},
    ///     "created_at": 1736949600
    /// });
    /// let call = ToolCallMetrics::from_json(&agno).unwrap();
    /// assert_eq!(call.name, "get_current_stock_price");
    /// assert_eq!(call.status, ToolStatus::Success);
    /// assert_eq!(call.duration.as_millis(), 500);
    /// ```
    ///
    /// # Errors
    /// A missing name or start, or a value of the wrong type, named by its key.
    pub fn from_json(value: &Value) -> Result<ToolCallMetrics, JsonFieldError> {
        let f = Fields::of(value)?;
        let name = f
            .string("tool_name")?
            .ok_or_else(|| JsonFieldError::missing("tool_name", EXPECT_STRING))?;
        let agno = f.object("metrics")?.map(Fields::from_map);
        let started_at = match f.timestamp("started_at")? {
            Some(ts) => ts,
            None => match agno.and_then(|m| m.get("start_time")) {
                Some(v) => read_timestamp(v).ok_or_else(|| {
                    JsonFieldError::wrong("metrics.start_time", EXPECT_TIMESTAMP, v)
                })?,
                None => f
                    .timestamp("created_at")?
                    .ok_or_else(|| JsonFieldError::missing("started_at", EXPECT_TIMESTAMP))?,
            },
        };
        let duration = match f.seconds("duration")? {
            Some(d) => d,
            None => match agno {
                Some(m) => m
                    .seconds("duration")
                    .map_err(|e| e.within("metrics"))?
                    .unwrap_or_default(),
                None => std::time::Duration::ZERO,
            },
        };
        let status = match f.get("status") {
            Some(v) => {
                const EXPECTED: &str = "one of `success`, `error`, `panicked`, `cancelled`";
                let name = v
                    .as_str()
                    .ok_or_else(|| JsonFieldError::wrong("status", EXPECTED, v))?;
                ToolStatus::from_wire(name)
                    .ok_or_else(|| JsonFieldError::invalid("status", EXPECTED, quoted(name)))?
            }
            None if f.boolean("tool_call_error")? == Some(true) => ToolStatus::Error,
            None => ToolStatus::Success,
        };
        Ok(ToolCallMetrics {
            name: name.to_owned(),
            started_at,
            duration,
            status,
            error_class: f.string("error_class")?.map(str::to_owned),
        })
    }
}

impl ModelBreakdown {
    /// The breakdown as JSON, after Agno's `ModelMetrics`: `model_type`, `provider`, `id`,
    /// `calls`, then the metrics fields ([`Metrics::to_json`]) alongside.
    ///
    /// ```
    /// use runmeta_core::metrics::{Metrics, ModelRef, Usage};
    /// use runmeta_core::run::ModelBreakdown;
    /// let b = ModelBreakdown {
    ///     model: ModelRef::new("anthropic", "claude-sonnet-4-5"),
    ///     calls: 2,
    ///     metrics: Metrics::from_usage(Usage::new(300, 40)),
    /// };
    /// let json = b.to_json();
    /// assert_eq!(json["id"], "claude-sonnet-4-5");
    /// assert_eq!(json["calls"], 2);
    /// assert_eq!(ModelBreakdown::from_json(&json).unwrap(), b);
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("model_type".to_owned(), self.model.role.as_str().into());
        self.write_entry(&mut map);
        Value::Object(map)
    }

    /// The entry without `model_type`, as listed under its role in Agno's `details`.
    pub(crate) fn to_detail_entry(&self) -> Value {
        let mut map = Map::new();
        self.write_entry(&mut map);
        Value::Object(map)
    }

    fn write_entry(&self, map: &mut Map<String, Value>) {
        map.insert("provider".to_owned(), self.model.provider.clone().into());
        map.insert("id".to_owned(), self.model.id.clone().into());
        put_count(map, "calls", self.calls);
        map.extend(self.metrics.to_json_map());
    }

    /// Reads [`ModelBreakdown::to_json`]'s form (a missing `model_type` is `model`).
    ///
    /// # Errors
    /// A value of the wrong type, named by its key.
    pub fn from_json(value: &Value) -> Result<ModelBreakdown, JsonFieldError> {
        Self::from_detail_entry(None, value)
    }

    /// Reads an entry of Agno's `details`, whose role is `role` (the key it is listed under)
    /// or, when `None`, its own `model_type`.
    pub(crate) fn from_detail_entry(
        role: Option<&str>,
        value: &Value,
    ) -> Result<ModelBreakdown, JsonFieldError> {
        let f = Fields::of(value)?;
        let role = match role {
            Some(r) => ModelRole::from_wire(r),
            None => f
                .string("model_type")?
                .map_or(ModelRole::Model, ModelRole::from_wire),
        };
        Ok(ModelBreakdown {
            model: ModelRef {
                role,
                provider: f.string("provider")?.unwrap_or_default().to_owned(),
                id: f.string("id")?.unwrap_or_default().to_owned(),
            },
            calls: f.count("calls")?.unwrap_or(0),
            metrics: Metrics::from_fields(&f)?,
        })
    }
}

/// Agno's `details`: the breakdowns grouped by role, `{"model": [{...}], "output_model": ...}`,
/// each role's entries in first-seen order.
pub(crate) fn details_json(per_model: &[ModelBreakdown]) -> Map<String, Value> {
    let mut details = Map::new();
    for b in per_model {
        let entry = b.to_detail_entry();
        match details
            .entry(b.model.role.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(entry),
            other => *other = Value::Array(vec![entry]),
        }
    }
    details
}

/// Reads Agno's `details` (an object of role → list) or a plain list of breakdowns that
/// carry their own `model_type`.
pub(crate) fn details_from_json(value: &Value) -> Result<Vec<ModelBreakdown>, JsonFieldError> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for (role, entries) in map {
                let list = entries
                    .as_array()
                    .ok_or_else(|| JsonFieldError::wrong(role.as_str(), "an array", entries))?;
                for (i, entry) in list.iter().enumerate() {
                    out.push(
                        ModelBreakdown::from_detail_entry(Some(role), entry)
                            .map_err(|e| e.within(&format!("{role}[{i}]")))?,
                    );
                }
            }
        }
        Value::Array(list) => {
            for (i, entry) in list.iter().enumerate() {
                out.push(
                    ModelBreakdown::from_json(entry).map_err(|e| e.within(&format!("[{i}]")))?,
                );
            }
        }
        other => {
            return Err(JsonFieldError::wrong(
                "",
                "an object of lists by model type",
                other,
            ))
        }
    }
    Ok(out)
}

macro_rules! serde_via_json {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.to_json().serialize(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(d)?;
                <$ty>::from_json(&value).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_json!(MessageMetrics, ToolCallMetrics, ModelBreakdown);
