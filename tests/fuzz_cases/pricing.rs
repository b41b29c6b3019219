//! The `pricing` fuzz target's checks, shared with its proptest twin in
//! `tests/reliability_fuzz_props.rs` (the fuzz target includes this file by path).

use runmeta::metrics::Usage;
use runmeta::pricing::PricingTable;

fn exercise(table: &PricingTable) {
    let _ = format!("{table:?}");
    let max = Usage {
        input_tokens: u64::MAX,
        output_tokens: u64::MAX,
        total_tokens: u64::MAX,
        reasoning_tokens: u64::MAX,
        cache_read_tokens: u64::MAX,
        cache_write_tokens: u64::MAX,
        audio_input_tokens: u64::MAX,
        audio_output_tokens: u64::MAX,
        audio_total_tokens: u64::MAX,
    };
    let times = [
        jiff::Timestamp::MIN,
        jiff::Timestamp::UNIX_EPOCH,
        "2025-06-01T00:00:00Z".parse().expect("valid"),
        jiff::Timestamp::MAX,
    ];
    for entry in table.entries() {
        for at in times {
            let _ = table.lookup(&entry.provider, &entry.model, at);
            for usage in [Usage::new(1_000, 500), max, Usage::default()] {
                let _ = table.cost(&entry.provider, &entry.model, &usage, at);
            }
        }
    }
    let _ = table.cost("unknown", "model", &max, times[2]);
    let _ = table.unknown_models();
}

/// The checks on one input: never panics; an accepted table (TOML or JSON) prices any usage,
/// extreme counts and dates included, without overflow; a refused one says why.
pub fn check(text: &str) {
    match PricingTable::from_toml_str(text) {
        Ok(table) => exercise(&table),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match PricingTable::from_json_str(text) {
        Ok(table) => exercise(&table),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
