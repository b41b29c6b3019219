//! Crash safety: a child process writes continuously through a `StoreSink` and is killed with
//! SIGKILL mid-write; the database must pass `PRAGMA integrity_check` and hold every run the
//! child reported committed.
//!
//! The child is this test binary itself, re-run with `RUNMETA_CRASH_CHILD` set.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{at_secs, simple_run};
use runmeta_core::run::Sink;
use runmeta_store::{Overflow, ReportQuery, RunFilter, SinkConfig, Store, StoreSink};

const CHILD_ENV: &str = "RUNMETA_CRASH_CHILD";
const START_ENV: &str = "RUNMETA_CRASH_START";

/// In the child: record runs `start..` forever, printing `committed N` after each flush
/// (runs `start..N` are then committed).
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // a normal test run: nothing to do
    };
    let mut next: i64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let sink = StoreSink::open(
        path,
        SinkConfig {
            overflow: Overflow::Block,
            max_batch: 500,
            ..SinkConfig::default()
        },
    )
    .unwrap();
    loop {
        for _ in 0..700 {
            sink.record(&simple_run("crash", at_secs(next), 10));
            next += 1;
        }
        assert!(sink.flush_within(Duration::from_secs(60)));
        println!("committed {next}");
    }
}

fn runs_before(store: &Store, end: i64) -> u64 {
    store
        .report(&ReportQuery {
            filter: RunFilter::between(at_secs(0), at_secs(end)),
            ..ReportQuery::default()
        })
        .unwrap()
        .rows
        .first()
        .map_or(0, |r| r.run_count)
}

#[test]
fn committed_batches_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut committed: i64 = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env(START_ENV, committed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it commit a few batches, then kill it while it keeps writing.
        let wait_for = 3 + round * 2;
        let mut seen = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                committed = n.trim().parse().unwrap();
                seen += 1;
                if seen == wait_for {
                    break;
                }
            }
        }
        assert_eq!(seen, wait_for, "the child stopped reporting early");
        std::thread::sleep(Duration::from_millis(7 * (round as u64 + 1)));
        child.kill().unwrap(); // SIGKILL
                               // Reports written before the kill still count.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("committed ") {
                committed = n.trim().parse().unwrap();
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed, not finished");

        let store = Store::open(&path).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        let before = runs_before(&store, committed);
        assert_eq!(
            before, committed as u64,
            "round {round}: every run reported committed is stored"
        );
        // Runs past the last report may or may not have made it; none is half-written.
        let total = store.run_count().unwrap();
        assert!(total >= before);
        // Batches commit in order: what is stored is exactly the runs 0..total, no gaps.
        assert_eq!(runs_before(&store, i64::try_from(total).unwrap()), total);
        let next_round_start = i64::try_from(total).unwrap();
        committed = committed.max(next_round_start);
        // Messages and tool calls of every stored run are complete.
        let page = store
            .runs(&runmeta_store::RunQuery {
                limit: 50,
                ..runmeta_store::RunQuery::default()
            })
            .unwrap();
        for r in page.runs {
            let full = store.run(r.run_id).unwrap().unwrap();
            assert_eq!((full.messages.len(), full.tool_calls.len()), (1, 1));
        }
    }
}
