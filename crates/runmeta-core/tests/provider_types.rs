//! Provider SDK usage types recorded through the public API (features `async-openai`, `rig`):
//! the SDK's value goes straight into a run and comes out in the run's record and totals.
#![cfg(any(feature = "async-openai", feature = "rig"))]

use std::sync::{Arc, Mutex, OnceLock};

use runmeta_core::metrics::{MessageMetrics, Usage};
use runmeta_core::run::{
    record_message, record_usage, run_sync, Collector, InMemorySink, Outcome, RunArgs, RunRecord,
    RunSpec,
};

/// The process's collector (one per test binary), keeping every run.
fn sink() -> &'static Arc<InMemorySink> {
    static SINK: OnceLock<Arc<InMemorySink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(InMemorySink::new(1024));
        Collector::builder()
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("the only collector of this test binary");
        sink
    })
}

/// Runs `f` as a tracked run of `agent` and returns its record.
fn tracked(agent: &'static str, f: impl FnOnce()) -> RunRecord {
    // Tests run in parallel: one at a time here, so each finds its own run by agent name.
    static LOCK: Mutex<()> = Mutex::new(());
    let _one = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let sink = sink();
    let spec: &'static RunSpec = Box::leak(Box::new(RunSpec { agent, team: None }));
    run_sync(spec, Some(RunArgs::default()), |_: &()| Outcome::SUCCESS, f);
    runmeta_core::run::flush();
    sink.records()
        .into_iter()
        .rev()
        .find(|r| r.agent == agent)
        .expect("the run was recorded")
}

#[cfg(feature = "async-openai")]
mod async_openai_types {
    use super::*;
    use async_openai::types::chat::{CompletionUsage, CreateChatCompletionResponse};
    use async_openai::types::responses::ResponseUsage;
    use runmeta_core::metrics::adapters::{openai_chat_usage, openai_responses_usage};
    use runmeta_core::metrics::{ModelRef, ProviderUsage};
    use runmeta_core::run::ModelCall;
    use serde_json::json;

    /// A Chat Completions response as the API returns it, read by the SDK.
    fn completion() -> CreateChatCompletionResponse {
        serde_json::from_value(json!({
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion",
            "created": 1_741_570_283,
            "model": "o3-mini-2025-01-31",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Paris.", "refusal": null,
                            "annotations": []},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 2006, "completion_tokens": 1850, "total_tokens": 3856,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 1536, "audio_tokens": 0,
                    "accepted_prediction_tokens": 12, "rejected_prediction_tokens": 3}
            },
            "service_tier": "default",
            "system_fingerprint": "fp_42bfad963b"
        }))
        .expect("a valid Chat Completions response")
    }

    /// A Responses API `usage`, read by the SDK.
    fn response_usage() -> ResponseUsage {
        serde_json::from_value(json!({
            "input_tokens": 328,
            "input_tokens_details": {"cached_tokens": 256},
            "output_tokens": 52,
            "output_tokens_details": {"reasoning_tokens": 32},
            "total_tokens": 380
        }))
        .expect("a valid Responses usage")
    }

    #[test]
    fn chat_completion_usage_is_recorded_in_the_run() {
        let completion = completion();
        let usage: &CompletionUsage = completion.usage.as_ref().unwrap();
        let record = tracked("openai_chat_agent", || {
            record_usage(usage);
            record_usage(usage.clone());
        });
        let expected = Usage {
            cache_read_tokens: 1920,
            reasoning_tokens: 1536,
            total_tokens: 3856,
            ..Usage::new(2006, 1850)
        };
        assert_eq!(record.messages.len(), 2);
        assert_eq!(record.messages[0].metrics.usage, expected);
        assert_eq!(record.metrics.usage, expected + expected);
        // The same as the usage JSON read by the adapter.
        let wire = openai_chat_usage(&serde_json::to_value(usage).unwrap()).unwrap();
        assert_eq!(record.messages[1].metrics.usage, wire.usage);
    }

    #[test]
    fn responses_usage_is_recorded_through_a_timed_model_call() {
        let usage = response_usage();
        let record = tracked("openai_responses_agent", || {
            let call = ModelCall::start(ModelRef {
                provider: "openai".into(),
                id: "gpt-5-mini".into(),
                ..ModelRef::default()
            });
            call.finish(&usage);
        });
        let expected = Usage {
            cache_read_tokens: 256,
            reasoning_tokens: 32,
            ..Usage::new(328, 52)
        };
        assert_eq!(record.metrics.usage, expected);
        assert_eq!(record.per_model.len(), 1);
        assert_eq!(record.per_model[0].metrics.usage, expected);
        let wire = openai_responses_usage(&serde_json::to_value(&usage).unwrap()).unwrap();
        assert_eq!(record.metrics.usage, wire.usage);
    }

    #[test]
    fn provider_details_reach_the_run_through_provider_usage() {
        let completion = completion();
        let p = ProviderUsage::from(completion.usage.as_ref().unwrap());
        let record = tracked("openai_details_agent", || {
            record_message(MessageMetrics {
                metrics: p.clone().into_metrics(),
                ..MessageMetrics::default()
            });
            record_message(MessageMetrics {
                metrics: p.into_metrics(),
                ..MessageMetrics::default()
            });
        });
        // Numeric provider metrics sum over the run's messages.
        assert_eq!(
            record.metrics.provider_metrics["completion_tokens_details"],
            json!({"accepted_prediction_tokens": 24, "rejected_prediction_tokens": 6})
        );
        assert_eq!(record.metrics.usage.reasoning_tokens, 3072);
    }
}

#[cfg(feature = "rig")]
mod rig_types {
    use super::*;
    use rig_core::completion::{Cost as RigCost, Usage as RigUsage};
    use runmeta_core::metrics::{Cost, Metrics};

    #[test]
    fn rig_usage_is_recorded_in_the_run() {
        let usage = RigUsage::new()
            .input_tokens(1200)
            .output_tokens(300)
            .cached_input_tokens(1024)
            .cache_creation_input_tokens(100)
            .reasoning_tokens(128);
        // rig's usage is `Copy`: pass it by value (clippy's advice over `&usage`).
        let record = tracked("rig_agent", || {
            record_usage(usage);
            record_usage(Usage::from(&usage));
        });
        let one = Usage {
            cache_read_tokens: 1024,
            cache_write_tokens: 100,
            reasoning_tokens: 128,
            ..Usage::new(1200, 300)
        };
        assert_eq!(record.messages.len(), 2);
        assert_eq!(record.metrics.usage, one + one);
    }

    #[test]
    fn rig_cost_reaches_the_run_through_metrics() {
        let usage = RigUsage::new()
            .input_tokens(1000)
            .output_tokens(200)
            .tool_use_prompt_tokens(40)
            .cost(RigCost::from_total(0.0125));
        let record = tracked("rig_cost_agent", || {
            record_message(MessageMetrics {
                metrics: Metrics::from(&usage),
                ..MessageMetrics::default()
            });
        });
        assert_eq!(record.metrics.usage, Usage::new(1000, 200));
        assert_eq!(record.metrics.cost, Some(Cost::from_nanos(12_500_000)));
        assert_eq!(
            record.metrics.provider_metrics["tool_use_prompt_tokens"],
            40
        );
    }
}
