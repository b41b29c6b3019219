//! Privacy: the value of a `#[run_metadata(redact)]` field never leaves the process. A marker
//! value is run through validation (valid and invalid, for redacted string, enum and integer
//! fields), tracked runs, the aggregator, the Prometheus exporter and (with the `tracing`
//! feature) the `tracing` spans; every output is searched for it.
#![allow(missing_docs)]

use std::sync::{Arc, OnceLock};

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy};
use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::{RunRecord, RunStatus};
use runmeta::schema::{input, MetadataErrors, UnknownKeys};
use runmeta_export::prometheus::PrometheusExporter;

const MARKER: &str = "SECRET-MARKER-7f3a";
/// An out-of-range value of the redacted integer field.
const NUMBER_MARKER: &str = "987654321";

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Clearance {
    Public,
    Internal,
}

#[derive(Clone, RunMetadata)]
struct PrivateRun {
    ticket_id: String,
    #[run_metadata(label)]
    priority: Priority,
    #[run_metadata(redact)]
    customer_email: String,
    #[run_metadata(redact)]
    note: Option<String>,
    #[run_metadata(redact)]
    clearance: Clearance,
    #[run_metadata(redact, range = 1..=9999)]
    pin: u32,
    #[run_metadata(redact, sla_deadline)]
    private_deadline: Option<Deadline>,
}

struct Env {
    memory: Arc<InMemorySink>,
    aggregate: Arc<AggregatorSink>,
    exporter: Arc<PrometheusExporter>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        #[cfg(feature = "tracing")]
        capture::install();
        let memory = Arc::new(InMemorySink::new(10_000));
        let aggregate = Arc::new(AggregatorSink::new(AggregatorConfig::new(
            GroupBy::parse("agent,priority,clearance,customer_email").expect("valid dimensions"),
        )));
        let exporter = Arc::new(PrometheusExporter::new());
        Collector::builder()
            .release("privacy")
            .sink(Arc::clone(&memory))
            .sink(Arc::clone(&aggregate))
            .sink(Arc::clone(&exporter))
            .build()
            .install()
            .expect("one collector per test binary");
        Env {
            memory,
            aggregate,
            exporter,
        }
    })
}

/// Panics with the output's name if the marker (or the numeric marker) is in it.
fn assert_clean(what: &str, output: &str) {
    assert!(
        !output.contains(MARKER) && !output.contains(NUMBER_MARKER),
        "the redacted value leaks through {what}:\n{output}"
    );
}

fn valid_doc() -> String {
    format!(
        r#"{{"ticket_id": "T-1", "priority": "high", "customer_email": "{MARKER}",
            "note": "{MARKER} again", "clearance": "internal", "pin": 4242,
            "private_deadline": "2031-01-01T00:00:00Z"}}"#
    )
}

/// Invalid documents whose problems are in the redacted fields, with the marker as the value.
fn invalid_docs() -> Vec<String> {
    vec![
        // Enum value not allowed; integer out of range.
        format!(
            r#"{{"ticket_id": "T-2", "priority": "low", "customer_email": "{MARKER}",
                "clearance": "{MARKER}", "pin": {NUMBER_MARKER}}}"#
        ),
        // Wrong types.
        format!(
            r#"{{"ticket_id": "T-3", "priority": "low", "customer_email": ["{MARKER}"],
                "clearance": {NUMBER_MARKER}, "pin": "{MARKER}", "note": {{"x": "{MARKER}"}}}}"#
        ),
        // A deadline that is not one.
        format!(
            r#"{{"ticket_id": "T-4", "priority": "low", "customer_email": "a",
                "clearance": "public", "pin": 1, "private_deadline": "{MARKER}"}}"#
        ),
        format!(
            r#"{{"ticket_id": "T-4b", "priority": "low", "customer_email": "a",
                "clearance": "public", "pin": 1, "private_deadline": "2024-02-30T00:00:00Z{MARKER}"}}"#
        ),
        // Too long.
        format!(
            r#"{{"ticket_id": "T-5", "priority": "low", "customer_email": "{}",
                "clearance": "public", "pin": 1}}"#,
            MARKER.repeat(500)
        ),
        // Duplicated.
        format!(
            r#"{{"ticket_id": "T-6", "priority": "low", "customer_email": "{MARKER}",
                "customer_email": "{MARKER}", "clearance": "public", "pin": 1}}"#
        ),
        // Malformed JSON around the marker.
        format!(r#"{{"customer_email": "{MARKER}",, "pin": 1}}"#),
        format!(r#"{{"customer_email": "{MARKER}\q"}}"#),
        format!(r#"{{"customer_email": "{MARKER}""#),
        format!(r#"{{"customer_email": {MARKER}}}"#),
        format!(r#"["{MARKER}"]"#),
    ]
}

fn check_errors(what: &str, err: &MetadataErrors) {
    assert!(!err.errors.is_empty());
    assert_clean(&format!("{what}: Display"), &err.to_string());
    assert_clean(&format!("{what}: Debug"), &format!("{err:?}"));
    assert_clean(&format!("{what}: JSON"), &err.to_json().to_string());
    for e in &err.errors {
        assert_clean(&format!("{what}: problem Display"), &e.problem.to_string());
    }
}

#[test]
fn validation_outputs_never_contain_the_redacted_value() {
    env();
    let valid = PrivateRun::from_json_str(&valid_doc()).expect("valid document");
    assert_eq!(valid.customer_email, MARKER, "the value itself is kept");
    assert_clean("Debug of the schema", &format!("{valid:?}"));
    assert_clean("pretty Debug of the schema", &format!("{valid:#?}"));
    assert_clean(
        "to_json of the schema",
        &serde_json::Value::Object(valid.to_json()).to_string(),
    );
    assert_clean(
        "labels",
        &format!("{:?}", valid.labels().collect::<Vec<_>>()),
    );
    assert_clean("JSON schema", &PrivateRun::json_schema().to_string());

    for doc in invalid_docs() {
        let err = PrivateRun::from_json_str(&doc).expect_err("invalid document");
        check_errors("from_json_str", &err);
        let kept = input::from_json_str::<PrivateRun>(&doc, UnknownKeys::Keep)
            .expect_err("invalid document");
        check_errors("from_json_str (keep unknown keys)", &kept);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&doc) {
            // (A duplicated key is gone once parsed into a `Value`: that one is valid.)
            match PrivateRun::from_json_value(&value) {
                Ok(v) => assert_clean("Debug of a value", &format!("{v:?}")),
                Err(err) => check_errors("from_json_value", &err),
            }
        }
    }

    // String pairs (a form, a CLI): values are read by each field's type.
    for (key, value) in [
        ("pin", MARKER),
        ("pin", NUMBER_MARKER),
        ("clearance", MARKER),
        ("private_deadline", MARKER),
    ] {
        let pairs = [
            ("ticket_id", "T-7"),
            ("priority", "low"),
            ("customer_email", MARKER),
            ("clearance", "public"),
            ("pin", "1"),
        ];
        let pairs = pairs
            .into_iter()
            .filter(|(k, _)| *k != key)
            .chain([(key, value)]);
        let err = PrivateRun::from_map(pairs).expect_err("invalid pair");
        check_errors(&format!("from_map {key}"), &err);
    }

    // Typed validation of a value built in code.
    let mut bad = valid.clone();
    bad.pin = NUMBER_MARKER.parse().expect("a number");
    let err = bad.validate().expect_err("out of range");
    check_errors("validate", &err);
}

#[track_run(agent = "privacy_agent", metadata = meta, session = "privacy-session")]
fn private_agent(meta: &PrivateRun) -> Result<usize, std::fmt::Error> {
    runmeta::record_usage(Usage::new(11, 7));
    let n = runmeta::tool("lookup", || meta.ticket_id.len());
    Ok(n)
}

#[track_run(agent = "privacy_agent_async", metadata = meta)]
async fn private_agent_async(meta: PrivateRun) -> usize {
    tokio::task::yield_now().await;
    runmeta::record_usage(Usage::new(3, 2));
    meta.note.map_or(0, |n| n.len())
}

#[test]
fn run_outputs_never_contain_the_redacted_value() {
    let e = env();
    let valid = PrivateRun::from_json_str(&valid_doc()).expect("valid document");
    assert_eq!(private_agent(&valid), Ok(3));
    // Invalid typed metadata: the run is recorded with the errors.
    let mut invalid = valid.clone();
    invalid.pin = NUMBER_MARKER.parse().expect("a number");
    assert_eq!(private_agent(&invalid), Ok(3));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(private_agent_async(valid.clone())) > MARKER.len());

    let runs: Vec<RunRecord> = e.memory.filter(|r| r.agent.starts_with("privacy_agent"));
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == RunStatus::Success));
    let with_errors = runs
        .iter()
        .filter_map(|r| r.metadata.as_ref()?.errors.clone())
        .collect::<Vec<_>>();
    assert_eq!(with_errors.len(), 1, "the invalid run carries its errors");
    check_errors("recorded errors", &with_errors[0]);

    for run in &runs {
        assert_clean("Debug of the run record", &format!("{run:?}"));
        assert_clean("pretty Debug of the run record", &format!("{run:#?}"));
        let json = run.to_json();
        assert_clean("RunRecord::to_json (Agno JSON)", &json.to_string());
        assert_clean(
            "serde of the run record",
            &serde_json::to_string(run).expect("serializes"),
        );
        let meta = run.metadata.as_ref().expect("metadata kept");
        assert_clean("MetadataRecord::to_json", &meta.to_json().to_string());
        assert_clean("Debug of the metadata record", &format!("{meta:?}"));
        assert_clean(
            "DynMetadata::to_json",
            &serde_json::Value::Object(meta.value.to_json()).to_string(),
        );
        let mut labels = String::new();
        meta.value
            .for_each_label(&mut |k, v| labels.push_str(&format!("{k}={v},")));
        assert_clean("labels of the record", &labels);
        assert_eq!(run.label("customer_email"), None);
        assert_eq!(run.label("clearance"), None);
        // Imported back (a JSONL line), the values stay masked.
        let back = RunRecord::from_json(&json).expect("reads back");
        assert_clean("re-imported record", &format!("{back:?}"));
    }

    // Rollups built from the records.
    assert_clean(
        "session rollup",
        &e.memory.session("privacy-session").to_json().to_string(),
    );
    if let Some(team) = e.memory.team(runs[0].run_id) {
        assert_clean("team rollup", &team.to_json().to_string());
    }

    // The aggregator, asked to group by the redacted fields, never sees their values.
    let report = e.aggregate.report();
    assert_clean("aggregator report", &format!("{report:?}"));
    assert_clean(
        "aggregator report JSON",
        &serde_json::to_string(&report).expect("serializes"),
    );
    assert_clean(
        "aggregator snapshot",
        &format!("{:?}", e.aggregate.snapshot()),
    );

    // The Prometheus exposition, in both formats.
    let text = e.exporter.render();
    assert!(text.contains("privacy_agent"), "the runs are exported");
    assert_clean("OpenMetrics exposition", &text);
    assert_clean(
        "Prometheus text exposition",
        &e.exporter.render_prometheus_text(),
    );

    #[cfg(feature = "tracing")]
    {
        let spans = capture::text();
        assert!(
            spans.contains("invoke_agent privacy_agent"),
            "spans are captured: {spans}"
        );
        assert!(spans.contains("priority=high"), "labels reach the span");
        assert_clean("tracing spans", &spans);
    }
}

/// A `tracing` layer that writes every span's and event's fields into one string.
#[cfg(feature = "tracing")]
mod capture {
    use std::fmt::Write as _;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    use std::sync::{Mutex, PoisonError};

    static TEXT: Mutex<String> = Mutex::new(String::new());

    pub fn text() -> String {
        TEXT.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    struct Writer<'a>(&'a mut String);

    impl Visit for Writer<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    struct Capture;

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            let mut text = TEXT.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = write!(text, "span {}:", attrs.metadata().name());
            attrs.record(&mut Writer(&mut text));
            text.push('\n');
        }
        fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
            let mut text = TEXT.lock().unwrap_or_else(PoisonError::into_inner);
            text.push_str("record:");
            values.record(&mut Writer(&mut text));
            text.push('\n');
        }
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            let mut text = TEXT.lock().unwrap_or_else(PoisonError::into_inner);
            text.push_str("event:");
            event.record(&mut Writer(&mut text));
            text.push('\n');
        }
    }

    pub fn install() {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("one subscriber per test binary");
    }
}
