//! Time windows and trends: "p95 now vs 30 minutes ago".

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use runmeta_core::aggregate::{
    AggregatorConfig, AggregatorSink, GroupBy, WindowConfig, WindowedAggregator,
};
use runmeta_core::metrics::{ToolCallMetrics, ToolStatus, Usage};
use runmeta_core::run::{RunRecord, RunStatus, Sink};

fn t0() -> Timestamp {
    "2026-03-21T12:00:00Z".parse().unwrap()
}

fn at(minute: i64, second: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(minute) + SignedDuration::from_secs(second)
}

/// A run that ends at `minute:second` after `ms` of work.
fn run_ending(minute: i64, second: i64, ms: u64) -> RunRecord {
    let end = at(minute, second);
    let mut r = RunRecord::new("support", end - SignedDuration::from_millis(ms as i64));
    r.duration = Duration::from_millis(ms);
    r
}

fn windows(keep: usize) -> WindowedAggregator {
    WindowedAggregator::new(
        AggregatorConfig::new(GroupBy::parse("agent").unwrap()),
        WindowConfig {
            width: Duration::from_secs(60),
            keep,
        },
    )
}

#[test]
fn p95_now_vs_thirty_minutes_ago() {
    let mut w = windows(60);
    // 30 minutes ago: p95 ≈ 1.74 s; now: p95 ≈ 2.4 s, success 91.4% → 86.1%-like drop.
    for i in 0..100u64 {
        let mut r = run_ending(0, (i % 60) as i64, 1_000 + i * 8);
        if i < 9 {
            r.status = RunStatus::Error;
        }
        r.metrics.usage = Usage::new(7_000, 300);
        w.record(&r);
    }
    for i in 0..100u64 {
        let mut r = run_ending(30, (i % 60) as i64, 1_400 + i * 11);
        if i < 14 {
            r.status = RunStatus::Error;
        }
        r.metrics.usage = Usage::new(8_600, 300);
        r.tool_calls.push(ToolCallMetrics {
            name: "search_docs".into(),
            started_at: r.started_at,
            duration: Duration::from_millis(30),
            status: if i % 10 == 0 {
                ToolStatus::Error
            } else {
                ToolStatus::Success
            },
            error_class: None,
        });
        w.record(&r);
    }
    let now = at(30, 59);
    let report = w.trend(now, Duration::from_secs(60), Duration::from_secs(30 * 60));
    let span = report.window.unwrap();
    assert_eq!(span.start, at(30, 0));
    assert_eq!(span.end, at(31, 0));
    assert_eq!(report.previous_window.unwrap().start, at(0, 0));
    let row = &report.rows[0];
    assert_eq!(row.run_count, 100);
    let trend = row.trend.unwrap();
    assert_eq!(trend.previous_run_count, 100);
    // Exact p95s: 1_000 + 94·8 = 1_752 and 1_400 + 94·11 = 2_434 (each within 1%).
    let expected = 2_434.0 / 1_752.0 - 1.0;
    assert!(
        (trend.latency_p95_change.unwrap() - expected).abs() < 0.02,
        "{trend:?}"
    );
    assert!((trend.success_rate_change_pp.unwrap() + 5.0).abs() < 1e-9);
    assert!((trend.tokens_per_run_change.unwrap() - (8_900.0 / 7_300.0 - 1.0)).abs() < 1e-9);
    // No tool calls then: no tool-error-rate change, but a rate now.
    assert_eq!(trend.tool_error_rate_change_pp, None);
    assert_eq!(row.tool_error_rate, Some(0.1));
    // The report serializes with its windows.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["window"]["start"], "2026-03-21T12:30:00Z");
}

#[test]
fn spans_cover_several_windows_and_new_groups_have_empty_trends() {
    let mut w = windows(60);
    for minute in 0..10 {
        w.record(&run_ending(minute, 10, 500));
    }
    let mut other = run_ending(9, 20, 500);
    other.agent = "billing".into();
    w.record(&other);
    let report = w.trend(
        at(9, 30),
        Duration::from_secs(5 * 60),
        Duration::from_secs(5 * 60),
    );
    let support = report.row(&[("agent", "support")]).unwrap();
    assert_eq!(support.run_count, 5);
    assert_eq!(support.trend.unwrap().previous_run_count, 5);
    assert_eq!(support.trend.unwrap().run_count_change, Some(0.0));
    let billing = report.row(&[("agent", "billing")]).unwrap();
    assert_eq!(billing.trend.unwrap().previous_run_count, 0);
    assert_eq!(billing.trend.unwrap().latency_p95_change, None);
}

#[test]
fn only_the_last_n_windows_are_kept() {
    let mut w = windows(30);
    for minute in 0..120 {
        w.record(&run_ending(minute, 0, 100));
    }
    assert_eq!(w.windows().count(), 30);
    w.record(&run_ending(10, 0, 100));
    assert_eq!(w.late_runs(), 1);
    let (_, all) = w.merged(at(119, 0), Duration::from_secs(3_600));
    assert_eq!(all.total().runs, 30);
    assert!(w.memory_bytes() > 0);
}

#[test]
fn a_keep_past_i64_max_keeps_every_window() {
    for keep in [usize::MAX, 1 << 63] {
        let mut w = windows(keep);
        for minute in [0, 1, 2, 1] {
            w.record(&run_ending(minute, 0, 100));
        }
        assert_eq!(w.windows().count(), 3, "keep {keep}");
        assert_eq!(w.late_runs(), 0);
        let (_, all) = w.merged(at(2, 0), Duration::from_secs(3_600));
        assert_eq!(all.total().runs, 4);
    }
}

#[test]
fn sink_keeps_all_time_and_windows() {
    let sink =
        AggregatorSink::new(AggregatorConfig::new(GroupBy::none())).with_windows(WindowConfig {
            width: Duration::from_secs(60),
            keep: 10,
        });
    for minute in 0..20 {
        sink.record(&run_ending(minute, 0, 100));
    }
    assert_eq!(sink.report().rows[0].run_count, 20);
    let trend = sink
        .trend(at(19, 0), Duration::from_secs(60), Duration::from_secs(60))
        .unwrap();
    assert_eq!(trend.rows[0].run_count, 1);
    assert_eq!(sink.with_windows_ref(|w| w.windows().count()), Some(10));
    let plain = AggregatorSink::new(AggregatorConfig::default());
    assert!(plain
        .trend(at(0, 0), Duration::from_secs(60), Duration::ZERO)
        .is_none());
}
