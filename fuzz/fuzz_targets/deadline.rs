//! Deadline parsing of arbitrary text: never panics; an accepted deadline's `Display` parses
//! back to the same instant (so it survives JSON, the store and exports).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runmeta::schema::Deadline;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = runmeta_rules::parse_rfc3339(text);
    let deadline = Deadline::parse(text);
    assert_eq!(rules.is_ok(), deadline.is_ok(), "{text:?}");
    match deadline {
        Ok(d) => {
            assert_eq!(rules.ok(), Some(d.timestamp()));
            let shown = d.to_string();
            let back = Deadline::parse(&shown)
                .unwrap_or_else(|e| panic!("{text:?} shows as {shown:?}, which is refused: {e}"));
            assert_eq!(back, d, "{text:?} → {shown:?}");
            let json = serde_json::to_string(&d).expect("serializes");
            let from_json: Deadline =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{text:?} → {json}: {e}"));
            assert_eq!(from_json, d);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(text.parse::<Deadline>().is_err());
        }
    }
});
