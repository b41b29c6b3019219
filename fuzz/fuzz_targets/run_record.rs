//! Agno / JSONL run-record import of arbitrary text: `RunRecord::from_json_str` (one JSONL
//! line) never panics, and an imported record exports to JSON that imports again to the same
//! JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/run_record.rs"]
mod run_record;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        run_record::check(text);
    }
});
