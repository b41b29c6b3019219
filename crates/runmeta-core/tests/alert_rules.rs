//! Alert rules: run values and window statistics, hysteresis, delivery, contained panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use runmeta_core::aggregate::{AggregatorConfig, AggregatorSink, GroupBy, WindowConfig};
use runmeta_core::alert::{AlertEngine, AlertMetric, AlertRule, RunValue, WindowStat};
use runmeta_core::metrics::{Cost, ToolCallMetrics, ToolStatus, Usage};
use runmeta_core::run::{RunRecord, RunStatus, Sink};

fn t0() -> Timestamp {
    "2026-03-21T12:00:00Z".parse().unwrap()
}

fn run(agent: &'static str, minute: i64, ms: u64) -> RunRecord {
    let mut r = RunRecord::new(agent, t0() + SignedDuration::from_mins(minute));
    r.duration = Duration::from_millis(ms);
    r
}

#[test]
fn run_rules_fire_once_per_sustained_breach_and_group() {
    let (tx, rx) = mpsc::channel();
    let engine = AlertEngine::with_channel(GroupBy::parse("agent").unwrap(), tx)
        .rule(AlertRule::run("token_budget", RunValue::TotalTokens, 10_000.0).clear_at(8_000.0))
        .rule(AlertRule::run("run_cost", RunValue::Cost, 0.05));
    let tokens = |agent, total: u64| {
        let mut r = run(agent, 0, 10);
        r.metrics.usage = Usage::new(total, 0);
        r
    };
    // support: breach, still breach, 9k (above clear: still in breach), 7k re-arms, breach.
    for total in [12_000, 15_000, 9_000, 11_000, 7_000, 10_500] {
        engine.observe_run(&tokens("support", total));
    }
    // billing has its own state.
    engine.observe_run(&tokens("billing", 20_000));
    let mut costly = run("support", 0, 10);
    costly.metrics.cost = Some(Cost::from_nanos(60_000_000));
    engine.observe_run(&costly);
    let unpriced = run("support", 0, 10); // no cost: skipped, not a 0
    engine.observe_run(&unpriced);

    let alerts: Vec<_> = rx.try_iter().collect();
    let summary: Vec<(String, Option<String>, f64)> = alerts
        .iter()
        .map(|a| (a.rule.clone(), a.group[0].value.clone(), a.value))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("token_budget".into(), Some("support".into()), 12_000.0),
            ("token_budget".into(), Some("support".into()), 10_500.0),
            ("token_budget".into(), Some("billing".into()), 20_000.0),
            ("run_cost".into(), Some("support".into()), 0.06),
        ]
    );
    assert_eq!(alerts[0].threshold, 10_000.0);
    assert_eq!(alerts[0].metric, AlertMetric::Run(RunValue::TotalTokens));
    assert!(alerts[0].run_id.is_some() && alerts[0].window.is_none());
    assert!(alerts[0].to_string().contains("agent=support"));
    assert_eq!(engine.stats().fired, 4);
}

#[test]
fn window_rules_evaluate_each_closed_window() {
    let (tx, rx) = mpsc::channel();
    let engine = AlertEngine::with_channel(GroupBy::parse("agent").unwrap(), tx)
        .rule(AlertRule::window("p95_slo", WindowStat::LatencyP95Seconds, 2.0).min_runs(5))
        .rule(AlertRule::window("errors", WindowStat::ErrorRate, 0.2))
        .rule(AlertRule::window("tools", WindowStat::ToolErrorRate, 0.05))
        .rule(AlertRule::window(
            "success_drop",
            WindowStat::SuccessRateDropPp,
            5.0,
        ))
        .rule(AlertRule::window(
            "token_rise",
            WindowStat::TokensPerRunRise,
            0.2,
        ));
    let sink = AggregatorSink::new(AggregatorConfig::new(GroupBy::parse("agent").unwrap()))
        .with_windows(WindowConfig {
            width: Duration::from_secs(60),
            keep: 10,
        })
        .with_alerts(engine);

    // Minute 0: healthy. Minute 1: slow, failing, tool errors, more tokens.
    for i in 0..10u64 {
        let mut r = run("support", 0, 1_000);
        r.metrics.usage = Usage::new(1_000, 0);
        if i == 0 {
            r.status = RunStatus::Error;
        }
        sink.record(&r);
    }
    assert_eq!(rx.try_iter().count(), 0, "minute 0 is still open");
    for i in 0..10u64 {
        let mut r = run("support", 1, 2_500);
        r.metrics.usage = Usage::new(1_500, 0);
        if i < 3 {
            r.status = RunStatus::Error;
        }
        r.tool_calls.push(ToolCallMetrics {
            name: "search_docs".into(),
            started_at: r.started_at,
            duration: Duration::from_millis(10),
            status: if i < 2 {
                ToolStatus::Error
            } else {
                ToolStatus::Success
            },
            error_class: None,
        });
        sink.record(&r);
    }
    // The first run of minute 1 closed minute 0: nothing above threshold there.
    assert_eq!(rx.try_iter().count(), 0);
    // Minute 2's first run closes minute 1.
    sink.record(&run("support", 2, 100));
    let mut fired: Vec<String> = rx.try_iter().map(|a| a.rule).collect();
    fired.sort();
    assert_eq!(
        fired,
        ["errors", "p95_slo", "success_drop", "token_rise", "tools"]
    );

    // Minute 3 closes minute 2 (1 run, 100 ms): p95 below min_runs, nothing re-fires.
    sink.record(&run("support", 3, 100));
    assert_eq!(rx.try_iter().count(), 0);

    // Traffic stops: tick evaluates the last window once.
    let later = t0() + SignedDuration::from_mins(10);
    sink.tick(later);
    sink.tick(later);
    assert_eq!(rx.try_iter().count(), 0);
    assert_eq!(sink.alerts().unwrap().stats().fired, 5);
}

#[test]
fn window_alert_carries_window_and_group() {
    let (tx, rx) = mpsc::channel();
    let engine = AlertEngine::with_channel(GroupBy::none(), tx).rule(AlertRule::window(
        "p95",
        WindowStat::LatencyP95Seconds,
        1.0,
    ));
    let sink = AggregatorSink::new(AggregatorConfig::new(GroupBy::parse("agent").unwrap()))
        .with_windows(WindowConfig::default())
        .with_alerts(engine);
    sink.record(&run("support", 0, 3_000));
    sink.tick(t0() + SignedDuration::from_mins(5));
    let alert = rx.try_recv().unwrap();
    assert_eq!(alert.group[0].value.as_deref(), Some("support"));
    let w = alert.window.unwrap();
    assert_eq!(w.start, t0());
    assert!((alert.value - 3.0).abs() < 0.03);
    let json = serde_json::to_value(&alert).unwrap();
    assert_eq!(json["metric"]["window"], "latency_p95_seconds");
}

#[test]
fn panicking_callback_is_contained_and_counted() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = Arc::clone(&calls);
    let engine = AlertEngine::with_callback(GroupBy::parse("agent").unwrap(), move |a| {
        c2.fetch_add(1, Ordering::SeqCst);
        if a.group[0].value.as_deref() == Some("bad") {
            panic!("alert handler bug");
        }
    })
    .rule(AlertRule::run("slow", RunValue::DurationSeconds, 1.0));
    let sink = Arc::new(AggregatorSink::new(AggregatorConfig::default()).with_alerts(engine));
    sink.record(&run("bad", 0, 2_000));
    sink.record(&run("good", 0, 2_000));
    // The run was still aggregated and the next alert still delivered.
    assert_eq!(sink.report().rows[0].run_count, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let stats = sink.alerts().unwrap().stats();
    assert_eq!((stats.fired, stats.callback_panics), (2, 1));
}
