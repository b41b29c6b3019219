//! Behaviour of `Store`: round trips, queries, pagination, filters, rollups, errors.

mod common;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use common::{at_secs, full_run, metadata, simple_run, t0};
use runmeta_core::run::{RunId, RunStatus};
use runmeta_store::{RunFilter, RunQuery, Store, StoreError};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("runs.db")).unwrap();
    (dir, store)
}

#[test]
fn a_full_record_round_trips_exactly() {
    let (_dir, mut store) = temp_store();
    let run = full_run();
    let summary = store.insert(std::slice::from_ref(&run)).unwrap();
    assert_eq!(summary.inserted, 1);
    let back = store.run(run.run_id).unwrap().expect("stored");
    assert_eq!(back.to_json(), run.to_json());
    assert_eq!(back.label("priority"), Some("critical"));
    assert_eq!(back.duration, run.duration);
    assert_eq!(back.model_time, run.model_time);
    assert_eq!(back.per_model, run.per_model);
    assert_eq!(back.messages, run.messages);
    assert_eq!(back.tool_calls, run.tool_calls);
    assert_eq!(back.children_usage, run.children_usage);
    assert_eq!(
        back.metadata.as_ref().unwrap().value.sla_deadline(),
        run.metadata.as_ref().unwrap().value.sla_deadline()
    );
    assert!(store.run(RunId::new()).unwrap().is_none());
}

#[test]
fn duplicates_are_skipped_and_counted() {
    let (_dir, mut store) = temp_store();
    let run = simple_run("a", t0(), 10);
    store.insert(std::slice::from_ref(&run)).unwrap();
    let again = store.insert(&[run.clone(), run]).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    assert_eq!(store.run_count().unwrap(), 1);
}

#[test]
fn unstorable_runs_are_rejected_alone() {
    let (_dir, mut store) = temp_store();
    let good = simple_run("a", t0(), 10);
    let bad = simple_run("a", jiff::Timestamp::MAX, 10);
    let s = store.insert(&[good, bad.clone()]).unwrap();
    assert_eq!(s.inserted, 1);
    assert_eq!(s.rejected.len(), 1);
    assert!(
        s.rejected[0].contains(&bad.run_id.to_string()),
        "{:?}",
        s.rejected
    );
}

#[test]
fn pages_are_newest_first_and_never_overlap() {
    let (_dir, mut store) = temp_store();
    let runs: Vec<_> = (0..250)
        .map(|i| simple_run("a", at_secs(i / 2), 10))
        .collect();
    store.insert(&runs).unwrap();
    let mut seen = Vec::new();
    let mut query = RunQuery {
        limit: 100,
        ..RunQuery::default()
    };
    loop {
        let page = store.runs(&query).unwrap();
        seen.extend(page.runs.iter().map(|r| (r.started_at, r.run_id)));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    let mut ids: Vec<_> = seen.iter().map(|s| s.1).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 250);
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0));
}

#[test]
fn filters_by_time_agent_session_status_and_labels() {
    let (_dir, mut store) = temp_store();
    let mut runs = Vec::new();
    for i in 0..40 {
        let mut r = simple_run(
            if i % 2 == 0 { "support" } else { "billing" },
            at_secs(i),
            10,
        );
        r.session_id = Some(Arc::from(format!("s{}", i % 4)));
        if i % 5 == 0 {
            r.status = RunStatus::Error;
            r.stop_reason = Cow::Borrowed("error");
        }
        let tier = if i % 3 == 0 { "free" } else { "enterprise" };
        r.metadata = Some(metadata("high", tier, None));
        runs.push(r);
    }
    store.insert(&runs).unwrap();
    let count = |filter: RunFilter| {
        store
            .runs(&RunQuery {
                filter,
                limit: 1000,
                after: None,
            })
            .unwrap()
            .runs
            .len()
    };
    assert_eq!(count(RunFilter::default()), 40);
    assert_eq!(count(RunFilter::between(at_secs(10), at_secs(20))), 10);
    let agent = RunFilter {
        agent: Some("support".into()),
        ..RunFilter::default()
    };
    assert_eq!(count(agent), 20);
    let session = RunFilter {
        session: Some("s1".into()),
        ..RunFilter::default()
    };
    assert_eq!(count(session), 10);
    let status = RunFilter {
        status: Some(RunStatus::Error),
        ..RunFilter::default()
    };
    assert_eq!(count(status), 8);
    let labels = RunFilter {
        labels: vec![
            ("customer_tier".into(), "free".into()),
            ("priority".into(), "high".into()),
        ],
        ..RunFilter::default()
    };
    assert_eq!(count(labels), 14);
    let summary = &store.runs(&RunQuery::default()).unwrap().runs[0];
    assert_eq!(summary.labels.len(), 2);
    assert_eq!(summary.model.as_deref(), Some("openai/gpt-4o-mini"));
}

#[test]
fn hostile_strings_are_values_not_sql() {
    let (_dir, mut store) = temp_store();
    let mut r = simple_run("a'; DROP TABLE runs; --", t0(), 10);
    r.session_id = Some(Arc::from("\" OR 1=1 --"));
    r.metadata = Some(metadata("x' OR '1'='1", "enterprise", None));
    store.insert(&[r, simple_run("b", t0(), 10)]).unwrap();
    let hostile = [
        "' OR 1=1 --",
        "x' OR '1'='1",
        "%",
        "*",
        "'); DELETE FROM runs; --",
        "\0",
    ];
    let count = |filter: RunFilter| {
        store
            .runs(&RunQuery {
                filter,
                ..RunQuery::default()
            })
            .unwrap()
            .runs
            .len()
    };
    for h in hostile {
        let agent = RunFilter {
            agent: Some(h.into()),
            ..RunFilter::default()
        };
        assert_eq!(count(agent), 0, "agent {h:?}");
        let session = RunFilter {
            session: Some(h.into()),
            ..RunFilter::default()
        };
        assert_eq!(count(session), 0, "session {h:?}");
        let value = RunFilter {
            labels: vec![("priority".into(), h.into())],
            ..RunFilter::default()
        };
        assert_eq!(
            count(value),
            usize::from(h == "x' OR '1'='1"),
            "label {h:?}"
        );
        let key = RunFilter {
            labels: vec![(h.into(), "high".into())],
            ..RunFilter::default()
        };
        assert_eq!(count(key), 0, "label key {h:?}");
    }
    // The exact hostile values match only themselves.
    let exact = store
        .runs(&RunQuery {
            filter: RunFilter {
                agent: Some("a'; DROP TABLE runs; --".into()),
                labels: vec![("priority".into(), "x' OR '1'='1".into())],
                ..RunFilter::default()
            },
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(exact.runs.len(), 1);
    assert_eq!(store.run_count().unwrap(), 2);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn children_and_short_ids_are_found() {
    let (_dir, mut store) = temp_store();
    let parent = simple_run("leader", t0(), 100);
    let mut child = simple_run("member", at_secs(1), 10);
    child.parent_run_id = Some(parent.run_id);
    store.insert(&[parent.clone(), child.clone()]).unwrap();
    let kids = store.children(parent.run_id).unwrap();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].run_id, child.run_id);
    let hex = parent.run_id.0.simple().to_string();
    let found = store.find_run_ids(&hex[..12], 10).unwrap();
    assert!(found.contains(&parent.run_id));
    assert_eq!(store.find_run_ids(&hex, 10).unwrap(), vec![parent.run_id]);
    assert!(store.find_run_ids("xyz'--", 10).is_err());
    assert!(store.find_run_ids("", 10).is_err());
}

#[test]
fn unknown_cursor_and_bad_limits_are_errors() {
    let (_dir, store) = temp_store();
    let err = store
        .runs(&RunQuery {
            after: Some(RunId::new()),
            ..RunQuery::default()
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidQuery(_)));
    assert!(store
        .runs(&RunQuery {
            limit: 0,
            ..RunQuery::default()
        })
        .is_err());
}

#[test]
fn sessions_and_teams_roll_up_without_double_counting() {
    let (_dir, mut store) = temp_store();
    let mut leader = simple_run("leader", t0(), 1_000);
    leader.session_id = Some(Arc::from("s1"));
    leader.team = Some(Cow::Borrowed("desk"));
    let mut member = simple_run("member", at_secs(1), 300);
    member.session_id = Some(Arc::from("s1"));
    member.team = Some(Cow::Borrowed("desk"));
    member.parent_run_id = Some(leader.run_id);
    leader.children_usage = member.metrics.usage;
    leader.children_cost = member.metrics.cost.unwrap();
    leader.child_runs = 1;
    let mut other = simple_run("solo", at_secs(50), 10);
    other.session_id = Some(Arc::from("s2"));
    other.metrics.cost = None;
    // Nothing to price: no usage, no cost. Not unpriced, as the report has it.
    let mut idle = simple_run("idle", at_secs(49), 10);
    idle.session_id = Some(Arc::from("s2"));
    idle.metrics.cost = None;
    idle.metrics.usage = runmeta_core::metrics::Usage::default();
    store.insert(&[leader, member, other, idle]).unwrap();

    let sessions = store.sessions(&RunFilter::default(), 10).unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].session_id, "s2"); // most recent first
    assert_eq!(sessions[0].unpriced_runs, 1);
    let s1 = &sessions[1];
    assert_eq!(s1.runs, 2);
    assert_eq!(s1.usage.total_tokens, 240); // 120 each, counted once
    assert_eq!(s1.duration, Duration::from_millis(1_000)); // top-level runs only
    assert_eq!(s1.agents, vec!["leader".to_owned(), "member".to_owned()]);

    let teams = store.teams(&RunFilter::default()).unwrap();
    assert_eq!(teams.len(), 1);
    let t = &teams[0];
    assert_eq!((t.team_runs, t.member_runs), (1, 1));
    assert_eq!(t.leader_usage.total_tokens, 120);
    assert_eq!(t.full_total_tokens, 240);
    assert_eq!(t.full_cost.as_nanos(), 2_000);
}

#[test]
fn opening_checks_what_the_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    assert!(matches!(
        Store::open_read_only(&missing).unwrap_err(),
        StoreError::Missing { .. }
    ));
    assert!(matches!(
        Store::open_existing(&missing).unwrap_err(),
        StoreError::Missing { .. }
    ));
    assert!(!missing.exists());

    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT)")
        .unwrap();
    assert!(matches!(
        Store::open(&foreign).unwrap_err(),
        StoreError::NotARunmetaDatabase { .. }
    ));

    let text = dir.path().join("text.db");
    std::fs::write(&text, "this is not a database at all, just some text").unwrap();
    assert!(Store::open(&text).is_err());

    let good = dir.path().join("good.db");
    Store::open(&good).unwrap();
    let ro = Store::open_read_only(&good).unwrap();
    assert_eq!(ro.run_count().unwrap(), 0);
}

/// Runs with distinct children, labels on some, a session on some.
fn varied_runs(n: u64) -> Vec<runmeta_core::run::RunRecord> {
    (0..n)
        .map(|i| {
            let mut r = simple_run("a", at_secs(i64::try_from(i).unwrap()), 10 + i);
            r.messages[0].model.as_mut().unwrap().id = format!("m{i}");
            if i % 3 == 0 {
                r.messages.push(r.messages[0].clone());
                r.messages[1].model.as_mut().unwrap().id = format!("second{i}");
            }
            r.tool_calls[0].name = format!("t{i}");
            if i % 5 == 0 {
                r.tool_calls.clear();
            }
            if i % 4 == 0 {
                r.metadata = None;
            } else {
                r.metadata = Some(metadata(["low", "high"][(i % 2) as usize], "pro", None));
            }
            r.session_id = (i % 2 == 0).then(|| Arc::from(format!("s{}", i / 8)));
            r
        })
        .collect()
}

#[test]
fn large_batches_with_duplicates_keep_each_runs_children() {
    let (dir, mut store) = temp_store();
    let runs = varied_runs(150);
    // Some runs are stored already; the batch repeats them, and repeats two of its own.
    let earlier: Vec<_> = runs.iter().step_by(7).cloned().collect();
    assert_eq!(store.insert(&earlier).unwrap().inserted, 22);
    let mut batch = runs.clone();
    batch.insert(40, runs[39].clone());
    batch.push(runs[100].clone());
    let summary = store.insert(&batch).unwrap();
    assert_eq!(
        (summary.inserted, summary.duplicates),
        (150 - 22, 22 + 2),
        "{summary:?}"
    );
    assert_eq!(store.run_count().unwrap(), 150);
    for run in &runs {
        let back = store.run(run.run_id).unwrap().expect("stored");
        assert_eq!(back.messages, run.messages, "{}", run.run_id);
        assert_eq!(back.tool_calls, run.tool_calls, "{}", run.run_id);
        assert_eq!(back.to_json(), run.to_json());
    }
    // A batch of only run-level records (no children) and one of only duplicates.
    let mut bare = varied_runs(70);
    for r in &mut bare {
        r.messages.clear();
        r.tool_calls.clear();
    }
    assert_eq!(store.insert(&bare).unwrap().inserted, 70);
    assert_eq!(store.insert(&bare).unwrap().duplicates, 70);
    assert_eq!(store.run_count().unwrap(), 220);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let conn = rusqlite::Connection::open(dir.path().join("runs.db")).unwrap();
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0);
    let orphans: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM messages WHERE run NOT IN (SELECT id FROM runs))
                  + (SELECT count(*) FROM tool_calls WHERE run NOT IN (SELECT id FROM runs))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

/// Leaves behind a tool call, as a deleted run would, with the next run's row id: the next
/// batch's children cannot be inserted. Returns the connection that wrote it.
fn block_next_run_key(dir: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("runs.db")).unwrap();
    conn.execute(
        "INSERT INTO tool_calls (id, name, started_at, duration_ns, status)
         VALUES ((SELECT max(id) + 1 FROM runs) << 20, 'left', 0, 0, 'success')",
        [],
    )
    .unwrap();
    conn
}

#[test]
fn children_keys_taken_by_leftover_rows_fail_the_batch() {
    let (dir, mut store) = temp_store();
    store.insert(&varied_runs(3)).unwrap();
    drop(block_next_run_key(dir.path()));
    let err = store.insert(&varied_runs(40)[1..]).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    // The whole batch rolled back.
    assert_eq!(store.run_count().unwrap(), 3);
}

#[test]
fn a_session_created_in_a_rolled_back_batch_is_created_again() {
    let (dir, mut store) = temp_store();
    store.insert(&varied_runs(3)).unwrap();
    let conn = block_next_run_key(dir.path());
    let mut runs = varied_runs(4)[1..].to_vec();
    for r in &mut runs {
        r.session_id = Some(Arc::from("s-rolled-back"));
    }
    // The batch creates the session, then fails and rolls back.
    assert!(store.insert(&runs).is_err());
    conn.execute("DELETE FROM tool_calls WHERE name = 'left'", [])
        .unwrap();
    // The writer does not reuse the rolled-back id: the session exists again, with its runs.
    assert_eq!(store.insert(&runs).unwrap().inserted, 3);
    let only = RunFilter {
        session: Some("s-rolled-back".into()),
        ..RunFilter::default()
    };
    let sessions = store.sessions(&only, 10).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].runs, 3);
    let back = store.run(runs[0].run_id).unwrap().unwrap();
    assert_eq!(back.session_id.as_deref(), Some("s-rolled-back"));
    let dangling: i64 = conn
        .query_row(
            "SELECT count(*) FROM runs WHERE session NOT IN (SELECT id FROM sessions)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dangling, 0);
}

#[test]
fn sessions_are_interned_once_across_batches_and_writers() {
    let (dir, mut store) = temp_store();
    let path = dir.path().join("runs.db");
    // 100 runs in 70 sessions: more than one multi-row insert of new sessions, repeats
    // within the batch.
    let session = |n: u64| Some(Arc::<str>::from(format!("conv-{n}")));
    let mut first = varied_runs(100);
    for (i, r) in first.iter_mut().enumerate() {
        r.session_id = session(i as u64 % 70);
    }
    store.insert(&first).unwrap();
    // Another writer (its cache empty): 40 known sessions mixed with 40 new ones.
    let mut other = Store::open(&path).unwrap();
    let mut second = varied_runs(80);
    for (i, r) in second.iter_mut().enumerate() {
        let n = if i % 2 == 0 {
            i as u64 / 2
        } else {
            1_000 + i as u64
        };
        r.session_id = session(n);
    }
    other.insert(&second).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT session_id) FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (110, 110));
    for run in first.iter().chain(&second) {
        let back = store.run(run.run_id).unwrap().unwrap();
        assert_eq!(back.session_id, run.session_id);
    }
    let all = store.sessions(&RunFilter::default(), 1_000).unwrap();
    assert_eq!(all.len(), 110);
    let runs_in = |s: &str| all.iter().find(|r| r.session_id == s).unwrap().runs;
    // conv-3: runs 3 and 73 of the first batch, run 6 of the second.
    assert_eq!(runs_in("conv-3"), 3);
    assert_eq!(runs_in("conv-1001"), 1);
}

/// A database another tool wrote, with a row id and tool-call counts at `i64::MAX`: reports
/// and rollups saturate instead of overflowing (a panic in debug builds, an empty or wrapped
/// report in release), and an insert fails with an error instead of a panic.
#[test]
fn ids_and_counts_at_the_top_of_i64_give_errors_or_saturated_sums_never_a_panic() {
    let (dir, mut store) = temp_store();
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let mut r = simple_run("a", at_secs(i), 10);
            r.session_id = Some(Arc::from("s"));
            r
        })
        .collect();
    store.insert(&runs).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("runs.db")).unwrap();
    conn.execute_batch(
        "UPDATE runs SET tool_call_count = 9223372036854775807,
                         tool_error_count = 9223372036854775807;
         UPDATE runs SET id = 9223372036854775807 WHERE id = (SELECT max(id) FROM runs);",
    )
    .unwrap();
    drop(conn);

    let store = Store::open(dir.path().join("runs.db")).unwrap();
    let report = store
        .report(&runmeta_store::ReportQuery::default())
        .unwrap();
    assert_eq!(
        report.rows[0].run_count, 3,
        "the row at i64::MAX is counted"
    );
    assert_eq!(report.rows[0].tool_calls, u64::MAX);
    let sessions = store.sessions(&RunFilter::default(), 10).unwrap();
    assert_eq!(sessions[0].runs, 3);
    assert_eq!(
        (sessions[0].tool_calls, sessions[0].tool_errors),
        (u64::MAX, u64::MAX)
    );

    let mut store = store;
    let err = store
        .insert(&[simple_run("a", at_secs(10), 10)])
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

/// A run whose row id the children's key shift would overflow (a database another tool wrote)
/// reads no children: not those of the run whose keys the overflow lands on.
#[test]
fn a_run_id_past_the_child_key_range_reads_no_other_runs_children() {
    let (dir, mut store) = temp_store();
    let full = full_run();
    let plain = simple_run("plain", at_secs(5), 10);
    store.insert(&[full.clone(), plain.clone()]).unwrap();
    assert!(!store.run(full.run_id).unwrap().unwrap().messages.is_empty());
    let conn = rusqlite::Connection::open(dir.path().join("runs.db")).unwrap();
    let full_id: i64 = conn
        .query_row("SELECT min(id) FROM runs", [], |r| r.get(0))
        .unwrap();
    // `(full_id + 2^44) << 20` wraps to `full_id << 20`: the full run's first child key.
    conn.execute(
        "UPDATE runs SET id = ?1 WHERE id = ?2",
        [full_id + (1_i64 << 44), full_id + 1],
    )
    .unwrap();
    drop(conn);
    let read = store.run(plain.run_id).unwrap().unwrap();
    assert!(read.messages.is_empty(), "{:?}", read.messages);
    assert!(read.tool_calls.is_empty(), "{:?}", read.tool_calls);
}
