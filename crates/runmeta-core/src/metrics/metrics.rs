//! Agno's `Metrics`: the one shape used at message, run and session level.

use std::ops::{Add, AddAssign};
use std::time::Duration;

use serde_json::{Map, Number, Value};

use super::{Cost, Usage};

/// Token counts, timing, cost and provider data, with Agno's v2 field names and
/// aggregation rules (see [`Metrics::accumulate`]).
///
/// Its JSON form is Agno's `Metrics.to_dict()`; see [`Metrics::to_json`] and
/// [`Metrics::from_json`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Metrics {
    /// Token counts.
    pub usage: Usage,
    /// Wall time (a message: the call; a run: the run; a session: the sum of its runs).
    pub duration: Option<Duration>,
    /// Time to the first token, from the start of the call (message) or of the run.
    pub time_to_first_token: Option<Duration>,
    /// Cost, when a price was known.
    pub cost: Option<Cost>,
    /// Provider-specific data; numbers sum when aggregated, other values keep the latest.
    pub provider_metrics: Map<String, Value>,
    /// Extra metrics; same rule as `provider_metrics`.
    pub additional_metrics: Map<String, Value>,
}

impl Metrics {
    /// Metrics holding only token counts.
    #[must_use]
    pub fn from_usage(usage: Usage) -> Self {
        Metrics {
            usage,
            ..Metrics::default()
        }
    }

    /// Empties these metrics in place (the maps keep nothing), as [`Metrics::default`] builds
    /// them.
    pub(crate) fn reset(&mut self) {
        let Metrics {
            usage,
            duration,
            time_to_first_token,
            cost,
            provider_metrics,
            additional_metrics,
        } = self;
        *usage = Usage::default();
        *duration = None;
        *time_to_first_token = None;
        *cost = None;
        // `clear` drops the map through an iterator even when empty: skip it then.
        if !provider_metrics.is_empty() {
            provider_metrics.clear();
        }
        if !additional_metrics.is_empty() {
            additional_metrics.clear();
        }
    }

    /// True when nothing was measured: zero counts, no timing, no cost, empty maps.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.usage.is_zero()
            && self.duration.is_none()
            && self.time_to_first_token.is_none()
            && self.cost.is_none()
            && self.provider_metrics.is_empty()
            && self.additional_metrics.is_empty()
    }

    /// Adds `other` into `self` with Agno's aggregation rules:
    ///
    /// - token counts and cost sum, saturating (a cost stays `None` only if both are `None`);
    /// - durations sum (this is how runs combine into a session; a run's own duration is its
    ///   wall time and is not built by summing its messages);
    /// - `time_to_first_token` keeps the earliest of the two;
    /// - `provider_metrics` and `additional_metrics` merge with [`merge_json_maps`]: numbers
    ///   sum, nested objects merge recursively, other values keep the latest (`other`'s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use runmeta_core::metrics::{Metrics, Usage};
    ///
    /// let mut a = Metrics::from_usage(Usage::new(100, 20));
    /// a.time_to_first_token = Some(Duration::from_millis(400));
    /// let mut b = Metrics::from_usage(Usage::new(50, 5));
    /// b.time_to_first_token = Some(Duration::from_millis(250));
    /// a += &b;
    /// assert_eq!(a.usage.total_tokens, 175);
    /// assert_eq!(a.time_to_first_token, Some(Duration::from_millis(250)));
    /// ```
    pub fn accumulate(&mut self, other: &Metrics) {
        self.accumulate_counts(other);
        self.duration = sum_durations(self.duration, other.duration);
        self.time_to_first_token = earliest(self.time_to_first_token, other.time_to_first_token);
    }

    /// Adds `other`'s token counts, cost, `provider_metrics` and `additional_metrics`, leaving
    /// `duration` and `time_to_first_token` untouched. Used where timing does not add up, such
    /// as a child run whose wall time lies inside its parent's.
    pub fn accumulate_counts(&mut self, other: &Metrics) {
        self.usage += other.usage;
        self.cost = match (self.cost, other.cost) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(Cost::ZERO) + b.unwrap_or(Cost::ZERO)),
        };
        merge_json_maps(&mut self.provider_metrics, &other.provider_metrics);
        merge_json_maps(&mut self.additional_metrics, &other.additional_metrics);
    }
}

/// The sum of two optional durations (saturating); `None` only when both are `None`.
fn sum_durations(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

/// The earlier of two optional durations; `None` only when both are `None`.
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl AddAssign<&Metrics> for Metrics {
    fn add_assign(&mut self, rhs: &Metrics) {
        self.accumulate(rhs);
    }
}

impl AddAssign for Metrics {
    fn add_assign(&mut self, rhs: Metrics) {
        self.accumulate(&rhs);
    }
}

impl Add<&Metrics> for Metrics {
    type Output = Metrics;
    fn add(mut self, rhs: &Metrics) -> Metrics {
        self.accumulate(rhs);
        self
    }
}

impl Add for Metrics {
    type Output = Metrics;
    fn add(mut self, rhs: Metrics) -> Metrics {
        self.accumulate(&rhs);
        self
    }
}

impl<'a> std::iter::Sum<&'a Metrics> for Metrics {
    fn sum<I: Iterator<Item = &'a Metrics>>(iter: I) -> Metrics {
        iter.fold(Metrics::default(), |acc, m| acc + m)
    }
}

impl std::iter::Sum for Metrics {
    fn sum<I: Iterator<Item = Metrics>>(iter: I) -> Metrics {
        iter.fold(Metrics::default(), Add::add)
    }
}

/// Merges `from` into `into` with the rule of `provider_metrics` and `additional_metrics`:
///
/// - a key only in `from` is copied;
/// - two numbers sum: two integers give an integer (falling back to a float beyond the
///   `i64`/`u64` range), anything else gives a float;
/// - two objects merge recursively by the same rule;
/// - otherwise `from`'s value replaces `into`'s (the latest wins).
///
/// ```
/// use serde_json::json;
/// use runmeta_core::metrics::merge_json_maps;
///
/// let mut a = json!({"requests": 1, "latency": 0.5, "tier": "standard", "cache": {"hits": 2}});
/// let b = json!({"requests": 2, "latency": 1, "tier": "priority", "cache": {"hits": 3}});
/// merge_json_maps(a.as_object_mut().unwrap(), b.as_object().unwrap());
/// assert_eq!(a, json!({"requests": 3, "latency": 1.5, "tier": "priority", "cache": {"hits": 5}}));
/// ```
pub fn merge_json_maps(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, new) in from {
        match into.get_mut(key) {
            Some(old) => merge_json_values(old, new),
            None => {
                into.insert(key.clone(), new.clone());
            }
        }
    }
}

fn merge_json_values(old: &mut Value, new: &Value) {
    match (&mut *old, new) {
        (Value::Number(a), Value::Number(b)) => {
            // A sum that is not representable (an infinite float) keeps the latest value.
            *old = Value::Number(add_numbers(a, b).unwrap_or_else(|| b.clone()));
        }
        (Value::Object(a), Value::Object(b)) => merge_json_maps(a, b),
        (old, new) => *old = new.clone(),
    }
}

/// The sum of two JSON numbers: an integer when both are integers and the sum fits `i64` or
/// `u64`, else a float; `None` when the float sum is not finite.
fn add_numbers(a: &Number, b: &Number) -> Option<Number> {
    if let (Some(x), Some(y)) = (as_i128(a), as_i128(b)) {
        let sum = x + y;
        if let Ok(v) = i64::try_from(sum) {
            return Some(Number::from(v));
        }
        if let Ok(v) = u64::try_from(sum) {
            return Some(Number::from(v));
        }
    }
    Number::from_f64(a.as_f64()? + b.as_f64()?)
}

fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn integers_stay_integers_and_floats_mix() {
        let mut a = obj(json!({"a": 1, "b": 1, "c": 1.5, "d": u64::MAX}));
        merge_json_maps(&mut a, &obj(json!({"a": 2, "b": 0.5, "c": 1, "d": 1})));
        assert_eq!(a["a"], json!(3));
        assert!(a["a"].is_i64());
        assert_eq!(a["b"], json!(1.5));
        assert_eq!(a["c"], json!(2.5));
        // u64::MAX + 1 does not fit an integer: it becomes a float.
        assert!(a["d"].is_f64());
    }

    #[test]
    fn negative_integers_sum() {
        let mut a = obj(json!({"delta": -5}));
        merge_json_maps(&mut a, &obj(json!({"delta": 3})));
        assert_eq!(a["delta"], json!(-2));
    }

    #[test]
    fn overflowing_float_keeps_latest() {
        let mut a = obj(json!({"x": f64::MAX}));
        merge_json_maps(&mut a, &obj(json!({"x": f64::MAX})));
        assert_eq!(a["x"], json!(f64::MAX));
    }

    #[test]
    fn nested_objects_merge_and_other_values_keep_latest() {
        let mut a = obj(json!({"o": {"n": 1, "s": "x", "deep": {"k": 1}}, "arr": [1], "t": true}));
        merge_json_maps(
            &mut a,
            &obj(
                json!({"o": {"n": 2, "s": "y", "deep": {"k": 2, "j": 1}}, "arr": [2], "t": false}),
            ),
        );
        assert_eq!(
            Value::Object(a),
            json!({"o": {"n": 3, "s": "y", "deep": {"k": 3, "j": 1}}, "arr": [2], "t": false})
        );
    }

    #[test]
    fn a_number_replacing_a_string_keeps_latest() {
        let mut a = obj(json!({"v": "text", "w": 1}));
        merge_json_maps(&mut a, &obj(json!({"v": 2, "w": "now text"})));
        assert_eq!(Value::Object(a), json!({"v": 2, "w": "now text"}));
    }

    #[test]
    fn accumulate_timing_rules() {
        let mut a = Metrics {
            duration: Some(Duration::from_secs(1)),
            time_to_first_token: None,
            ..Metrics::default()
        };
        let b = Metrics {
            duration: Some(Duration::from_secs(2)),
            time_to_first_token: Some(Duration::from_millis(300)),
            ..Metrics::default()
        };
        a += &b;
        assert_eq!(a.duration, Some(Duration::from_secs(3)));
        assert_eq!(a.time_to_first_token, Some(Duration::from_millis(300)));
        let c = Metrics {
            time_to_first_token: Some(Duration::from_millis(100)),
            ..Metrics::default()
        };
        a += c;
        assert_eq!(a.time_to_first_token, Some(Duration::from_millis(100)));
        assert_eq!(a.duration, Some(Duration::from_secs(3)));
    }

    #[test]
    fn accumulate_saturates() {
        let mut a = Metrics {
            usage: Usage::new(u64::MAX, 1),
            duration: Some(Duration::MAX),
            cost: Some(Cost::from_nanos(u64::MAX)),
            ..Metrics::default()
        };
        a += a.clone();
        assert_eq!(a.usage.input_tokens, u64::MAX);
        assert_eq!(a.duration, Some(Duration::MAX));
        assert_eq!(a.cost, Some(Cost::from_nanos(u64::MAX)));
    }

    #[test]
    fn cost_none_plus_some_is_some_and_zero_stays() {
        let mut a = Metrics::default();
        a += &Metrics {
            cost: Some(Cost::ZERO),
            ..Metrics::default()
        };
        assert_eq!(a.cost, Some(Cost::ZERO));
        let mut none = Metrics::default();
        none += &Metrics::default();
        assert_eq!(none.cost, None);
        assert!(none.is_empty());
    }

    #[test]
    fn sum_of_iterators() {
        let ms = [
            Metrics::from_usage(Usage::new(1, 2)),
            Metrics::from_usage(Usage::new(3, 4)),
        ];
        let by_ref: Metrics = ms.iter().sum();
        let by_value: Metrics = ms.into_iter().sum();
        assert_eq!(by_ref, by_value);
        assert_eq!(by_ref.usage, Usage::new(4, 6));
    }
}
