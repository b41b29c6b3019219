//! Agno-compatible JSON for [`Metrics`], and the reading helpers the other JSON forms share.
//!
//! Output follows Agno's `Metrics.to_dict()`: v2 names, zero integer counts, absent values and
//! empty maps omitted; a cost of zero is kept (`0.0`); durations are seconds as floats.
//! Input accepts v2 and v1 names (v2 wins when both are present), `null` as absent, and
//! ignores keys it does not know.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Number, Value};

use super::{Cost, Metrics, Usage};

/// A JSON value that could not be read: where it is and what was expected.
///
/// ```
/// use runmeta_core::metrics::Metrics;
/// let err = Metrics::from_json(&serde_json::json!({"input_tokens": "12"})).unwrap_err();
/// assert_eq!(err.to_string(), "input_tokens: expected a non-negative integer, found string");
/// assert_eq!(err.path(), "input_tokens");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonFieldError {
    path: String,
    expected: Cow<'static, str>,
    found: Option<String>,
}

impl JsonFieldError {
    /// A value of the wrong type or out of range at `path`.
    #[must_use]
    pub fn wrong(
        path: impl Into<String>,
        expected: impl Into<Cow<'static, str>>,
        found: &Value,
    ) -> Self {
        JsonFieldError {
            path: path.into(),
            expected: expected.into(),
            found: Some(describe(found)),
        }
    }

    /// A value that is wrong for a reason given as text (`found` is shown as is).
    #[must_use]
    pub fn invalid(
        path: impl Into<String>,
        expected: impl Into<Cow<'static, str>>,
        found: impl Into<String>,
    ) -> Self {
        JsonFieldError {
            path: path.into(),
            expected: expected.into(),
            found: Some(found.into()),
        }
    }

    /// A required value that is absent at `path`.
    #[must_use]
    pub fn missing(path: impl Into<String>, expected: impl Into<Cow<'static, str>>) -> Self {
        JsonFieldError {
            path: path.into(),
            expected: expected.into(),
            found: None,
        }
    }

    /// The same error inside `prefix` (an object key or `list[3]`).
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_owned()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }

    /// Where the value is: dotted keys and `[index]`, empty for the document itself.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What was expected, e.g. `a non-negative integer`.
    #[must_use]
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What was found: a JSON type name or the offending value; `None` when it was missing.
    #[must_use]
    pub fn found(&self) -> Option<&str> {
        self.found.as_deref()
    }
}

impl fmt::Display for JsonFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        match &self.found {
            Some(found) => write!(f, "expected {}, found {found}", self.expected),
            None => write!(f, "missing, expected {}", self.expected),
        }
    }
}

impl std::error::Error for JsonFieldError {}

/// How a value is shown in an error: numbers as written, strings as `string`, other values
/// by their JSON type.
fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

/// Shows a string value in an error, quoted and cut short.
pub(crate) fn quoted(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The JSON type's name.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) const EXPECT_COUNT: &str = "a non-negative integer";
pub(crate) const EXPECT_SECONDS: &str = "a non-negative number of seconds";
pub(crate) const EXPECT_COST: &str = "a non-negative number";
pub(crate) const EXPECT_STRING: &str = "a string";
pub(crate) const EXPECT_OBJECT: &str = "an object";
pub(crate) const EXPECT_ARRAY: &str = "an array";
pub(crate) const EXPECT_TIMESTAMP: &str = "an RFC 3339 timestamp or Unix seconds";

/// Reads a non-negative integer (an integral float such as `3.0` is accepted).
pub(crate) fn read_count(value: &Value) -> Option<u64> {
    let n = value.as_number()?;
    if let Some(v) = n.as_u64() {
        return Some(v);
    }
    let f = n.as_f64()?;
    #[allow(clippy::cast_precision_loss)]
    let in_range = f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    in_range.then_some(f as u64)
}

/// Reads a non-negative, finite number of seconds.
pub(crate) fn read_seconds(value: &Value) -> Option<Duration> {
    let f = value.as_f64()?;
    if f < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(f).ok()
}

/// Reads an RFC 3339 timestamp, or Unix seconds (Agno stores `created_at` as an integer).
pub(crate) fn read_timestamp(value: &Value) -> Option<Timestamp> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => match n.as_i64() {
            Some(secs) => Timestamp::from_second(secs).ok(),
            None => SignedDuration::try_from_secs_f64(n.as_f64()?)
                .ok()
                .and_then(|d| Timestamp::from_duration(d).ok()),
        },
        _ => None,
    }
}

/// A JSON object being read, with errors naming the key.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The object `value`, or an error naming the document.
    pub(crate) fn of(value: &'a Value) -> Result<Self, JsonFieldError> {
        match value {
            Value::Object(map) => Ok(Fields { map }),
            other => Err(JsonFieldError::wrong("", EXPECT_OBJECT, other)),
        }
    }

    pub(crate) fn from_map(map: &'a Map<String, Value>) -> Self {
        Fields { map }
    }

    /// The object itself.
    pub(crate) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The value of `key`; `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value of the first present key among `keys` (v2 name first, then v1 names).
    pub(crate) fn first(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (*k, v)))
    }

    fn read<T>(
        &self,
        key: &str,
        expected: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, JsonFieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => read(v)
                .map(Some)
                .ok_or_else(|| JsonFieldError::wrong(key, expected, v)),
        }
    }

    pub(crate) fn count(&self, key: &str) -> Result<Option<u64>, JsonFieldError> {
        self.read(key, EXPECT_COUNT, read_count)
    }

    /// A count under its v2 name or, failing that, one of its v1 names.
    pub(crate) fn count_any(&self, keys: &[&'static str]) -> Result<Option<u64>, JsonFieldError> {
        match self.first(keys) {
            None => Ok(None),
            Some((key, _)) => self.count(key),
        }
    }

    pub(crate) fn seconds(&self, key: &str) -> Result<Option<Duration>, JsonFieldError> {
        self.read(key, EXPECT_SECONDS, read_seconds)
    }

    pub(crate) fn seconds_any(
        &self,
        keys: &[&'static str],
    ) -> Result<Option<Duration>, JsonFieldError> {
        match self.first(keys) {
            None => Ok(None),
            Some((key, _)) => self.seconds(key),
        }
    }

    /// A cost: a non-negative number, or a string holding one (Agno formats costs as text
    /// in some versions).
    pub(crate) fn cost(&self, key: &str) -> Result<Option<Cost>, JsonFieldError> {
        self.read(key, EXPECT_COST, |v| match v {
            Value::Number(n) => Cost::from_f64(n.as_f64()?),
            Value::String(s) => Cost::from_f64(s.trim().parse().ok()?),
            _ => None,
        })
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, JsonFieldError> {
        self.read(key, EXPECT_STRING, Value::as_str)
    }

    pub(crate) fn object(
        &self,
        key: &str,
    ) -> Result<Option<&'a Map<String, Value>>, JsonFieldError> {
        self.read(key, EXPECT_OBJECT, Value::as_object)
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, JsonFieldError> {
        self.read(key, EXPECT_ARRAY, Value::as_array)
    }

    pub(crate) fn timestamp(&self, key: &str) -> Result<Option<Timestamp>, JsonFieldError> {
        self.read(key, EXPECT_TIMESTAMP, read_timestamp)
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, JsonFieldError> {
        self.read(key, "a bool", Value::as_bool)
    }
}

/// Inserts a count unless it is zero (Agno omits zero integers).
pub(crate) fn put_count(map: &mut Map<String, Value>, key: &str, value: u64) {
    if value != 0 {
        map.insert(key.to_owned(), Value::from(value));
    }
}

/// Writes a total: omitted only when it is what a reader derives when it is absent (zero,
/// and its parts sum to zero).
fn put_total(map: &mut Map<String, Value>, key: &str, total: u64, parts: u64) {
    if total != 0 || parts != 0 {
        map.insert(key.to_owned(), Value::from(total));
    }
}

/// A duration as float seconds.
pub(crate) fn seconds_value(d: Duration) -> Value {
    Number::from_f64(d.as_secs_f64()).map_or(Value::Null, Value::Number)
}

/// Inserts a duration in seconds if present.
pub(crate) fn put_seconds(map: &mut Map<String, Value>, key: &str, value: Option<Duration>) {
    if let Some(d) = value {
        map.insert(key.to_owned(), seconds_value(d));
    }
}

/// A timestamp as RFC 3339 UTC text.
pub(crate) fn timestamp_value(ts: Timestamp) -> Value {
    Value::String(ts.to_string())
}

/// A cost as a decimal number.
pub(crate) fn cost_value(cost: Cost) -> Value {
    Number::from_f64(cost.as_f64()).map_or(Value::Null, Value::Number)
}

/// Writes the token counts of `usage` under their v2 names. Zero counts are omitted, except
/// a zero total whose parts are not zero: [`read_usage`] would derive an absent total from
/// its parts, so the record would change on its way through JSON.
pub(crate) fn put_usage(map: &mut Map<String, Value>, u: &Usage) {
    put_count(map, "input_tokens", u.input_tokens);
    put_count(map, "output_tokens", u.output_tokens);
    put_total(
        map,
        "total_tokens",
        u.total_tokens,
        u.input_tokens.saturating_add(u.output_tokens),
    );
    put_count(map, "audio_input_tokens", u.audio_input_tokens);
    put_count(map, "audio_output_tokens", u.audio_output_tokens);
    put_total(
        map,
        "audio_total_tokens",
        u.audio_total_tokens,
        u.audio_input_tokens.saturating_add(u.audio_output_tokens),
    );
    put_count(map, "cache_read_tokens", u.cache_read_tokens);
    put_count(map, "cache_write_tokens", u.cache_write_tokens);
    put_count(map, "reasoning_tokens", u.reasoning_tokens);
}

/// Reads token counts under their v2 or v1 names. An absent `total_tokens` is
/// `input + output`; an absent `audio_total_tokens` is audio input + audio output.
pub(crate) fn read_usage(f: &Fields<'_>) -> Result<Usage, JsonFieldError> {
    let input_tokens = f
        .count_any(&["input_tokens", "prompt_tokens"])?
        .unwrap_or(0);
    let output_tokens = f
        .count_any(&["output_tokens", "completion_tokens"])?
        .unwrap_or(0);
    let audio_input_tokens = f
        .count_any(&["audio_input_tokens", "input_audio_tokens"])?
        .unwrap_or(0);
    let audio_output_tokens = f
        .count_any(&["audio_output_tokens", "output_audio_tokens"])?
        .unwrap_or(0);
    Ok(Usage {
        input_tokens,
        output_tokens,
        total_tokens: f
            .count("total_tokens")?
            .unwrap_or_else(|| input_tokens.saturating_add(output_tokens)),
        reasoning_tokens: f.count("reasoning_tokens")?.unwrap_or(0),
        cache_read_tokens: f
            .count_any(&["cache_read_tokens", "cached_tokens"])?
            .unwrap_or(0),
        cache_write_tokens: f.count("cache_write_tokens")?.unwrap_or(0),
        audio_input_tokens,
        audio_output_tokens,
        audio_total_tokens: f
            .count_any(&["audio_total_tokens", "audio_tokens"])?
            .unwrap_or_else(|| audio_input_tokens.saturating_add(audio_output_tokens)),
    })
}

impl Metrics {
    /// Agno's `Metrics.to_dict()` as a JSON object: v2 names; zero counts, absent values and
    /// empty maps omitted; `cost` kept when it is `Some(0)`; durations in seconds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use runmeta_core::metrics::{Cost, Metrics, Usage};
    /// let m = Metrics {
    ///     usage: Usage::new(150, 500),
    ///     duration: Some(Duration::from_millis(2300)),
    ///     cost: Some(Cost::ZERO),
    ///     ..Metrics::default()
    /// };
    /// assert_eq!(m.to_json(), serde_json::json!({
    ///     "input_tokens": 150, "output_tokens": 500, "total_tokens": 650,
    ///     "duration": 2.3, "cost": 0.0,
    /// }));
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Value {
        Value::Object(self.to_json_map())
    }

    /// [`Metrics::to_json`] as a map, to add fields to.
    #[must_use]
    pub fn to_json_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        put_usage(&mut map, &self.usage);
        if let Some(cost) = self.cost {
            map.insert("cost".to_owned(), cost_value(cost));
        }
        put_seconds(&mut map, "time_to_first_token", self.time_to_first_token);
        put_seconds(&mut map, "duration", self.duration);
        if !self.provider_metrics.is_empty() {
            map.insert(
                "provider_metrics".to_owned(),
                Value::Object(self.provider_metrics.clone()),
            );
        }
        if !self.additional_metrics.is_empty() {
            map.insert(
                "additional_metrics".to_owned(),
                Value::Object(self.additional_metrics.clone()),
            );
        }
        map
    }

    /// Reads Agno metrics JSON, v2 or v1.
    ///
    /// v1 names are accepted: `time` → `duration`, `prompt_tokens` → `input_tokens`,
    /// `completion_tokens` → `output_tokens`, `cached_tokens` → `cache_read_tokens`,
    /// `audio_tokens` → `audio_total_tokens`, `input_audio_tokens` → `audio_input_tokens`,
    /// `output_audio_tokens` → `audio_output_tokens`; `prompt_tokens_details` and
    /// `completion_tokens_details` move into `provider_metrics` under their own names. When a
    /// v1 and a v2 name are both present the v2 value wins. An absent `total_tokens` is
    /// `input_tokens + output_tokens`. Unknown keys are ignored; `null` is absent.
    ///
    /// ```
    /// use runmeta_core::metrics::Metrics;
    /// let v1 = serde_json::json!({"prompt_tokens": 10, "completion_tokens": 5, "time": 1.5});
    /// let m = Metrics::from_json(&v1).unwrap();
    /// assert_eq!((m.usage.input_tokens, m.usage.total_tokens), (10, 15));
    /// assert_eq!(m.duration.unwrap().as_millis(), 1500);
    /// ```
    ///
    /// # Errors
    /// A value of the wrong type (a string count, a negative count or duration, ...), named by
    /// its key.
    pub fn from_json(value: &Value) -> Result<Metrics, JsonFieldError> {
        Metrics::from_fields(&Fields::of(value)?)
    }

    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Metrics, JsonFieldError> {
        let mut provider_metrics = f.object("provider_metrics")?.cloned().unwrap_or_default();
        for key in ["prompt_tokens_details", "completion_tokens_details"] {
            if let Some(v) = f.get(key) {
                provider_metrics
                    .entry(key.to_owned())
                    .or_insert_with(|| v.clone());
            }
        }
        Ok(Metrics {
            usage: read_usage(f)?,
            duration: f.seconds_any(&["duration", "time"])?,
            time_to_first_token: f.seconds("time_to_first_token")?,
            cost: f.cost("cost")?,
            provider_metrics,
            additional_metrics: f.object("additional_metrics")?.cloned().unwrap_or_default(),
        })
    }
}

impl serde::Serialize for Metrics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_map().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Metrics {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Metrics::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_accept_integral_floats_and_reject_the_rest() {
        assert_eq!(read_count(&json!(3)), Some(3));
        assert_eq!(read_count(&json!(3.0)), Some(3));
        assert_eq!(read_count(&json!(3.5)), None);
        assert_eq!(read_count(&json!(-1)), None);
        assert_eq!(read_count(&json!(-1.0)), None);
        assert_eq!(read_count(&json!(1e30)), None);
        assert_eq!(read_count(&json!("3")), None);
    }

    #[test]
    fn seconds_reject_negative_and_strings() {
        assert_eq!(read_seconds(&json!(1.5)), Some(Duration::from_millis(1500)));
        assert_eq!(read_seconds(&json!(2)), Some(Duration::from_secs(2)));
        assert_eq!(read_seconds(&json!(-0.5)), None);
        assert_eq!(read_seconds(&json!(1e300)), None);
        assert_eq!(read_seconds(&json!("1.5")), None);
    }

    #[test]
    fn timestamps_from_text_and_unix_seconds() {
        let t: Timestamp = "2024-01-15T14:00:00Z".parse().unwrap();
        assert_eq!(read_timestamp(&json!("2024-01-15T14:00:00Z")), Some(t));
        assert_eq!(read_timestamp(&json!("2024-01-15T16:00:00+02:00")), Some(t));
        assert_eq!(read_timestamp(&json!(t.as_second())), Some(t));
        assert_eq!(read_timestamp(&json!(t.as_second() as f64)), Some(t));
        assert_eq!(read_timestamp(&json!("yesterday")), None);
        assert_eq!(read_timestamp(&json!(true)), None);
    }

    #[test]
    fn error_paths_nest() {
        let e = JsonFieldError::missing("tool_name", EXPECT_STRING)
            .within("[2]")
            .within("tools");
        assert_eq!(e.path(), "tools[2].tool_name");
        assert_eq!(
            e.to_string(),
            "tools[2].tool_name: missing, expected a string"
        );
        assert_eq!(e.found(), None);
        let e = JsonFieldError::wrong("", EXPECT_OBJECT, &json!([1]));
        assert_eq!(e.to_string(), "expected an object, found array");
        assert_eq!(
            e.within("metrics").to_string(),
            "metrics: expected an object, found array"
        );
    }

    #[test]
    fn cost_text_is_accepted() {
        let m = Metrics::from_json(&json!({"cost": "0.000026"})).unwrap();
        assert_eq!(m.cost, Some(Cost::from_nanos(26_000)));
        let e = Metrics::from_json(&json!({"cost": "cheap"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cost: expected a non-negative number, found string"
        );
        let e = Metrics::from_json(&json!({"cost": -1.0})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cost: expected a non-negative number, found -1.0"
        );
    }
}
