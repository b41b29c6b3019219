//! Behaviour of `StoreSink`: batching, flush, overflow policies, counters, shutdown.

mod common;

use std::time::Duration;

use common::{at_secs, simple_run};
use runmeta_core::run::Sink;
use runmeta_store::{Overflow, SinkConfig, Store, StoreSink};

#[test]
fn records_are_committed_by_flush_and_by_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let sink = StoreSink::open(&path, SinkConfig::default()).unwrap();
    for i in 0..500 {
        sink.record(&simple_run("a", at_secs(i), 10));
    }
    assert!(sink.flush_within(Duration::from_secs(30)));
    let stats = sink.stats();
    assert_eq!((stats.queued, stats.written, stats.dropped), (500, 500, 0));
    assert!(stats.batches >= 1);
    assert_eq!(
        Store::open_read_only(&path).unwrap().run_count().unwrap(),
        500
    );

    for i in 0..100 {
        sink.record(&simple_run("a", at_secs(1000 + i), 10));
    }
    drop(sink); // flushes
    assert_eq!(
        Store::open_read_only(&path).unwrap().run_count().unwrap(),
        600
    );
}

#[test]
fn a_capacity_past_the_maximum_is_cut_to_it() {
    // `usize::MAX` ("no bound") would make the queue allocate its slots and abort.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let config = SinkConfig {
        capacity: usize::MAX,
        ..SinkConfig::default()
    };
    let sink = StoreSink::open(&path, config).unwrap();
    sink.record(&simple_run("a", at_secs(0), 10));
    let stats = sink.shutdown();
    assert_eq!((stats.written, stats.dropped), (1, 0));
    assert!(runmeta_store::MAX_SINK_CAPACITY >= SinkConfig::default().capacity);
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_it_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let sink = StoreSink::open(
        &path,
        SinkConfig {
            capacity: 4,
            max_batch: 2,
            ..SinkConfig::default()
        },
    )
    .unwrap();
    let run = simple_run("a", at_secs(0), 10);
    let mut runs: Vec<_> = (0..5_000)
        .map(|i| simple_run("a", at_secs(i), 10))
        .collect();
    runs.push(run);
    for r in &runs {
        sink.record(r);
    }
    let stats = sink.shutdown();
    assert_eq!(stats.queued + stats.dropped, runs.len() as u64);
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.written + stats.duplicates, stats.queued);
    let stored = Store::open_read_only(&path).unwrap().run_count().unwrap();
    assert_eq!(stored, stats.written);
}

#[test]
fn the_blocking_policy_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let sink = StoreSink::open(
        &path,
        SinkConfig {
            capacity: 4,
            max_batch: 3,
            overflow: Overflow::Block,
            ..SinkConfig::default()
        },
    )
    .unwrap();
    for i in 0..2_000 {
        sink.record(&simple_run("a", at_secs(i), 10));
    }
    let stats = sink.shutdown();
    assert_eq!((stats.written, stats.dropped), (2_000, 0), "{stats:?}");
}

#[test]
fn unstorable_runs_and_records_after_shutdown_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sink = StoreSink::open(dir.path().join("runs.db"), SinkConfig::default()).unwrap();
    sink.record(&simple_run("a", jiff::Timestamp::MAX, 10));
    let run = simple_run("a", at_secs(0), 10);
    sink.record(&run);
    sink.record(&run); // a duplicate
    let stats = sink.shutdown();
    assert_eq!(stats.failed, 1);
    assert_eq!(stats.written, 1);
    assert_eq!(stats.duplicates, 1);
    assert!(stats.last_error.unwrap().contains("1677..2262"));
    sink.record(&run);
    let after = sink.shutdown();
    assert_eq!(after.dropped, 1);
    assert!(!sink.flush_within(Duration::from_millis(100)));
}

#[test]
fn many_threads_share_one_sink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let sink = std::sync::Arc::new(
        StoreSink::open(
            &path,
            SinkConfig {
                overflow: Overflow::Block,
                ..SinkConfig::default()
            },
        )
        .unwrap(),
    );
    std::thread::scope(|s| {
        for t in 0..4 {
            let sink = std::sync::Arc::clone(&sink);
            s.spawn(move || {
                for i in 0..250 {
                    sink.record(&simple_run("a", at_secs(t * 1000 + i), 10));
                }
                sink.flush();
            });
        }
    });
    let stats = sink.shutdown();
    assert_eq!(stats.written, 1_000, "{stats:?}");
    let store = Store::open_read_only(&path).unwrap();
    assert_eq!(store.run_count().unwrap(), 1_000);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_store_being_written_can_be_read_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let sink = StoreSink::open(&path, SinkConfig::default()).unwrap();
    sink.record(&simple_run("a", at_secs(0), 10));
    assert!(sink.flush_within(Duration::from_secs(10)));
    let reader = Store::open_read_only(&path).unwrap();
    for i in 1..200 {
        sink.record(&simple_run("a", at_secs(i), 10));
        if i % 50 == 0 {
            assert!(reader.run_count().unwrap() >= 1);
        }
    }
    sink.shutdown();
    assert_eq!(reader.run_count().unwrap(), 200);
}
