//! Limits: oversized, over-wide and over-deep input is refused with a clear error (no stack
//! overflow, no unbounded work); hostile label values survive the Prometheus exposition
//! intact (and `promtool` accepts them); a flood of a million distinct label values stays
//! within the exporter's series cap.
//!
//! The export crate's own tests cover escaping of a fixed set of odd values and a 100k flood;
//! these extend them to arbitrary strings (every Unicode scalar, control characters, attempts
//! to inject samples), to every label source at once, and to a million values.
#![allow(missing_docs)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use runmeta::metrics::{ModelRef, ToolCallMetrics, ToolStatus, Usage};
use runmeta::prelude::*;
use runmeta::pricing::{PricingError, PricingTable};
use runmeta::run::{
    MetadataRecord, MetadataValue, ModelBreakdown, RecordJsonError, RunRecord, RunStatus, Sink,
};
use runmeta::schema::limits::{MAX_DOCUMENT_BYTES, MAX_KEYS};
use runmeta::schema::{JsonMetadata, MetadataErrors, Problem, UnknownKeys};
use runmeta_export::prometheus::{ExporterConfig, PrometheusExporter, OVERFLOW_LABEL_VALUE};
use serde_json::{Map, Value};

#[derive(Clone, RunMetadata)]
struct Small {
    ticket_id: String,
    #[run_metadata(label)]
    priority: Option<Priority>,
}

/// The only problem of `err`.
fn only_problem(err: &MetadataErrors) -> &Problem {
    assert_eq!(err.errors.len(), 1, "{err}");
    &err.errors[0].problem
}

// ----- size -----

#[test]
fn a_10_mb_document_is_refused_before_parsing() {
    let doc = format!(
        r#"{{"ticket_id": "{}", "priority": "high"}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let err = Small::from_json_str(&doc).expect_err("too large");
    assert_eq!(
        only_problem(&err),
        &Problem::DocumentTooLarge {
            len: doc.len(),
            max: MAX_DOCUMENT_BYTES
        }
    );
    assert!(
        err.to_string().contains("larger than the limit"),
        "a clear message: {err}"
    );
    // Just over the limit is refused, at the limit is parsed (and refused for what it holds).
    let filler = |n: usize| format!(r#"{{"ticket_id": "{}"}}"#, "y".repeat(n));
    let at_limit = filler(MAX_DOCUMENT_BYTES - 17);
    assert_eq!(at_limit.len(), MAX_DOCUMENT_BYTES);
    let err = Small::from_json_str(&at_limit).expect_err("string too long");
    assert!(matches!(
        err.for_key("ticket_id"),
        Some(Problem::StringTooLong { .. })
    ));
    let over = filler(MAX_DOCUMENT_BYTES - 16);
    assert!(matches!(
        only_problem(&Small::from_json_str(&over).expect_err("too large")),
        Problem::DocumentTooLarge { .. }
    ));
}

// ----- width -----

fn many_keys(n: usize) -> String {
    let mut doc = String::with_capacity(n * 12);
    doc.push('{');
    for i in 0..n {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!("\"k{i}\":{i}"));
    }
    doc.push('}');
    doc
}

#[test]
fn a_million_keys_are_refused() {
    // As text: a million keys do not fit in the size limit.
    let doc = many_keys(1_000_000);
    assert!(matches!(
        only_problem(&Small::from_json_str(&doc).expect_err("too large")),
        Problem::DocumentTooLarge { .. }
    ));
    // Under the size limit, parsing stops at the key limit, with one error (not one per key).
    let doc = many_keys(60_000);
    assert!(doc.len() < MAX_DOCUMENT_BYTES);
    for policy in [UnknownKeys::Deny, UnknownKeys::Keep] {
        let err = runmeta::schema::input::from_json_str::<Small>(&doc, policy)
            .expect_err("too many keys");
        let too_many: Vec<_> = err
            .errors
            .iter()
            .filter(|e| e.problem == Problem::TooManyKeys { max: MAX_KEYS })
            .collect();
        assert_eq!(too_many.len(), 1, "{policy:?}: {err}");
        assert!(
            err.errors.len() <= MAX_KEYS + 2,
            "{policy:?}: {} errors",
            err.errors.len()
        );
        assert!(err.to_string().contains("more than 256 keys"));
    }
    // As a `Value` of a million keys.
    let value: Map<String, Value> = (0..1_000_000)
        .map(|i| (format!("k{i}"), Value::from(i)))
        .collect();
    let err = Small::from_json_value(&Value::Object(value)).expect_err("too many keys");
    assert!(err
        .errors
        .iter()
        .any(|e| e.problem == Problem::TooManyKeys { max: MAX_KEYS }));
    assert!(err.errors.len() <= MAX_KEYS + 2);
    // As string pairs: the iterator is not even read to its end.
    let mut pulled = 0usize;
    let pairs = (0..1_000_000).map(|i| {
        pulled += 1;
        (format!("k{i}"), "1".to_owned())
    });
    let err = Small::from_map(pairs).expect_err("too many keys");
    assert!(err
        .errors
        .iter()
        .any(|e| e.problem == Problem::TooManyKeys { max: MAX_KEYS }));
    assert!(pulled <= MAX_KEYS + 1, "read {pulled} pairs");
}

// ----- depth -----

const DEPTH: usize = 100_000;

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let arrays = nested_arrays(DEPTH);
    let objects = nested_objects(DEPTH);
    let read = |doc: &str, policy| {
        runmeta::schema::input::from_json_str::<Small>(doc, policy)
            .map(|(v, _)| v)
            .expect_err("refused")
    };
    // At the top, an array is not an object: refused at its first byte.
    for policy in [UnknownKeys::Deny, UnknownKeys::Keep] {
        let err = read(&arrays, policy);
        assert!(
            matches!(only_problem(&err), Problem::Malformed { message } if message.contains("expected a JSON object")),
            "{err}"
        );
    }
    for (doc, found) in [(&arrays, "array"), (&objects, "object")] {
        for policy in [UnknownKeys::Deny, UnknownKeys::Keep] {
            // As a field's value: skipped without recursion, refused by type.
            let err = read(&format!(r#"{{"ticket_id": {doc}}}"#), policy);
            assert_eq!(
                only_problem(&err),
                &Problem::WrongType {
                    expected: "string".into(),
                    found
                },
                "{err}"
            );
        }
        // As an unknown key's value: skipped without recursion when unknown keys are denied,
        // stopped at serde_json's recursion limit when they are kept.
        let deep = format!(r#"{{"ticket_id": "t", "deep": {doc}}}"#);
        let err = read(&deep, UnknownKeys::Deny);
        assert_eq!(err.for_key("deep"), Some(&Problem::Unknown), "{err}");
        let err = read(&deep, UnknownKeys::Keep);
        assert!(
            matches!(only_problem(&err), Problem::Malformed { message } if message.contains("recursion limit")),
            "{err}"
        );
        // The other parsers of untrusted JSON.
        assert!(matches!(
            RunRecord::from_json_str(doc),
            Err(RecordJsonError::Syntax(m)) if m.contains("recursion limit")
        ));
        assert!(matches!(
            PricingTable::from_json_str(doc),
            Err(PricingError::Syntax(m)) if m.contains("recursion limit")
        ));
        assert!(serde_json::from_str::<Value>(doc).is_err());
    }
    // Deep objects at the top: the first key is unknown, its value skipped.
    let err = read(&objects, UnknownKeys::Deny);
    assert_eq!(err.for_key("a"), Some(&Problem::Unknown), "{err}");
    assert!(read(&objects, UnknownKeys::Keep)
        .to_string()
        .contains("recursion limit"));
}

#[test]
fn deep_toml_pricing_files_are_refused_without_overflowing_the_stack() {
    for doc in [
        format!("a = {}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
        format!("a = {}1{}", "{ b = ".repeat(DEPTH), " }".repeat(DEPTH)),
        format!("[{}]\nx = 1", vec!["a"; DEPTH].join(".")),
        format!("{} = 1", vec!["a"; DEPTH].join(".")),
    ] {
        let err = PricingTable::from_toml_str(&doc).expect_err("refused");
        assert!(!err.to_string().is_empty());
    }
}

/// A run-record JSON line whose metadata declares `n` label keys.
fn record_with_labels(n: usize) -> Value {
    let keys: Vec<Value> = (0..n).map(|i| Value::String(format!("k{i}"))).collect();
    let values: Map<String, Value> = (0..n)
        .map(|i| (format!("k{i}"), Value::String("v".into())))
        .collect();
    serde_json::json!({
        "run_id": "0195508c-6f3a-7c4e-9a43-1f2e3d4c5b6a",
        "agent_name": "imported",
        "created_at": "2024-01-15T14:00:00Z",
        "status": "success",
        "metadata": {"schema": "Imported", "version": 1, "values": values, "labels": keys},
    })
}

#[test]
fn an_imported_record_with_a_flood_of_label_keys_is_refused() {
    // Every label of a run becomes a label of each of its series: 100k label keys would make
    // recording quadratic and each exposition line megabytes long. A schema has at most
    // MAX_KEYS fields, so an import holds no more labels than that.
    let Err(err) = RunRecord::from_json(&record_with_labels(100_000)) else {
        panic!("100k label keys are accepted");
    };
    assert!(
        err.to_string().starts_with("metadata.labels: "),
        "a clear message: {err}"
    );
    let Err(err) = RunRecord::from_json(&record_with_labels(MAX_KEYS + 1)) else {
        panic!("{} label keys are accepted", MAX_KEYS + 1);
    };
    assert!(err.to_string().contains("at most 256"), "{err}");
    let ok = RunRecord::from_json(&record_with_labels(MAX_KEYS)).expect("at the limit");
    // The exporter keeps `max_labels_per_run` of them (default 32) and counts the rest ...
    let exporter = PrometheusExporter::new();
    exporter.record(&ok);
    let text = exporter.render();
    let cap = exporter.config().max_labels_per_run;
    assert!(text.contains(&format!("k{}=\"v\"", cap - 1)));
    assert!(!text.contains(&format!("k{cap}=")));
    assert_eq!(exporter.dropped_labels(), (MAX_KEYS - cap) as u64);
    // ... and all of them when configured to.
    let exporter = PrometheusExporter::with_config(ExporterConfig {
        max_labels_per_run: MAX_KEYS,
        ..ExporterConfig::default()
    });
    exporter.record(&ok);
    let text = exporter.render();
    assert!(text.contains("k255=\"v\""), "every label is exported");
    assert_eq!(exporter.dropped_labels(), 0);
}

// ----- Prometheus label values -----

/// Values that have broken exporters: quotes, backslashes, line breaks, sample injection,
/// control characters, bidi overrides, combining marks, 4-byte characters across the cut.
fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = [
        r#"say "hi""#,
        r"C:\agents\",
        "\\",
        "\\\\\"",
        r"\n (not a newline)",
        "two\nlines",
        "carriage\rreturn",
        "crlf\r\n",
        "tab\there",
        "nul\0byte",
        "bell\u{7}",
        "del\u{7f}",
        "x\"} 1\nagent_run_total{agent=\"evil\"} 1000",
        "x\\\"} 1 # EOF",
        "# EOF",
        "агент-😀",
        "\u{202e}rtl override",
        "e\u{301}\u{301}\u{301}",
        "\u{feff}bom",
        "\u{fffd}",
        "{}=,\"",
        " leading and trailing ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Multi-byte characters straddling the default 256-byte cut.
    v.push(format!("{}😀tail", "a".repeat(254)));
    v.push("é".repeat(200));
    v
}

/// One run carrying `value` in every label the exporter fills from a run.
fn run_with(value: &str) -> RunRecord {
    let mut r = RunRecord::new(
        value.to_owned(),
        "2024-01-15T13:00:00Z".parse().expect("valid"),
    );
    r.release = Some(Arc::from(value));
    r.status = RunStatus::Error;
    r.stop_reason = Cow::Owned(value.to_owned());
    r.error_class = Some(Cow::Owned(value.to_owned()));
    r.duration = Duration::from_millis(120);
    r.metrics.usage = Usage::new(10, 5);
    r.per_model.push(ModelBreakdown {
        model: ModelRef::new("provider", value),
        calls: 1,
        metrics: runmeta::metrics::Metrics::from_usage(Usage::new(10, 5)),
    });
    r.tool_calls.push(ToolCallMetrics {
        name: value.to_owned(),
        started_at: "2024-01-15T13:00:00Z".parse().expect("valid"),
        duration: Duration::from_millis(5),
        status: ToolStatus::Error,
        error_class: Some(value.to_owned()),
    });
    let mut values = Map::new();
    values.insert("tier".into(), Value::String(value.to_owned()));
    r.metadata = Some(MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "imported".into(),
            version: 1,
            values,
            label_keys: vec!["tier".into()],
            ..JsonMetadata::default()
        }),
        errors: None,
    });
    r
}

/// One sample line: metric name, labels (unescaped), value.
type Sample = (String, BTreeMap<String, String>, String);

/// Parses an exposition's sample lines, unescaping label values (`\\`, `\"`, `\n`); panics
/// on anything that is not a comment or a well-formed sample.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name:?} in {line:?}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').unwrap_or_else(|| panic!("label: {line:?}"));
                let label = rest[..eq].to_owned();
                assert!(
                    label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "label name {label:?} in {line:?}"
                );
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("quote: {line:?}"));
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => value.push(c),
                        None => panic!("unterminated value in {line:?}"),
                    }
                };
                rest = &rest[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
                assert!(
                    labels.insert(label, value).is_none(),
                    "duplicate label in {line:?}"
                );
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("value: {line:?}"));
        assert!(
            value
                .split(' ')
                .all(|v| v.parse::<f64>().is_ok() || matches!(v, "+Inf" | "-Inf" | "NaN")),
            "value {value:?} in {line:?}"
        );
        samples.push((name.to_owned(), labels, value.to_owned()));
    }
    samples
}

/// `value` cut to at most `max` bytes on a character boundary, as the exporter does.
fn cut(value: &str, max: usize) -> &str {
    let mut end = value.len().min(max);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// Every label the run fills carries `value` (cut) through both formats.
fn check_round_trip(exporter: &PrometheusExporter, values: &[String]) {
    let max = exporter.config().max_label_value_len;
    for text in [exporter.render(), exporter.render_prometheus_text()] {
        let samples = parse_exposition(&text);
        let runs: Vec<_> = samples
            .iter()
            .filter(|(name, _, _)| name == "agent_run_total")
            .collect();
        for v in values {
            let expected = cut(v, max);
            let run = runs
                .iter()
                .find(|(_, labels, _)| labels.get("agent").map(String::as_str) == Some(expected))
                .unwrap_or_else(|| panic!("no run series for {v:?} in\n{text}"));
            let labels = &run.1;
            assert_eq!(labels.get("release").map(String::as_str), Some(expected));
            assert_eq!(
                labels.get("stop_reason").map(String::as_str),
                Some(expected)
            );
            assert_eq!(labels.get("tier").map(String::as_str), Some(expected));
            assert!(samples
                .iter()
                .any(|(name, labels, _)| name == "agent_token_usage_total"
                    && labels.get("model").map(String::as_str) == Some(expected)));
            assert!(samples
                .iter()
                .any(|(name, labels, _)| name == "agent_tool_call_total"
                    && labels.get("tool").map(String::as_str) == Some(expected)));
        }
        // Nothing was injected.
        assert!(!samples
            .iter()
            .any(|(_, labels, _)| labels.get("agent").map(String::as_str) == Some("evil")));
    }
}

#[test]
fn hostile_label_values_round_trip_through_the_exposition() {
    let values = hostile_values();
    let exporter = PrometheusExporter::new();
    for v in &values {
        exporter.record(&run_with(v));
    }
    check_round_trip(&exporter, &values);
}

#[test]
fn promtool_accepts_hostile_label_values() {
    let Some(promtool) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|p| p.is_file())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "`promtool` is required under CI (Debian package `prometheus`)"
        );
        eprintln!("SKIP: promtool not on PATH");
        return;
    };
    let exporter = PrometheusExporter::new();
    for v in hostile_values() {
        exporter.record(&run_with(&v));
    }
    let text = exporter.render_prometheus_text();
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
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("promtool reads");
    let out = child.wait_with_output().expect("promtool finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // promtool's lint may warn about metric naming; parse errors are what matter here.
    assert!(
        out.status.success(),
        "promtool check metrics: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_label_values_round_trip(values in prop::collection::vec(".{1,40}|\\PC{1,300}|[\\x00-\\x1f\\\\\"\\n]{1,8}", 1..4)) {
        let exporter = PrometheusExporter::new();
        for v in &values {
            exporter.record(&run_with(v));
        }
        check_round_trip(&exporter, &values);
    }
}

// ----- cardinality -----

#[test]
fn a_million_distinct_label_values_stay_within_the_series_cap() {
    let exporter = Arc::new(PrometheusExporter::with_config(ExporterConfig {
        max_series_per_metric: 500,
        ..ExporterConfig::default()
    }));
    let cap = exporter.config().max_series_per_metric;
    const N: u64 = 1_000_000;
    // Two threads at once: one floods the agent label, the other a metadata label (an
    // imported record's free-form labels are arbitrary text).
    let threads: Vec<_> = [false, true]
        .into_iter()
        .map(|by_metadata| {
            let exporter = Arc::clone(&exporter);
            std::thread::spawn(move || {
                let mut run =
                    RunRecord::new("flood", "2024-01-15T13:00:00Z".parse().expect("valid"));
                run.metrics.usage = Usage::new(3, 2);
                for i in 0..N / 2 {
                    if by_metadata {
                        let mut values = Map::new();
                        values.insert("tier".into(), Value::String(format!("v{i}")));
                        run.metadata = Some(MetadataRecord {
                            value: MetadataValue::new(JsonMetadata {
                                values,
                                label_keys: vec!["tier".into()],
                                ..JsonMetadata::default()
                            }),
                            errors: None,
                        });
                    } else {
                        run.agent = Cow::Owned(format!("agent-{i}"));
                    }
                    exporter.record(&run);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("flood completes");
    }
    // The families labelled by agent and metadata labels: one new label set per run until
    // the cap, whose last slot is the overflow series.
    for metric in [
        "agent_run_total",
        "agent_run_duration_seconds",
        "agent_tokens_per_run",
    ] {
        assert_eq!(exporter.series_count(metric), Some(cap), "{metric}");
        let folded = exporter.overflow_count(metric).expect("overflow counted");
        assert_eq!(folded, N - (cap as u64 - 1), "{metric}");
    }
    // Token usage is labelled by agent and model only: the agent flood fills it.
    assert_eq!(exporter.series_count("agent_token_usage_total"), Some(cap));
    assert!(exporter.overflow_count("agent_token_usage_total") > Some(N / 2));
    let text = exporter.render();
    let samples = parse_exposition(&text);
    let runs: Vec<_> = samples
        .iter()
        .filter(|(name, _, _)| name == "agent_run_total")
        .collect();
    assert_eq!(runs.len(), cap);
    let total: f64 = runs
        .iter()
        .map(|(_, _, v)| v.parse::<f64>().unwrap_or(0.0))
        .sum();
    assert_eq!(
        total, N as f64,
        "every run is counted, in a series or the overflow"
    );
    assert!(runs.iter().any(|(_, labels, _)| labels
        .get("agent")
        .is_some_and(|a| a == OVERFLOW_LABEL_VALUE)));
    assert!(
        text.len() < 4 * 1024 * 1024,
        "the exposition stays small: {} bytes",
        text.len()
    );
}
