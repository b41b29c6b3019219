//! The `usage_adapters` fuzz target's checks, shared with its proptest twin in
//! `tests/reliability_fuzz_props.rs` (the fuzz target includes this file by path).

use runmeta::metrics::{adapters, UsageAccumulator, UsageFormat, UsageReporting};
use serde_json::Value;

const FORMATS: [UsageFormat; 4] = [
    UsageFormat::OpenAiChat,
    UsageFormat::OpenAiResponses,
    UsageFormat::Anthropic,
    UsageFormat::Gemini,
];

/// Every adapter and the streaming accumulators (delta, cumulative, Anthropic events) on
/// `value` (a top-level array is a stream of events): never panic, never overflow.
pub fn check(value: &Value) {
    let events: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for format in FORMATS {
        match format.parse(value) {
            Ok(usage) => {
                let _ = usage.into_metrics();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        for mode in [UsageReporting::Delta, UsageReporting::Cumulative] {
            let mut acc = UsageAccumulator::new(mode);
            for event in &events {
                let _ = acc.push_json(format, event);
                let _ = acc.current();
            }
            let _ = acc.finish();
        }
    }
    let _ = UsageFormat::detect(value);
    let _ = adapters::openai_chat_usage(value);
    let _ = adapters::openai_responses_usage(value);
    let _ = adapters::anthropic_usage(value);
    let _ = adapters::gemini_usage(value);
    let mut anthropic = UsageAccumulator::new(UsageReporting::Delta);
    for event in &events {
        let _ = anthropic.push_anthropic_event(event);
    }
    let _ = anthropic.finish();
}
