//! The `agno_import` fuzz target's checks, shared with its proptest twin in
//! `tests/reliability_fuzz_props.rs` (the fuzz target includes this file by path).

use runmeta::run::RunRecord;
use runmeta_store::{parse_agno, AgnoEntry, AgnoOptions, Store, StoreError};
use serde_json::Value;

/// A valid team session: three runs (a leader, its member, a sibling).
pub const VALID: &str = r#"{"session_id":"s-valid","agent_id":"support-agent","runs":[{"run_id":"6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f","created_at":1736949600,"status":"COMPLETED","metrics":{"input_tokens":150,"output_tokens":500,"duration":2.3},"metadata":{"priority":"high"},"member_responses":[{"run_id":"9c4f5d2b-7e40-4f8a-8d76-3f4c4e5a6b72","agent_id":"researcher","created_at":1736949601,"metrics":{"prompt_tokens":[10,20],"time":[1.0,0.5]}}]},{"run_id":"7a2d3b0f-5c2e-4d68-8b54-1d2a2c3e4f50","created_at":1736949700,"status":"ERROR"}]}"#;

pub fn options() -> AgnoOptions {
    AgnoOptions::with_labels(["priority", "customer_tier"])
}

/// Entries of `text`, or the whole-input error.
pub fn parse(text: &str) -> Result<(u64, Vec<AgnoEntry>), StoreError> {
    let mut entries = Vec::new();
    let lines = parse_agno(text, &options(), |e| entries.push(e))?;
    Ok((lines, entries))
}

/// An entry's outcome, comparable across parses: the record's JSON or the error message.
pub fn outcome(e: &AgnoEntry) -> Result<Value, String> {
    e.result.as_ref().map(|r| r.to_json()).map_err(Clone::clone)
}

/// Entries one document yields, counted independently of the parser.
pub fn expected_entries(doc: &Value) -> usize {
    match doc {
        Value::Array(items) => items.iter().map(expected_entries).sum(),
        Value::Object(o) if o.get("runs").is_some_and(Value::is_array) => o["runs"]
            .as_array()
            .map_or(0, |r| r.iter().map(expected_entries).sum()),
        Value::Object(o) if o.contains_key("run_id") => {
            1 + match o.get("member_responses") {
                Some(Value::Array(m)) => m.iter().map(expected_entries).sum(),
                _ => 0,
            }
        }
        _ => 1,
    }
}

/// The checks on one input: never panics; every run (and every part of the input that is not
/// a session or a run) is one entry, converted or refused with its place and what is wrong;
/// each top-level element converts alone as it did among its siblings; a valid session beside
/// the input imports completely; `store` accounts for every entry.
pub fn check(data: &[u8], store: &mut Store) {
    let Ok(text) = std::str::from_utf8(data) else {
        let before = store.run_count().expect("count");
        let err = store
            .import_agno(data, &options(), |_| {})
            .expect_err("non-UTF-8 input is refused");
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
        assert_eq!(store.run_count().expect("count"), before);
        return;
    };
    let whole: Option<Value> = serde_json::from_str(text).ok();
    let parsed = parse(text);

    // Accounting: every run and every foreign part is one entry.
    let entries = match &parsed {
        Err(e) => {
            assert!(matches!(e, StoreError::InvalidInput(_)), "{e:?}");
            assert!(!e.to_string().is_empty());
            assert!(whole.is_none(), "one JSON document refused: {e}");
            assert!(
                text.lines()
                    .all(|l| serde_json::from_str::<Value>(l).is_err()),
                "JSONL with a document refused: {e}"
            );
            &[][..]
        }
        Ok((lines, entries)) => {
            assert_eq!(*lines, text.lines().count() as u64);
            let expected = match &whole {
                Some(doc) => expected_entries(doc),
                None => text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str::<Value>(l).map_or(1, |d| expected_entries(&d)))
                    .sum(),
            };
            assert_eq!(entries.len(), expected, "entries lost or invented");
            &entries[..]
        }
    };
    for e in entries {
        assert!(e.line >= 1 && e.line <= text.lines().count().max(1) as u64);
        match &e.result {
            Ok(record) => {
                let json = record.to_json();
                let again = RunRecord::from_json(&json)
                    .unwrap_or_else(|err| panic!("import → export refused: {err}\n{json}"));
                assert_eq!(again.to_json(), json);
                assert!(e.error().is_none());
            }
            Err(message) => {
                assert!(!message.is_empty(), "an error says what is wrong");
                let reported = e.error().expect("a refused entry has an error");
                assert_eq!(reported.line, e.line);
                if !e.path.is_empty() {
                    assert!(
                        reported.message.starts_with(&format!("{}: ", e.path)),
                        "an error names its place: {reported}"
                    );
                }
            }
        }
    }

    // Independence: each top-level element alone converts exactly as it did among siblings.
    if let (Some(doc), Ok((_, entries))) = (&whole, &parsed) {
        let parts: Vec<(String, Value)> = match doc {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("[{i}]"), Value::Array(vec![item.clone()])))
                .collect(),
            Value::Object(o) if o.get("runs").is_some_and(Value::is_array) => o["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, run)| {
                    let mut alone = o.clone();
                    alone.insert("runs".into(), Value::Array(vec![run.clone()]));
                    (format!("runs[{i}]"), Value::Object(alone))
                })
                .collect(),
            _ => Vec::new(),
        };
        let zero = if matches!(doc, Value::Array(_)) {
            "[0]"
        } else {
            "runs[0]"
        };
        for (place, alone) in parts.iter().take(16) {
            let in_doc: Vec<_> = entries
                .iter()
                .filter(|e| {
                    e.path == *place
                        || e.path.starts_with(&format!("{place}."))
                        || e.path.starts_with(&format!("{place}["))
                })
                .map(|e| (e.path[place.len()..].to_owned(), outcome(e)))
                .collect();
            let (_, own) = parse(&alone.to_string()).expect("an element alone is JSON");
            let own: Vec<_> = own
                .iter()
                .map(|e| (e.path[zero.len()..].to_owned(), outcome(e)))
                .collect();
            assert_eq!(in_doc, own, "{place} depends on its siblings");
        }
    }

    // A valid session next to the input imports completely.
    let (_, valid) = parse(VALID).expect("VALID parses");
    let valid: Vec<_> = valid.iter().map(|e| (e.path.clone(), outcome(e))).collect();
    assert!(valid.iter().all(|(_, o)| o.is_ok()));
    if let Some(doc) = &whole {
        let pair = Value::Array(vec![
            doc.clone(),
            serde_json::from_str(VALID).expect("JSON"),
        ]);
        let (_, entries) = parse(&pair.to_string()).expect("an array");
        let next: Vec<_> = entries
            .iter()
            .filter_map(|e| Some((e.path.strip_prefix("[1].")?.to_owned(), outcome(e))))
            .collect();
        assert_eq!(next, valid, "a valid session beside {doc} was not imported");
    } else {
        let joined = format!("{text}\n{VALID}\n");
        if serde_json::from_str::<Value>(&joined).is_err() {
            let last = joined.lines().count() as u64;
            let (_, entries) = parse(&joined).expect("one line is a document");
            let next: Vec<_> = entries
                .iter()
                .filter(|e| e.line == last)
                .map(|e| (e.path.clone(), outcome(e)))
                .collect();
            assert_eq!(
                next, valid,
                "a valid session on the line after the input was lost"
            );
        }
    }

    // The store: every entry imported, a duplicate, or an error (the parse's, or unstorable).
    let before = store.run_count().expect("count");
    match store.import_agno(data, &options(), |_| {}) {
        Ok(summary) => {
            let refused = entries.iter().filter(|e| e.result.is_err()).count() as u64;
            assert!(parsed.is_ok());
            assert_eq!(
                summary.imported + summary.duplicates + summary.error_count,
                entries.len() as u64,
                "{summary:?}"
            );
            assert!(summary.error_count >= refused, "{summary:?}");
            assert!(summary.errors.iter().all(|e| !e.message.is_empty()));
            assert_eq!(store.run_count().expect("count"), before + summary.imported);
        }
        Err(e) => {
            assert!(matches!(e, StoreError::InvalidInput(_)), "{e:?}");
            assert!(parsed.is_err());
            assert_eq!(store.run_count().expect("count"), before);
        }
    }
}
