//! Deadline parsing of arbitrary text: never panics; an accepted deadline's `Display` parses
//! back to the same instant (so it survives JSON, the store and exports).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/deadline.rs"]
mod deadline;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        deadline::check(text);
    }
});
