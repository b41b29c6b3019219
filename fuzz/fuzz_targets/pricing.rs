//! Pricing files (TOML and JSON) of arbitrary text: never panic; an accepted table prices
//! any usage, extreme counts included, without overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
        let (provider, model) = (entry.provider.clone(), entry.model.clone());
        for at in times {
            let _ = table.lookup(&provider, &model, at);
            for usage in [Usage::new(1_000, 500), max, Usage::default()] {
                let _ = table.cost(&provider, &model, &usage, at);
            }
        }
    }
    let _ = table.cost("unknown", "model", &max, times[2]);
    let _ = table.unknown_models();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PricingTable::from_toml_str(text) {
        Ok(table) => exercise(&table),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match PricingTable::from_json_str(text) {
        Ok(table) => exercise(&table),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
