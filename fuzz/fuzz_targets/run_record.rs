//! Agno / JSONL run-record import of arbitrary text: `RunRecord::from_json_str` (one JSONL
//! line) never panics, and an imported record exports to JSON that imports again to the same
//! JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runmeta::metrics::{MessageMetrics, Metrics, ToolCallMetrics};
use runmeta::run::{MetadataRecord, RunRecord};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RunRecord::from_json_str(text) {
        Ok(record) => {
            let _ = format!("{record:?}");
            let _ = record.total_usage();
            let _ = record.total_cost();
            let json = record.to_json();
            let again = RunRecord::from_json(&json)
                .unwrap_or_else(|e| panic!("export of an import is refused: {e}\n{json}"));
            assert_eq!(again.to_json(), json, "import → export is not stable");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // The parts, each from any JSON value.
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = Metrics::from_json(&value);
        let _ = MessageMetrics::from_json(&value);
        let _ = ToolCallMetrics::from_json(&value);
        let _ = MetadataRecord::from_json(&value);
    }
});
