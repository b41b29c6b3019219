//! The `run_record` fuzz target's checks, shared with its proptest twin in
//! `tests/reliability_fuzz_props.rs` (the fuzz target includes this file by path).

use runmeta::metrics::{MessageMetrics, Metrics, ToolCallMetrics};
use runmeta::run::{MetadataRecord, RunRecord};
use serde_json::Value;

/// Never panics; an imported record exports to JSON that imports again to the same JSON;
/// the parts read from any JSON value.
pub fn check(text: &str) {
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
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = Metrics::from_json(&value);
        let _ = MessageMetrics::from_json(&value);
        let _ = ToolCallMetrics::from_json(&value);
        let _ = MetadataRecord::from_json(&value);
    }
}
