//! Grouping by every dimension, the report's fields, SLA counting and the sink.

use std::sync::Arc;
use std::time::Duration;

use runmeta_core::aggregate::{
    Aggregator, AggregatorConfig, AggregatorSink, Dimension, GroupBy, TokenType, OVERFLOW_VALUE,
};
use runmeta_core::metrics::{
    Cost, MessageMetrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{
    MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, RunStatus, Sink,
};
use runmeta_core::schema::JsonMetadata;
use runmeta_core::sla::SlaPolicy;
use serde_json::{json, Map, Value};

fn t0() -> jiff::Timestamp {
    "2024-01-15T13:00:00Z".parse().unwrap()
}

fn metadata(values: Value, labels: &[&str]) -> MetadataRecord {
    let values: Map<String, Value> = values.as_object().cloned().unwrap_or_default();
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "SupportRun".into(),
            version: 1,
            values,
            label_keys: labels.iter().map(|s| s.to_string()).collect(),
            sla_deadline_key: Some("sla_deadline".into()),
            sla_target_key: Some("sla_target_seconds".into()),
        }),
        errors: None,
    }
}

fn run(agent: &'static str, ms: u64) -> RunRecord {
    let mut r = RunRecord::new(agent, t0());
    r.duration = Duration::from_millis(ms);
    r
}

fn with_model(mut r: RunRecord, provider: &str, id: &str) -> RunRecord {
    r.per_model.push(ModelBreakdown {
        model: ModelRef {
            role: ModelRole::Model,
            provider: provider.into(),
            id: id.into(),
        },
        calls: 1,
        metrics: Default::default(),
    });
    r
}

fn tool(name: &str, ms: u64, ok: bool) -> ToolCallMetrics {
    ToolCallMetrics {
        name: name.into(),
        started_at: t0(),
        duration: Duration::from_millis(ms),
        status: if ok {
            ToolStatus::Success
        } else {
            ToolStatus::Error
        },
        error_class: (!ok).then(|| "http_503".to_owned()),
    }
}

#[test]
fn groups_by_labels_model_and_release() {
    let by = GroupBy::new([
        Dimension::Release,
        Dimension::Model,
        Dimension::Label("priority".into()),
    ])
    .unwrap();
    let mut agg = Aggregator::new(by);
    for (prio, model, n) in [
        ("high", "gpt-4o", 3),
        ("low", "gpt-4o", 2),
        ("high", "claude", 1),
    ] {
        for _ in 0..n {
            let mut r = with_model(run("support", 100), "openai", model);
            r.release = Some("2026-03-21".into());
            r.metadata = Some(metadata(
                json!({"priority": prio, "ticket_id": "T-1"}),
                &["priority"],
            ));
            agg.record(&r);
        }
    }
    // A run without metadata and without a model: absent values.
    agg.record(&run("support", 100));
    let report = agg.report();
    assert_eq!(report.group_by, ["release", "model", "priority"]);
    assert_eq!(report.rows.len(), 4);
    let row = report
        .row(&[("model", "openai/gpt-4o"), ("priority", "high")])
        .unwrap();
    assert_eq!(row.run_count, 3);
    assert_eq!(row.label("release"), Some("2026-03-21"));
    let bare = report.rows.last().unwrap();
    assert!(bare.group.iter().all(|l| l.value.is_none()));
    assert_eq!(
        agg.group(&[Some("2026-03-21"), Some("openai/claude"), Some("high")])
            .unwrap()
            .runs,
        1
    );
}

#[test]
fn model_falls_back_to_messages() {
    let mut agg = Aggregator::new(GroupBy::parse("model").unwrap());
    let mut r = run("a", 10);
    r.messages.push(MessageMetrics {
        model: Some(ModelRef {
            role: ModelRole::OutputModel,
            provider: "anthropic".into(),
            id: "claude-3-5-haiku".into(),
        }),
        ..Default::default()
    });
    agg.record(&r);
    assert_eq!(
        agg.report().rows[0].label("model"),
        Some("anthropic/claude-3-5-haiku")
    );
}

#[test]
fn report_row_fields() {
    let mut agg = Aggregator::new(GroupBy::parse("agent").unwrap());
    for i in 0..100u64 {
        let mut r = run("support", 1_000 + i * 10);
        r.time_to_first_token = Some(Duration::from_millis(200 + i));
        r.metrics.usage = Usage::new(1_000 + i, 100);
        r.metrics.cost = Some(Cost::from_nanos(1_000_000));
        if i % 10 == 0 {
            r.status = RunStatus::Error;
            r.stop_reason = "tool_error".into();
            r.error_class = Some(if i < 50 { "timeout" } else { "rate_limit" }.into());
        }
        if i == 99 {
            // One run whose model had no price: counted apart, not as a 0 cost.
            r.metrics.cost = None;
            r.unpriced_messages = 1;
        }
        r.tool_calls.push(tool("search_docs", 50, i % 4 != 0));
        r.tool_calls.push(tool("lookup_order", 20 + i, true));
        agg.record(&r);
    }
    let row = &agg.report().rows[0];
    assert_eq!(row.run_count, 100);
    assert_eq!(row.error_count, 10);
    assert!((row.success_rate - 0.9).abs() < 1e-12);
    assert_eq!(row.errors_by_class["timeout"], 5);
    assert_eq!(row.errors_by_class["rate_limit"], 5);
    assert_eq!(row.stop_reasons["completed"], 90);
    assert_eq!(row.stop_reasons["tool_error"], 10);
    let p50 = row.latency_p50_ms.unwrap();
    assert!((1_490.0 * 0.99..=1_490.0 * 1.01).contains(&p50), "{p50}");
    let p99 = row.latency_p99_ms.unwrap();
    assert!((1_980.0 * 0.99..=1_980.0 * 1.01).contains(&p99), "{p99}");
    assert_eq!(row.latency_max_ms, Some(1_990.0));
    let ttft = row.ttft_p95_ms.unwrap();
    assert!((294.0 * 0.99..=294.0 * 1.01).contains(&ttft), "{ttft}");
    assert!((row.tokens_per_run.input.mean - 1_049.5).abs() < 1e-9);
    assert_eq!(row.tokens_per_run.get(TokenType::Output).mean, 100.0);
    let p95 = row.tokens_per_run.input.p95.unwrap();
    assert!(
        (1_094 * 99 / 100..=1_094 * 101 / 100).contains(&p95),
        "{p95}"
    );
    assert_eq!(row.unpriced_runs, 1);
    assert_eq!(row.priced_runs, 99);
    assert_eq!(row.cost_total, Cost::from_nanos(99_000_000));
    assert_eq!(row.cost_per_run, Some(Cost::from_nanos(1_000_000)));
    assert_eq!(row.tool_calls, 200);
    assert!((row.tool_calls_per_run - 2.0).abs() < 1e-12);
    assert!((row.tool_error_rate.unwrap() - 25.0 / 200.0).abs() < 1e-12);
    let search = row.tools.iter().find(|t| t.tool == "search_docs").unwrap();
    assert_eq!((search.calls, search.errors), (100, 25));
    assert_eq!(search.errors_by_class["http_503"], 25);
    let lookup = row.tools.iter().find(|t| t.tool == "lookup_order").unwrap();
    let lp95 = lookup.latency_p95_ms.unwrap();
    assert!((114.0 * 0.99..=114.0 * 1.01).contains(&lp95), "{lp95}");
    // Serializes as the dashboard row.
    let v = serde_json::to_value(row).unwrap();
    assert_eq!(v["run_count"], 100);
    assert_eq!(v["cost_per_run"], 0.001);
}

#[test]
fn grouping_by_tool_counts_each_tool_once_per_run() {
    let mut agg = Aggregator::new(GroupBy::parse("tool").unwrap());
    let mut r = run("a", 10);
    r.tool_calls = vec![
        tool("search_docs", 5, true),
        tool("search_docs", 5, false),
        tool("send_email", 5, true),
    ];
    agg.record(&r);
    agg.record(&run("a", 10)); // no tool call
    let report = agg.report();
    let search = report.row(&[("tool", "search_docs")]).unwrap();
    assert_eq!((search.run_count, search.tool_calls), (1, 2));
    assert_eq!(search.tool_error_rate, Some(0.5));
    let email = report.row(&[("tool", "send_email")]).unwrap();
    assert_eq!((email.run_count, email.tool_calls), (1, 1));
    let none = report
        .rows
        .iter()
        .find(|r| r.label("tool").is_none())
        .unwrap();
    assert_eq!((none.run_count, none.tool_calls), (1, 0));
}

#[test]
fn group_cap_folds_into_overflow() {
    let config = AggregatorConfig::new(GroupBy::parse("ticket").unwrap()).with_max_groups(3);
    let mut agg = Aggregator::with_config(config);
    for i in 0..10 {
        let mut r = run("a", 10);
        let id = format!("T-{i}");
        r.metadata = Some(metadata(json!({ "ticket": id }), &["ticket"]));
        agg.record(&r);
    }
    assert_eq!(agg.len(), 4);
    assert_eq!(agg.overflow_runs(), 7);
    let report = agg.report();
    assert_eq!(report.overflow_runs, 7);
    assert_eq!(
        report.row(&[("ticket", OVERFLOW_VALUE)]).unwrap().run_count,
        7
    );
}

#[test]
fn sla_breaches_from_metadata_and_agent_targets() {
    let policy = SlaPolicy::new().with_agent_target("billing", Duration::from_secs(2));
    let config = AggregatorConfig::new(GroupBy::parse("agent").unwrap()).with_sla(policy);
    let mut agg = Aggregator::with_config(config);
    // support: deadline 14:00; runs end 13:59:59, 14:00:01; the second starts 30 s before.
    let mut ok = run("support", 1_000);
    ok.started_at = "2024-01-15T13:59:58Z".parse().unwrap();
    ok.metadata = Some(metadata(
        json!({"sla_deadline": "2024-01-15T14:00:00Z"}),
        &[],
    ));
    let mut late = run("support", 31_000);
    late.started_at = "2024-01-15T13:59:30Z".parse().unwrap();
    late.metadata = ok.metadata.clone();
    // Metadata target beats the agent's: 3 s.
    let mut target = run("support", 3_500);
    target.metadata = Some(metadata(json!({"sla_target_seconds": 3.0}), &[]));
    let no_sla = run("support", 99_000);
    for r in [&ok, &late, &target, &no_sla] {
        agg.record(r);
    }
    for ms in [1_000, 2_500] {
        agg.record(&run("billing", ms));
    }
    let report = agg.report();
    let support = report.row(&[("agent", "support")]).unwrap();
    assert_eq!((support.sla_runs, support.sla_breaches), (3, 2));
    assert_eq!(support.sla_at_risk, 2);
    assert!((support.sla_breach_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    let billing = report.row(&[("agent", "billing")]).unwrap();
    assert_eq!((billing.sla_runs, billing.sla_breaches), (2, 1));
}

#[test]
fn sink_behind_arc_feeds_the_aggregator() {
    let sink = Arc::new(AggregatorSink::new(AggregatorConfig::new(
        GroupBy::parse("agent").unwrap(),
    )));
    let dyn_sink: Arc<dyn Sink> = sink.clone();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&dyn_sink);
            std::thread::spawn(move || {
                for i in 0..1_000 {
                    s.record(&run(if i % 2 == 0 { "a" } else { "b" }, 10));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    dyn_sink.flush();
    let report = sink.report();
    assert_eq!(report.rows.iter().map(|r| r.run_count).sum::<u64>(), 4_000);
    let taken = sink.take();
    assert_eq!(taken.total().runs, 4_000);
    assert!(sink.report().rows.is_empty());
    assert_eq!(sink.snapshot().groups.len(), 0);
}

/// A snapshot whose counters are all at `u64::MAX` (a merge of untrusted or corrupted input)
/// keeps them there through one more run: no counter wraps to 0 (or panics in debug).
#[test]
fn counters_at_the_top_saturate_on_the_next_run() {
    let config = || AggregatorConfig::new(GroupBy::parse("agent").unwrap()).with_max_groups(1);
    let mut failed = run("a", 5);
    failed.status = RunStatus::Error;
    failed.error_class = Some("timeout".into());
    failed.tool_calls.push(tool("crm", 3, false));
    let mut full = Aggregator::with_config(config());
    full.record(&failed);
    full.record(&run("b", 5)); // over the cap of 1 group: an overflow run
    let mut snap = serde_json::to_value(full.snapshot()).unwrap();
    let top = Value::from(u64::MAX);
    for group in snap["groups"].as_array_mut().unwrap() {
        let stats = &mut group["stats"];
        for counter in ["runs", "priced_runs", "tool_calls", "tool_errors"] {
            stats[counter] = top.clone();
        }
        stats["by_status"] = json!([u64::MAX, u64::MAX, u64::MAX, u64::MAX]);
        for tool in stats["tools"].as_array_mut().unwrap() {
            for counter in ["calls", "errors"] {
                tool[1][counter] = top.clone();
            }
        }
    }
    snap["overflow_runs"] = top.clone();
    let snap = serde_json::from_value(snap).unwrap();

    let mut agg = Aggregator::with_config(config());
    agg.merge_snapshot(&snap).unwrap();
    agg.record(&failed);
    agg.record(&run("c", 5));
    let report = agg.report();
    let row = &report.rows[0];
    assert_eq!(row.run_count, u64::MAX);
    assert_eq!(row.error_count, u64::MAX, "error + panicked saturates too");
    assert_eq!(report.overflow_runs, u64::MAX);
    let snap = serde_json::to_value(agg.snapshot()).unwrap();
    let stats = &snap["groups"][0]["stats"];
    assert_eq!(stats["tool_calls"], top);
    assert_eq!(stats["by_status"][1], top);
}
