//! Provider usage adapters on arbitrary JSON: never panic (no overflow either: the fuzz build
//! has debug assertions), and streaming accumulation saturates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runmeta::metrics::adapters;
use runmeta::metrics::{UsageAccumulator, UsageFormat, UsageReporting};
use serde_json::Value;

const FORMATS: [UsageFormat; 4] = [
    UsageFormat::OpenAiChat,
    UsageFormat::OpenAiResponses,
    UsageFormat::Anthropic,
    UsageFormat::Gemini,
];

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A stream of events: the document itself, or each element of a top-level array.
    let events: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for format in FORMATS {
        let parsed = format.parse(&value);
        if let Err(e) = &parsed {
            assert!(!e.to_string().is_empty());
        }
        if let Ok(usage) = parsed {
            let _ = usage.into_metrics();
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
    let _ = UsageFormat::detect(&value);
    let _ = adapters::openai_chat_usage(&value);
    let _ = adapters::openai_responses_usage(&value);
    let _ = adapters::anthropic_usage(&value);
    let _ = adapters::gemini_usage(&value);
    let mut anthropic = UsageAccumulator::new(UsageReporting::Delta);
    for event in &events {
        let _ = anthropic.push_anthropic_event(event);
    }
    let _ = anthropic.finish();
});
