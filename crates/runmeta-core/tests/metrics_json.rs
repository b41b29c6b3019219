//! Agno-compatible JSON of `Metrics`, `MessageMetrics`, `ToolCallMetrics`, `ModelBreakdown`.

use std::time::Duration;

use proptest::prelude::*;
use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::ModelBreakdown;
use serde_json::{json, Value};

fn full() -> Metrics {
    Metrics {
        usage: Usage {
            input_tokens: 1117,
            output_tokens: 46,
            total_tokens: 1163,
            reasoning_tokens: 12,
            cache_read_tokens: 1024,
            cache_write_tokens: 5,
            audio_input_tokens: 7,
            audio_output_tokens: 9,
            audio_total_tokens: 16,
        },
        duration: Some(Duration::from_millis(2300)),
        time_to_first_token: Some(Duration::from_millis(400)),
        cost: Some(Cost::from_nanos(1_234_567)),
        provider_metrics: json!({"service_tier": "default"})
            .as_object()
            .cloned()
            .unwrap(),
        additional_metrics: json!({"retries": 1}).as_object().cloned().unwrap(),
    }
}

#[test]
fn output_uses_v2_names() {
    assert_eq!(
        full().to_json(),
        json!({
            "input_tokens": 1117,
            "output_tokens": 46,
            "total_tokens": 1163,
            "reasoning_tokens": 12,
            "cache_read_tokens": 1024,
            "cache_write_tokens": 5,
            "audio_input_tokens": 7,
            "audio_output_tokens": 9,
            "audio_total_tokens": 16,
            "duration": 2.3,
            "time_to_first_token": 0.4,
            "cost": 0.001234567,
            "provider_metrics": {"service_tier": "default"},
            "additional_metrics": {"retries": 1}
        })
    );
}

#[test]
fn output_omits_zeros_absent_values_and_empty_maps() {
    assert_eq!(Metrics::default().to_json(), json!({}));
    let m = Metrics {
        usage: Usage::new(0, 5),
        cost: Some(Cost::ZERO),
        duration: Some(Duration::ZERO),
        ..Metrics::default()
    };
    // A cost of zero and a zero duration are floats: kept, as Agno keeps 0.0.
    assert_eq!(
        m.to_json(),
        json!({"output_tokens": 5, "total_tokens": 5, "cost": 0.0, "duration": 0.0})
    );
    assert!(m.to_json()["cost"].is_f64());
}

#[test]
fn serde_round_trip() {
    let text = serde_json::to_string(&full()).unwrap();
    let back: Metrics = serde_json::from_str(&text).unwrap();
    assert_eq!(back, full());
    assert_eq!(Metrics::from_json(&full().to_json()).unwrap(), full());
}

#[test]
fn v1_names_are_accepted() {
    let v1 = json!({
        "prompt_tokens": 150,
        "completion_tokens": 500,
        "cached_tokens": 100,
        "audio_tokens": 30,
        "input_audio_tokens": 10,
        "output_audio_tokens": 20,
        "cache_write_tokens": 4,
        "reasoning_tokens": 9,
        "time": 2.5,
        "time_to_first_token": 0.25,
        "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 9, "accepted_prediction_tokens": 0},
        "additional_metrics": {"model": "gpt-4o"}
    });
    let m = Metrics::from_json(&v1).unwrap();
    assert_eq!(
        m.usage,
        Usage {
            input_tokens: 150,
            output_tokens: 500,
            total_tokens: 650,
            reasoning_tokens: 9,
            cache_read_tokens: 100,
            cache_write_tokens: 4,
            audio_input_tokens: 10,
            audio_output_tokens: 20,
            audio_total_tokens: 30,
        }
    );
    assert_eq!(m.duration, Some(Duration::from_millis(2500)));
    assert_eq!(m.time_to_first_token, Some(Duration::from_millis(250)));
    assert_eq!(
        Value::Object(m.provider_metrics.clone()),
        json!({
            "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 10},
            "completion_tokens_details": {"reasoning_tokens": 9, "accepted_prediction_tokens": 0}
        })
    );
    // Written back with v2 names only.
    let out = m.to_json();
    for v1_name in [
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "audio_tokens",
        "time",
    ] {
        assert!(out.get(v1_name).is_none(), "{v1_name} written back");
    }
    assert_eq!(out["input_tokens"], 150);
    assert_eq!(out["duration"], 2.5);
}

#[test]
fn v2_wins_over_v1() {
    let both = json!({
        "input_tokens": 10, "prompt_tokens": 99,
        "output_tokens": 5, "completion_tokens": 99,
        "cache_read_tokens": 3, "cached_tokens": 99,
        "audio_total_tokens": 2, "audio_tokens": 99,
        "audio_input_tokens": 1, "input_audio_tokens": 99,
        "audio_output_tokens": 1, "output_audio_tokens": 99,
        "duration": 1.0, "time": 99.0,
        "provider_metrics": {"prompt_tokens_details": {"cached_tokens": 3}},
        "prompt_tokens_details": {"cached_tokens": 99}
    });
    let m = Metrics::from_json(&both).unwrap();
    assert_eq!(m.usage.input_tokens, 10);
    assert_eq!(m.usage.output_tokens, 5);
    assert_eq!(m.usage.total_tokens, 15);
    assert_eq!(m.usage.cache_read_tokens, 3);
    assert_eq!(m.usage.audio_total_tokens, 2);
    assert_eq!(m.usage.audio_input_tokens, 1);
    assert_eq!(m.usage.audio_output_tokens, 1);
    assert_eq!(m.duration, Some(Duration::from_secs(1)));
    assert_eq!(
        m.provider_metrics["prompt_tokens_details"]["cached_tokens"],
        3
    );
}

#[test]
fn v2_wins_even_when_the_v1_value_is_malformed() {
    let m = Metrics::from_json(&json!({"input_tokens": 3, "prompt_tokens": "x"})).unwrap();
    assert_eq!(m.usage.input_tokens, 3);
}

#[test]
fn totals_default_to_the_sum_of_their_parts() {
    let m = Metrics::from_json(&json!({"input_tokens": 7, "output_tokens": 3})).unwrap();
    assert_eq!(m.usage.total_tokens, 10);
    let m =
        Metrics::from_json(&json!({"audio_input_tokens": 4, "audio_output_tokens": 6})).unwrap();
    assert_eq!(m.usage.audio_total_tokens, 10);
    // A total that is given is kept as given.
    let m = Metrics::from_json(&json!({"input_tokens": 7, "output_tokens": 3, "total_tokens": 12}))
        .unwrap();
    assert_eq!(m.usage.total_tokens, 12);
}

#[test]
fn a_zero_total_with_nonzero_parts_survives_a_round_trip() {
    // Regression (`agno_import` fuzz target): an Agno v1 run with `"audio_tokens": [0, 0]` and
    // `"output_audio_tokens": [0, 2]` has a given total of 0; it was omitted on export like
    // every zero count, and read back as the sum of its parts (2).
    for given in [
        json!({"audio_output_tokens": 2, "audio_total_tokens": 0}),
        json!({"output_audio_tokens": 2, "audio_tokens": 0}),
        json!({"input_tokens": 5, "output_tokens": 1, "total_tokens": 0}),
    ] {
        let m = Metrics::from_json(&given).unwrap();
        let json = m.to_json();
        let back = Metrics::from_json(&json).unwrap();
        assert_eq!(back, m, "{given} → {json}");
        assert_eq!(back.to_json(), json);
    }
    // Zero totals of zero parts are still omitted.
    assert_eq!(Metrics::default().to_json(), json!({}));
}

#[test]
fn null_is_absent_and_unknown_keys_are_ignored() {
    let m = Metrics::from_json(&json!({
        "input_tokens": null, "duration": null, "cost": null, "timer": {"start": 1}, "x": "y"
    }))
    .unwrap();
    assert_eq!(m, Metrics::default());
}

#[test]
fn wrong_types_are_errors_naming_the_field() {
    let cases = [
        (
            json!({"input_tokens": "12"}),
            "input_tokens: expected a non-negative integer, found string",
        ),
        (
            json!({"output_tokens": -3}),
            "output_tokens: expected a non-negative integer, found -3",
        ),
        (
            json!({"total_tokens": 1.5}),
            "total_tokens: expected a non-negative integer, found 1.5",
        ),
        (
            json!({"prompt_tokens": true}),
            "prompt_tokens: expected a non-negative integer, found bool",
        ),
        (
            json!({"duration": "2s"}),
            "duration: expected a non-negative number of seconds, found string",
        ),
        (
            json!({"time": -1.0}),
            "time: expected a non-negative number of seconds, found -1.0",
        ),
        (
            json!({"time_to_first_token": [0.1]}),
            "time_to_first_token: expected a non-negative number of seconds, found array",
        ),
        (
            json!({"provider_metrics": [1]}),
            "provider_metrics: expected an object, found array",
        ),
        (
            json!({"additional_metrics": "none"}),
            "additional_metrics: expected an object, found string",
        ),
        (json!([1, 2]), "expected an object, found array"),
    ];
    for (input, message) in cases {
        let err = Metrics::from_json(&input).unwrap_err();
        assert_eq!(err.to_string(), message, "for {input}");
    }
    // Through serde, the message is the same.
    let err = serde_json::from_str::<Metrics>(r#"{"input_tokens": "12"}"#).unwrap_err();
    assert!(err
        .to_string()
        .contains("input_tokens: expected a non-negative integer, found string"));
}

#[test]
fn integral_floats_are_accepted_as_counts() {
    let m = Metrics::from_json(&json!({"input_tokens": 150.0})).unwrap();
    assert_eq!(m.usage.input_tokens, 150);
}

#[test]
fn message_round_trip_and_shape() {
    let m = MessageMetrics {
        model: Some(
            ModelRef::new("google", "gemini-2.5-flash").with_role(ModelRole::ReasoningModel),
        ),
        started_at: Some("2025-03-01T09:30:00.125Z".parse().unwrap()),
        metrics: full(),
    };
    let json = m.to_json();
    assert_eq!(json["model_type"], "reasoning_model");
    assert_eq!(json["model_provider"], "google");
    assert_eq!(json["model"], "gemini-2.5-flash");
    assert_eq!(json["started_at"], "2025-03-01T09:30:00.125Z");
    assert_eq!(json["metrics"], full().to_json());
    assert_eq!(MessageMetrics::from_json(&json).unwrap(), m);
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<MessageMetrics>(&text).unwrap(), m);

    let bare = MessageMetrics::default();
    assert_eq!(bare.to_json(), json!({"metrics": {}}));
    assert_eq!(MessageMetrics::from_json(&bare.to_json()).unwrap(), bare);

    let other_role =
        MessageMetrics::from_json(&json!({"model_type": "memory_model", "model": "m"})).unwrap();
    assert_eq!(
        other_role.model.unwrap().role,
        ModelRole::Other("memory_model".into())
    );

    let err = MessageMetrics::from_json(&json!({"metrics": {"input_tokens": -1}})).unwrap_err();
    assert_eq!(err.path(), "metrics.input_tokens");
    let err = MessageMetrics::from_json(&json!({"started_at": "noon"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "started_at: expected an RFC 3339 timestamp or Unix seconds, found string"
    );
}

#[test]
fn tool_call_round_trip_and_shape() {
    let ok = ToolCallMetrics {
        name: "search_docs".into(),
        started_at: "2025-03-01T09:30:01Z".parse().unwrap(),
        duration: Duration::from_millis(850),
        status: ToolStatus::Success,
        error_class: None,
    };
    assert_eq!(
        ok.to_json(),
        json!({
            "tool_name": "search_docs",
            "started_at": "2025-03-01T09:30:01Z",
            "duration": 0.85,
            "status": "success"
        })
    );
    assert_eq!(ToolCallMetrics::from_json(&ok.to_json()).unwrap(), ok);

    let failed = ToolCallMetrics {
        status: ToolStatus::Error,
        error_class: Some("Timeout".into()),
        ..ok.clone()
    };
    let json = failed.to_json();
    assert_eq!(json["tool_call_error"], true);
    assert_eq!(json["error_class"], "Timeout");
    assert_eq!(ToolCallMetrics::from_json(&json).unwrap(), failed);
    let text = serde_json::to_string(&failed).unwrap();
    assert_eq!(
        serde_json::from_str::<ToolCallMetrics>(&text).unwrap(),
        failed
    );
}

#[test]
fn agno_tool_execution_is_read() {
    let agno = json!({
        "tool_call_id": "call_abc",
        "tool_name": "get_current_stock_price",
        "tool_args": {"symbol": "NVDA"},
        "tool_call_error": true,
        "result": "Error fetching price",
        "metrics": {"start_time": 1740821401.5, "end_time": 1740821402.0, "duration": 0.5},
        "created_at": 1740821401
    });
    let call = ToolCallMetrics::from_json(&agno).unwrap();
    assert_eq!(call.status, ToolStatus::Error);
    assert_eq!(call.duration, Duration::from_millis(500));
    assert_eq!(call.started_at.to_string(), "2025-03-01T09:30:01.5Z");

    let only_created = json!({"tool_name": "t", "created_at": 1740821401});
    let call = ToolCallMetrics::from_json(&only_created).unwrap();
    assert_eq!(call.started_at.to_string(), "2025-03-01T09:30:01Z");
    assert_eq!(call.duration, Duration::ZERO);
    assert_eq!(call.status, ToolStatus::Success);
}

#[test]
fn tool_call_errors() {
    let cases = [
        (
            json!({"started_at": "2025-03-01T09:30:01Z"}),
            "tool_name: missing, expected a string",
        ),
        (
            json!({"tool_name": "t"}),
            "started_at: missing, expected an RFC 3339 timestamp or Unix seconds",
        ),
        (
            json!({"tool_name": "t", "started_at": "2025-03-01T09:30:01Z", "status": "ok"}),
            "status: expected one of `success`, `error`, `panicked`, `cancelled`, found \"ok\"",
        ),
        (
            json!({"tool_name": "t", "started_at": "2025-03-01T09:30:01Z", "duration": -1}),
            "duration: expected a non-negative number of seconds, found -1",
        ),
        (
            json!({"tool_name": "t", "metrics": {"start_time": "soon"}}),
            "metrics.start_time: expected an RFC 3339 timestamp or Unix seconds, found string",
        ),
        (
            json!({"tool_name": "t", "created_at": 1, "metrics": {"duration": "1"}}),
            "metrics.duration: expected a non-negative number of seconds, found string",
        ),
        (
            json!({"tool_name": "t", "created_at": 1, "tool_call_error": "yes"}),
            "tool_call_error: expected a bool, found string",
        ),
    ];
    for (input, message) in cases {
        let err = ToolCallMetrics::from_json(&input).unwrap_err();
        assert_eq!(err.to_string(), message, "for {input}");
    }
}

#[test]
fn model_breakdown_round_trip_and_shape() {
    let b = ModelBreakdown {
        model: ModelRef::new("anthropic", "claude-sonnet-4-5").with_role(ModelRole::OutputModel),
        calls: 3,
        metrics: Metrics {
            usage: Usage::new(900, 120),
            cost: Some(Cost::from_nanos(4_500_000)),
            ..Metrics::default()
        },
    };
    assert_eq!(
        b.to_json(),
        json!({
            "model_type": "output_model",
            "provider": "anthropic",
            "id": "claude-sonnet-4-5",
            "calls": 3,
            "input_tokens": 900,
            "output_tokens": 120,
            "total_tokens": 1020,
            "cost": 0.0045
        })
    );
    assert_eq!(ModelBreakdown::from_json(&b.to_json()).unwrap(), b);
    let text = serde_json::to_string(&b).unwrap();
    assert_eq!(serde_json::from_str::<ModelBreakdown>(&text).unwrap(), b);

    // Agno's ModelMetrics has no role or call count: the role defaults to `model`.
    let agno = json!({"id": "gpt-4o", "provider": "OpenAI", "input_tokens": 5, "output_tokens": 1});
    let b = ModelBreakdown::from_json(&agno).unwrap();
    assert_eq!(b.model.role, ModelRole::Model);
    assert_eq!(b.calls, 0);
    assert_eq!(b.metrics.usage.total_tokens, 6);
    let err = ModelBreakdown::from_json(&json!({"id": 4})).unwrap_err();
    assert_eq!(err.to_string(), "id: expected a string, found 4");
}

prop_compose! {
    fn any_metrics()(
        counts in proptest::array::uniform9(0u64..10_000_000),
        duration_ns in proptest::option::of(0u64..1_000_000_000_000_000),
        ttft_ns in proptest::option::of(0u64..100_000_000_000),
        cost in proptest::option::of(0u64..1_000_000_000_000),
        retries in proptest::option::of(1i64..100),
    ) -> Metrics {
        let [i, o, extra, r, cr, cw, ai, ao, extra_audio] = counts;
        Metrics {
            usage: Usage {
                input_tokens: i,
                output_tokens: o,
                total_tokens: i + o + extra,
                reasoning_tokens: r,
                cache_read_tokens: cr,
                cache_write_tokens: cw,
                audio_input_tokens: ai,
                audio_output_tokens: ao,
                audio_total_tokens: ai + ao + extra_audio,
            },
            duration: duration_ns.map(Duration::from_nanos),
            time_to_first_token: ttft_ns.map(Duration::from_nanos),
            cost: cost.map(Cost::from_nanos),
            provider_metrics: Default::default(),
            additional_metrics: retries
                .map(|n| json!({"retries": n}).as_object().cloned().unwrap())
                .unwrap_or_default(),
        }
    }
}

proptest! {
    #[test]
    fn metrics_json_round_trips(m in any_metrics()) {
        let text = serde_json::to_string(&m).unwrap();
        let back: Metrics = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, m);
    }
}
