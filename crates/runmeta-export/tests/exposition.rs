//! The exposition of a realistic workload: promtool accepts it, values are escaped, ids and
//! redacted fields never appear, counts add up.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use runmeta_core::metrics::{ToolStatus, Usage};
use runmeta_core::run::{MetadataRecord, MetadataValue, RunRecord, RunStatus, Sink};
use runmeta_core::schema::JsonMetadata;
use runmeta_export::prometheus::{ExporterConfig, PrometheusExporter};
use serde_json::json;

fn exporter_with_workload() -> PrometheusExporter {
    let exporter = PrometheusExporter::new();
    for run in common::workload() {
        exporter.record(&run);
    }
    exporter
}

/// The value of the sample line that starts with `prefix` (name and labels, exactly).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.parse().ok())
}

#[test]
fn promtool_accepts_the_prometheus_text_without_complaint() {
    let Some(promtool) = common::require_program("promtool") else {
        return;
    };
    let text = exporter_with_workload().render_prometheus_text();
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("promtool reads the exposition");
    let out = child.wait_with_output().expect("promtool finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics: {}\nstdout:\n{stdout}\nstderr:\n{stderr}\ninput:\n{text}",
        out.status
    );
}

#[test]
fn openmetrics_output_is_complete_and_terminated() {
    let text = exporter_with_workload().render();
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
    for family in [
        "agent_run",
        "agent_run_duration_seconds",
        "agent_time_to_first_token_seconds",
        "agent_tokens_per_run",
        "agent_token_usage",
        "agent_cost",
        "agent_tool_call",
        "agent_tool_duration_seconds",
        "agent_sla_runs",
        "agent_sla_breach",
        "agent_unpriced_calls",
        "runmeta_series_overflow",
    ] {
        assert!(text.contains(&format!("# HELP {family} ")), "{family}");
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
    }
    assert!(text.contains("# UNIT agent_run_duration_seconds seconds\n"));
    // Every sample line is `name{labels} value` with a parseable value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(
            value == "+Inf" || value.parse::<f64>().is_ok(),
            "bad sample line {line:?}"
        );
    }
    // The Prometheus variant names counters by their samples and drops OpenMetrics lines.
    let prom = exporter_with_workload().render_prometheus_text();
    assert!(prom.contains("# TYPE agent_run_total counter\n"));
    assert!(prom.contains("# TYPE runmeta_series_overflow_total counter\n"));
    assert!(!prom.contains("# EOF") && !prom.contains("# UNIT"));
}

#[test]
fn label_values_are_escaped() {
    let text = exporter_with_workload().render();
    // Quotes, backslashes and newlines are escaped; other characters pass through as UTF-8.
    for expected in [
        r#"agent="say \"hi\" bot""#,
        r#"agent="C:\\agents\\win""#,
        r#"agent="multi\nline""#,
        "agent=\"агент-😀\"",
        "agent=\"tab\tand unicode é\"",
        r#"release="rel\"ease\\1\n""#,
        r#"stop_reason="max_steps \"limit\"""#,
        r#"model="model \\ \"x\"\nv2 ✓""#,
        r#"customer_tier="ent\\erprise\n""#,
        r#"tool="multi\nline""#,
    ] {
        assert!(text.contains(expected), "missing {expected}");
    }
    // No raw newline inside a sample: every line is a comment or `name{...} value`.
    for line in text.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("agent_") || line.starts_with("runmeta_"),
            "line broken by an unescaped newline: {line:?}"
        );
    }
}

#[test]
fn counts_add_up() {
    let runs = common::workload();
    let exporter = exporter_with_workload();
    let text = exporter.render();
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("agent_run_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, runs.len() as f64);

    // Own usage only: children's 10,000 tokens are never counted here.
    let own_input: u64 = runs.iter().map(|r| r.metrics.usage.input_tokens).sum();
    let exported_input: f64 = text
        .lines()
        .filter(|l| l.starts_with("agent_token_usage_total{") && l.contains("token_type=\"input\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(exported_input, own_input as f64);
    assert_eq!(
        sample(
            &text,
            r#"agent_token_usage_total{agent="say \"hi\" bot",release="rel\"ease\\1\n",model="unknown",token_type="input"}"#
        ),
        Some(11.0),
        "usage without a model is exported as model=\"unknown\""
    );

    // Cost: 40 runs × 2.3e-3 on gpt-4o-mini.
    let cost: f64 = text
        .lines()
        .filter(|l| l.starts_with("agent_cost_total{") && l.contains("gpt-4o-mini"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!((cost - 40.0 * 0.0023).abs() < 1e-9, "{cost}");

    // Error classes are normalized; tool errors carry theirs, a panicked tool gets `panic`.
    assert!(text.contains(r#"error_class="rate_limit_error""#));
    assert!(text.contains(r#"error_class="io_error""#));
    assert!(text.contains(r#"tool="crm_lookup",status="error",error_class="timeout_error"} 7"#));
    assert!(text.contains(r#"status="panicked",error_class="panic""#));
    assert_eq!(
        sample(
            &text,
            r#"agent_unpriced_calls_total{agent="support",release="2024.01.2"}"#
        ),
        Some(6.0)
    );
    assert_eq!(
        exporter.series_count("agent_run_total").map(|n| n > 10),
        Some(true)
    );
    assert_eq!(exporter.overflow_count("agent_run_total"), Some(0));
    assert_eq!(exporter.series_count("no_such_metric"), None);
}

#[test]
fn sla_breaches_are_counted_per_run() {
    let exporter = PrometheusExporter::new();
    let mut base = common::run("sla", RunStatus::Success, 3_000, vec![]);
    // Target 2 s, took 3 s: breach.
    base.metadata = Some(common::metadata(
        "high",
        "pro",
        &[("sla_target_seconds", json!(2.0))],
    ));
    exporter.record(&base);
    // Target 5 s: no breach.
    base.metadata = Some(common::metadata(
        "high",
        "pro",
        &[("sla_target_seconds", json!(5.0))],
    ));
    exporter.record(&base);
    // Deadline 2 s after the start, ended after 3 s: breach.
    base.metadata = Some(common::metadata(
        "high",
        "pro",
        &[("sla_deadline", json!("2024-01-15T13:00:02Z"))],
    ));
    exporter.record(&base);
    // Deadline 4 s after the start: no breach.
    base.metadata = Some(common::metadata(
        "high",
        "pro",
        &[("sla_deadline", json!("2024-01-15T13:00:04Z"))],
    ));
    exporter.record(&base);
    // Both breached: still one run.
    base.metadata = Some(common::metadata(
        "high",
        "pro",
        &[
            ("sla_deadline", json!("2024-01-15T13:00:01Z")),
            ("sla_target_seconds", json!(1.0)),
        ],
    ));
    exporter.record(&base);
    let text = exporter.render();
    assert_eq!(
        sample(
            &text,
            r#"agent_sla_breach_total{agent="sla",priority="high",customer_tier="pro"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"agent_sla_runs_total{agent="sla",priority="high",customer_tier="pro"}"#
        ),
        Some(5.0)
    );
    // A run without an SLA counts in neither.
    let mut plain = common::run("plain", RunStatus::Success, 3_000, vec![]);
    plain.metadata = None;
    exporter.record(&plain);
    assert!(!exporter
        .render()
        .contains(r#"agent_sla_runs_total{agent="plain""#));
}

#[test]
fn sla_policy_targets_apply_per_agent() {
    use runmeta_core::sla::SlaPolicy;
    let exporter = PrometheusExporter::with_config(ExporterConfig {
        sla_policy: SlaPolicy::new().with_agent_target("support", Duration::from_secs(1)),
        ..ExporterConfig::default()
    });
    exporter.record(&common::run("support", RunStatus::Success, 1_500, vec![]));
    exporter.record(&common::run("other", RunStatus::Success, 1_500, vec![]));
    let text = exporter.render();
    assert_eq!(
        sample(&text, r#"agent_sla_breach_total{agent="support"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"agent_sla_breach_total{agent="other"}"#),
        None
    );
}

#[test]
fn redacted_fields_and_ids_never_appear() {
    let exporter = PrometheusExporter::new();
    let mut run = RunRecord::new("support", "2024-01-15T13:00:00Z".parse().unwrap());
    run.session_id = Some(Arc::from("SESSION-MARKER-456"));
    let mut values = serde_json::Map::new();
    values.insert("priority".into(), json!("high"));
    values.insert("customer_id".into(), json!("SECRET-MARKER-123"));
    run.metadata = Some(MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "support_run".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into()],
            sla_deadline_key: None,
            sla_target_key: None,
        }),
        errors: None,
    });
    run.tool_calls = vec![common::tool("search", 10, ToolStatus::Success, None)];
    exporter.record(&run);
    let run_id = run.run_id.to_string();
    for text in [exporter.render(), exporter.render_prometheus_text()] {
        assert!(text.contains(r#"agent_run_total{agent="support",priority="high",status="success",stop_reason="completed"} 1"#), "{text}");
        assert!(!text.contains("SECRET-MARKER-123"));
        assert!(!text.contains("customer_id"));
        assert!(!text.contains("SESSION-MARKER-456"));
        assert!(!text.contains(&run_id));
    }
}

#[test]
fn odd_metadata_label_keys_are_sanitized() {
    let exporter = PrometheusExporter::new();
    let mut run = RunRecord::new("a", "2024-01-15T13:00:00Z".parse().unwrap());
    let mut values = serde_json::Map::new();
    for key in ["status", "tier-v2", "2fa", "__name__", "", "ok"] {
        values.insert(key.into(), json!(true));
    }
    run.metadata = Some(MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            label_keys: ["status", "tier-v2", "2fa", "__name__", "", "ok"]
                .map(String::from)
                .to_vec(),
            values,
            ..JsonMetadata::default()
        }),
        errors: None,
    });
    exporter.record(&run);
    let text = exporter.render();
    assert!(
        text.contains(r#"agent_run_total{agent="a",exported_status="true",tier_v2="true",_2fa="true",meta__name__="true",ok="true",status="success",stop_reason="completed"} 1"#),
        "{text}"
    );
}

#[test]
fn long_label_values_are_cut() {
    let exporter = PrometheusExporter::with_config(ExporterConfig {
        max_label_value_len: 8,
        ..ExporterConfig::default()
    });
    let run = common::run("abcdefghijklmnop", RunStatus::Success, 10, vec![]);
    exporter.record(&run);
    let text = exporter.render();
    assert!(
        text.contains(r#"agent_run_total{agent="abcdefgh",status="success""#),
        "{text}"
    );
    assert!(!text.contains("abcdefghi"));
}

#[test]
fn run_metrics_join_an_application_registry() {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::registry::Registry;
    let mut registry = Registry::default();
    let requests: Counter = Counter::default();
    registry.register("app_requests", "Requests served", requests.clone());
    requests.inc();
    let exporter = exporter_with_workload();
    exporter.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
    assert!(text.contains("app_requests_total 1\n"));
    assert!(text.contains("# TYPE agent_run counter\n"));
    assert!(text.ends_with("# EOF\n"));
    // Both registries render the same run metrics.
    assert!(text.contains(exporter.render().trim_end_matches("# EOF\n")));
}

#[test]
fn concurrent_recording_loses_nothing() {
    let exporter = Arc::new(PrometheusExporter::new());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let exporter = Arc::clone(&exporter);
            std::thread::spawn(move || {
                for i in 0..2_000u64 {
                    let mut r = common::run(
                        ["a", "b", "c"][(i % 3) as usize],
                        RunStatus::Success,
                        i % 500,
                        vec![common::model(
                            "p",
                            &format!("m{}", (i + t) % 5),
                            Usage::new(3, 1),
                            Some(7),
                        )],
                    );
                    r.tool_calls = vec![common::tool(
                        &format!("t{}", i % 7),
                        1,
                        ToolStatus::Success,
                        None,
                    )];
                    exporter.record(&r);
                }
            })
        })
        .collect();
    // Render while recording: must not block or tear.
    for _ in 0..20 {
        assert!(exporter.render().ends_with("# EOF\n"));
        std::thread::sleep(Duration::from_millis(1));
    }
    for t in threads {
        t.join().expect("recorder thread");
    }
    let text = exporter.render();
    let sum = |prefix: &str, filter: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(sum("agent_run_total{", ""), 8_000.0);
    assert_eq!(sum("agent_run_duration_seconds_count{", ""), 8_000.0);
    assert_eq!(
        sum("agent_token_usage_total{", "token_type=\"input\""),
        24_000.0
    );
    assert_eq!(sum("agent_tool_call_total{", ""), 8_000.0);
    assert!((sum("agent_cost_total{", "") - 8_000.0 * 7e-9).abs() < 1e-12);
}
