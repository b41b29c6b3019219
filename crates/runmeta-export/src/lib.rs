//! Exporters of runmeta run records.
//!
//! The [`prometheus`] module turns every finished run into Prometheus metrics: run counts by
//! status and stop reason, latency and time-to-first-token histograms, token usage and cost
//! by model, tool calls, SLA breaches, all segmented by agent, release and the `label`
//! fields of the run's metadata, and renders them as OpenMetrics text (or the Prometheus text
//! format) that `promtool check metrics` accepts and Prometheus scrapes. With the `http`
//! feature, `prometheus::serve` answers `/metrics`.
//!
//! ```
//! use std::time::Duration;
//! use runmeta_core::metrics::{Cost, ModelRef, Usage};
//! use runmeta_core::run::{ModelBreakdown, RunRecord, RunStatus, Sink};
//! use runmeta_export::prometheus::PrometheusExporter;
//!
//! let exporter = PrometheusExporter::new();
//!
//! // The collector calls `record` with every finished run; here one is built by hand.
//! let mut run = RunRecord::new("support", "2024-01-15T13:00:00Z".parse().unwrap());
//! run.release = Some("2024.01.2".into());
//! run.duration = Duration::from_millis(1_800);
//! run.time_to_first_token = Some(Duration::from_millis(350));
//! run.metrics.usage = Usage::new(1_200, 300);
//! run.metrics.cost = Some(Cost::from_nanos(4_500_000));
//! run.per_model.push(ModelBreakdown {
//!     model: ModelRef { provider: "openai".into(), id: "gpt-4o-mini".into(), ..Default::default() },
//!     calls: 2,
//!     metrics: run.metrics.clone(),
//! });
//! exporter.record(&run);
//!
//! let mut failed = RunRecord::new("support", "2024-01-15T13:05:00Z".parse().unwrap());
//! failed.status = RunStatus::Error;
//! failed.stop_reason = "tool_error".into();
//! failed.error_class = Some("search::TimeoutError".into());
//! exporter.record(&failed);
//!
//! let text = exporter.render(); // OpenMetrics, ends with "# EOF"
//! assert!(text.contains(
//!     r#"agent_run_total{agent="support",release="2024.01.2",status="success",stop_reason="completed"} 1"#
//! ));
//! assert!(text.contains(
//!     r#"agent_run_total{agent="support",status="error",stop_reason="tool_error",error_class="timeout_error"} 1"#
//! ));
//! assert!(text.contains(
//!     r#"agent_token_usage_total{agent="support",release="2024.01.2",model="gpt-4o-mini",token_type="input"} 1200"#
//! ));
//! assert!(text.contains(r#"agent_cost_total{agent="support",release="2024.01.2",model="gpt-4o-mini"} 0.0045"#));
//! assert!(text.contains(r#"agent_run_duration_seconds_bucket{le="2.56",agent="support",release="2024.01.2",status="success"} 1"#));
//! assert!(text.ends_with("# EOF\n"));
//! ```
//!
//! Serving it (feature `http`):
//!
//! ```no_run
//! # #[cfg(feature = "http")]
//! # fn main() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use runmeta_export::prometheus::{serve, PrometheusExporter};
//!
//! let exporter = Arc::new(PrometheusExporter::new());
//! // Register `Arc::clone(&exporter)` as a sink with the collector, then:
//! let server = serve(Arc::clone(&exporter), "127.0.0.1:9464")?;
//! // ... Prometheus scrapes http://127.0.0.1:9464/metrics ...
//! server.stop();
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "http"))]
//! # fn main() {}
//! ```
//!
//! An application that already has a `prometheus-client` registry adds the run metrics to it
//! with [`PrometheusExporter::register`](prometheus::PrometheusExporter::register) and serves
//! them from its own endpoint; [`Format::negotiate`](prometheus::Format::negotiate) picks the
//! format from a request's `Accept` header.
//!
//! # Metrics
//!
//! The families and their labels are listed on
//! [`PrometheusExporter`](prometheus::PrometheusExporter). Typical queries:
//!
//! | question | PromQL |
//! |---|---|
//! | p95 latency per agent | `histogram_quantile(0.95, sum by (agent, le) (rate(agent_run_duration_seconds_bucket[5m])))` |
//! | success rate | `sum(rate(agent_run_total{status="success"}[5m])) / sum(rate(agent_run_total[5m]))` |
//! | stop-reason distribution | `sum by (stop_reason) (increase(agent_run_total[1h]))` |
//! | tokens per run (mean) | `sum(rate(agent_tokens_per_run_sum[5m])) / sum(rate(agent_tokens_per_run_count[5m]))` |
//! | cost per run | `sum(rate(agent_cost_total[5m])) / sum(rate(agent_run_total[5m]))` |
//! | tool error rate | `sum by (tool) (rate(agent_tool_call_total{status!="success"}[5m])) / sum by (tool) (rate(agent_tool_call_total[5m]))` |
//! | SLA breach rate | `sum(rate(agent_sla_breach_total[1h])) / sum(rate(agent_sla_runs_total[1h]))` |
//!
//! # Cardinality
//!
//! Only low-cardinality values become labels: agent, release, model, tool, status, stop
//! reason, the normalized error class, and the metadata fields declared
//! `#[run_metadata(label)]` (enums and bools; redacted fields never). Run and session ids
//! never do. As a last line of defence each family holds at most
//! [`ExporterConfig::max_series_per_metric`](prometheus::ExporterConfig::max_series_per_metric)
//! series (default 1,000): past it, new label sets land in one series whose labels are all
//! `__overflow__`, and `runmeta_series_overflow_total{metric="..."}` counts them, so a
//! runaway label is visible on a dashboard instead of exhausting the metrics backend. A run
//! contributes at most
//! [`ExporterConfig::max_labels_per_run`](prometheus::ExporterConfig::max_labels_per_run)
//! metadata labels (default 32, for schemas built in code with any number of labels); the
//! rest are dropped and counted in `runmeta_metadata_labels_dropped_total`.
//!
//! # Cost of recording
//!
//! [`Sink::record`](runmeta_core::run::Sink::record) runs on the agent's thread. Existing
//! series are found under a shared read lock with a hash of the borrowed label strings (no
//! allocation), and updated with relaxed atomics; only a new label set takes a write lock.
//! Histograms observe integers (nanoseconds, tokens) against integer bucket bounds, so sums
//! are exact and never wrap (they saturate). The benchmark `benches/render.rs` compares
//! recording and rendering with `prometheus-client` used directly on the same data.
//!
//! # Features
//!
//! - `http`: `prometheus::serve`, a `/metrics` endpoint on a background thread, built on
//!   `tiny_http` (synchronous, no async runtime, four small dependencies: it adds seconds to
//!   a build, where hyper or axum would add a runtime and a minute). Scrapes are answered
//!   one at a time, which suits a scraper calling every few seconds.

pub mod prometheus;
