//! Metadata validation of arbitrary input: `from_json_str`, `from_json_value` and `from_map`
//! never panic; an accepted value is valid, and text and `Value` input agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runmeta::prelude::*;
use runmeta::schema::{input, MetadataErrors, UnknownKeys};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Channel {
    Chat,
    Email,
    #[metadata_enum(rename = "voice_call")]
    Voice,
}

/// Every field type and option.
#[derive(Clone, RunMetadata)]
struct FuzzRun {
    ticket_id: String,
    #[run_metadata(label)]
    priority: Priority,
    #[run_metadata(label)]
    channel: Option<Channel>,
    #[run_metadata(redact)]
    customer_id: Option<String>,
    #[run_metadata(redact, range = 1..=9999)]
    pin: Option<u16>,
    #[run_metadata(redact)]
    tier: Option<CustomerTier>,
    #[run_metadata(sla_deadline)]
    sla_deadline: Option<Deadline>,
    #[run_metadata(range = 1..=3)]
    escalation_level: Option<u8>,
    #[run_metadata(sla_target)]
    target_seconds: Option<f64>,
    #[run_metadata(label)]
    beta: Option<bool>,
    #[run_metadata(rename = "score")]
    signed_score: Option<i64>,
    big: Option<u64>,
    small: Option<i8>,
    ratio: Option<f32>,
}

fn check_err(err: &MetadataErrors) {
    assert!(!err.errors.is_empty(), "an error lists its problems");
    assert!(!err.to_string().is_empty());
    assert!(err.to_json().is_object());
}

fn check_ok(run: &FuzzRun) {
    assert!(run.validate().is_ok(), "an accepted value validates");
    let _ = format!("{run:?}");
    let _ = run.labels().count();
    let _ = runmeta::schema::DynMetadata::sla_deadline(run);
    let _ = runmeta::schema::DynMetadata::sla_target(run);
    let _ = FuzzRun::json_schema();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let from_text = FuzzRun::from_json_str(text);
    match &from_text {
        Ok(run) => check_ok(run),
        Err(err) => check_err(err),
    }
    let _ = input::from_json_str::<FuzzRun>(text, UnknownKeys::Keep);

    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let from_value = FuzzRun::from_json_value(&value);
        match &from_value {
            Ok(run) => check_ok(run),
            Err(err) => check_err(err),
        }
        let _ = input::from_json_value::<FuzzRun>(&value, UnknownKeys::Keep);
        // Text accepted ⇒ its parsed value is accepted, to the same result.
        if let Ok(a) = &from_text {
            let b = from_value.expect("text accepted, its Value refused");
            assert_eq!(a.to_json(), b.to_json());
        }
    }

    // Lines of `key=value` as string pairs.
    let pairs = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect::<Vec<_>>();
    match FuzzRun::from_map(pairs) {
        Ok(run) => check_ok(&run),
        Err(err) => check_err(&err),
    }
});
