//! Exactness through the SQLite store under concurrency: tracked runs from many tokio tasks
//! and plain threads reach the store with every token counted exactly; with the blocking
//! policy nothing is lost, with the dropping policy dropped + stored = produced.
#![allow(missing_docs)]

use std::sync::{Arc, OnceLock};

use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::Sink;
use runmeta_store::{Overflow, RunFilter, SinkConfig, Store, StoreSink};

struct Fixture {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    sink: Arc<StoreSink>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("runmeta-exactness-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("runs.db");
        let config = SinkConfig {
            capacity: 256,
            max_batch: 64,
            overflow: Overflow::Block,
            ..SinkConfig::default()
        };
        let sink = Arc::new(StoreSink::open(&path, config).expect("store opens"));
        Collector::builder()
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("one collector per test binary");
        Fixture { dir, path, sink }
    })
}

fn usage_of(i: u64) -> Usage {
    Usage {
        reasoning_tokens: i % 5,
        cache_read_tokens: i % 11,
        cache_write_tokens: i % 3,
        audio_input_tokens: i % 2,
        ..Usage::new(100 + i % 97, 10 + i % 13)
    }
}

#[track_run(agent = "exact_async")]
async fn tracked_async(i: u64) -> u64 {
    tokio::task::yield_now().await;
    runmeta::record_usage(usage_of(i));
    i
}

#[track_run(agent = "exact_sync")]
fn tracked_sync(i: u64) -> u64 {
    runmeta::record_usage(usage_of(i));
    i
}

#[test]
fn every_token_reaches_the_store_exactly() {
    let fixture = fixture();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..16u64)
            .map(|t| {
                tokio::spawn(async move {
                    for i in 0..200 {
                        tracked_async(t * 200 + i).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                for i in 0..250 {
                    tracked_sync(10_000 + t * 250 + i);
                }
            });
        }
    });
    let stats = fixture.sink.shutdown();
    assert_eq!(stats.dropped, 0, "blocking policy: {stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");

    let mut expected = Usage::default();
    for i in (0..3_200u64).chain(10_000..11_000) {
        expected += usage_of(i);
    }
    let store = Store::open_read_only(&fixture.path).expect("store reads");
    let mut stored = Usage::default();
    let runs = store
        .for_each_record(&RunFilter::default(), |r| {
            stored += r.metrics.usage;
            Ok(())
        })
        .expect("records read");
    assert_eq!(runs, 4_200);
    assert_eq!(stats.written, 4_200);
    assert_eq!(stored, expected, "every token type, exactly");
    assert_eq!(store.integrity_check().expect("check"), "ok");
    drop(store);
    let _ = std::fs::remove_dir_all(&fixture.dir);
}

#[test]
fn dropping_policy_accounts_for_every_run() {
    let dir = std::env::temp_dir().join(format!("runmeta-dropping-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("runs.db");
    let sink = StoreSink::open(
        &path,
        SinkConfig {
            capacity: 8,
            max_batch: 4,
            ..SinkConfig::default()
        },
    )
    .expect("opens");
    let produced = 20_000u64;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let sink = &sink;
            s.spawn(move || {
                for i in 0..produced / 4 {
                    let mut run =
                        runmeta::run::RunRecord::new("dropping", jiff::Timestamp::UNIX_EPOCH);
                    run.metrics.usage = usage_of(t * 10_000 + i);
                    sink.record(&run);
                }
            });
        }
    });
    let stats = sink.shutdown();
    let stored = Store::open_read_only(&path)
        .expect("reads")
        .run_count()
        .expect("count");
    assert_eq!(stats.written, stored);
    assert_eq!(stats.dropped + stored, produced, "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
