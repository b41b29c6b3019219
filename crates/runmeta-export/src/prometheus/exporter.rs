//! [`PrometheusExporter`]: turns run records into Prometheus metric families.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use runmeta_core::metrics::{ToolStatus, Usage};
use runmeta_core::run::{RunRecord, RunStatus, Sink};
use runmeta_core::sla::SlaPolicy;

use super::families::Families;
use super::key::LabelKey;
use super::labels::{normalize_error_class, truncate_value, MetaLabels};
use super::render::{self, Format};

/// Limits of a [`PrometheusExporter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExporterConfig {
    /// The most series one metric family holds, the overflow series included (default
    /// 1,000; at least 1). Once a family is full, observations with a new label set are
    /// folded into one series whose labels are all `__overflow__`, and counted in
    /// `runmeta_series_overflow_total{metric="<family>"}`. Existing series keep counting.
    pub max_series_per_metric: usize,
    /// Label values longer than this many bytes are cut (at a character boundary), so a
    /// runaway value cannot grow the exposition without bound (default 256).
    pub max_label_value_len: usize,
    /// The most metadata label pairs one run contributes to its series (default
    /// [`DEFAULT_MAX_LABELS_PER_RUN`], 32; the exporter's own labels such as `agent` and
    /// `status` come on top). The first pairs in the metadata's order are kept; the others
    /// are dropped and counted in `runmeta_metadata_labels_dropped_total`
    /// ([`PrometheusExporter::dropped_labels`]). Recording a run costs at most this many
    /// name comparisons per label pair, whatever the metadata holds (a schema built in code
    /// can declare any number of labels).
    pub max_labels_per_run: usize,
    /// Which runs have an SLA and when they breach it (default: the metadata's
    /// `sla_deadline` and `sla_target_seconds` fields, no other targets).
    pub sla_policy: SlaPolicy,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            max_series_per_metric: 1_000,
            max_label_value_len: 256,
            max_labels_per_run: DEFAULT_MAX_LABELS_PER_RUN,
            sla_policy: SlaPolicy::new(),
        }
    }
}

/// The default of [`ExporterConfig::max_labels_per_run`].
pub const DEFAULT_MAX_LABELS_PER_RUN: usize = 32;

/// The `token_type` values of `agent_token_usage_total`; each counts the [`Usage`] field of
/// the same name with `_tokens` appended (`input` → `input_tokens`, ...).
pub const TOKEN_TYPES: [&str; 7] = [
    "input",
    "output",
    "reasoning",
    "cache_read",
    "cache_write",
    "audio_input",
    "audio_output",
];

fn token_counts(u: &Usage) -> [u64; 7] {
    [
        u.input_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.audio_input_tokens,
        u.audio_output_tokens,
    ]
}

/// The exporter's state shared with the registry's collector.
pub(crate) struct Shared {
    pub(crate) families: Families,
    config: ExporterConfig,
    /// Size of the last rendering, to allocate the next one at once.
    pub(crate) last_render_len: AtomicUsize,
    /// Metadata label pairs dropped by [`ExporterConfig::max_labels_per_run`].
    pub(crate) labels_dropped: AtomicU64,
}

/// A [`Sink`] that keeps Prometheus metrics of every run it receives and renders them in the
/// OpenMetrics or the Prometheus text format (through `prometheus-client`'s encoder).
///
/// Families (labels in braces; `release` only when the run has one, `error_class` only on
/// failures, `<labels>` the metadata's label fields):
///
/// | family | type | labels |
/// |---|---|---|
/// | `agent_run_total` | counter | agent, release, `<labels>`, status, stop_reason, error_class |
/// | `agent_run_duration_seconds` | histogram | agent, release, `<labels>`, status |
/// | `agent_time_to_first_token_seconds` | histogram | agent, release, `<labels>` |
/// | `agent_tokens_per_run` | histogram | agent, release, `<labels>` |
/// | `agent_token_usage_total` | counter | agent, release, model, token_type |
/// | `agent_cost_total` | counter (currency units) | agent, release, model |
/// | `agent_tool_call_total` | counter | agent, tool, status, error_class |
/// | `agent_tool_duration_seconds` | histogram | tool |
/// | `agent_sla_runs_total` | counter | agent, release, `<labels>` |
/// | `agent_sla_breach_total` | counter | agent, release, `<labels>` |
/// | `agent_unpriced_calls_total` | counter | agent, release |
/// | `runmeta_series_overflow_total` | counter | metric |
/// | `runmeta_metadata_labels_dropped_total` | counter | – |
///
/// Duration histograms use the OpenTelemetry GenAI bucket advice
/// ([`GENAI_DURATION_BUCKETS`](super::GENAI_DURATION_BUCKETS)), the tokens histogram
/// [`GENAI_TOKEN_BUCKETS`](super::GENAI_TOKEN_BUCKETS). Usage and cost are each run's own
/// (`RunRecord::metrics`), so summing over runs never counts a child run twice; usage or cost
/// not attributed to a model is exported with `model="unknown"`. A run breaches its SLA when
/// it ended after its deadline or took longer than its target
/// ([`ExporterConfig::sla_policy`]). Ids (run, session) and redacted metadata fields never
/// become labels.
///
/// Recording is lock-free for existing series (a shared read lock and atomics, no
/// allocation for runs without metadata labels or errors) and thread-safe.
pub struct PrometheusExporter {
    shared: Arc<Shared>,
    registry: Registry,
}

impl std::fmt::Debug for PrometheusExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusExporter")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Default for PrometheusExporter {
    fn default() -> Self {
        PrometheusExporter::new()
    }
}

impl PrometheusExporter {
    /// An exporter with the default [`ExporterConfig`].
    #[must_use]
    pub fn new() -> Self {
        PrometheusExporter::with_config(ExporterConfig::default())
    }

    /// An exporter with the given limits.
    #[must_use]
    pub fn with_config(config: ExporterConfig) -> Self {
        let shared = Arc::new(Shared {
            families: Families::new(config.max_series_per_metric),
            config,
            last_render_len: AtomicUsize::new(0),
            labels_dropped: AtomicU64::new(0),
        });
        let mut registry = Registry::default();
        render::register(&shared, &mut registry);
        PrometheusExporter { shared, registry }
    }

    /// The exporter's limits.
    #[must_use]
    pub fn config(&self) -> &ExporterConfig {
        &self.shared.config
    }

    /// Adds this exporter's metrics to another `prometheus-client` registry, so an
    /// application's own metrics and the run metrics share one endpoint.
    pub fn register(&self, registry: &mut Registry) {
        render::register(&self.shared, registry);
    }

    /// Records one finished run (what [`Sink::record`] does).
    pub fn observe(&self, run: &RunRecord) {
        record(&self.shared, run);
    }

    /// The metrics in the OpenMetrics text format, terminated by `# EOF`.
    #[must_use]
    pub fn render(&self) -> String {
        self.render_as(Format::OpenMetrics)
    }

    /// The metrics in the Prometheus text format 0.0.4 (what `promtool check metrics`
    /// reads and clients that do not accept OpenMetrics get).
    #[must_use]
    pub fn render_prometheus_text(&self) -> String {
        self.render_as(Format::PrometheusText)
    }

    /// The metrics in the given format.
    #[must_use]
    pub fn render_as(&self, format: Format) -> String {
        render::render(&self.shared, &self.registry, format)
    }

    /// Number of series of a family, by its exposed name (`agent_run_total`,
    /// `agent_run_duration_seconds`, ...), the overflow series included; `None` for an
    /// unknown name.
    #[must_use]
    pub fn series_count(&self, metric: &str) -> Option<usize> {
        render::families(&self.shared.families)
            .find(|f| f.exposed_name() == metric)
            .map(|f| f.len())
    }

    /// Metadata label pairs dropped so far because a run carried more than
    /// [`ExporterConfig::max_labels_per_run`], or because a pair's name, once sanitized, was
    /// one already kept (`a.b` after `a_b`); also exposed as
    /// `runmeta_metadata_labels_dropped_total`.
    #[must_use]
    pub fn dropped_labels(&self) -> u64 {
        self.shared.labels_dropped.load(Ordering::Relaxed)
    }

    /// Observations folded into the overflow series of a family so far; `None` for an
    /// unknown name.
    #[must_use]
    pub fn overflow_count(&self, metric: &str) -> Option<u64> {
        render::families(&self.shared.families)
            .find(|f| f.exposed_name() == metric)
            .map(|f| f.overflowed())
    }
}

impl Sink for PrometheusExporter {
    fn record(&self, run: &RunRecord) {
        record(&self.shared, run);
    }
}

fn cut(max: usize, value: &str) -> &str {
    truncate_value(value, max)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The error class label of a failed run or tool call.
fn error_class(class: Option<&str>, panicked: bool) -> String {
    match class {
        Some(c) => normalize_error_class(c),
        None if panicked => "panic".to_owned(),
        None => "unknown".to_owned(),
    }
}

fn record(shared: &Shared, run: &RunRecord) {
    let mut labels = LabelKey::reused();
    record_with(shared, run, &mut labels);
    labels.give_back();
}

/// Records `run`, building each series' labels in `labels` (empty when called).
fn record_with(shared: &Shared, run: &RunRecord, labels: &mut LabelKey) {
    let f = &shared.families;
    let max = shared.config.max_label_value_len;

    labels.push("agent", cut(max, &run.agent));
    if let Some(release) = &run.release {
        labels.push("release", cut(max, release));
    }
    let base = labels.mark();
    if let Some(m) = &run.metadata {
        let mut meta = MetaLabels::new(labels, shared.config.max_labels_per_run);
        m.value.for_each_label(&mut |k, v| meta.push(k, v, max));
        if meta.dropped() > 0 {
            shared
                .labels_dropped
                .fetch_add(meta.dropped(), Ordering::Relaxed);
        }
    }
    let common = labels.mark();

    // Run count and duration.
    labels.push("status", run.status.as_str());
    f.run_duration
        .with(labels, |h, b| h.observe(b, nanos(run.duration)));
    labels.push("stop_reason", cut(max, &run.stop_reason));
    if matches!(run.status, RunStatus::Error | RunStatus::Panicked) {
        let class = error_class(
            run.error_class.as_deref(),
            run.status == RunStatus::Panicked,
        );
        labels.push("error_class", &class);
    }
    f.runs.with(labels, |c, ()| c.add(1));
    labels.truncate(common);

    if let Some(ttft) = run.time_to_first_token {
        f.ttft.with(labels, |h, b| h.observe(b, nanos(ttft)));
    }
    let usage = &run.metrics.usage;
    let tokens = if usage.total_tokens > 0 {
        usage.total_tokens
    } else {
        usage.input_tokens.saturating_add(usage.output_tokens)
    };
    f.tokens_per_run.with(labels, |h, b| h.observe(b, tokens));
    let sla = shared.config.sla_policy.evaluate(run);
    if sla.has_sla {
        f.sla_runs.with(labels, |c, ()| c.add(1));
        if sla.breached {
            f.sla_breaches.with(labels, |c, ()| c.add(1));
        }
    }

    // Per-model usage and cost, with what no model claims as `unknown`.
    labels.truncate(base);
    if run.unpriced_messages > 0 {
        f.unpriced
            .with(labels, |c, ()| c.add(u64::from(run.unpriced_messages)));
    }
    let mut unattributed = token_counts(usage);
    let mut unattributed_cost = run.metrics.cost.map(|c| c.as_nanos());
    for model in &run.per_model {
        let counts = token_counts(&model.metrics.usage);
        for (left, n) in unattributed.iter_mut().zip(counts) {
            *left = left.saturating_sub(n);
        }
        let cost = model.metrics.cost.map(|c| c.as_nanos());
        if let (Some(left), Some(n)) = (unattributed_cost.as_mut(), cost) {
            *left = left.saturating_sub(n);
        }
        let id = if model.model.id.is_empty() {
            "unknown"
        } else {
            cut(max, &model.model.id)
        };
        model_series(f, labels, id, &counts, cost);
    }
    model_series(f, labels, "unknown", &unattributed, unattributed_cost);

    // Tool calls.
    let agent = cut(max, &run.agent);
    for call in &run.tool_calls {
        let tool = cut(max, &call.name);
        labels.clear();
        labels.push("agent", agent);
        labels.push("tool", tool);
        labels.push("status", call.status.as_str());
        if matches!(call.status, ToolStatus::Error | ToolStatus::Panicked) {
            let class = error_class(
                call.error_class.as_deref(),
                call.status == ToolStatus::Panicked,
            );
            labels.push("error_class", &class);
        }
        f.tool_calls.with(labels, |c, ()| c.add(1));
        labels.clear();
        labels.push("tool", tool);
        f.tool_duration
            .with(labels, |h, b| h.observe(b, nanos(call.duration)));
    }
}

/// Adds one model's token counts and cost; zero counts create no series.
fn model_series(
    f: &Families,
    labels: &mut LabelKey,
    model: &str,
    counts: &[u64; 7],
    cost_nanos: Option<u64>,
) {
    let base = labels.mark();
    labels.push("model", model);
    let with_model = labels.mark();
    for (token_type, &n) in TOKEN_TYPES.iter().zip(counts) {
        if n > 0 {
            labels.push("token_type", token_type);
            f.token_usage.with(labels, |c, ()| c.add(n));
            labels.truncate(with_model);
        }
    }
    if let Some(nanos) = cost_nanos.filter(|&n| n > 0) {
        f.cost.with(labels, |c, ()| c.add_nanos(nanos));
    }
    labels.truncate(base);
}

#[cfg(test)]
mod tests {
    use super::*;
    use runmeta_core::metrics::{Cost, Metrics, ModelRef, ToolCallMetrics};
    use runmeta_core::run::ModelBreakdown;

    fn run(status: RunStatus) -> RunRecord {
        let mut r = RunRecord::new("a", "2024-01-15T13:00:00Z".parse().unwrap());
        r.status = status;
        r.stop_reason = status.default_stop_reason().into();
        r
    }

    #[test]
    fn zero_usage_creates_no_usage_or_cost_series() {
        let e = PrometheusExporter::new();
        e.observe(&run(RunStatus::Success));
        assert_eq!(e.series_count("agent_token_usage_total"), Some(0));
        assert_eq!(e.series_count("agent_cost_total"), Some(0));
        assert_eq!(e.series_count("agent_tokens_per_run"), Some(1));
        assert_eq!(e.series_count("agent_time_to_first_token_seconds"), Some(0));
        assert!(!e.render().contains("# TYPE agent_token_usage "));
    }

    #[test]
    fn usage_and_cost_no_model_claims_are_unknown() {
        let e = PrometheusExporter::new();
        let mut r = run(RunStatus::Success);
        r.metrics.usage = Usage::new(100, 10);
        r.metrics.cost = Some(Cost::from_nanos(3_000));
        r.per_model.push(ModelBreakdown {
            model: ModelRef {
                id: "m".into(),
                ..ModelRef::default()
            },
            calls: 1,
            metrics: Metrics {
                usage: Usage::new(60, 10),
                cost: Some(Cost::from_nanos(1_000)),
                ..Metrics::default()
            },
        });
        e.observe(&r);
        let text = e.render();
        for line in [
            r#"agent_token_usage_total{agent="a",model="m",token_type="input"} 60"#,
            r#"agent_token_usage_total{agent="a",model="unknown",token_type="input"} 40"#,
            r#"agent_token_usage_total{agent="a",model="m",token_type="output"} 10"#,
            r#"agent_cost_total{agent="a",model="m"} 0.000001"#,
            r#"agent_cost_total{agent="a",model="unknown"} 0.000002"#,
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains(r#"model="unknown",token_type="output""#));
    }

    #[test]
    fn only_failures_carry_an_error_class() {
        let e = PrometheusExporter::new();
        e.observe(&run(RunStatus::Cancelled));
        e.observe(&run(RunStatus::Panicked));
        let mut failed = run(RunStatus::Error);
        failed.error_class = Some("Some Odd::ClassName".into());
        failed.tool_calls = vec![
            ToolCallMetrics {
                name: "t".into(),
                started_at: failed.started_at,
                duration: Duration::from_millis(3),
                status: ToolStatus::Panicked,
                error_class: None,
            },
            ToolCallMetrics {
                name: "t".into(),
                started_at: failed.started_at,
                duration: Duration::from_millis(3),
                status: ToolStatus::Cancelled,
                error_class: Some("ignored".into()),
            },
        ];
        e.observe(&failed);
        let text = e.render();
        for line in [
            r#"agent_run_total{agent="a",status="cancelled",stop_reason="cancelled"} 1"#,
            r#"agent_run_total{agent="a",status="panicked",stop_reason="panicked",error_class="panic"} 1"#,
            r#"agent_run_total{agent="a",status="error",stop_reason="error",error_class="class_name"} 1"#,
            r#"agent_tool_call_total{agent="a",tool="t",status="panicked",error_class="panic"} 1"#,
            r#"agent_tool_call_total{agent="a",tool="t",status="cancelled"} 1"#,
            r#"agent_tool_duration_seconds_count{tool="t"} 2"#,
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let e = PrometheusExporter::new();
        let mut r = run(RunStatus::Success);
        r.duration = Duration::MAX;
        r.time_to_first_token = Some(Duration::MAX);
        r.metrics.usage = Usage::new(u64::MAX, u64::MAX);
        e.observe(&r);
        e.observe(&r);
        let text = e.render();
        assert!(text.contains(
            r#"agent_run_duration_seconds_bucket{le="+Inf",agent="a",status="success"} 2"#
        ));
        assert!(text.contains(r#"agent_token_usage_total{agent="a",model="unknown",token_type="input"} 18446744073709551615"#));
    }
}
