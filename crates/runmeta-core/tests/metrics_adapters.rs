//! Provider usage adapters, on payloads shaped like the providers' documented responses.

use runmeta_core::metrics::adapters::{
    anthropic_usage, gemini_usage, openai_chat_usage, openai_responses_usage,
};
use runmeta_core::metrics::{Usage, UsageFormat};
use serde_json::{json, Value};

/// `usage` of an OpenAI Chat Completions response (gpt-4o with a cached prompt).
fn openai_chat() -> Value {
    json!({
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

#[test]
fn openai_chat_completions() {
    let p = openai_chat_usage(&openai_chat()).unwrap();
    assert_eq!(
        p.usage,
        Usage {
            cache_read_tokens: 1920,
            ..Usage::new(2006, 300)
        }
    );
    // All-zero leftovers are dropped.
    assert!(p.provider_metrics.is_empty(), "{:?}", p.provider_metrics);
}

#[test]
fn openai_chat_with_reasoning_audio_and_predictions() {
    // o-series reasoning with predicted outputs; gpt-4o-audio-preview audio counts.
    let usage = json!({
        "prompt_tokens": 120,
        "completion_tokens": 1850,
        "total_tokens": 1970,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 40},
        "completion_tokens_details": {
            "reasoning_tokens": 1536,
            "audio_tokens": 210,
            "accepted_prediction_tokens": 12,
            "rejected_prediction_tokens": 3
        }
    });
    let p = openai_chat_usage(&usage).unwrap();
    assert_eq!(p.usage.input_tokens, 120);
    assert_eq!(p.usage.output_tokens, 1850);
    assert_eq!(p.usage.total_tokens, 1970);
    assert_eq!(p.usage.reasoning_tokens, 1536);
    assert_eq!(p.usage.audio_input_tokens, 40);
    assert_eq!(p.usage.audio_output_tokens, 210);
    assert_eq!(p.usage.audio_total_tokens, 250);
    assert_eq!(
        Value::Object(p.provider_metrics),
        json!({"completion_tokens_details": {
            "accepted_prediction_tokens": 12, "rejected_prediction_tokens": 3
        }})
    );
}

#[test]
fn openai_compatible_extras_are_kept() {
    // DeepSeek reports its cache hits beside the OpenAI fields; nothing is lost.
    let usage = json!({
        "prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
        "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36
    });
    let p = openai_chat_usage(&usage).unwrap();
    assert_eq!(p.usage, Usage::new(100, 10));
    assert_eq!(p.provider_metrics["prompt_cache_hit_tokens"], 64);
    assert_eq!(p.provider_metrics["prompt_cache_miss_tokens"], 36);
}

#[test]
fn openai_responses_api() {
    let usage = json!({
        "input_tokens": 328,
        "input_tokens_details": {"cached_tokens": 256},
        "output_tokens": 1035,
        "output_tokens_details": {"reasoning_tokens": 768},
        "total_tokens": 1363
    });
    let p = openai_responses_usage(&usage).unwrap();
    assert_eq!(
        p.usage,
        Usage {
            total_tokens: 1363,
            reasoning_tokens: 768,
            cache_read_tokens: 256,
            ..Usage::new(328, 1035)
        }
    );
    assert!(p.provider_metrics.is_empty());
}

#[test]
fn anthropic_messages() {
    // Anthropic's input_tokens excludes both cache reads and cache writes.
    let usage = json!({
        "input_tokens": 50,
        "cache_creation_input_tokens": 1200,
        "cache_read_input_tokens": 8000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1200, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 503,
        "server_tool_use": {"web_search_requests": 2},
        "service_tier": "standard"
    });
    let p = anthropic_usage(&usage).unwrap();
    assert_eq!(
        p.usage,
        Usage {
            input_tokens: 9250,
            output_tokens: 503,
            total_tokens: 9753,
            cache_read_tokens: 8000,
            cache_write_tokens: 1200,
            ..Usage::default()
        }
    );
    assert_eq!(
        Value::Object(p.provider_metrics),
        json!({
            "cache_creation": {"ephemeral_5m_input_tokens": 1200},
            "server_tool_use": {"web_search_requests": 2},
            "service_tier": "standard"
        })
    );
}

#[test]
fn anthropic_without_cache_fields() {
    let p = anthropic_usage(&json!({"input_tokens": 12, "output_tokens": 6})).unwrap();
    assert_eq!(p.usage, Usage::new(12, 6));
}

#[test]
fn gemini_usage_metadata() {
    // gemini-2.5-flash with thinking, implicit caching and a tool call.
    let usage = json!({
        "promptTokenCount": 1250,
        "candidatesTokenCount": 180,
        "totalTokenCount": 1968,
        "cachedContentTokenCount": 1024,
        "thoughtsTokenCount": 488,
        "toolUsePromptTokenCount": 50,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1250}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1024}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 180}],
        "trafficType": "ON_DEMAND"
    });
    let p = gemini_usage(&usage).unwrap();
    assert_eq!(
        p.usage,
        Usage {
            input_tokens: 1300,
            output_tokens: 668,
            total_tokens: 1968,
            reasoning_tokens: 488,
            cache_read_tokens: 1024,
            ..Usage::default()
        }
    );
    assert_eq!(p.provider_metrics["trafficType"], "ON_DEMAND");
    assert!(p.provider_metrics.contains_key("promptTokensDetails"));
}

#[test]
fn gemini_without_total_and_with_audio() {
    let usage = json!({
        "promptTokenCount": 400,
        "candidatesTokenCount": 90,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 100},
            {"modality": "AUDIO", "tokenCount": 300}
        ],
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 90}]
    });
    let p = gemini_usage(&usage).unwrap();
    assert_eq!(p.usage.total_tokens, 490);
    assert_eq!(p.usage.audio_input_tokens, 300);
    assert_eq!(p.usage.audio_output_tokens, 90);
    assert_eq!(p.usage.audio_total_tokens, 390);
}

#[test]
fn missing_fields_are_zero() {
    for format in [
        UsageFormat::OpenAiChat,
        UsageFormat::OpenAiResponses,
        UsageFormat::Anthropic,
        UsageFormat::Gemini,
    ] {
        let p = format.parse(&json!({})).unwrap();
        assert!(p.usage.is_zero(), "{format}");
        assert!(p.provider_metrics.is_empty());
    }
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        (
            UsageFormat::OpenAiChat,
            json!({"completion_tokens": "46"}),
            "OpenAI Chat Completions usage: completion_tokens: expected a non-negative integer, found string",
        ),
        (
            UsageFormat::OpenAiChat,
            json!({"completion_tokens_details": {"reasoning_tokens": -5}}),
            "OpenAI Chat Completions usage: completion_tokens_details.reasoning_tokens: expected a non-negative integer, found -5",
        ),
        (
            UsageFormat::OpenAiResponses,
            json!({"input_tokens_details": []}),
            "OpenAI Responses usage: input_tokens_details: expected an object, found array",
        ),
        (
            UsageFormat::Anthropic,
            json!({"cache_read_input_tokens": 1.5}),
            "Anthropic Messages usage: cache_read_input_tokens: expected a non-negative integer, found 1.5",
        ),
        (
            UsageFormat::Gemini,
            json!({"thoughtsTokenCount": null, "promptTokenCount": true}),
            "Gemini usage: promptTokenCount: expected a non-negative integer, found bool",
        ),
        (
            UsageFormat::Gemini,
            json!("usage"),
            "Gemini usage: expected an object, found string",
        ),
    ];
    for (format, input, message) in cases {
        let err = format.parse(&input).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.format, format);
    }
}

#[test]
fn detect_the_format() {
    assert_eq!(
        UsageFormat::detect(&openai_chat()),
        Some(UsageFormat::OpenAiChat)
    );
    assert_eq!(
        UsageFormat::detect(&json!({"input_tokens": 1, "output_tokens": 2, "total_tokens": 3})),
        Some(UsageFormat::OpenAiResponses)
    );
    assert_eq!(
        UsageFormat::detect(
            &json!({"input_tokens": 1, "cache_read_input_tokens": 2, "output_tokens": 3})
        ),
        Some(UsageFormat::Anthropic)
    );
    assert_eq!(
        UsageFormat::detect(&json!({"input_tokens": 1, "output_tokens": 3})),
        Some(UsageFormat::Anthropic)
    );
    assert_eq!(
        UsageFormat::detect(&json!({"promptTokenCount": 1})),
        Some(UsageFormat::Gemini)
    );
    assert_eq!(UsageFormat::detect(&json!({"tokens": 1})), None);
    assert_eq!(UsageFormat::detect(&json!(3)), None);
}

#[test]
fn into_metrics_keeps_the_extras() {
    let m =
        anthropic_usage(&json!({"input_tokens": 3, "output_tokens": 1, "service_tier": "batch"}))
            .unwrap()
            .into_metrics();
    assert_eq!(m.usage, Usage::new(3, 1));
    assert_eq!(m.provider_metrics["service_tier"], "batch");
    assert_eq!(m.duration, None);
}
