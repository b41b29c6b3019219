//! The SQLite store under hostile input (extending the store's own tests, which cover a fixed
//! list of SQL-injection strings in filters and a few bad JSONL lines):
//!
//! - arbitrary strings (quotes, `NUL`, every Unicode scalar, SQL fragments) in every text field
//!   a record carries are stored as values and read back exactly, and filters on them match
//!   exactly the run that has them;
//! - JSONL import of arbitrary lines (the twin of the `jsonl_import` fuzz target) never
//!   panics, accounts for every line, and what it imports exports and re-imports unchanged.
#![allow(missing_docs)]

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use runmeta::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, RunStatus};
use runmeta::schema::JsonMetadata;
use runmeta_store::{RunFilter, RunQuery, Store, StoreError};
use serde_json::{Map, Value};

/// A store in a fresh directory, removed when dropped.
struct TempStore {
    store: Store,
    dir: PathBuf,
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl std::ops::Deref for TempStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for TempStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

fn store() -> TempStore {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "runmeta-reliability-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Store::open(dir.join("runs.db")).expect("store opens");
    TempStore { store, dir }
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// SQL and format fragments, and arbitrary text.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(&[
            "'; DROP TABLE runs; --",
            "\" OR 1=1 --",
            "x' OR '1'='1",
            "%",
            "_",
            "*",
            "\\",
            "\0",
            "a\0b",
            "\u{feff}",
            "'); DELETE FROM label_values; --",
            "NULL",
            "null",
            "[redacted]",
            "🦀\u{202e}",
        ][..]).prop_map(str::to_owned),
        3 => any::<String>(),
        1 => "[\\x00-\\x1f'\"\\\\%_]{1,12}",
    ]
}

fn non_empty_hostile() -> impl Strategy<Value = String> {
    hostile().prop_filter("non-empty", |s| !s.is_empty())
}

fn t(s: &str) -> jiff::Timestamp {
    s.parse().expect("valid timestamp")
}

/// A run carrying `h[i]` in every text field.
fn run_with(h: &[String; 8]) -> RunRecord {
    let mut r = RunRecord::new(h[0].clone(), t("2024-01-15T12:00:00Z"));
    r.session_id = Some(Arc::from(h[1].as_str()));
    r.team = Some(Cow::Owned(h[2].clone()));
    r.release = Some(Arc::from(h[3].as_str()));
    r.request_model = Some(Cow::Owned(h[4].clone()));
    r.status = RunStatus::Error;
    r.stop_reason = Cow::Owned(h[5].clone());
    r.error_class = Some(Cow::Owned(h[6].clone()));
    r.duration = Duration::from_millis(250);
    let model = ModelRef::new(h[7].clone(), h[4].clone());
    let metrics = Metrics {
        usage: Usage::new(100, 20),
        duration: Some(Duration::from_millis(200)),
        cost: Some(Cost::from_nanos(1_234)),
        ..Metrics::default()
    };
    r.messages.push(MessageMetrics {
        model: Some(model.clone()),
        started_at: Some(t("2024-01-15T12:00:00.01Z")),
        metrics: metrics.clone(),
    });
    r.per_model.push(ModelBreakdown {
        model,
        calls: 1,
        metrics: metrics.clone(),
    });
    r.metrics = metrics;
    r.tool_calls.push(ToolCallMetrics {
        name: h[5].clone(),
        started_at: t("2024-01-15T12:00:00.1Z"),
        duration: Duration::from_millis(20),
        status: ToolStatus::Error,
        error_class: Some(h[6].clone()),
    });
    let mut values = Map::new();
    values.insert(h[1].clone(), Value::String(h[2].clone()));
    values.insert("tier".into(), Value::String(h[3].clone()));
    values.insert("note".into(), Value::String(h[0].clone()));
    r.metadata = Some(MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: h[7].clone(),
            version: 1,
            values,
            label_keys: vec!["tier".into()],
            ..JsonMetadata::default()
        }),
        errors: None,
    });
    r
}

fn count(store: &Store, filter: RunFilter) -> usize {
    store
        .runs(&RunQuery {
            filter,
            ..RunQuery::default()
        })
        .expect("a filter of values is a valid query")
        .runs
        .len()
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn hostile_strings_are_stored_and_matched_exactly(
        h in [
            non_empty_hostile(), non_empty_hostile(), non_empty_hostile(), non_empty_hostile(),
            non_empty_hostile(), non_empty_hostile(), non_empty_hostile(), non_empty_hostile(),
        ],
        other in non_empty_hostile(),
    ) {
        let mut store = store();
        let hostile_run = run_with(&h);
        // A neighbour that differs in every field.
        let neighbour = run_with(&std::array::from_fn(|i| format!("{other}/{}", h[i])));
        let summary = store.insert(&[hostile_run.clone(), neighbour.clone()]);
        prop_assert!(summary.is_ok(), "{summary:?}");
        prop_assert_eq!(store.run_count().expect("count"), 2);
        for r in [&hostile_run, &neighbour] {
            let back = store.run(r.run_id).expect("readable").expect("stored");
            prop_assert_eq!(back.to_json(), r.to_json());
        }
        // Each filter on a stored value finds exactly the run that has it.
        let filters = [
            RunFilter { agent: Some(h[0].clone()), ..RunFilter::default() },
            RunFilter { session: Some(h[1].clone()), ..RunFilter::default() },
            RunFilter { team: Some(h[2].clone()), ..RunFilter::default() },
            RunFilter { release: Some(h[3].clone()), ..RunFilter::default() },
            RunFilter { labels: vec![("tier".into(), h[3].clone())], ..RunFilter::default() },
        ];
        for filter in filters {
            let found = store.runs(&RunQuery { filter: filter.clone(), ..RunQuery::default() })
                .expect("valid query");
            prop_assert_eq!(found.runs.len(), 1, "{:?}", filter);
            prop_assert_eq!(found.runs[0].run_id, hostile_run.run_id);
        }
        // A value as a label key matches nothing; a prefix lookup of text is an error or
        // nothing, never a crash.
        prop_assert_eq!(count(&store, RunFilter { labels: vec![(h[0].clone(), h[3].clone())], ..RunFilter::default() }),
            usize::from(h[0] == "tier"));
        match store.find_run_ids(&h[0], 10) {
            Ok(ids) => prop_assert!(ids.is_empty() || h[0].chars().all(|c| c.is_ascii_hexdigit() || c == '-')),
            Err(e) => prop_assert!(matches!(e, StoreError::InvalidQuery(_)), "{e}"),
        }
        prop_assert_eq!(store.integrity_check().expect("check"), "ok");
    }
}

// ----- JSONL import (fuzz target `jsonl_import`) -----

const RECORD: &str = include_str!("../fuzz/corpus/run_record/runmeta.json");
const AGNO_RECORD: &str = include_str!("../fuzz/corpus/run_record/agno.json");

/// Imports `input`, checks the summary accounts for every line, then exports what was imported
/// and re-imports it into a second store: nothing is lost or changed on the way.
fn import_case(input: &[u8]) {
    let mut first = store();
    let summary = first
        .import_jsonl(input, |_| {})
        .expect("in-memory input never fails");
    let lines = input.split(|&b| b == b'\n').count() as u64
        - u64::from(input.is_empty() || input.ends_with(b"\n"));
    assert_eq!(summary.lines, lines, "{summary:?}");
    let blank = input
        .split(|&b| b == b'\n')
        .take(lines as usize)
        .filter(|l| l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    assert_eq!(
        summary.imported + summary.duplicates + summary.error_count + blank,
        lines,
        "{summary:?}"
    );
    assert!(summary.errors.len() as u64 <= summary.error_count);
    for e in &summary.errors {
        assert!(
            e.line >= 1 && e.line <= lines && !e.message.is_empty(),
            "{e}"
        );
    }
    assert_eq!(first.run_count().expect("count"), summary.imported);

    let mut exported = Vec::new();
    let n = first
        .export_jsonl(&RunFilter::default(), &mut exported)
        .expect("export");
    assert_eq!(n, summary.imported);
    let mut second = store();
    let again = second
        .import_jsonl(&exported[..], |_| {})
        .expect("re-import");
    assert_eq!(
        (again.imported, again.error_count, again.duplicates),
        (n, 0, 0),
        "{again:?}"
    );
    let mut re_exported = Vec::new();
    second
        .export_jsonl(&RunFilter::default(), &mut re_exported)
        .expect("export");
    assert_eq!(
        String::from_utf8_lossy(&exported),
        String::from_utf8_lossy(&re_exported)
    );
}

/// A line: a valid record (possibly with a fresh run id), one with a value replaced, or junk.
fn line() -> impl Strategy<Value = String> {
    let fresh = |base: &'static str| {
        any::<u128>().prop_map(move |id| {
            let mut v: Value = serde_json::from_str(base).expect("seed is JSON");
            v["run_id"] = Value::String(uuid_of(id));
            v.to_string()
        })
    };
    prop_oneof![
        3 => fresh(RECORD),
        2 => fresh(AGNO_RECORD),
        1 => Just(RECORD.trim().to_owned()),
        2 => (fresh(RECORD), proptest::sample::select(&[
            "created_at", "status", "metrics", "tools", "messages", "metadata", "children",
            "agent_name", "run_id", "parent_run_id", "session_id",
        ][..]), prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            Just(Value::String("1500-01-01T00:00:00Z".into())),
            Just(Value::String("9999-01-01T00:00:00Z".into())),
            Just(Value::from(-1)),
            Just(serde_json::json!({"input_tokens": u64::MAX})),
            Just(serde_json::json!([{"tool_name": "x", "started_at": "2300-01-01T00:00:00Z"}])),
        ]).prop_map(|(line, key, value)| {
            let mut v: Value = serde_json::from_str(&line).expect("JSON");
            v[key] = value;
            v.to_string()
        }),
        1 => any::<String>().prop_map(|s| s.replace('\n', " ")),
        1 => Just(String::new()),
        1 => Just("   \t".to_owned()),
        1 => Just("{\"run_id\": ".to_owned()),
    ]
}

fn uuid_of(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[test]
fn jsonl_seeds_import() {
    let (record, agno) = (RECORD.trim(), AGNO_RECORD.trim());
    let input = format!("{record}\n\n{agno}\nnot json\n{record}");
    import_case(input.as_bytes());
    let mut s = store();
    let summary = s.import_jsonl(input.as_bytes(), |_| {}).expect("import");
    assert_eq!(
        (
            summary.lines,
            summary.imported,
            summary.duplicates,
            summary.error_count
        ),
        (5, 2, 1, 1)
    );
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn jsonl_import_accounts_for_every_line(lines in prop::collection::vec(line(), 0..12), crlf in any::<bool>(), final_newline in any::<bool>()) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let mut input = lines.join(sep);
        if final_newline {
            input.push('\n');
        }
        import_case(input.as_bytes());
    }

    #[test]
    fn jsonl_import_of_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        import_case(&bytes);
    }
}

/// The SLA fields are named by the schema, never guessed from values: another field with the
/// same instant or the same number of seconds, first in both schema and key order, is not
/// taken for them, and a redacted one is
/// not named (its value is masked in every output).
#[test]
fn sla_keys_come_from_the_schema_not_from_equal_values() {
    use runmeta::prelude::{Deadline, RunMetadata};

    #[derive(RunMetadata)]
    struct Ticket {
        created_at: Deadline,
        #[run_metadata(sla_deadline)]
        due: Deadline,
        attempts: u32,
        #[run_metadata(sla_target)]
        budget_seconds: u32,
    }
    #[derive(RunMetadata)]
    struct Hidden {
        #[run_metadata(sla_deadline, redact)]
        due: Deadline,
    }

    let when = "2025-03-01T10:00:00Z";
    let ticket = Ticket::from_json_str(&format!(
        r#"{{"created_at": "{when}", "due": "{when}", "attempts": 30, "budget_seconds": 30}}"#
    ))
    .expect("valid ticket");
    let mut run = RunRecord::new("sla_keys", t("2025-03-01T09:00:00Z"));
    run.metadata = Some(MetadataRecord::new(MetadataValue::new(ticket)));
    let json = run.metadata.as_ref().unwrap().to_json();
    assert_eq!(json["sla_deadline_key"], "due");
    assert_eq!(json["sla_target_key"], "budget_seconds");

    let mut s = store();
    s.insert(std::slice::from_ref(&run)).expect("insert");
    let back = s.run(run.run_id).expect("read").expect("stored");
    let meta = back.metadata.expect("metadata kept");
    assert_eq!(meta.to_json()["sla_deadline_key"], "due");
    assert_eq!(meta.to_json()["sla_target_key"], "budget_seconds");
    assert_eq!(meta.value.sla_target(), Some(Duration::from_secs(30)));

    let hidden = Hidden::from_json_str(&format!(r#"{{"due": "{when}"}}"#)).expect("valid");
    let meta = MetadataRecord::new(MetadataValue::new(hidden));
    assert!(
        meta.to_json().get("sla_deadline_key").is_none(),
        "{}",
        meta.to_json()
    );
}
