//! Alerts: a per-run token budget and windowed rules (p95 latency, error rate, a success-rate
//! drop after a release), delivered typed on a channel, once per sustained breach.
//!
//! The example replays 40 minutes of synthetic traffic with timestamps (no waiting): a
//! release at minute 20 makes the agent slower and less reliable.
//!
//! Run with `cargo run --example alerts`.

use std::sync::mpsc;
use std::time::Duration;

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy, WindowConfig};
use runmeta::alert::{AlertEngine, AlertRule, RunValue, WindowStat};
use runmeta::metrics::Usage;
use runmeta::run::{RunRecord, RunStatus, Sink};

fn main() {
    let group_by = GroupBy::parse("agent,release").expect("valid dimensions");
    let (tx, alerts) = mpsc::channel();
    let engine = AlertEngine::with_channel(group_by.clone(), tx)
        .rule(AlertRule::run(
            "token budget",
            RunValue::TotalTokens,
            8_000.0,
        ))
        .rule(
            AlertRule::window("p95 latency over 4 s", WindowStat::LatencyP95Seconds, 4.0)
                .clear_at(3.0)
                .min_runs(20),
        )
        .rule(
            AlertRule::window("error rate over 10%", WindowStat::ErrorRate, 0.10)
                .clear_at(0.05)
                .min_runs(20),
        )
        .rule(
            AlertRule::window("success rate drop", WindowStat::SuccessRateDropPp, 8.0).min_runs(20),
        );
    let sink = AggregatorSink::new(AggregatorConfig::new(
        GroupBy::parse("agent").expect("valid"),
    ))
    .with_windows(WindowConfig {
        width: Duration::from_secs(60),
        keep: 60,
    })
    .with_alerts(engine);

    let start = jiff::Timestamp::from_second(1_717_200_000).expect("valid instant");
    let mut seed = 7u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % 1_000
    };
    for minute in 0..40i64 {
        let after_release = minute >= 20;
        for i in 0..60i64 {
            let at = start
                .checked_add(jiff::SignedDuration::from_secs(minute * 60 + i))
                .expect("in range");
            let mut run = RunRecord::new("support", at);
            run.release = Some(if after_release { "v2.0.0" } else { "v1.9.4" }.into());
            let slow = if after_release {
                2_500 + next() * 3
            } else {
                800 + next()
            };
            run.duration = Duration::from_millis(slow);
            let failed = next() < if after_release { 180 } else { 20 };
            run.status = if failed {
                RunStatus::Error
            } else {
                RunStatus::Success
            };
            run.stop_reason = if failed {
                "error".into()
            } else {
                "completed".into()
            };
            // Typical runs use 1.8k-4.3k tokens; a rare one loops and burns far more.
            let runaway = next() < 3;
            run.metrics.usage = if runaway {
                Usage::new(9_000, 2_000)
            } else {
                Usage::new(1_500 + next() * 2, 300 + next() / 2)
            };
            sink.record(&run);
        }
    }
    sink.tick(
        start
            .checked_add(jiff::SignedDuration::from_mins(41))
            .expect("in range"),
    );
    drop(sink);

    for alert in alerts.try_iter() {
        let when = alert
            .window
            .as_ref()
            .map_or_else(String::new, |w| format!(" [window from {}]", w.start));
        println!("ALERT {alert}{when}");
    }
}
