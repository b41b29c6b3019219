//! `PrometheusExporter` beside `prometheus-client` used directly (the way an application
//! instruments itself: `Family<Vec<(String, String)>, _>::get_or_create`), on the same data:
//!
//! - `observe`: cost of recording one run record (a mix of agents, statuses, metadata labels,
//!   two models, two tool calls), series already present;
//! - `render`: rendering the same ~1,000 series as OpenMetrics text (bytes per iteration are
//!   reported as throughput; the sizes are printed once).
//!
//! Run: `cargo bench -p runmeta-export --bench render`

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use runmeta_core::metrics::{Cost, Metrics, ModelRef, ToolCallMetrics, ToolStatus, Usage};
use runmeta_core::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, RunStatus};
use runmeta_core::schema::JsonMetadata;
use runmeta_export::prometheus::{
    normalize_error_class, PrometheusExporter, GENAI_DURATION_BUCKETS, GENAI_TOKEN_BUCKETS,
    TOKEN_TYPES,
};

fn main() {
    print_sizes();
    divan::main();
}

// ---------------------------------------------------------------------------------------------
// The data.

fn metadata(priority: &str, tier: &str) -> MetadataRecord {
    let mut values = serde_json::Map::new();
    values.insert("priority".into(), priority.into());
    values.insert("customer_tier".into(), tier.into());
    values.insert("customer_id".into(), "[redacted]".into());
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "support_run".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into(), "customer_tier".into()],
            sla_deadline_key: None,
            sla_target_key: Some("sla_target_seconds".into()),
        }),
        errors: None,
    }
}

fn breakdown(id: &str, usage: Usage, cost: u64) -> ModelBreakdown {
    ModelBreakdown {
        model: ModelRef {
            provider: "openai".into(),
            id: id.into(),
            ..ModelRef::default()
        },
        calls: 1,
        metrics: Metrics {
            usage,
            cost: Some(Cost::from_nanos(cost)),
            ..Metrics::default()
        },
    }
}

/// `n` varied run records: 7 agents × 4 statuses × 4 priorities × 3 tiers (336 runs cover
/// every combination), 3 + 1 models, 6 tools.
fn records(n: usize) -> Vec<RunRecord> {
    (0..n)
        .map(|i| {
            let status = [
                RunStatus::Success,
                RunStatus::Panicked,
                RunStatus::Error,
                RunStatus::Cancelled,
            ][(i / 7) % 4];
            let mut r = RunRecord::new(
                format!("agent-{}", i % 7),
                "2024-01-15T13:00:00Z".parse().expect("timestamp"),
            );
            r.release = Some(Arc::from("2024.01.2"));
            r.status = status;
            r.stop_reason = status.default_stop_reason().into();
            r.error_class = match status {
                RunStatus::Error => Some("my_app::TimeoutError".into()),
                RunStatus::Panicked => Some("panic".into()),
                _ => None,
            };
            r.duration = Duration::from_millis(50 + (i as u64 * 37) % 5_000);
            r.time_to_first_token = Some(Duration::from_millis(20 + (i as u64 * 13) % 900));
            let mut usage = Usage::new(1_000 + i as u64, 200);
            usage.cache_read_tokens = 300;
            let models = vec![
                breakdown(["gpt-4o", "gpt-4o-mini", "o3"][i % 3], usage, 1_000_000),
                breakdown("text-embedding-3-small", Usage::new(64, 0), 1_000),
            ];
            r.metrics.usage = models[0].metrics.usage + models[1].metrics.usage;
            r.metrics.cost = Some(Cost::from_nanos(1_001_000));
            r.per_model = models;
            r.metadata = Some(metadata(
                ["low", "medium", "high", "critical"][(i / 28) % 4],
                ["free", "pro", "enterprise"][(i / 112) % 3],
            ));
            r.tool_calls = (0..2)
                .map(|t| ToolCallMetrics {
                    name: format!("tool-{}", (i + t) % 6),
                    started_at: r.started_at,
                    duration: Duration::from_millis(5 + (i as u64 * 7) % 400),
                    status: if (i + t) % 9 == 0 {
                        ToolStatus::Error
                    } else {
                        ToolStatus::Success
                    },
                    error_class: ((i + t) % 9 == 0).then(|| "crm::TimeoutError".to_owned()),
                })
                .collect();
            r
        })
        .collect()
}

/// Records whose metrics make about 1,000 series in total (printed by `print_sizes`).
const SERIES_RECORDS: usize = 336;

// ---------------------------------------------------------------------------------------------
// The peer: prometheus-client used directly, same families, same label sets.

type Labels = Vec<(String, String)>;
type Hist = Family<Labels, Histogram, fn() -> Histogram>;

struct Direct {
    registry: Registry,
    runs: Family<Labels, Counter>,
    duration: Hist,
    ttft: Hist,
    tokens: Hist,
    usage: Family<Labels, Counter>,
    cost: Family<Labels, Counter<f64, AtomicU64>>,
    tools: Family<Labels, Counter>,
    tool_duration: Hist,
}

fn seconds() -> Histogram {
    Histogram::new(GENAI_DURATION_BUCKETS)
}
fn tokens() -> Histogram {
    Histogram::new(GENAI_TOKEN_BUCKETS)
}

impl Direct {
    fn new() -> Self {
        let d = Direct {
            registry: Registry::default(),
            runs: Family::default(),
            duration: Family::new_with_constructor(seconds),
            ttft: Family::new_with_constructor(seconds),
            tokens: Family::new_with_constructor(tokens),
            usage: Family::default(),
            cost: Family::default(),
            tools: Family::default(),
            tool_duration: Family::new_with_constructor(seconds),
        };
        let mut registry = Registry::default();
        registry.register("agent_run", "Runs", d.runs.clone());
        registry.register_with_unit(
            "agent_run_duration",
            "Durations",
            Unit::Seconds,
            d.duration.clone(),
        );
        registry.register_with_unit(
            "agent_time_to_first_token",
            "TTFT",
            Unit::Seconds,
            d.ttft.clone(),
        );
        registry.register("agent_tokens_per_run", "Tokens", d.tokens.clone());
        registry.register("agent_token_usage", "Usage", d.usage.clone());
        registry.register("agent_cost", "Cost", d.cost.clone());
        registry.register("agent_tool_call", "Tools", d.tools.clone());
        registry.register_with_unit(
            "agent_tool_duration",
            "Tool durations",
            Unit::Seconds,
            d.tool_duration.clone(),
        );
        Direct { registry, ..d }
    }

    fn observe(&self, r: &RunRecord) {
        let mut common: Labels = vec![("agent".into(), r.agent.to_string())];
        if let Some(release) = &r.release {
            common.push(("release".into(), release.to_string()));
        }
        let base = common.len();
        if let Some(m) = &r.metadata {
            m.value
                .for_each_label(&mut |k, v| common.push((k.to_owned(), v.to_owned())));
        }
        let mut l = common.clone();
        l.push(("status".into(), r.status.as_str().into()));
        self.duration
            .get_or_create(&l)
            .observe(r.duration.as_secs_f64());
        l.push(("stop_reason".into(), r.stop_reason.to_string()));
        if let Some(class) = &r.error_class {
            l.push(("error_class".into(), normalize_error_class(class)));
        }
        self.runs.get_or_create(&l).inc();
        if let Some(t) = r.time_to_first_token {
            self.ttft.get_or_create(&common).observe(t.as_secs_f64());
        }
        #[allow(clippy::cast_precision_loss)]
        self.tokens
            .get_or_create(&common)
            .observe(r.metrics.usage.total_tokens as f64);
        common.truncate(base);
        for m in &r.per_model {
            let u = &m.metrics.usage;
            let counts = [
                u.input_tokens,
                u.output_tokens,
                u.reasoning_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.audio_input_tokens,
                u.audio_output_tokens,
            ];
            let mut l = common.clone();
            l.push(("model".into(), m.model.id.clone()));
            for (t, n) in TOKEN_TYPES.iter().zip(counts) {
                if n > 0 {
                    let mut lt = l.clone();
                    lt.push(("token_type".into(), (*t).to_owned()));
                    self.usage.get_or_create(&lt).inc_by(n);
                }
            }
            if let Some(c) = m.metrics.cost {
                self.cost.get_or_create(&l).inc_by(c.as_f64());
            }
        }
        for call in &r.tool_calls {
            let mut l: Labels = vec![
                ("agent".into(), r.agent.to_string()),
                ("tool".into(), call.name.clone()),
                ("status".into(), call.status.as_str().into()),
            ];
            if let Some(class) = &call.error_class {
                l.push(("error_class".into(), normalize_error_class(class)));
            }
            self.tools.get_or_create(&l).inc();
            self.tool_duration
                .get_or_create(&vec![("tool".to_owned(), call.name.clone())])
                .observe(call.duration.as_secs_f64());
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("encoding into a String");
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

fn filled_exporter() -> PrometheusExporter {
    let e = PrometheusExporter::new();
    for r in records(SERIES_RECORDS) {
        e.observe(&r);
    }
    e
}

fn filled_direct() -> Direct {
    let d = Direct::new();
    for r in records(SERIES_RECORDS) {
        d.observe(&r);
    }
    d
}

fn print_sizes() {
    let e = filled_exporter();
    let series: usize = [
        "agent_run_total",
        "agent_run_duration_seconds",
        "agent_time_to_first_token_seconds",
        "agent_tokens_per_run",
        "agent_token_usage_total",
        "agent_cost_total",
        "agent_tool_call_total",
        "agent_tool_duration_seconds",
        "agent_sla_runs_total",
        "agent_sla_breach_total",
        "agent_unpriced_calls_total",
    ]
    .iter()
    .filter_map(|m| e.series_count(m))
    .sum();
    let ours = e.render();
    let direct = filled_direct().render();
    eprintln!(
        "series: {series}; OpenMetrics bytes: runmeta {} ({} lines), prometheus-client direct {} ({} lines)",
        ours.len(),
        ours.lines().count(),
        direct.len(),
        direct.lines().count()
    );
}

/// Recording one run (series already present).
#[divan::bench_group(sample_count = 200, sample_size = 200)]
mod observe {
    use super::*;

    #[divan::bench]
    fn runmeta_exporter(bencher: Bencher) {
        let e = filled_exporter();
        let recs = records(SERIES_RECORDS);
        let mut i = 0;
        bencher.bench_local(|| {
            e.observe(black_box(&recs[i % recs.len()]));
            i += 1;
        });
    }

    #[divan::bench]
    fn prometheus_client_direct(bencher: Bencher) {
        let d = filled_direct();
        let recs = records(SERIES_RECORDS);
        let mut i = 0;
        bencher.bench_local(|| {
            d.observe(black_box(&recs[i % recs.len()]));
            i += 1;
        });
    }
}

/// Rendering the same ~1,000 series as OpenMetrics text.
#[divan::bench_group(sample_count = 100, sample_size = 5)]
mod render {
    use super::*;

    #[divan::bench]
    fn runmeta_exporter(bencher: Bencher) {
        let e = filled_exporter();
        let bytes = e.render().len();
        bencher
            .counter(BytesCount::new(bytes))
            .bench_local(|| black_box(e.render()));
    }

    #[divan::bench]
    fn runmeta_exporter_prometheus_text(bencher: Bencher) {
        let e = filled_exporter();
        let bytes = e.render_prometheus_text().len();
        bencher
            .counter(BytesCount::new(bytes))
            .bench_local(|| black_box(e.render_prometheus_text()));
    }

    #[divan::bench]
    fn prometheus_client_direct(bencher: Bencher) {
        let d = filled_direct();
        let bytes = d.render().len();
        bencher
            .counter(BytesCount::new(bytes))
            .bench_local(|| black_box(d.render()));
    }
}
