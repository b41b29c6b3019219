//! The `runmeta` CLI under hostile arguments (extending the CLI's own tests, which cover a few
//! SQL-injection filters and stored control characters): every filter, grouping, time, id and
//! label argument given quotes, SQL, control characters, bidi overrides, option-like text and
//! 90 KB of text ends with exit code 0, 1 or 2 (never a panic or a signal), writes no
//! terminal escape, and leaves the database as it was.
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
use runmeta::run::{MetadataRecord, RunRecord};
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
                value: std::sync::Arc::new(JsonMetadata {
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
        push(&["report", "--db", &db, flag, value, "--format", "json"]);
    }
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
    "_",
    "=",
    "==",
    "priority=",
    "=high",
    "\x1b[2J\x1b[31mred",
    "\x07\x08\x7f",
    "line\nbreak",
    "\r",
    "\u{202e}evil",
    "🦀",
    "-",
    "--",
    "--db",
    "--help",
    "-h",
    "-V",
    "0",
    "-1",
    "18446744073709551616",
    "99999999999999999999d",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00+01:00",
    "2024-02-30",
    "1e309s",
    "0190c3f2",
    "00000000-0000-0000-0000-000000000000",
    "agent,agent",
    "tool",
    ",,,",
    "",
    " ",
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
    #![proptest_config(Config { cases: 8, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_arguments_end_cleanly(value in "[^\\x00]{0,40}") {
        if let Some(bin) = binary() {
            let seeded = seeded();
            check(&bin, &seeded, &value);
        }
    }
}
