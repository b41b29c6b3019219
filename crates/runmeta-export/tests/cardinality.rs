//! The series cap: a flood of distinct label values stays at the cap and is counted.

mod common;

use runmeta_core::metrics::{ToolStatus, Usage};
use runmeta_core::run::{RunStatus, Sink};
use runmeta_export::prometheus::{ExporterConfig, PrometheusExporter, OVERFLOW_LABEL_VALUE};

fn series_lines(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

fn overflow_of(text: &str, metric: &str) -> Option<f64> {
    let prefix = format!("runmeta_series_overflow_total{{metric=\"{metric}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_flood_of_100k_label_values_stays_at_the_cap() {
    let exporter = PrometheusExporter::new();
    let cap = exporter.config().max_series_per_metric;
    assert_eq!(cap, 1_000);
    // A stable series before the flood keeps counting during it.
    let stable = common::run("stable", RunStatus::Success, 100, vec![]);
    exporter.record(&stable);
    for i in 0..100_000u32 {
        // Distinct tool names, metadata label values and models in every run.
        let mut r = common::run(
            "flood",
            RunStatus::Success,
            50,
            vec![common::model(
                "p",
                &format!("model-{i}"),
                Usage::new(1, 1),
                Some(1),
            )],
        );
        r.metadata = Some(common::metadata(&format!("p{i}"), "free", &[]));
        r.tool_calls = vec![common::tool(
            &format!("tool-{i}"),
            1,
            ToolStatus::Success,
            None,
        )];
        exporter.record(&r);
    }
    exporter.record(&stable);

    let text = exporter.render();
    for (metric, sample_prefix) in [
        ("agent_run_total", "agent_run_total{"),
        (
            "agent_run_duration_seconds",
            "agent_run_duration_seconds_count{",
        ),
        ("agent_tokens_per_run", "agent_tokens_per_run_count{"),
        ("agent_token_usage_total", "agent_token_usage_total{"),
        ("agent_cost_total", "agent_cost_total{"),
        ("agent_tool_call_total", "agent_tool_call_total{"),
        (
            "agent_tool_duration_seconds",
            "agent_tool_duration_seconds_count{",
        ),
    ] {
        assert_eq!(exporter.series_count(metric), Some(cap), "{metric}");
        assert_eq!(series_lines(&text, sample_prefix), cap, "{metric}");
        let folded = exporter.overflow_count(metric).unwrap_or(0);
        assert!(folded > 90_000, "{metric}: {folded}");
        assert_eq!(overflow_of(&text, metric), Some(folded as f64), "{metric}");
    }
    // Runs: the stable series counted both runs; 998 flood series fit beside it, the rest
    // (100,000 - 998) were folded into the overflow series.
    assert!(text
        .contains(r#"agent_run_total{agent="stable",status="success",stop_reason="completed"} 2"#));
    assert_eq!(
        exporter.overflow_count("agent_run_total"),
        Some(100_000 - 998)
    );
    assert!(text.contains(&format!(
        r#"agent_run_total{{agent="{o}",status="{o}",stop_reason="{o}"}} {}"#,
        100_000 - 998,
        o = OVERFLOW_LABEL_VALUE
    )));
    // Families that were not flooded have no overflow.
    assert_eq!(overflow_of(&text, "agent_sla_breach_total"), Some(0.0));
    // Bounded by the cap: 4 histogram families × 1,000 series × 17 lines dominate (~6.5 MB);
    // the 100,000 label sets uncapped would be ~100 times that.
    assert!(
        text.len() < 10 << 20,
        "exposition stays bounded: {} bytes",
        text.len()
    );
}

#[test]
fn the_cap_is_configurable() {
    let exporter = PrometheusExporter::with_config(ExporterConfig {
        max_series_per_metric: 10,
        ..ExporterConfig::default()
    });
    for i in 0..50u32 {
        let mut r = common::run(&format!("agent-{i}"), RunStatus::Error, 10, vec![]);
        r.error_class = Some(format!("Error{i}").into());
        r.tool_calls = vec![common::tool("t", 1, ToolStatus::Success, None)];
        exporter.record(&r);
    }
    let text = exporter.render();
    assert_eq!(series_lines(&text, "agent_run_total{"), 10);
    assert_eq!(exporter.overflow_count("agent_run_total"), Some(41));
    // Tool calls are labelled by agent too, so they reach the cap as well.
    assert_eq!(series_lines(&text, "agent_tool_call_total{"), 10);
    // The tool duration family is labelled by tool only: one series, no overflow.
    assert_eq!(series_lines(&text, "agent_tool_duration_seconds_count{"), 1);
    assert_eq!(overflow_of(&text, "agent_tool_duration_seconds"), Some(0.0));
    let overflow_line = text
        .lines()
        .find(|l| {
            l.starts_with("agent_run_duration_seconds_count{") && l.contains(OVERFLOW_LABEL_VALUE)
        })
        .expect("an overflow series for durations");
    assert!(overflow_line.ends_with(" 41"), "{overflow_line}");
}

/// Metadata of a schema built in code (not through the derive) that declares `n` labels:
/// names `k<i>`, with every tenth pair repeating `k0`.
#[derive(Debug)]
struct ManyLabels(usize);

impl ManyLabels {
    fn name(i: usize) -> String {
        if i % 10 == 9 {
            "k0".to_owned()
        } else {
            format!("k{i}")
        }
    }
}

impl runmeta_core::schema::DynMetadata for ManyLabels {
    fn schema_name(&self) -> &str {
        "many_labels"
    }
    fn schema_version(&self) -> u32 {
        1
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for i in 0..self.0 {
            f(&Self::name(i), "v");
        }
    }
    fn label(&self, _key: &str) -> Option<&str> {
        None
    }
    fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    fn sla_deadline(&self) -> Option<runmeta_core::schema::Deadline> {
        None
    }
    fn sla_target(&self) -> Option<std::time::Duration> {
        None
    }
    fn sla_deadline_key(&self) -> Option<&str> {
        None
    }
    fn sla_target_key(&self) -> Option<&str> {
        None
    }
}

/// The metadata labels (`k...`) of one sample line.
fn meta_label_count(line: &str) -> usize {
    let labels = line
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map_or("", |(labels, _)| labels);
    labels
        .split("\",")
        .filter(|pair| pair.starts_with('k'))
        .count()
}

#[test]
fn a_run_with_100k_labels_keeps_the_per_run_cap_and_counts_the_rest() {
    const PAIRS: usize = 100_000;
    let exporter = PrometheusExporter::new();
    let cap = exporter.config().max_labels_per_run;
    assert_eq!(cap, runmeta_export::prometheus::DEFAULT_MAX_LABELS_PER_RUN);
    assert_eq!(cap, 32);
    let mut r = common::run("wide", RunStatus::Success, 10, vec![]);
    r.metadata = Some(runmeta_core::run::MetadataRecord {
        value: runmeta_core::run::MetadataValue::new(ManyLabels(PAIRS)),
        errors: None,
    });
    exporter.record(&r);
    exporter.record(&r);

    // Distinct names: 9 of every 10 pairs (`k0` repeats); the first `cap` are kept, the
    // repeats of a kept name are duplicates (not drops), every other pair is dropped.
    let distinct = PAIRS - PAIRS / 10;
    let dropped_per_run = (distinct - cap) as u64;
    assert_eq!(exporter.dropped_labels(), 2 * dropped_per_run);
    let text = exporter.render_prometheus_text();
    assert!(
        text.contains(&format!(
            "runmeta_metadata_labels_dropped_total {}\n",
            2 * dropped_per_run
        )),
        "{text}"
    );
    let runs: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("agent_run_total{"))
        .collect();
    assert_eq!(runs.len(), 1, "both runs count in one series");
    assert!(runs[0].ends_with(" 2"), "{}", runs[0]);
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("k0="))
    {
        assert_eq!(meta_label_count(line), cap, "{line}");
    }
    // The kept labels are the first `cap` distinct names, in order.
    let expected: Vec<String> = (0..PAIRS)
        .map(ManyLabels::name)
        .filter(|n| n != "k0")
        .take(cap - 1)
        .collect();
    assert!(runs[0].contains("k0=\"v\""));
    for name in &expected {
        assert!(
            runs[0].contains(&format!("{name}=\"v\"")),
            "{name}: {}",
            runs[0]
        );
    }
    assert!(
        text.len() < 64 * 1024,
        "the exposition stays small: {} bytes",
        text.len()
    );

    // A configured cap; zero keeps no metadata labels at all (so no pair is a duplicate of a
    // kept one: every pair is dropped).
    let none = PrometheusExporter::with_config(ExporterConfig {
        max_labels_per_run: 0,
        ..ExporterConfig::default()
    });
    none.record(&r);
    assert_eq!(none.dropped_labels(), PAIRS as u64);
    assert!(!none.render().contains("k0="));
}
