//! Conversions between record values and column values.
//!
//! SQLite integers are `i64`: token counts and costs above `i64::MAX` are stored as
//! `i64::MAX` (they only occur after saturation), durations are nanoseconds capped at
//! `i64::MAX` (292 years), and `started_at` is Unix nanoseconds, so a run must start between
//! 1677 and 2262 to be stored.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};

use runmeta_core::metrics::{Cost, Metrics, ModelRef, ModelRole, Usage};
use runmeta_core::run::ModelBreakdown;

/// A count as a column value, capped at `i64::MAX`.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A column value as a count; negative values (hand-edited rows) read as 0.
pub(crate) fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A duration in nanoseconds, capped at `i64::MAX`.
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Nanoseconds as a duration; negative values read as zero.
pub(crate) fn duration(ns: i64) -> Duration {
    Duration::from_nanos(uint(ns))
}

/// A timestamp as Unix nanoseconds, or `None` outside 1677..2262.
pub(crate) fn ts_nanos(t: Timestamp) -> Option<i64> {
    i64::try_from(t.as_nanosecond()).ok()
}

/// Unix nanoseconds as a timestamp.
pub(crate) fn timestamp(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A cost as a column value.
pub(crate) fn cost(c: Cost) -> i64 {
    int(c.as_nanos())
}

/// Usage as a JSON object with Agno's names, zero counts omitted.
pub(crate) fn usage_json(u: &Usage) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in usage_fields(u) {
        if v != 0 {
            m.insert(k.to_owned(), Value::from(v));
        }
    }
    m
}

/// The usage fields with their Agno names, in column order.
pub(crate) fn usage_fields(u: &Usage) -> [(&'static str, u64); 9] {
    [
        ("input_tokens", u.input_tokens),
        ("output_tokens", u.output_tokens),
        ("total_tokens", u.total_tokens),
        ("reasoning_tokens", u.reasoning_tokens),
        ("cache_read_tokens", u.cache_read_tokens),
        ("cache_write_tokens", u.cache_write_tokens),
        ("audio_input_tokens", u.audio_input_tokens),
        ("audio_output_tokens", u.audio_output_tokens),
        ("audio_total_tokens", u.audio_total_tokens),
    ]
}

/// Usage from a JSON object written by [`usage_json`]; missing or invalid counts are 0.
pub(crate) fn usage_from_json(v: Option<&Value>) -> Usage {
    let get = |k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Usage {
        input_tokens: get("input_tokens"),
        output_tokens: get("output_tokens"),
        total_tokens: get("total_tokens"),
        reasoning_tokens: get("reasoning_tokens"),
        cache_read_tokens: get("cache_read_tokens"),
        cache_write_tokens: get("cache_write_tokens"),
        audio_input_tokens: get("audio_input_tokens"),
        audio_output_tokens: get("audio_output_tokens"),
        audio_total_tokens: get("audio_total_tokens"),
    }
}

/// Usage from nine consecutive columns starting at `first`.
pub(crate) fn usage_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Usage> {
    let g = |i: usize| row.get::<_, i64>(first + i).map(uint);
    Ok(Usage {
        input_tokens: g(0)?,
        output_tokens: g(1)?,
        total_tokens: g(2)?,
        reasoning_tokens: g(3)?,
        cache_read_tokens: g(4)?,
        cache_write_tokens: g(5)?,
        audio_input_tokens: g(6)?,
        audio_output_tokens: g(7)?,
        audio_total_tokens: g(8)?,
    })
}

/// A model role from its wire name.
pub(crate) fn role_from_str(s: &str) -> ModelRole {
    ModelRole::from_wire(s)
}

fn opt_nanos(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| Value::from(nanos(d)))
}

fn read_opt_nanos(v: Option<&Value>) -> Option<Duration> {
    v.and_then(Value::as_i64).map(duration)
}

/// Provider and additional metrics of a `Metrics` into `out` (only when non-empty).
pub(crate) fn put_maps(out: &mut Map<String, Value>, m: &Metrics) {
    if !m.provider_metrics.is_empty() {
        out.insert(
            "provider_metrics".into(),
            Value::Object(m.provider_metrics.clone()),
        );
    }
    if !m.additional_metrics.is_empty() {
        out.insert(
            "additional_metrics".into(),
            Value::Object(m.additional_metrics.clone()),
        );
    }
}

/// Reads the maps written by [`put_maps`].
pub(crate) fn read_maps(from: &Map<String, Value>, m: &mut Metrics) {
    if let Some(Value::Object(p)) = from.get("provider_metrics") {
        m.provider_metrics = p.clone();
    }
    if let Some(Value::Object(a)) = from.get("additional_metrics") {
        m.additional_metrics = a.clone();
    }
}

/// Metrics as JSON, for the per-model breakdown.
fn metrics_json(m: &Metrics) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("usage".into(), Value::Object(usage_json(&m.usage)));
    out.insert("duration_ns".into(), opt_nanos(m.duration));
    out.insert("ttft_ns".into(), opt_nanos(m.time_to_first_token));
    if let Some(c) = m.cost {
        out.insert("cost_nanos".into(), Value::from(c.as_nanos()));
    }
    put_maps(&mut out, m);
    out
}

fn metrics_from_json(v: &Map<String, Value>) -> Metrics {
    let mut m = Metrics {
        usage: usage_from_json(v.get("usage")),
        duration: read_opt_nanos(v.get("duration_ns")),
        time_to_first_token: read_opt_nanos(v.get("ttft_ns")),
        cost: v
            .get("cost_nanos")
            .and_then(Value::as_u64)
            .map(Cost::from_nanos),
        ..Metrics::default()
    };
    read_maps(v, &mut m);
    m
}

/// The per-model breakdown as JSON.
pub(crate) fn per_model_json(per_model: &[ModelBreakdown]) -> Value {
    Value::Array(
        per_model
            .iter()
            .map(|b| {
                let mut o = Map::new();
                o.insert("role".into(), b.model.role.as_str().into());
                o.insert("provider".into(), b.model.provider.clone().into());
                o.insert("id".into(), b.model.id.clone().into());
                o.insert("calls".into(), b.calls.into());
                o.insert("metrics".into(), Value::Object(metrics_json(&b.metrics)));
                Value::Object(o)
            })
            .collect(),
    )
}

/// Reads the breakdown written by [`per_model_json`].
pub(crate) fn per_model_from_json(v: Option<&Value>) -> Vec<ModelBreakdown> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|o| {
            let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            ModelBreakdown {
                model: ModelRef {
                    role: role_from_str(o.get("role").and_then(Value::as_str).unwrap_or("model")),
                    provider: s("provider"),
                    id: s("id"),
                },
                calls: o.get("calls").and_then(Value::as_u64).unwrap_or(0),
                metrics: o
                    .get("metrics")
                    .and_then(Value::as_object)
                    .map(metrics_from_json)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_saturate_instead_of_wrapping() {
        assert_eq!(int(u64::MAX), i64::MAX);
        assert_eq!(uint(-5), 0);
        assert_eq!(nanos(Duration::MAX), i64::MAX);
        assert_eq!(duration(-1), Duration::ZERO);
        assert_eq!(duration(1_500), Duration::from_nanos(1_500));
    }

    #[test]
    fn timestamps_round_trip_at_nanosecond_precision() {
        let t = Timestamp::new(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(timestamp(ts_nanos(t).unwrap()), t);
        assert_eq!(ts_nanos(Timestamp::MAX), None);
    }

    #[test]
    fn usage_json_round_trips_and_omits_zeros() {
        let mut u = Usage::new(10, 5);
        u.cache_read_tokens = 3;
        let j = Value::Object(usage_json(&u));
        assert_eq!(j.get("reasoning_tokens"), None);
        assert_eq!(usage_from_json(Some(&j)), u);
    }

    #[test]
    fn per_model_round_trips() {
        let b = ModelBreakdown {
            model: ModelRef {
                role: ModelRole::Other("judge".into()),
                provider: "openai".into(),
                id: "gpt-4o-mini".into(),
            },
            calls: 2,
            metrics: Metrics {
                usage: Usage::new(1, 2),
                duration: Some(Duration::from_millis(5)),
                time_to_first_token: None,
                cost: Some(Cost::from_nanos(42)),
                ..Metrics::default()
            },
        };
        let j = per_model_json(std::slice::from_ref(&b));
        assert_eq!(per_model_from_json(Some(&j)), vec![b]);
        assert!(per_model_from_json(Some(&Value::Null)).is_empty());
    }
}
