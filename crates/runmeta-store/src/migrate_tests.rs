//! The migration from schema version 3 to 4 on a whole database: runs written by this build
//! are copied into a version 3 database (tables built by the version 1..3 migrations, sessions
//! as text in `runs.session_id`), which is then opened: the migration interns the sessions,
//! and every reader returns what it returned on the database written directly.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{json, Map};

use runmeta_core::metrics::{Cost, MessageMetrics, Metrics, ModelRef, ModelRole, Usage};
use runmeta_core::metrics::{ToolCallMetrics, ToolStatus};
use runmeta_core::run::{MetadataRecord, MetadataValue, RunRecord, RunStatus};
use runmeta_core::schema::JsonMetadata;

use crate::migrations::MIGRATIONS;
use crate::schema::{current_version, APPLICATION_ID, SCHEMA_VERSION};
use crate::{GroupBy, ReportQuery, RunFilter, RunQuery, Store};

fn metadata(priority: &str) -> MetadataRecord {
    let mut values = Map::new();
    values.insert("priority".into(), json!(priority));
    values.insert("ticket".into(), json!("T-1"));
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "S".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into()],
            sla_deadline_key: None,
            sla_target_key: None,
        }),
        errors: None,
    }
}

/// Runs with children and labels; sessions on most (their first runs not in id order of the
/// session names), a child run sharing its parent's session, teams on some.
fn runs() -> Vec<RunRecord> {
    let t0: jiff::Timestamp = "2024-01-15T12:00:00Z".parse().unwrap();
    let mut out: Vec<RunRecord> = Vec::new();
    for i in 0..60_i64 {
        let mut r = RunRecord::new("agent", t0 + jiff::SignedDuration::from_secs(i));
        r.duration = Duration::from_millis(100 + i as u64);
        r.metrics = Metrics {
            usage: Usage::new(10 + i as u64, 5),
            duration: Some(r.duration),
            cost: (i % 7 != 0).then(|| Cost::from_nanos(1_000 + i as u64)),
            ..Metrics::default()
        };
        r.status = if i % 9 == 0 {
            RunStatus::Error
        } else {
            RunStatus::Success
        };
        r.messages.push(MessageMetrics {
            model: Some(ModelRef {
                role: ModelRole::Model,
                provider: "p".into(),
                id: format!("m{}", i % 3),
            }),
            started_at: Some(r.started_at),
            metrics: Metrics::from_usage(Usage::new(10 + i as u64, 5)),
        });
        r.tool_calls.push(ToolCallMetrics {
            name: "search".into(),
            started_at: r.started_at,
            duration: Duration::from_millis(3),
            status: ToolStatus::Success,
            error_class: None,
        });
        r.metadata = (i % 4 != 0).then(|| metadata(["low", "high"][(i % 2) as usize]));
        r.team = (i % 5 == 0).then(|| "team-a".into());
        // Sessions "s9", "s8", ... first seen in that order; every third run has none.
        r.session_id = (i % 3 != 0).then(|| Arc::from(format!("s{}", 9 - i / 7)));
        if i % 10 == 1 {
            if let Some(parent) = out.last() {
                r.parent_run_id = Some(parent.run_id);
                r.session_id.clone_from(&parent.session_id);
            }
        }
        out.push(r);
    }
    out
}

/// Everything the readers return, for comparison.
#[derive(Debug, PartialEq)]
struct Readings {
    records: Vec<serde_json::Value>,
    pages: Vec<crate::RunPage>,
    sessions: Vec<crate::SessionRollup>,
    teams: Vec<crate::TeamRollup>,
    export: String,
    report: runmeta_core::aggregate::Report,
}

fn read_all(store: &Store, runs: &[RunRecord]) -> Readings {
    let records = runs
        .iter()
        .map(|r| store.run(r.run_id).unwrap().expect("stored").to_json())
        .collect();
    let mut pages = vec![store.runs(&RunQuery::default()).unwrap()];
    for s in ["s9", "s8", "s5", "s1", "missing"] {
        let filter = RunFilter {
            session: Some(s.into()),
            ..RunFilter::default()
        };
        pages.push(
            store
                .runs(&RunQuery {
                    filter,
                    ..RunQuery::default()
                })
                .unwrap(),
        );
    }
    let mut export = Vec::new();
    store
        .export_jsonl(&RunFilter::default(), &mut export)
        .unwrap();
    Readings {
        records,
        pages,
        sessions: store.sessions(&RunFilter::default(), 100).unwrap(),
        teams: store.teams(&RunFilter::default()).unwrap(),
        export: String::from_utf8(export).unwrap(),
        report: store
            .report(&ReportQuery {
                filter: RunFilter::default(),
                group_by: GroupBy::parse("priority").unwrap(),
                tools: true,
            })
            .unwrap(),
    }
}

/// The insertable columns of `table` in the schema `db` (generated columns left out).
fn columns(conn: &Connection, db: &str, table: &str) -> Vec<String> {
    conn.prepare(&format!(
        "SELECT name FROM {db}.pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid"
    ))
    .unwrap()
    .query_map([table], |r| r.get(0))
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Copies the version 4 database `from` into a new version 3 database at `to`.
fn write_version_3(from: &std::path::Path, to: &std::path::Path) {
    let conn = Connection::open(to).unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
        .unwrap();
    for sql in &MIGRATIONS[..3] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute("INSERT INTO schema_version VALUES (3)", [])
        .unwrap();
    conn.execute("ATTACH DATABASE ?1 AS src", [from.to_str().unwrap()])
        .unwrap();
    for table in [
        "label_sets",
        "label_values",
        "messages",
        "tool_calls",
        "runs",
    ] {
        let cols = columns(&conn, "main", table);
        let select: Vec<String> = cols
            .iter()
            .map(|c| match c.as_str() {
                "session_id" => "(SELECT session_id FROM src.sessions WHERE id = t.session)".into(),
                c => format!("t.{c}"),
            })
            .collect();
        let copied = conn
            .execute(
                &format!(
                    "INSERT INTO main.{table} ({}) SELECT {} FROM src.{table} t",
                    cols.join(", "),
                    select.join(", ")
                ),
                [],
            )
            .unwrap();
        assert!(copied > 0, "{table}");
    }
    assert_eq!(current_version(&conn).unwrap(), 3);
}

#[test]
fn a_version_3_database_migrates_and_reads_back_the_same_runs_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (new, old) = (dir.path().join("v4.db"), dir.path().join("v3.db"));
    let runs = runs();
    let mut store = Store::open(&new).unwrap();
    store.insert(&runs).unwrap();
    let expected = read_all(&store, &runs);
    assert_eq!(expected.sessions.len(), 9);
    assert!(expected.pages[1].runs.len() > 1 && expected.pages[5].runs.is_empty());
    drop(store);
    write_version_3(&new, &old);

    let mut store = Store::open(&old).unwrap();
    assert_eq!(read_all(&store, &runs), expected);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let conn = Connection::open(&old).unwrap();
    assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
    let sessions: Vec<String> = conn
        .prepare("SELECT session_id FROM sessions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let first_seen: Vec<String> = (1..=9).rev().map(|n| format!("s{n}")).collect();
    assert_eq!(sessions, first_seen);

    // New runs in a migrated session join it; a new session gets the next id.
    let mut more = runmeta_core::run::RunRecord::new("agent", runs[59].started_at);
    more.session_id = Some(Arc::from("s9"));
    let mut fresh = more.clone();
    fresh.run_id = runmeta_core::run::RunId::new();
    fresh.session_id = Some(Arc::from("s-new"));
    store.insert(&[more, fresh]).unwrap();
    let rollups = store.sessions(&RunFilter::default(), 100).unwrap();
    let runs_in = |s: &str| rollups.iter().find(|r| r.session_id == s).unwrap().runs;
    assert_eq!(
        runs_in("s9"),
        expected
            .sessions
            .iter()
            .find(|r| r.session_id == "s9")
            .unwrap()
            .runs
            + 1
    );
    assert_eq!(runs_in("s-new"), 1);
    let new_id: i64 = conn
        .query_row(
            "SELECT id FROM sessions WHERE session_id = 's-new'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(new_id, 10);
}
