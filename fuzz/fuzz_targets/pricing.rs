//! Pricing files (TOML and JSON) of arbitrary text: never panic; an accepted table prices
//! any usage, extreme counts included, without overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/pricing.rs"]
mod pricing;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pricing::check(text);
    }
});
