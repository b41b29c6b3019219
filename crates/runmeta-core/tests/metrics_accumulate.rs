//! Aggregation rules of `Metrics` and a run's totals from its model calls.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use runmeta_core::metrics::{
    merge_json_maps, model_time, per_model_breakdown, run_time_to_first_token, Cost,
    MessageMetrics, Metrics, ModelRef, ModelRole, RunTotals, Usage,
};
use runmeta_core::run::RunRecord;
use serde_json::{json, Map, Value};

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn metrics(input: u64, output: u64) -> Metrics {
    Metrics::from_usage(Usage::new(input, output))
}

#[test]
fn tokens_and_cost_sum() {
    let mut a = Metrics {
        usage: Usage {
            reasoning_tokens: 7,
            cache_read_tokens: 100,
            cache_write_tokens: 3,
            audio_input_tokens: 1,
            audio_output_tokens: 2,
            audio_total_tokens: 3,
            ..Usage::new(150, 500)
        },
        cost: Some(Cost::from_nanos(1_250)),
        ..Metrics::default()
    };
    let b = Metrics {
        usage: Usage {
            reasoning_tokens: 3,
            cache_read_tokens: 50,
            ..Usage::new(50, 20)
        },
        cost: Some(Cost::from_nanos(750)),
        ..Metrics::default()
    };
    a.accumulate(&b);
    assert_eq!(a.usage.input_tokens, 200);
    assert_eq!(a.usage.output_tokens, 520);
    assert_eq!(a.usage.total_tokens, 720);
    assert_eq!(a.usage.reasoning_tokens, 10);
    assert_eq!(a.usage.cache_read_tokens, 150);
    assert_eq!(a.usage.cache_write_tokens, 3);
    assert_eq!(a.usage.audio_total_tokens, 3);
    assert_eq!(a.cost, Some(Cost::from_nanos(2_000)));
}

#[test]
fn cost_is_none_only_when_both_are_none() {
    let priced = Metrics {
        cost: Some(Cost::from_nanos(5)),
        ..Metrics::default()
    };
    let mut unpriced = metrics(1, 1);
    unpriced += &priced;
    assert_eq!(unpriced.cost, Some(Cost::from_nanos(5)));
    let mut none = metrics(1, 1);
    none += metrics(2, 2);
    assert_eq!(none.cost, None);
}

#[test]
fn durations_sum_and_ttft_keeps_the_earliest() {
    let run = |d_ms: Option<u64>, ttft_ms: Option<u64>| Metrics {
        duration: d_ms.map(Duration::from_millis),
        time_to_first_token: ttft_ms.map(Duration::from_millis),
        ..Metrics::default()
    };
    let session: Metrics = [
        run(Some(2300), Some(400)),
        run(None, None),
        run(Some(1200), Some(250)),
        run(Some(500), None),
    ]
    .iter()
    .sum();
    assert_eq!(session.duration, Some(Duration::from_millis(4000)));
    assert_eq!(
        session.time_to_first_token,
        Some(Duration::from_millis(250))
    );
    assert_eq!(Metrics::default() + run(None, None), Metrics::default());
}

#[test]
fn provider_and_additional_metrics_merge() {
    let mut a = Metrics {
        provider_metrics: map(json!({
            "server_tool_use": {"web_search_requests": 1},
            "service_tier": "standard",
            "latency_ms": 120,
            "score": 0.5
        })),
        additional_metrics: map(json!({"retries": 1, "eval": {"passed": true}})),
        ..Metrics::default()
    };
    let b = Metrics {
        provider_metrics: map(json!({
            "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
            "service_tier": "priority",
            "latency_ms": 80,
            "score": 1
        })),
        additional_metrics: map(json!({"retries": 2, "eval": {"passed": false}, "new": [1]})),
        ..Metrics::default()
    };
    a += &b;
    assert_eq!(
        Value::Object(a.provider_metrics.clone()),
        json!({
            "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1},
            "service_tier": "priority",
            "latency_ms": 200,
            "score": 1.5
        })
    );
    assert!(a.provider_metrics["latency_ms"].is_u64());
    assert!(a.provider_metrics["score"].is_f64());
    assert_eq!(
        Value::Object(a.additional_metrics),
        json!({"retries": 3, "eval": {"passed": false}, "new": [1]})
    );
}

#[test]
fn merge_keeps_integer_type_even_for_negative_sums() {
    let mut a = map(json!({"n": 5, "m": -7}));
    merge_json_maps(&mut a, &map(json!({"n": -10, "m": 2})));
    assert_eq!(Value::Object(a.clone()), json!({"n": -5, "m": -5}));
    assert!(a["n"].is_i64());
}

#[test]
fn counts_saturate_instead_of_wrapping() {
    let mut a = Metrics {
        usage: Usage::new(u64::MAX - 1, 0),
        cost: Some(Cost::from_nanos(u64::MAX - 1)),
        ..Metrics::default()
    };
    a += Metrics {
        usage: Usage::new(10, 0),
        cost: Some(Cost::from_nanos(10)),
        ..Metrics::default()
    };
    assert_eq!(a.usage.input_tokens, u64::MAX);
    assert_eq!(a.usage.total_tokens, u64::MAX);
    assert_eq!(a.cost, Some(Cost::from_nanos(u64::MAX)));
}

fn start() -> Timestamp {
    "2025-03-01T09:30:00Z".parse().unwrap()
}

fn call(
    model: &ModelRef,
    offset_ms: i64,
    duration_ms: u64,
    ttft_ms: u64,
    usage: Usage,
    cost: Option<u64>,
) -> MessageMetrics {
    MessageMetrics {
        model: Some(model.clone()),
        started_at: Some(start() + SignedDuration::from_millis(offset_ms)),
        metrics: Metrics {
            usage,
            duration: Some(Duration::from_millis(duration_ms)),
            time_to_first_token: Some(Duration::from_millis(ttft_ms)),
            cost: cost.map(Cost::from_nanos),
            provider_metrics: map(json!({"requests": 1})),
            ..Metrics::default()
        },
    }
}

#[test]
fn run_totals_from_a_tool_using_run() {
    let gpt = ModelRef::new("openai", "gpt-4o");
    let parser = ModelRef::new("openai", "gpt-4o-mini").with_role(ModelRole::ParserModel);
    let messages = vec![
        // First call asks for a tool: starts 50 ms into the run, first token after 600 ms.
        call(&gpt, 50, 900, 600, Usage::new(1200, 40), Some(3_000)),
        // Tool runs for a second, then the second call answers.
        call(&gpt, 2000, 1500, 300, Usage::new(1300, 250), Some(5_500)),
        // A parser model structures the answer; it has no price.
        call(&parser, 3600, 400, 150, Usage::new(300, 60), None),
    ];
    let totals = RunTotals::from_messages(start(), &messages);

    assert_eq!(totals.metrics.usage, Usage::new(2800, 350));
    assert_eq!(totals.metrics.cost, Some(Cost::from_nanos(8_500)));
    assert_eq!(totals.metrics.provider_metrics["requests"], 3);
    assert_eq!(
        totals.metrics.duration, None,
        "a run's duration is its wall time"
    );
    assert_eq!(totals.model_time, Duration::from_millis(2800));
    assert_eq!(model_time(&messages), Duration::from_millis(2800));
    // min(50 + 600, 2000 + 300, 3600 + 150) ms
    assert_eq!(totals.time_to_first_token, Some(Duration::from_millis(650)));
    assert_eq!(
        run_time_to_first_token(start(), &messages),
        Some(Duration::from_millis(650))
    );
    assert_eq!(
        totals.metrics.time_to_first_token,
        totals.time_to_first_token
    );
    assert_eq!(totals.unpriced_messages, 1);

    assert_eq!(totals.per_model.len(), 2);
    let main = &totals.per_model[0];
    assert_eq!((main.model.clone(), main.calls), (gpt, 2));
    assert_eq!(main.metrics.usage, Usage::new(2500, 290));
    assert_eq!(main.metrics.duration, Some(Duration::from_millis(2400)));
    assert_eq!(
        main.metrics.time_to_first_token,
        Some(Duration::from_millis(300))
    );
    assert_eq!(main.metrics.cost, Some(Cost::from_nanos(8_500)));
    let p = &totals.per_model[1];
    assert_eq!((p.model.clone(), p.calls), (parser, 1));
    assert_eq!(p.metrics.cost, None);
    assert_eq!(per_model_breakdown(&messages), totals.per_model);

    let mut record = RunRecord::new("research", start());
    record.duration = Duration::from_millis(4100);
    record.messages = messages;
    record.recompute_totals();
    assert_eq!(record.metrics.usage, Usage::new(2800, 350));
    assert_eq!(record.metrics.duration, Some(Duration::from_millis(4100)));
    assert_eq!(record.model_time, Duration::from_millis(2800));
    assert_eq!(record.time_to_first_token, Some(Duration::from_millis(650)));
    assert_eq!(record.per_model.len(), 2);
    assert_eq!(record.unpriced_messages, 1);
}

#[test]
fn calls_without_start_or_ttft_do_not_set_the_run_ttft() {
    let gpt = ModelRef::new("openai", "gpt-4o");
    let mut no_start = call(&gpt, 0, 10, 5, Usage::new(1, 1), None);
    no_start.started_at = None;
    let mut no_ttft = call(&gpt, 0, 10, 5, Usage::new(1, 1), None);
    no_ttft.metrics.time_to_first_token = None;
    assert_eq!(run_time_to_first_token(start(), &[no_start, no_ttft]), None);
}

proptest! {
    #[test]
    fn accumulate_is_order_independent_for_counts(
        xs in proptest::collection::vec((0u64..1_000_000, 0u64..1_000_000, proptest::option::of(0u64..10_000)), 0..20)
    ) {
        let ms: Vec<Metrics> = xs.iter().map(|(i, o, ttft)| Metrics {
            usage: Usage::new(*i, *o),
            time_to_first_token: ttft.map(Duration::from_millis),
            duration: Some(Duration::from_millis(*i % 1000)),
            ..Metrics::default()
        }).collect();
        let forward: Metrics = ms.iter().sum();
        let backward: Metrics = ms.iter().rev().sum();
        prop_assert_eq!(&forward, &backward);
        prop_assert_eq!(forward.usage.input_tokens, xs.iter().map(|x| x.0).sum::<u64>());
        prop_assert_eq!(
            forward.time_to_first_token,
            xs.iter().filter_map(|x| x.2).min().map(Duration::from_millis)
        );
    }
}
