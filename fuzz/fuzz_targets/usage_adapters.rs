//! Provider usage adapters on arbitrary JSON: never panic (no overflow either: the fuzz build
//! has debug assertions), and streaming accumulation saturates.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/usage.rs"]
mod usage;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        usage::check(&value);
    }
});
