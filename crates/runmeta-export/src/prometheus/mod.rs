//! Prometheus / OpenMetrics exposition of run records.
//!
//! [`PrometheusExporter`] is a [`Sink`](runmeta_core::run::Sink): give it to the collector
//! (or call [`PrometheusExporter::observe`]) and it keeps counters and histograms of every
//! finished run, segmented by low-cardinality labels only. [`PrometheusExporter::render`]
//! writes them as OpenMetrics text through `prometheus-client`'s encoder, and
//! `serve` (feature `http`) answers `/metrics` scrapes.
//!
//! Cardinality stays bounded: ids never become labels, redacted metadata fields are never
//! labels, error classes are normalized ([`normalize_error_class`]), label values are cut at
//! [`ExporterConfig::max_label_value_len`] bytes, and each family holds at most
//! [`ExporterConfig::max_series_per_metric`] series; past that, new label sets are folded
//! into one `__overflow__` series and counted in `runmeta_series_overflow_total{metric}`.
//! A run contributes at most [`ExporterConfig::max_labels_per_run`] metadata labels (default
//! 32); the rest are dropped and counted in `runmeta_metadata_labels_dropped_total`.

mod buckets;
mod exporter;
mod families;
mod family;
#[cfg(feature = "http")]
mod http;
mod key;
mod labels;
mod render;

pub use buckets::{GENAI_DURATION_BUCKETS, GENAI_TOKEN_BUCKETS};
pub use exporter::{ExporterConfig, PrometheusExporter, DEFAULT_MAX_LABELS_PER_RUN, TOKEN_TYPES};
#[cfg(feature = "http")]
pub use http::{serve, MetricsServer};
pub use labels::{
    normalize_error_class, sanitize_label_name, MAX_ERROR_CLASS_LEN, MAX_LABEL_NAME_LEN,
    OVERFLOW_LABEL_VALUE, RESERVED_LABEL_NAMES,
};
pub use render::Format;
