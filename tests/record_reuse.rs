//! Records evicted by the in-memory sink are reused by the next runs on the same thread: no
//! run may ever show anything of an earlier one, and a record or metadata value someone still
//! holds is never touched.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

mod common;

use common::{last, serial, sink};
use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::{RunRecord, RunStatus};

#[derive(Clone, Copy, PartialEq, Eq, Debug, MetadataEnum)]
pub enum Tier {
    Free,
    Enterprise,
}

#[derive(Clone, RunMetadata)]
pub struct Meta {
    #[run_metadata(label)]
    pub tier: Tier,
    pub note: String,
}

#[derive(Debug)]
struct Failed;

/// A run started inside `busy`: its child.
#[track_run(agent = "helper")]
fn helper() {
    runmeta::record_usage(Usage::new(3, 2));
}

#[track_run(agent = "busy", metadata = meta, session = session, team = "desk", model = "gpt-4o")]
fn busy(meta: &Meta, session: &str) -> Result<(), Failed> {
    helper();
    runmeta::record_usage(Usage::new(100, 50));
    runmeta::first_token();
    runmeta::set_stop_reason("max_turns");
    runmeta::add_metric("retries", 2);
    let _ = runmeta::tool("search", || Err::<(), _>(Failed));
    Err(Failed)
}

#[track_run(agent = "plain")]
fn plain() -> u32 {
    7
}

#[track_run(agent = "with_meta", metadata = meta)]
fn with_meta(meta: &Meta) -> u32 {
    u32::from(meta.tier == Tier::Enterprise)
}

fn assert_plain(run: &RunRecord) {
    assert_eq!(run.agent, "plain");
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.stop_reason, "completed");
    assert_eq!(run.error_class, None);
    assert_eq!(run.session_id, None);
    assert!(run.metadata.is_none());
    assert!(run.messages.is_empty());
    assert!(run.tool_calls.is_empty());
    assert!(run.per_model.is_empty());
    assert_eq!(run.metrics.usage, Usage::default());
    assert_eq!(run.time_to_first_token, None);
    assert!(run.metrics.additional_metrics.is_empty());
    // What a busy run starts with or gathers from its children.
    assert_eq!(run.team, None);
    assert_eq!(run.request_model, None);
    assert_eq!(run.parent_run_id, None);
    assert_eq!(run.child_runs, 0);
    assert_eq!(run.children_usage, Usage::default());
    assert_eq!(run.model_time, std::time::Duration::ZERO);
    assert_eq!(run.metrics.cost, None);
    assert_eq!(run.unpriced_messages, 0);
}

#[test]
fn a_reused_record_shows_nothing_of_the_previous_run() {
    let _turn = serial();
    let meta = Meta {
        tier: Tier::Enterprise,
        note: "first".into(),
    };
    for round in 0..50 {
        assert!(busy(&meta, "s-1").is_err());
        let run = last();
        assert_eq!(run.agent, "busy", "round {round}");
        assert_eq!(run.status, RunStatus::Error);
        assert_eq!(run.stop_reason, "max_turns");
        assert_eq!(run.session_id.as_deref(), Some("s-1"));
        assert_eq!(run.team.as_deref(), Some("desk"));
        assert_eq!(run.request_model.as_deref(), Some("gpt-4o"));
        assert_eq!(run.child_runs, 1);
        assert_eq!(run.children_usage, Usage::new(3, 2));
        assert_eq!(run.messages.len(), 1);
        assert_eq!(run.tool_calls.len(), 1);
        assert_eq!(run.metrics.usage.total_tokens, 150);
        assert_eq!(run.label("tier"), Some("enterprise"));
        assert_eq!(plain(), 7);
        assert_plain(&last());
    }
}

#[test]
fn a_held_record_and_its_metadata_are_never_reused() {
    let _turn = serial();
    let first = Meta {
        tier: Tier::Enterprise,
        note: "kept".into(),
    };
    assert_eq!(with_meta(&first), 1);
    // Held through the shared form: the sink evicts it, but it is not unique.
    let held = sink().shared_records().pop().expect("kept");
    // Held through a copy: the copy shares the metadata value.
    let copy = last();
    let second = Meta {
        tier: Tier::Free,
        note: "other".into(),
    };
    for _ in 0..10 {
        assert_eq!(with_meta(&second), 0);
        assert_eq!(last().label("tier"), Some("free"));
    }
    assert_eq!(held.agent, "with_meta");
    assert_eq!(held.label("tier"), Some("enterprise"));
    assert_eq!(copy.label("tier"), Some("enterprise"));
    let note = |r: &RunRecord| {
        r.metadata
            .as_ref()
            .map(|m| m.value.to_json()["note"].clone())
    };
    assert_eq!(note(&held), Some("kept".into()));
    assert_eq!(note(&copy), Some("kept".into()));
}

#[test]
fn runs_on_many_threads_stay_apart() {
    let _turn = serial();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let meta = Meta {
                    tier: if t % 2 == 0 {
                        Tier::Free
                    } else {
                        Tier::Enterprise
                    },
                    note: format!("thread {t}"),
                };
                for _ in 0..2_000 {
                    with_meta(&meta);
                    assert_eq!(plain(), 7);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no panic");
    }
    // Whatever run is kept last is whole.
    let run = last();
    match run.agent.as_ref() {
        "plain" => assert_plain(&run),
        "with_meta" => assert!(run.label("tier").is_some()),
        other => panic!("unexpected agent {other}"),
    }
}

#[track_run(agent = "async_busy", metadata = meta)]
async fn async_busy(meta: &Meta) -> Result<(), Failed> {
    runmeta::record_usage(Usage::new(7, 3));
    tokio::task::yield_now().await;
    runmeta::set_stop_reason("handoff");
    Err(Failed)
}

#[track_run(agent = "plain")]
async fn async_plain() -> u32 {
    tokio::task::yield_now().await;
    7
}

#[test]
fn async_runs_reuse_records_cleanly_too() {
    let _turn = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let meta = Meta {
        tier: Tier::Free,
        note: "async".into(),
    };
    for _ in 0..20 {
        assert!(rt.block_on(async_busy(&meta)).is_err());
        let run = last();
        assert_eq!(run.agent, "async_busy");
        assert_eq!(run.stop_reason, "handoff");
        assert_eq!(run.metrics.usage.total_tokens, 10);
        assert_eq!(run.label("tier"), Some("free"));
        assert_eq!(rt.block_on(async_plain()), 7);
        assert_plain(&last());
    }
}

#[test]
fn alternating_values_never_show_in_held_copies() {
    let _turn = serial();
    let (a, b) = (
        Meta {
            tier: Tier::Enterprise,
            note: "a".into(),
        },
        Meta {
            tier: Tier::Enterprise,
            note: "b".into(),
        },
    );
    let note = |r: &RunRecord| {
        r.metadata
            .as_ref()
            .map(|m| m.value.to_json()["note"].clone())
    };
    let mut held = Vec::new();
    for _ in 0..6 {
        for (meta, expected) in [(&a, "a"), (&a, "a"), (&b, "b"), (&a, "a"), (&b, "b")] {
            assert_eq!(with_meta(meta), 1);
            let run = last();
            assert_eq!(note(&run), Some(expected.into()));
            held.push((run, expected));
        }
    }
    // Copies kept across all those runs still show their own run's value.
    for (run, expected) in &held {
        assert_eq!(note(run), Some((*expected).into()));
    }
}

/// Returns `impl Future`: its `metadata = meta` is evaluated when it is called, not when it
/// is first polled (as an `async fn`'s is).
#[track_run(agent = "deferred", metadata = meta)]
fn deferred(meta: &Meta) -> impl std::future::Future<Output = u32> + 'static {
    let tier = meta.tier;
    async move {
        tokio::task::yield_now().await;
        u32::from(tier == Tier::Enterprise)
    }
}

#[track_run(agent = "outer", metadata = meta)]
fn outer(meta: &Meta, inner: &Meta) -> u32 {
    with_meta(inner)
}

/// `metadata = expr` is copied when the run's arguments are evaluated, into the record the
/// thread will reuse: futures created before others run, polled in another order or never,
/// and runs nested in runs each keep their own value.
#[test]
fn metadata_prepared_at_call_time_stays_with_its_run() {
    let _turn = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let metas: Vec<Meta> = (0..4)
        .map(|i| Meta {
            tier: if i % 2 == 0 {
                Tier::Free
            } else {
                Tier::Enterprise
            },
            note: format!("note {i}"),
        })
        .collect();
    let note =
        |r: &RunRecord| r.metadata.as_ref().expect("metadata").value.to_json()["note"].clone();
    for _ in 0..3 {
        // Warm the pool with a value of the same type, then prepare two futures at once.
        assert_eq!(with_meta(&metas[3]), 1);
        let first = deferred(&metas[0]);
        let second = deferred(&metas[1]);
        // A sync run in between takes a record of its own.
        assert_eq!(with_meta(&metas[2]), 0);
        assert_eq!(note(&last()), "note 2");
        assert_eq!(rt.block_on(second), 1);
        let run = last();
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(
            (note(&run), run.label("tier")),
            ("note 1".into(), Some("enterprise"))
        );
        // Dropped unpolled: still recorded (cancelled) with its own metadata.
        drop(first);
        let run = last();
        assert_eq!(run.status, RunStatus::Cancelled);
        assert_eq!(
            (note(&run), run.label("tier")),
            ("note 0".into(), Some("free"))
        );
        // Nested: the outer run's metadata was prepared before the inner run's.
        assert_eq!(outer(&metas[1], &metas[2]), 0);
        let run = last();
        assert_eq!(run.agent, "outer");
        assert_eq!(note(&run), "note 1");
        // An `async fn` evaluates its metadata at its first poll, inside `block_on`.
        assert!(rt.block_on(async_busy(&metas[3])).is_err());
        assert_eq!(note(&last()), "note 3");
    }
}

#[derive(Clone, RunMetadata)]
pub struct Other {
    pub region: String,
}

#[track_run(agent = "other", metadata = meta)]
fn other(meta: &Other) -> usize {
    meta.region.len()
}

#[derive(Clone, Copy)]
enum Step {
    Plain,
    WithMeta,
    Other,
}

#[test]
fn runs_without_metadata_or_of_another_schema_in_between_keep_each_runs_values() {
    use Step::{Other as O, Plain as P, WithMeta as M};
    let _turn = serial();
    // Each pattern makes the pooled record's value unusable for some runs: a run without
    // metadata takes a record holding a value, a run of the other schema finds the wrong type.
    let patterns = [[M, P, O], [O, O, M], [P, M, P], [M, O, M]];
    let mut held = Vec::new();
    for i in 0..40 {
        let meta = Meta {
            tier: if i % 3 == 0 {
                Tier::Free
            } else {
                Tier::Enterprise
            },
            note: format!("note {i}"),
        };
        let region = Other {
            region: format!("region-{i}"),
        };
        for step in patterns[i % patterns.len()] {
            match step {
                P => {
                    plain();
                }
                M => {
                    with_meta(&meta);
                }
                O => {
                    other(&region);
                }
            }
            let run = last();
            match step {
                P => assert_plain(&run),
                M => {
                    let value = &run.metadata.as_ref().expect("metadata").value;
                    assert_eq!(value.schema_name(), "Meta");
                    assert_eq!(value.to_json()["note"], format!("note {i}"));
                    let tier = if i % 3 == 0 { "free" } else { "enterprise" };
                    assert_eq!(run.label("tier"), Some(tier));
                }
                O => {
                    let value = &run.metadata.as_ref().expect("metadata").value;
                    assert_eq!(value.schema_name(), "Other");
                    assert_eq!(value.to_json()["region"], format!("region-{i}"));
                }
            }
            held.push((run, i));
        }
    }
    // Copies kept across all those runs still show their own run's values.
    for (run, i) in &held {
        match run.agent.as_ref() {
            "with_meta" => assert_eq!(
                run.metadata
                    .as_ref()
                    .map(|m| m.value.to_json()["note"].clone()),
                Some(format!("note {i}").into())
            ),
            "other" => assert_eq!(
                run.metadata
                    .as_ref()
                    .map(|m| m.value.to_json()["region"].clone()),
                Some(format!("region-{i}").into())
            ),
            _ => assert_plain(run),
        }
    }
}
