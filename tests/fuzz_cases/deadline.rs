//! The `deadline` fuzz target's checks, shared with its proptest twin in
//! `tests/reliability_fuzz_props.rs` (the fuzz target includes this file by path).

use runmeta::schema::Deadline;

/// Never panics; the runtime and the rules crate agree; an accepted deadline's `Display`
/// and JSON parse back to the same instant; a refusal says why.
pub fn check(text: &str) {
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
            let from_json: Deadline = serde_json::from_str(&json).expect("reads back");
            assert_eq!(from_json, d);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(text.parse::<Deadline>().is_err());
        }
    }
}
