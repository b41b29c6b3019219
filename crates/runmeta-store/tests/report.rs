//! Behaviour of the report: exact percentiles, rates, grouping, trends.

mod common;

use std::borrow::Cow;
use std::time::Duration;

use common::{at_secs, metadata, simple_run};
use runmeta_core::metrics::{ToolCallMetrics, ToolStatus};
use runmeta_core::run::RunStatus;
use runmeta_store::{Dimension, GroupBy, ReportQuery, RunFilter, Store};

fn store_with(runs: &[runmeta_core::run::RunRecord]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("runs.db")).unwrap();
    store.insert(runs).unwrap();
    (dir, store)
}

#[test]
fn percentiles_are_exact_and_rates_add_up() {
    // 100 runs of 1..=100 ms; every 10th fails with a tool error; 25 have no cost.
    let runs: Vec<_> = (1..=100u64)
        .map(|i| {
            let mut r = simple_run("support", at_secs(i as i64), i);
            if i % 10 == 0 {
                r.status = RunStatus::Error;
                r.stop_reason = Cow::Borrowed("tool_error");
                r.tool_calls.push(ToolCallMetrics {
                    name: "create_ticket".into(),
                    started_at: at_secs(i as i64),
                    duration: Duration::from_millis(1),
                    status: ToolStatus::Error,
                    error_class: Some("Timeout".into()),
                });
            }
            if i % 4 == 0 {
                r.metrics.cost = None;
            }
            r
        })
        .collect();
    let (_dir, store) = store_with(&runs);
    let report = store.report(&ReportQuery::default()).unwrap();
    assert_eq!(report.rows.len(), 1);
    let row = &report.rows[0];
    assert_eq!(row.run_count, 100);
    assert_eq!(row.latency_p50_ms, Some(50.0));
    assert_eq!(row.latency_p95_ms, Some(95.0));
    assert_eq!(row.latency_p99_ms, Some(99.0));
    assert_eq!(row.latency_max_ms, Some(100.0));
    assert_eq!(row.ttft_p50_ms, Some(12.0)); // ttft = duration / 4, in whole ms
    assert_eq!((row.success_count, row.error_count), (90, 10));
    assert!((row.success_rate - 0.9).abs() < 1e-12);
    assert_eq!(row.errors_by_class.get("unknown"), Some(&10));
    assert!((row.tokens_per_run.total.mean - 120.0).abs() < 1e-12);
    assert!((row.tokens_per_run.input.mean - 100.0).abs() < 1e-12);
    assert_eq!((row.priced_runs, row.unpriced_runs), (75, 25));
    assert_eq!(row.cost_total.as_nanos(), 75_000);
    assert_eq!(row.cost_per_run.unwrap().as_nanos(), 1_000);
    assert_eq!(row.tool_calls, 110);
    assert!((row.tool_calls_per_run - 1.1).abs() < 1e-12);
    assert!((row.tool_error_rate.unwrap() - 10.0 / 110.0).abs() < 1e-12);
    assert_eq!(row.stop_reasons.get("completed"), Some(&90));
    assert_eq!(row.stop_reasons.get("tool_error"), Some(&10));
    assert_eq!(row.sla_runs, 0);
    assert_eq!(row.sla_breach_rate, None);
    assert!(row.tools.is_empty());

    let with_tools = store
        .report(&ReportQuery {
            tools: true,
            ..ReportQuery::default()
        })
        .unwrap();
    let tools = &with_tools.rows[0].tools;
    assert_eq!(tools.len(), 2);
    assert_eq!(
        (tools[0].tool.as_str(), tools[0].calls),
        ("search_docs", 100)
    );
    assert_eq!(
        (tools[1].tool.as_str(), tools[1].errors),
        ("create_ticket", 10)
    );
    assert_eq!(tools[1].errors_by_class.get("Timeout"), Some(&10));
    assert_eq!(tools[0].latency_p95_ms, Some(5.0));
}

#[test]
fn groups_by_two_labels_and_by_agent() {
    let mut runs = Vec::new();
    for (i, (p, t)) in [
        ("high", "pro"),
        ("high", "pro"),
        ("low", "pro"),
        ("low", "free"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = simple_run(if i == 0 { "a" } else { "b" }, at_secs(i as i64), 10);
        r.metadata = Some(metadata(p, t, None));
        runs.push(r);
    }
    let mut unlabeled = simple_run("b", at_secs(9), 10);
    unlabeled.metadata = None;
    runs.push(unlabeled);
    let (_dir, store) = store_with(&runs);
    let report = store
        .report(&ReportQuery {
            group_by: GroupBy::parse("customer_tier,priority").unwrap(),
            ..ReportQuery::default()
        })
        .unwrap();
    assert_eq!(report.group_by, vec!["customer_tier", "priority"]);
    assert_eq!(report.rows.len(), 4);
    assert_eq!(report.rows[0].run_count, 2); // largest first
    let count = |r: &runmeta_store::Report, l: &[(&str, &str)]| r.row(l).unwrap().run_count;
    assert_eq!(
        count(&report, &[("customer_tier", "pro"), ("priority", "high")]),
        2
    );
    assert_eq!(
        count(&report, &[("customer_tier", "free"), ("priority", "low")]),
        1
    );
    let unlabeled = report
        .rows
        .iter()
        .find(|r| r.group.iter().all(|l| l.value.is_none()))
        .unwrap();
    assert_eq!(unlabeled.run_count, 1);

    let by_agent = store
        .report(&ReportQuery {
            group_by: GroupBy::new([Dimension::Agent, Dimension::Label("priority".into())])
                .unwrap(),
            ..ReportQuery::default()
        })
        .unwrap();
    assert_eq!(count(&by_agent, &[("agent", "a"), ("priority", "high")]), 1);
    assert_eq!(count(&by_agent, &[("agent", "b"), ("priority", "high")]), 1);
    assert_eq!(count(&by_agent, &[("agent", "b"), ("priority", "low")]), 2);

    let filtered = store
        .report(&ReportQuery {
            filter: RunFilter {
                labels: vec![("priority".into(), "low".into())],
                ..RunFilter::default()
            },
            group_by: GroupBy::new([Dimension::Model]).unwrap(),
            tools: false,
        })
        .unwrap();
    assert_eq!(filtered.rows.len(), 1);
    assert_eq!(filtered.rows[0].run_count, 2);
    assert_eq!(filtered.rows[0].label("model"), Some("openai/gpt-4o-mini"));
    let tool = store.report(&ReportQuery {
        group_by: GroupBy::parse("tool").unwrap(),
        ..ReportQuery::default()
    });
    assert!(tool.is_err());
}

#[test]
fn sla_breaches_come_from_deadlines() {
    let mut early = simple_run("a", at_secs(0), 1_000);
    early.metadata = Some(metadata("high", "pro", Some("2024-01-15T12:00:05Z")));
    let mut late = simple_run("a", at_secs(10), 1_000);
    late.metadata = Some(metadata("high", "pro", Some("2024-01-15T12:00:05Z")));
    let no_sla = simple_run("a", at_secs(20), 1_000);
    let (_dir, store) = store_with(&[early, late, no_sla]);
    let row = &store.report(&ReportQuery::default()).unwrap().rows[0];
    assert_eq!((row.sla_runs, row.sla_breaches), (2, 1));
    assert_eq!(row.sla_breach_rate, Some(0.5));
}

#[test]
fn trends_compare_with_the_previous_window() {
    let mut runs = Vec::new();
    // Previous window [0, 100): 10 runs of 100 ms, all successful.
    for i in 0..10 {
        runs.push(simple_run("a", at_secs(i * 10), 100));
    }
    // Current window [100, 200): 20 runs of 138 ms, 2 failing.
    for i in 0..20 {
        let mut r = simple_run("a", at_secs(100 + i * 5), 138);
        if i < 2 {
            r.status = RunStatus::Error;
        }
        runs.push(r);
    }
    let (_dir, store) = store_with(&runs);
    let report = store
        .report_with_trend(&ReportQuery {
            filter: RunFilter::between(at_secs(100), at_secs(200)),
            ..ReportQuery::default()
        })
        .unwrap();
    assert_eq!(report.previous_window.unwrap().start, at_secs(0));
    assert_eq!(report.window.unwrap().end, at_secs(200));
    let row = &report.rows[0];
    assert_eq!(row.run_count, 20);
    let trend = row.trend.unwrap();
    assert_eq!(trend.previous_run_count, 10);
    assert!((trend.run_count_change.unwrap() - 1.0).abs() < 1e-12);
    assert!((trend.latency_p95_change.unwrap() - 0.38).abs() < 1e-9);
    assert!((trend.success_rate_change_pp.unwrap() + 10.0).abs() < 1e-9);
    // The one-pass trend equals the two windows reported apart.
    let alone = |from, to| {
        store
            .report(&ReportQuery {
                filter: RunFilter::between(from, to),
                ..ReportQuery::default()
            })
            .unwrap()
    };
    let mut without_trend = report.rows[0].clone();
    without_trend.trend = None;
    assert_eq!(without_trend, alone(at_secs(100), at_secs(200)).rows[0]);
    assert_eq!(
        trend.previous_run_count,
        alone(at_secs(0), at_secs(100)).rows[0].run_count
    );

    let err = store
        .report_with_trend(&ReportQuery::default())
        .unwrap_err();
    assert!(err.to_string().contains("window"));
}

#[test]
fn an_empty_window_gives_no_rows() {
    let (_dir, store) = store_with(&[simple_run("a", at_secs(0), 10)]);
    let report = store
        .report(&ReportQuery {
            filter: RunFilter::between(at_secs(100), at_secs(200)),
            group_by: GroupBy::parse("agent").unwrap(),
            tools: false,
        })
        .unwrap();
    assert!(report.rows.is_empty());
}
