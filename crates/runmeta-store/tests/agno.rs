//! Agno session and run import through the public API (`parse_agno`, `Store::import_agno`).

use serde_json::{json, Value};

use runmeta_core::run::RunId;

use runmeta_store::{parse_agno, AgnoEntry, AgnoOptions, RunFilter, Store, StoreError};

const PARENT: &str = "6f1c2a9e-4b1d-4c57-9a43-0c1f1b2d3e4f";
const MEMBER: &str = "9c4f5d2b-7e40-4f8a-8d76-3f4c4e5a6b72";
const SECOND: &str = "7a2d3b0f-5c2e-4d68-8b54-1d2a2c3e4f50";

fn id(s: &str) -> RunId {
    RunId(uuid::Uuid::parse_str(s).expect("a UUID"))
}

/// A team session in Agno's shape: v2 metrics on the leader, v1 lists on a member.
fn session() -> Value {
    json!({
        "session_id": "sess-1",
        "agent_id": "support-agent",
        "team_name": "desk",
        "runs": [
            {
                "run_id": PARENT,
                "created_at": 1736949600,
                "status": "COMPLETED",
                "model": "gpt-4o-mini", "model_provider": "OpenAI",
                "metrics": {"input_tokens": 150, "output_tokens": 500, "total_tokens": 650,
                            "duration": 2.3, "time_to_first_token": 0.4},
                "metadata": {"priority": "high", "customer_tier": "enterprise", "level": 2},
                "messages": [{"role": "user", "content": "help"},
                             {"role": "assistant", "content": "ok",
                              "metrics": {"input_tokens": 150, "output_tokens": 500}}],
                "tools": [{"tool_name": "search", "tool_call_error": false,
                           "metrics": {"start_time": 1736949601.0, "end_time": 1736949601.5}}],
                "member_responses": [{
                    "run_id": MEMBER,
                    "agent_id": "researcher",
                    "created_at": 1736949601,
                    "metrics": {"prompt_tokens": [10, 20], "completion_tokens": [5], "time": [1.0, 0.5]}
                }]
            },
            {"run_id": SECOND, "created_at": 1736949700,
             "status": "ERROR", "metrics": {"time_to_first_token": [0.2, 0.3]}}
        ]
    })
}

fn entries(text: &str, options: &AgnoOptions) -> Vec<AgnoEntry> {
    let mut out = Vec::new();
    parse_agno(text, options, |e| out.push(e)).expect("Agno input");
    out
}

#[test]
fn a_team_session_becomes_runs_with_children() {
    let options = AgnoOptions::with_labels(["priority", "customer_tier", "level"]);
    let found = entries(&session().to_string(), &options);
    let paths: Vec<&str> = found.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["runs[0]", "runs[0].member_responses[0]", "runs[1]"]);
    let runs: Vec<_> = found
        .iter()
        .map(|e| e.result.as_ref().expect("valid run"))
        .collect();
    let (leader, member, second) = (runs[0], runs[1], runs[2]);
    assert_eq!(leader.agent, "support-agent");
    assert_eq!(leader.team.as_deref(), Some("desk"));
    assert_eq!(leader.session_id.as_deref(), Some("sess-1"));
    assert_eq!(leader.metrics.usage.total_tokens, 650);
    assert_eq!(leader.duration.as_millis(), 2_300);
    assert_eq!(leader.label("priority"), Some("high"));
    assert_eq!(
        leader.label("level"),
        None,
        "only strings and booleans are labels"
    );
    assert_eq!(leader.messages.len(), 1);
    assert_eq!(leader.tool_calls.len(), 1);
    assert_eq!(member.agent, "researcher");
    assert_eq!(member.parent_run_id, Some(leader.run_id));
    assert_eq!(member.session_id.as_deref(), Some("sess-1"));
    assert_eq!(
        (
            member.metrics.usage.input_tokens,
            member.metrics.usage.output_tokens
        ),
        (30, 5),
        "v1 per-message lists are summed"
    );
    assert_eq!(member.duration.as_millis(), 1_500);
    assert_eq!(second.status.as_str(), "error");
    assert_eq!(second.time_to_first_token.map(|d| d.as_millis()), Some(200));
}

#[test]
fn invalid_runs_are_reported_by_place_and_their_siblings_import() {
    let mut doc = session();
    let runs = doc["runs"].as_array_mut().unwrap();
    runs.insert(0, json!({"run_id": "not-a-uuid", "created_at": 1736949800}));
    runs.push(json!({"run_id": "8b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61",
                     "created_at": 1736949900, "status": "RUNNING"}));
    runs.push(json!({"run_id": "1b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61",
                     "created_at": 1736949900, "metadata": ["not", "an", "object"]}));
    runs.push(json!("a string"));
    runs.push(json!({"run_id": "2b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61",
                     "created_at": "year 2300?"}));
    // A leader that cannot be read still has its members read.
    runs[1]["created_at"] = json!(null);

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let text = serde_json::to_string_pretty(&doc).unwrap();
    let summary = store
        .import_agno(text.as_bytes(), &AgnoOptions::default(), |_| {})
        .unwrap();
    let errors: Vec<String> = summary.errors.iter().map(|e| e.message.clone()).collect();
    assert_eq!(summary.imported, 2, "{errors:?}"); // the member and runs[2]
    assert_eq!(summary.error_count, 6, "{errors:?}");
    for (place, what) in [
        ("runs[0]: ", "UUID"),
        ("runs[1]: ", "created_at"),
        ("runs[3]: ", "RUNNING"),
        ("runs[4]: ", "metadata is not an object"),
        ("runs[5]: ", "not an Agno session"),
        ("runs[6]: ", "created_at"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(place) && e.contains(what)),
            "{place}{what} in {errors:?}"
        );
    }
    assert!(summary.errors.iter().all(|e| e.line == 1));
    assert!(store.run(id(MEMBER)).unwrap().is_some());
    assert!(store.run(id(SECOND)).unwrap().is_some());
    assert!(store.run(id(PARENT)).unwrap().is_none());
}

#[test]
fn jsonl_documents_are_read_line_by_line() {
    let one = session().to_string();
    let run = json!({"run_id": "3b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61", "agent_name": "solo",
                     "created_at": "2025-01-15T14:00:00Z"});
    let text = format!("{one}\n\n{{\"runs\": [\n{run}\n42\n");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let mut calls = 0;
    let summary = store
        .import_agno_str(&text, &AgnoOptions::default(), |_| calls += 1)
        .unwrap();
    assert_eq!(summary.lines, 5);
    assert_eq!(summary.imported, 4);
    let errors: Vec<String> = summary.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("line 3: invalid JSON"), "{errors:?}");
    assert!(
        errors[1].starts_with("line 5: document: not an Agno"),
        "{errors:?}"
    );
    assert!(calls >= 1);

    // Again: every run is a duplicate.
    let again = store
        .import_agno_str(&text, &AgnoOptions::default(), |_| {})
        .unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 4));
    assert_eq!(store.run_count().unwrap(), 4);
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_document() {
    let text = format!("\u{feff}{}", session());
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let summary = store
        .import_agno_str(&text, &AgnoOptions::default(), |_| {})
        .unwrap();
    assert_eq!(summary.error_count, 0, "{:?}", summary.errors);
    assert!(summary.imported > 0);
}

#[test]
fn a_run_the_store_cannot_hold_is_reported_and_the_rest_imports() {
    let doc = json!([
        {"run_id": "4b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61", "agent_name": "a",
         "created_at": "2300-01-01T00:00:00Z"},
        {"run_id": "5b3e4c1a-6d3f-4e79-9c65-2e3b3d4f5a61", "agent_name": "a",
         "created_at": "2025-01-01T00:00:00Z"}
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let summary = store
        .import_agno_str(&doc.to_string(), &AgnoOptions::default(), |_| {})
        .unwrap();
    assert_eq!(summary.imported, 1);
    assert_eq!(summary.error_count, 1);
    assert!(
        summary.errors[0].message.starts_with("[0]: run 4b3e4c1a"),
        "{:?}",
        summary.errors
    );
}

#[test]
fn input_that_cannot_be_read_as_a_whole_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let options = AgnoOptions::default();
    for (input, what) in [
        (&b"not json at all\nnor this"[..], "not JSON"),
        (&b""[..], "not JSON"),
        (&[0xff, 0xfe, b'{'][..], "not UTF-8"),
    ] {
        let err = store.import_agno(input, &options, |_| {}).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains(what), "{err}");
    }
    let small = AgnoOptions {
        max_input_bytes: 16,
        ..AgnoOptions::default()
    };
    let err = store
        .import_agno(session().to_string().as_bytes(), &small, |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("larger than 16 bytes"), "{err}");
    assert_eq!(store.run_count().unwrap(), 0);
}

#[test]
fn imported_runs_export_as_runmeta_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    let options = AgnoOptions::with_labels(["priority"]);
    store
        .import_agno_str(&session().to_string(), &options, |_| {})
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        store.export_jsonl(&RunFilter::default(), &mut out).unwrap(),
        3
    );
    let mut copy = Store::open(dir.path().join("copy.db")).unwrap();
    let summary = copy.import_jsonl(&out[..], |_| {}).unwrap();
    assert_eq!((summary.imported, summary.error_count), (3, 0));
    let leader = copy.run(id(PARENT)).unwrap().unwrap();
    assert_eq!(leader.label("priority"), Some("high"));
}
