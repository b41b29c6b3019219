//! The `runmeta` CLI under hostile arguments (extending the CLI's own tests, which cover a few
//! SQL-injection filters and stored control characters): every filter, grouping, time, id and
//! label argument given quotes, SQL, control characters, bidi overrides, option-like text and
//! 90 KB of text ends with exit code 0, 1 or 2 (never a panic or a signal), writes no
//! terminal escape, and leaves the database as it was.
//!
//! `runmeta import --from agno` (runmeta-store's Agno import, fuzzed on its own as the
//! `agno_import` target) gets Agno session documents with any value replaced by arbitrary JSON:
//! it imports or reports, never crashes.
//!
//! It runs the binary `cargo test --workspace` builds (`target/<profile>/runmeta`); run alone
//! without it, it says so and passes (under `CI` the binary is required).
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use runmeta::metrics::{Metrics, Usage};
use runmeta::run::{MetadataRecord, MetadataValue, RunRecord};
use runmeta::schema::JsonMetadata;
use runmeta_store::Store;
use serde_json::{Map, Value};

/// The CLI binary next to this test's directory, if built.
fn binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join(format!("runmeta{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: run `cargo test --workspace`",
        bin.display()
    );
    eprintln!(
        "SKIP: {} not built (`cargo test --workspace` builds it)",
        bin.display()
    );
    None
}

/// A store with a few runs, in a directory removed on drop.
struct Seeded {
    dir: PathBuf,
    db: PathBuf,
    runs: u64,
}

impl Drop for Seeded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn seeded() -> Seeded {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "runmeta-reliability-cli-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("runs.db");
    let mut store = Store::open(&db).expect("store");
    let now = jiff::Timestamp::now();
    let runs: Vec<RunRecord> = (0..20i64)
        .map(|i| {
            let mut r = RunRecord::new(
                if i % 2 == 0 { "support" } else { "triage" },
                now - jiff::SignedDuration::from_secs(60 * i),
            );
            r.duration = Duration::from_millis(100 + i as u64);
            r.metrics = Metrics::from_usage(Usage::new(100, 20));
            let mut values = Map::new();
            values.insert(
                "priority".into(),
                Value::String(if i % 3 == 0 { "high" } else { "low" }.into()),
            );
            r.metadata = Some(MetadataRecord {
                value: MetadataValue::new(JsonMetadata {
                    schema: "SupportRun".into(),
                    version: 1,
                    values,
                    label_keys: vec!["priority".into()],
                    ..JsonMetadata::default()
                }),
                errors: None,
            });
            r
        })
        .collect();
    store.insert(&runs).expect("insert");
    Seeded {
        dir,
        db,
        runs: runs.len() as u64,
    }
}

/// The argument lists to try with `value` in one place each: filters, grouping, times, ids,
/// labels, formats. None writes outside the seeded database's directory.
fn commands(db: &Path, value: &str) -> Vec<Vec<String>> {
    let db = db.display().to_string();
    let mut out = Vec::new();
    let mut push = |args: &[&str]| out.push(args.iter().map(|s| (*s).to_owned()).collect());
    for flag in ["--agent", "--session", "--team", "--release", "--label"] {
        push(&["runs", "--db", &db, flag, value]);
    }
    push(&["report", "--db", &db, "--agent", value, "--format", "json"]);
    let label = format!("priority={value}");
    let key = format!("{value}=high");
    push(&["runs", "--db", &db, "--label", &label, "--format", "csv"]);
    push(&["runs", "--db", &db, "--label", &key, "--format", "json"]);
    push(&["runs", "--db", &db, "--after", value]);
    push(&["runs", "--db", &db, "--since", value]);
    push(&["report", "--db", &db, "--by", value]);
    push(&["report", "--db", &db, "--from", value, "--to", value]);
    push(&["report", "--db", &db, "--by", &format!("agent,{value}")]);
    push(&["show", "--db", &db, value]);
    push(&["sessions", "--db", &db, "--agent", value, "--format", "csv"]);
    push(&["teams", "--db", &db, "--team", value]);
    push(&["export", "--db", &db, "--agent", value]);
    push(&["runs", "--db", &db, "--format", value]);
    push(&["runs", "--db", &db, "--limit", value]);
    out
}

fn check(bin: &Path, seeded: &Seeded, value: &str) {
    for args in commands(&seeded.db, value) {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(bin)
            .args(&args)
            .env_remove("NO_COLOR")
            .output()
            .expect("the binary runs");
        let (out, err) = (
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr),
        );
        let code = status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{args:?}: exit {status} (a panic is 101, a signal has no code)\nstderr: {err}"
        );
        if code != Some(0) {
            assert!(
                err.contains("error"),
                "{args:?}: a failure says so\nstderr: {err}"
            );
        }
        assert!(
            !out.contains('\x1b') && !err.contains('\x1b'),
            "{args:?}: a terminal escape reaches the output"
        );
    }
    let store = Store::open_read_only(&seeded.db).expect("still a store");
    assert_eq!(store.run_count().expect("count"), seeded.runs);
    assert_eq!(store.integrity_check().expect("check"), "ok");
}

const HOSTILE: &[&str] = &[
    "'; DROP TABLE runs; --",
    "x' OR '1'='1",
    "\" OR \"\"=\"",
    "%",
    "=",
    "priority=",
    "=high",
    "\x1b[2J\x1b[31mred",
    "\x07\x08\x7f",
    "line\nbreak",
    "\u{202e}evil",
    "🦀",
    "--",
    "--db",
    "--help",
    "-V",
    "0",
    "18446744073709551616",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00+01:00",
    "1e309s",
    "0190c3f2",
    "00000000-0000-0000-0000-000000000000",
    "agent,agent",
    "",
];

#[test]
fn hostile_arguments_end_cleanly() {
    let Some(bin) = binary() else { return };
    let seeded = seeded();
    for value in HOSTILE {
        check(&bin, &seeded, value);
    }
    // An argument of 90 KB (Linux refuses a single argument over 128 KiB).
    check(&bin, &seeded, &"a'\u{1b}".repeat(30_000));
}

proptest! {
    #![proptest_config(Config { cases: 4, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_arguments_end_cleanly(value in "[^\\x00]{0,40}") {
        if let Some(bin) = binary() {
            let seeded = seeded();
            check(&bin, &seeded, &value);
        }
    }
}

// ----- Agno import -----

/// An Agno session (the shape of the CLI's own Agno test), members and v1 metrics included.
fn agno_session() -> Value {
    serde_json::json!({
        "session_id": "sess-1",
        "agent_id": "support-agent",
        "team_name": "desk",
        "runs": [
            {
                "run_id": "6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f",
                "created_at": 1736949600,
                "status": "COMPLETED",
                "model": "gpt-4o-mini", "model_provider": "OpenAI",
                "metrics": {"input_tokens": 150, "output_tokens": 500, "total_tokens": 650,
                            "duration": 2.3, "time_to_first_token": 0.4},
                "metadata": {"priority": "high", "customer_tier": "enterprise"},
                "messages": [{"role": "user", "content": "help"},
                             {"role": "assistant", "content": "ok",
                              "metrics": {"input_tokens": 150, "output_tokens": 500}}],
                "tools": [{"tool_name": "search", "tool_call_error": false,
                           "metrics": {"start_time": 1736949601.0, "end_time": 1736949601.5}}],
                "member_responses": [{
                    "run_id": "9c4f5d2b-7e40-4f8a-8d76-3f4c4e5a6b72",
                    "agent_id": "researcher",
                    "created_at": 1736949601,
                    "metrics": {"prompt_tokens": [10, 20], "completion_tokens": [5], "time": [1.0, 0.5]}
                }]
            },
            {"run_id": "7a2d3b0f-5c2e-4d68-8b54-1d2a2c3e4f50", "created_at": 1736949700,
             "status": "ERROR", "metrics": {"time_to_first_token": [0.2, 0.3]}}
        ]
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        proptest::sample::select(
            &[
                "COMPLETED",
                "RUNNING",
                "assistant",
                "not-a-uuid",
                "",
                "\u{1b}[2J"
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn replace_nth(v: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *v = with.clone();
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|i| replace_nth(i, n, with)),
        Value::Object(map) => map.values_mut().any(|i| replace_nth(i, n, with)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(Config { cases: 16, failure_persistence: None, ..Config::default() })]

    #[test]
    fn agno_import_of_mutated_sessions_ends_cleanly(
        edits in prop::collection::vec((0usize..60, json_value()), 1..4),
        as_jsonl in any::<bool>(),
    ) {
        let Some(bin) = binary() else { return Ok(()) };
        let seeded = seeded();
        let mut doc = agno_session();
        for (slot, value) in &edits {
            let mut n = *slot;
            replace_nth(&mut doc, &mut n, value);
        }
        let text = if as_jsonl {
            format!("{doc}\n{}\n", agno_session())
        } else {
            serde_json::to_string_pretty(&doc).expect("serializes")
        };
        let file = seeded.dir.join("agno.json");
        std::fs::write(&file, text).expect("write");
        let db = seeded.db.display().to_string();
        let file = file.display().to_string();
        let o = Command::new(&bin)
            .args(["import", "--db", &db, "--from", "agno", &file, "--labels", "priority,customer_tier"])
            .output()
            .expect("the binary runs");
        let err = String::from_utf8_lossy(&o.stderr);
        prop_assert!(matches!(o.status.code(), Some(0 | 1)), "exit {}: {err}", o.status);
        prop_assert!(!err.contains('\x1b') && !String::from_utf8_lossy(&o.stdout).contains('\x1b'));
        let store = Store::open_read_only(&seeded.db).expect("still a store");
        prop_assert!(store.run_count().expect("count") >= seeded.runs);
        prop_assert_eq!(store.integrity_check().expect("check"), "ok");
    }
}
