//! The built `runmeta` binary against temporary databases: exit codes, formats, hostile input.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{MetadataRecord, MetadataValue, RunRecord, RunStatus};
use runmeta_core::schema::JsonMetadata;
use runmeta_store::Store;

fn runmeta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runmeta"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run the binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// One clear `error: ...` line (plus any listed details before it).
fn assert_error(o: &Output) {
    assert_eq!(code(o), 1, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let err = stderr(o);
    assert!(
        err.lines().last().unwrap_or("").starts_with("error: "),
        "{err}"
    );
}

fn run(agent: &str, ago_secs: i64, ms: u64, priority: &str, tier: &str) -> RunRecord {
    let start = Timestamp::now() - SignedDuration::from_secs(ago_secs);
    let mut r = RunRecord::new(agent.to_owned(), start);
    r.duration = Duration::from_millis(ms);
    r.session_id = Some(Arc::from(format!("s-{}", ago_secs % 3)));
    r.metrics = Metrics {
        usage: Usage::new(100, 20),
        duration: Some(r.duration),
        time_to_first_token: Some(Duration::from_millis(ms / 4)),
        cost: Some(Cost::from_nanos(2_000)),
        ..Metrics::default()
    };
    r.time_to_first_token = r.metrics.time_to_first_token;
    r.messages.push(MessageMetrics {
        model: Some(ModelRef::new("openai", "gpt-4o-mini")),
        started_at: Some(start),
        metrics: Metrics::from_usage(Usage::new(100, 20)),
    });
    r.tool_calls.push(ToolCallMetrics {
        name: "search_docs".into(),
        started_at: start,
        duration: Duration::from_millis(5),
        status: ToolStatus::Success,
        error_class: None,
    });
    let mut values = Map::new();
    values.insert("priority".into(), json!(priority));
    values.insert("customer_tier".into(), json!(tier));
    values.insert("ticket_id".into(), json!("SUP-1"));
    r.metadata = Some(MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "SupportRun".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into(), "customer_tier".into()],
            sla_deadline_key: None,
            sla_target_key: None,
        }),
        errors: None,
    });
    r
}

/// A database with 60 runs in the last hour and 30 in the hour before.
fn seeded() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = Store::open(&db).unwrap();
    let mut runs = Vec::new();
    for i in 0..60 {
        let mut r = run(
            "support",
            10 + i * 50,
            100 + i as u64,
            if i % 2 == 0 { "high" } else { "low" },
            "pro",
        );
        if i % 10 == 0 {
            r.status = RunStatus::Error;
            r.stop_reason = Cow::Borrowed("tool_error");
        }
        runs.push(r);
    }
    for i in 0..30 {
        runs.push(run("support", 3_700 + i * 100, 80, "high", "pro"));
    }
    store.insert(&runs).unwrap();
    (dir, db)
}

fn db_arg(db: &Path) -> String {
    db.display().to_string()
}

#[test]
fn help_and_version_succeed_and_usage_errors_exit_2() {
    let help = runmeta(&["--help"]);
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("Examples:"));
    assert!(stdout(&help).contains("runmeta report --db runs.db --by customer_tier,priority"));
    let sub = runmeta(&["report", "--help"]);
    assert_eq!(code(&sub), 0);
    assert!(stdout(&sub).contains("--since"));
    assert_eq!(code(&runmeta(&["--version"])), 0);
    for args in [
        &[][..],
        &["report"][..],
        &["nope"][..],
        &["report", "--db", "x.db", "--format", "xml"][..],
        &[
            "report",
            "--db",
            "x.db",
            "--since",
            "1h",
            "--from",
            "2024-01-01",
        ][..],
        &["runs", "--db", "x.db", "--limit", "0"][..],
        &["runs", "--db", "x.db", "--status", "weird"][..],
    ] {
        let o = runmeta(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_missing_database_is_one_error_line_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let o = runmeta(&["report", "--db", &db_arg(&db)]);
    assert_error(&o);
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(!db.exists());
    let text = dir.path().join("text.db");
    std::fs::write(&text, "not sqlite").unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    // Each error names the file it is about.
    for bad in [&text, &empty, &dir.path().to_path_buf()] {
        let o = runmeta(&["runs", "--db", &db_arg(bad)]);
        assert_error(&o);
        assert!(stderr(&o).contains(&db_arg(bad)), "{}", stderr(&o));
    }
    assert!(!stderr(&runmeta(&["runs", "--db", &db_arg(&empty)])).contains("other tables"));
}

#[test]
fn report_formats_and_trend() {
    let (_dir, db) = seeded();
    let db = db_arg(&db);
    let table = runmeta(&["report", "--db", &db, "--by", "priority", "--since", "1h"]);
    assert_eq!(code(&table), 0, "{}", stderr(&table));
    let t = stdout(&table);
    assert!(
        t.contains("priority") && t.contains("p95") && t.contains("high"),
        "{t}"
    );
    assert!(!t.contains('\x1b'), "no color when not a terminal");

    let json = runmeta(&[
        "report",
        "--db",
        &db,
        "--by",
        "priority,customer_tier",
        "--since",
        "1h",
        "--format",
        "json",
    ]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["group_by"], json!(["priority", "customer_tier"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["run_count"].as_u64().unwrap())
            .sum::<u64>(),
        60
    );
    assert!(v["previous_window"].is_object());
    let high = rows
        .iter()
        .find(|r| r["group"][0]["value"] == "high")
        .unwrap();
    assert_eq!(high["trend"]["previous_run_count"], 30);

    let csv = runmeta(&["report", "--db", &db, "--format", "csv"]);
    assert_eq!(code(&csv), 0);
    let c = stdout(&csv);
    assert!(c.starts_with("runs,success_rate,latency_p50_ms"), "{c}");
    assert!(c.lines().nth(1).unwrap().starts_with("90,"));
    // With a window, every change the table and JSON give is a column too, filled.
    let csv = runmeta(&[
        "report", "--db", &db, "--by", "priority", "--since", "1h", "--format", "csv",
    ]);
    let c = stdout(&csv);
    let header: Vec<&str> = c.lines().next().unwrap().split(',').collect();
    for column in [
        "previous_run_count",
        "latency_p50_change",
        "ttft_p95_change",
        "sla_breach_rate_change_pp",
    ] {
        assert!(header.contains(&column), "{column}: {header:?}");
    }
    let high = c
        .lines()
        .find(|l| l.starts_with("high,"))
        .expect("a high row");
    let cells: Vec<&str> = high.split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == "previous_run_count")
        .unwrap();
    assert_eq!(cells[at], "30", "{high}");

    let bad_by = runmeta(&["report", "--db", &db, "--by", "agent,,priority"]);
    assert_eq!(code(&bad_by), 2);
    let bad_since = runmeta(&["report", "--db", &db, "--since", "yesterday"]);
    assert_eq!(code(&bad_since), 2);
    assert!(stderr(&bad_since).starts_with("error: invalid duration"));
    let tool = runmeta(&["report", "--db", &db, "--by", "tool"]);
    assert_eq!(code(&tool), 2, "a usage error: {}", stderr(&tool));
    assert!(stderr(&tool).contains("--tools"), "{}", stderr(&tool));
}

#[test]
fn hostile_filters_match_nothing_and_change_nothing() {
    let (_dir, db) = seeded();
    let db_s = db_arg(&db);
    for args in [
        vec!["--agent", "'; DROP TABLE runs; --"],
        vec!["--label", "priority=x' OR '1'='1"],
        vec!["--label", "x' OR 1=1 --=high"],
        vec!["--session", "\" OR \"\"=\""],
        vec!["--label", "priority=%"],
    ] {
        let mut full = vec!["runs", "--db", &db_s, "--format", "json"];
        full.extend(args.iter().copied());
        let o = runmeta(&full);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 0, "{args:?}");

        let mut report = vec![
            "report", "--db", &db_s, "--format", "json", "--by", "priority",
        ];
        report.extend(args.iter().copied());
        let o = runmeta(&report);
        assert_eq!(code(&o), 0);
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(v["rows"].as_array().unwrap().is_empty(), "{args:?}");
    }
    let injected_by = runmeta(&["report", "--db", &db_s, "--by", "priority; DROP TABLE runs"]);
    assert_eq!(code(&injected_by), 2, "{}", stderr(&injected_by));
    assert!(stderr(&injected_by).starts_with("error: --by:"));
    let store = Store::open_read_only(&db).unwrap();
    assert_eq!(store.run_count().unwrap(), 90);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn runs_paginate_and_show_draws_a_tree() {
    let (_dir, db) = seeded();
    let db = db_arg(&db);
    let first = runmeta(&["runs", "--db", &db, "--limit", "50", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 50);
    let next = v["next"].as_str().unwrap().to_owned();
    assert!(stderr(&first).contains(&next));
    let second = runmeta(&[
        "runs", "--db", &db, "--limit", "50", "--after", &next, "--format", "json",
    ]);
    let v2: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(v2["runs"].as_array().unwrap().len(), 40);
    assert!(v2["next"].is_null());

    let id = v["runs"][0]["run_id"].as_str().unwrap();
    let show = runmeta(&["show", "--db", &db, id]);
    assert_eq!(code(&show), 0, "{}", stderr(&show));
    let s = stdout(&show);
    assert!(
        s.contains("├─ messages (1)") && s.contains("search_docs"),
        "{s}"
    );
    let json = runmeta(&["show", "--db", &db, id, "--format", "json"]);
    let record: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(record["run_id"], id);

    assert_error(&runmeta(&[
        "show",
        "--db",
        &db,
        "ffffffff-ffff-7fff-bfff-ffffffffffff",
    ]));
    assert_error(&runmeta(&["show", "--db", &db, "zz'--"]));
    let quiet = runmeta(&["runs", "--db", &db, "--limit", "1", "--quiet"]);
    assert!(stderr(&quiet).is_empty());
}

#[test]
fn export_needs_force_to_overwrite_and_import_round_trips() {
    let (dir, db) = seeded();
    let db = db_arg(&db);
    let file = dir.path().join("runs.jsonl");
    let f = file.display().to_string();
    let o = runmeta(&["export", "--db", &db, "--output", &f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 90);
    std::fs::write(&file, "keep me").unwrap();
    let again = runmeta(&["export", "--db", &db, "--output", &f]);
    assert_error(&again);
    assert!(stderr(&again).contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    assert_eq!(
        code(&runmeta(&[
            "export", "--db", &db, "--output", &f, "--force"
        ])),
        0
    );

    // The database itself (or its journal) as the output: refused, --force or not, and kept.
    for target in [db.clone(), format!("{db}-wal")] {
        let o = runmeta(&["export", "--db", &db, "--output", &target, "--force"]);
        if std::path::Path::new(&target).exists() {
            assert_eq!(code(&o), 2, "{}", stderr(&o));
            assert!(stderr(&o).contains("is the database"), "{}", stderr(&o));
        }
    }
    assert_eq!(
        Store::open_read_only(Path::new(&db))
            .unwrap()
            .run_count()
            .unwrap(),
        90
    );

    let copy = dir.path().join("copy.db");
    let o = runmeta(&["import", "--db", &copy.display().to_string(), &f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("imported 90 runs"));
    assert_eq!(
        Store::open_read_only(&copy).unwrap().run_count().unwrap(),
        90
    );

    let prom = runmeta(&["export", "--db", &db, "--format", "prometheus"]);
    if cfg!(feature = "prometheus") {
        assert_eq!(code(&prom), 0, "{}", stderr(&prom));
        assert!(stdout(&prom).contains("agent_run_total{"));
    } else {
        assert_error(&prom);
    }
}

#[test]
fn import_reports_bad_lines_by_number_and_keeps_the_rest() {
    let (dir, db) = seeded();
    let export = runmeta(&["export", "--db", &db_arg(&db), "--quiet"]);
    let lines: Vec<&str> = std::str::from_utf8(&export.stdout)
        .unwrap()
        .lines()
        .collect();
    let broken = format!(
        "\u{feff}{}\nnot json\n{}\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    let file = dir.path().join("broken.jsonl");
    std::fs::write(&file, broken).unwrap();
    let target = dir.path().join("target.db");
    let o = runmeta(&[
        "import",
        "--db",
        &target.display().to_string(),
        &file.display().to_string(),
    ]);
    assert_error(&o);
    let err = stderr(&o);
    assert!(err.contains("line 2: invalid JSON"), "{err}");
    assert!(err.contains("line 4: truncated JSON"), "{err}");
    assert!(err.contains("imported 2 runs"), "{err}");
    assert_eq!(
        Store::open_read_only(&target).unwrap().run_count().unwrap(),
        2
    );
    let missing = runmeta(&[
        "import",
        "--db",
        &target.display().to_string(),
        "/nonexistent/file.jsonl",
    ]);
    assert_error(&missing);
}

#[test]
fn agno_sessions_import_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let session = json!({
        "session_id": "sess-1",
        "agent_id": "support-agent",
        "runs": [
            {
                "run_id": "6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f",
                "created_at": 1736949600,
                "status": "COMPLETED",
                "model": "gpt-4o-mini", "model_provider": "OpenAI",
                "metrics": {"input_tokens": 150, "output_tokens": 500, "total_tokens": 650,
                            "duration": 2.3, "time_to_first_token": 0.4},
                "metadata": {"priority": "high", "customer_tier": "enterprise", "ticket_id": "SUP-1"},
                "messages": [{"role": "user", "content": "help"},
                             {"role": "assistant", "content": "ok",
                              "metrics": {"input_tokens": 150, "output_tokens": 500}}]
            },
            {
                "run_id": "7a2d3b0f-5c2e-4d68-8b54-1d2a2c3e4f50",
                "created_at": 1736949700,
                "metrics": {"prompt_tokens": [10, 20], "completion_tokens": [5], "time": [1.0, 0.5]},
                "metadata": {"priority": "low", "customer_tier": "free"}
            },
            {"run_id": "not-a-uuid", "created_at": 1736949800},
            {"run_id": "8b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61", "created_at": 1736949900, "status": "RUNNING"}
        ]
    });
    let file = dir.path().join("agno.json");
    std::fs::write(&file, serde_json::to_string_pretty(&session).unwrap()).unwrap();
    let db = dir.path().join("agno.db");
    let o = runmeta(&[
        "import",
        "--db",
        &db_arg(&db),
        "--from",
        "agno",
        &file.display().to_string(),
        "--labels",
        "priority,customer_tier,priority",
    ]);
    assert_error(&o); // two runs could not be imported
    let err = stderr(&o);
    assert!(err.contains("runs[2]") && err.contains("UUID"), "{err}");
    assert!(err.contains("runs[3]") && err.contains("RUNNING"), "{err}");
    assert!(err.contains("imported 2 runs"), "{err}");

    let report = runmeta(&[
        "report",
        "--db",
        &db_arg(&db),
        "--by",
        "customer_tier",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&report)).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let ent = rows
        .iter()
        .find(|r| r["group"][0]["value"] == "enterprise")
        .unwrap();
    assert_eq!(ent["latency_p50_ms"], 2300.0);
    let free = rows
        .iter()
        .find(|r| r["group"][0]["value"] == "free")
        .unwrap();
    assert_eq!(free["tokens_per_run"]["total"]["mean"], 35.0);
    let sessions = runmeta(&["sessions", "--db", &db_arg(&db), "--format", "csv"]);
    assert!(
        stdout(&sessions).contains("sess-1,2,"),
        "{}",
        stdout(&sessions)
    );
    // A key given twice is one label; a key that cannot be one is a usage error.
    let export = runmeta(&["export", "--db", &db_arg(&db), "--quiet"]);
    for line in stdout(&export).lines() {
        let run: Value = serde_json::from_str(line).unwrap();
        let labels = &run["metadata"]["labels"];
        let keys: Vec<&str> = labels
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(keys.len(), unique.len(), "{line}");
        assert!(keys.contains(&"priority"), "{line}");
    }
    let bad = runmeta(&[
        "import",
        "--db",
        &db_arg(&dir.path().join("bad.db")),
        "--from",
        "agno",
        &file.display().to_string(),
        "--labels",
        "Bad Key",
    ]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("`Bad Key` is not a label key"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn validate_checks_metadata_against_a_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
            "escalation_level": {"type": "integer", "minimum": 1, "maximum": 3}
        },
        "required": ["priority"],
        "additionalProperties": false
    });
    let s = dir.path().join("schema.json");
    std::fs::write(&s, schema.to_string()).unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"priority": "high", "escalation_level": 2}"#).unwrap();
    let o = runmeta(&[
        "validate",
        "--schema",
        &s.display().to_string(),
        &good.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok"));

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"priority": "hihg", "escalation_level": 9}, {"priority": "low", "x": 1}]"#,
    )
    .unwrap();
    let o = runmeta(&[
        "validate",
        "--schema",
        &s.display().to_string(),
        &bad.display().to_string(),
    ]);
    assert_error(&o);
    let out = stdout(&o);
    assert!(out.contains("[0]/priority"), "{out}");
    assert!(out.contains("[0]/escalation_level"), "{out}");
    assert!(out.contains("[1]"), "{out}");
    assert!(stderr(&o).contains("3 problems"), "{}", stderr(&o));

    let not_json = dir.path().join("broken.json");
    std::fs::write(&not_json, "{").unwrap();
    assert_error(&runmeta(&[
        "validate",
        "--schema",
        &s.display().to_string(),
        &not_json.display().to_string(),
    ]));
    let remote = dir.path().join("remote.json");
    std::fs::write(&remote, r#"{"$ref": "http://127.0.0.1:9/schema.json"}"#).unwrap();
    assert_error(&runmeta(&[
        "validate",
        "--schema",
        &remote.display().to_string(),
        &good.display().to_string(),
    ]));
}

#[test]
fn pricing_check_lists_prices_or_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("pricing.toml");
    std::fs::write(
        &good,
        "currency = \"USD\"\n[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini*\"\ninput = 0.15\noutput = 0.60\n",
    )
    .unwrap();
    let o = runmeta(&["pricing", "check", &good.display().to_string()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("1 price entry in USD"));
    assert!(stdout(&o).contains("gpt-4o-mini*"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[price]]\nprovider = \"openai\"\n").unwrap();
    assert_error(&runmeta(&["pricing", "check", &bad.display().to_string()]));
}

#[test]
fn stored_control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("esc.db");
    let mut store = Store::open(&db).unwrap();
    let r = run("evil\x1b[2J\nagent", 5, 10, "high\x1b[31m", "pro");
    store.insert(&[r]).unwrap();
    drop(store);
    for args in [
        vec!["runs", "--db", &db_arg(&db)],
        vec!["report", "--db", &db_arg(&db), "--by", "agent,priority"],
        vec!["sessions", "--db", &db_arg(&db)],
    ] {
        let o = runmeta(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(!stdout(&o).contains('\x1b'), "{args:?}: {}", stdout(&o));
    }
}

#[test]
fn teams_and_stdin_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("team.db");
    let mut leader = run("leader", 30, 500, "high", "pro");
    leader.team = Some(Cow::Borrowed("desk"));
    let mut member = run("member", 29, 200, "high", "pro");
    member.team = Some(Cow::Borrowed("desk"));
    member.parent_run_id = Some(leader.run_id);
    leader.children_usage = member.metrics.usage;
    leader.child_runs = 1;
    let lines = format!("{}\n{}\n", leader.to_json(), member.to_json());
    let mut child = Command::new(env!("CARGO_BIN_EXE_runmeta"))
        .args(["import", "--db", &db_arg(&db), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), lines.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let teams = runmeta(&["teams", "--db", &db_arg(&db), "--format", "json"]);
    assert_eq!(code(&teams), 0, "{}", stderr(&teams));
    let v: Value = serde_json::from_str(&stdout(&teams)).unwrap();
    assert_eq!(v[0]["team"], "desk");
    assert_eq!(v[0]["team_runs"], 1);
    assert_eq!(v[0]["member_runs"], 1);
    assert_eq!(v[0]["leader_tokens"], 120);
    assert_eq!(v[0]["full_team_tokens"], 240);
    let tree = runmeta(&["show", "--db", &db_arg(&db), &leader.run_id.to_string()]);
    assert!(
        stdout(&tree).contains("└─ child runs (1)"),
        "{}",
        stdout(&tree)
    );
    assert!(stdout(&tree).contains("member"));
}

/// With stderr a pipe nobody reads any more (`runmeta ... 2>&1 | head -1` once `head` is
/// gone), an error still ends with its exit code: the message is dropped, the process does
/// not panic (`eprintln!` would, with exit code 101).
#[test]
fn a_closed_stderr_does_not_turn_an_error_into_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("runs.db");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_runmeta"))
        .args(["runs", "--db", &db_arg(&missing)])
        .stdout(std::process::Stdio::piped())
        .stderr(writer)
        .output()
        .expect("run the binary");
    assert_eq!(o.status.code(), Some(1), "stdout: {}", stdout(&o));
}
