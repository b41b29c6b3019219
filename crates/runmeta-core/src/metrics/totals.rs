//! A run's totals from its model calls: summed usage and cost, the per-model breakdown, model
//! time and the run's time to first token.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use super::{MessageMetrics, Metrics, ModelRef};
use crate::run::{ModelBreakdown, RunRecord};

/// What a run's model calls add up to.
///
/// ```
/// use std::time::Duration;
/// use jiff::{SignedDuration, Timestamp};
/// use runmeta_core::metrics::{MessageMetrics, Metrics, ModelRef, RunTotals, Usage};
///
/// let start: Timestamp = "2024-01-15T14:00:00Z".parse().unwrap();
/// let call = |offset_ms: i64, ttft_ms: u64, usage: Usage| MessageMetrics {
///     model: Some(ModelRef::new("openai", "gpt-4o-mini")),
///     started_at: Some(start + SignedDuration::from_millis(offset_ms)),
///     metrics: Metrics {
///         usage,
///         duration: Some(Duration::from_millis(800)),
///         time_to_first_token: Some(Duration::from_millis(ttft_ms)),
///         ..Metrics::default()
///     },
/// };
/// let totals = RunTotals::from_messages(start, &[
///     call(100, 300, Usage::new(120, 30)),   // first token at 0.4 s into the run
///     call(1500, 200, Usage::new(200, 50)),  // first token at 1.7 s
/// ]);
/// assert_eq!(totals.metrics.usage.total_tokens, 400);
/// assert_eq!(totals.per_model.len(), 1);
/// assert_eq!(totals.per_model[0].calls, 2);
/// assert_eq!(totals.model_time, Duration::from_millis(1600));
/// assert_eq!(totals.time_to_first_token, Some(Duration::from_millis(400)));
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RunTotals {
    /// Summed usage and cost, merged `provider_metrics` and `additional_metrics` of the calls;
    /// `time_to_first_token` is the run's (from its start); `duration` is `None` (a run's
    /// duration is its wall time, not the sum of its calls).
    pub metrics: Metrics,
    /// One entry per model (role, provider and id), in first-call order.
    pub per_model: Vec<ModelBreakdown>,
    /// Summed duration of the calls.
    pub model_time: Duration,
    /// Time from the run's start to its first token; see [`run_time_to_first_token`].
    pub time_to_first_token: Option<Duration>,
    /// Calls with tokens but no cost (their model had no price).
    pub unpriced_messages: u32,
}

impl RunTotals {
    /// The totals of the calls of a run that started at `run_start`.
    #[must_use]
    pub fn from_messages(run_start: Timestamp, messages: &[MessageMetrics]) -> Self {
        let mut metrics = Metrics::default();
        let mut unpriced: u32 = 0;
        for m in messages {
            metrics.accumulate_counts(&m.metrics);
            if m.metrics.cost.is_none() && !m.metrics.usage.is_zero() {
                unpriced = unpriced.saturating_add(1);
            }
        }
        let time_to_first_token = run_time_to_first_token(run_start, messages);
        metrics.time_to_first_token = time_to_first_token;
        RunTotals {
            metrics,
            per_model: per_model_breakdown(messages),
            model_time: model_time(messages),
            time_to_first_token,
            unpriced_messages: unpriced,
        }
    }

    /// Writes the totals into `record`: `metrics.usage`, `metrics.cost`,
    /// `metrics.provider_metrics`, `metrics.time_to_first_token` and `time_to_first_token`,
    /// `per_model`, `model_time`, `unpriced_messages`; `metrics.duration` becomes the record's
    /// wall time. The run's own `additional_metrics` are left as they are. Calling it again
    /// with the same totals changes nothing.
    pub fn apply_to(self, record: &mut RunRecord) {
        record.metrics.usage = self.metrics.usage;
        record.metrics.cost = self.metrics.cost;
        record.metrics.provider_metrics = self.metrics.provider_metrics;
        record.metrics.time_to_first_token = self.time_to_first_token;
        record.metrics.duration = Some(record.duration);
        record.time_to_first_token = self.time_to_first_token;
        record.per_model = self.per_model;
        record.model_time = self.model_time;
        record.unpriced_messages = self.unpriced_messages;
    }
}

impl RunRecord {
    /// Recomputes the totals from `self.messages` ([`RunTotals::from_messages`] then
    /// [`RunTotals::apply_to`]).
    pub fn recompute_totals(&mut self) {
        RunTotals::from_messages(self.started_at, &self.messages).apply_to(self);
    }
}

/// The per-model breakdown of `messages`: one [`ModelBreakdown`] per distinct [`ModelRef`]
/// (role, provider and id) in first-call order, counting the calls and accumulating their
/// metrics with [`Metrics::accumulate`] (durations sum, time to first token is the earliest
/// call's). Calls without a model are grouped under `ModelRef::default()` (role `model`,
/// empty provider and id), so the breakdown always sums to the run's usage.
#[must_use]
pub fn per_model_breakdown(messages: &[MessageMetrics]) -> Vec<ModelBreakdown> {
    let mut out: Vec<ModelBreakdown> = Vec::new();
    let mut index: HashMap<&ModelRef, usize> = HashMap::new();
    let unknown = ModelRef::default();
    for m in messages {
        let key = m.model.as_ref().unwrap_or(&unknown);
        let i = *index.entry(key).or_insert_with(|| {
            out.push(ModelBreakdown {
                model: key.clone(),
                calls: 0,
                metrics: Metrics::default(),
            });
            out.len() - 1
        });
        let entry = &mut out[i];
        entry.calls = entry.calls.saturating_add(1);
        entry.metrics.accumulate(&m.metrics);
    }
    out
}

/// The summed duration of the calls (saturating); calls without a duration count zero.
#[must_use]
pub fn model_time(messages: &[MessageMetrics]) -> Duration {
    messages
        .iter()
        .filter_map(|m| m.metrics.duration)
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// A run's time to first token, measured from the run's start: the minimum over calls of
/// `(call.started_at - run_start) + call's time to first token`. Calls without a start or a
/// time to first token are skipped; a call that started before the run (clock skew) counts
/// from the run's start. `None` when no call qualifies.
#[must_use]
pub fn run_time_to_first_token(
    run_start: Timestamp,
    messages: &[MessageMetrics],
) -> Option<Duration> {
    messages
        .iter()
        .filter_map(|m| {
            let started = m.started_at?;
            let ttft = m.metrics.time_to_first_token?;
            let offset = Duration::try_from(started.duration_since(run_start)).unwrap_or_default();
            Some(offset.saturating_add(ttft))
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Cost, ModelRole, Usage};
    use jiff::SignedDuration;

    fn start() -> Timestamp {
        "2024-01-15T14:00:00Z".parse().unwrap()
    }

    fn call(model: Option<ModelRef>, offset_ms: i64, ttft_ms: Option<u64>) -> MessageMetrics {
        MessageMetrics {
            model,
            started_at: Some(start() + SignedDuration::from_millis(offset_ms)),
            metrics: Metrics {
                usage: Usage::new(10, 1),
                duration: Some(Duration::from_millis(100)),
                time_to_first_token: ttft_ms.map(Duration::from_millis),
                cost: Some(Cost::from_nanos(5)),
                ..Metrics::default()
            },
        }
    }

    #[test]
    fn breakdown_keys_on_role_provider_and_id() {
        let main = ModelRef::new("openai", "gpt-4o");
        let mini = ModelRef::new("openai", "gpt-4o-mini");
        let parser = main.clone().with_role(ModelRole::ParserModel);
        let msgs = [
            call(Some(main.clone()), 0, None),
            call(Some(mini.clone()), 0, None),
            call(Some(main.clone()), 0, None),
            call(Some(parser.clone()), 0, None),
            call(None, 0, None),
        ];
        let b = per_model_breakdown(&msgs);
        let keys: Vec<_> = b.iter().map(|e| (e.model.clone(), e.calls)).collect();
        assert_eq!(
            keys,
            vec![(main, 2), (mini, 1), (parser, 1), (ModelRef::default(), 1)]
        );
        assert_eq!(b[0].metrics.usage, Usage::new(20, 2));
        assert_eq!(b[0].metrics.duration, Some(Duration::from_millis(200)));
        assert_eq!(b[0].metrics.cost, Some(Cost::from_nanos(10)));
        let total: Usage = b.iter().fold(Usage::default(), |a, e| a + e.metrics.usage);
        assert_eq!(total, Usage::new(50, 5));
    }

    #[test]
    fn ttft_is_measured_from_the_run_start() {
        let msgs = [
            call(None, 2000, Some(100)),
            call(None, 500, Some(900)),
            call(None, 0, None),
        ];
        assert_eq!(
            run_time_to_first_token(start(), &msgs),
            Some(Duration::from_millis(1400))
        );
        assert_eq!(run_time_to_first_token(start(), &msgs[2..]), None);
        assert_eq!(run_time_to_first_token(start(), &[]), None);
        // A call stamped before the run (clock skew) counts from the run's start.
        let skewed = [call(None, -50, Some(300))];
        assert_eq!(
            run_time_to_first_token(start(), &skewed),
            Some(Duration::from_millis(300))
        );
    }

    #[test]
    fn apply_to_fills_the_record_and_is_idempotent() {
        let mut record = RunRecord::new("support", start());
        record.duration = Duration::from_secs(3);
        record
            .metrics
            .additional_metrics
            .insert("eval".into(), 1.into());
        record.messages = vec![
            call(Some(ModelRef::new("openai", "gpt-4o")), 100, Some(200)),
            MessageMetrics {
                metrics: Metrics::from_usage(Usage::new(7, 0)),
                ..MessageMetrics::default()
            },
        ];
        record.recompute_totals();
        let once = record.clone();
        record.recompute_totals();
        assert_eq!(format!("{once:?}"), format!("{record:?}"));
        assert_eq!(record.metrics.usage, Usage::new(17, 1));
        assert_eq!(record.metrics.cost, Some(Cost::from_nanos(5)));
        assert_eq!(record.metrics.duration, Some(Duration::from_secs(3)));
        assert_eq!(record.time_to_first_token, Some(Duration::from_millis(300)));
        assert_eq!(record.model_time, Duration::from_millis(100));
        assert_eq!(record.unpriced_messages, 1);
        assert_eq!(record.per_model.len(), 2);
        assert_eq!(record.metrics.additional_metrics["eval"], 1);
    }
}
