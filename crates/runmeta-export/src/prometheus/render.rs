//! Rendering through `prometheus-client`'s text encoder, and the Prometheus text variant.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::exporter::Shared;
use super::families::Families;
use super::family::{Family, SeriesValue};

/// An exposition format, with its HTTP content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenMetrics 1.0 text (`# EOF` terminated); what Prometheus asks for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4; what older clients and `promtool check metrics` read.
    PrometheusText,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    ///
    /// ```
    /// use runmeta_export::prometheus::Format;
    /// assert_eq!(
    ///     Format::PrometheusText.content_type(),
    ///     "text/plain; version=0.0.4; charset=utf-8"
    /// );
    /// ```
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format to answer a request with, from its `Accept` header: OpenMetrics when the
    /// client accepts `application/openmetrics-text` (with a non-zero `q`), else the
    /// Prometheus text format.
    ///
    /// ```
    /// use runmeta_export::prometheus::Format;
    /// let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    /// assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(Some("*/*")), Format::PrometheusText);
    /// assert_eq!(Format::negotiate(None), Format::PrometheusText);
    /// ```
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::PrometheusText;
        };
        let openmetrics = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            media.eq_ignore_ascii_case("application/openmetrics-text")
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        });
        if openmetrics {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// A family with its value type erased.
pub(crate) trait AnyFamily {
    /// The name before the type's suffix.
    fn name(&self) -> &'static str;
    /// The name Prometheus stores.
    fn exposed_name(&self) -> &'static str;
    /// Number of series.
    fn len(&self) -> usize;
    /// Observations folded into the overflow series.
    fn overflowed(&self) -> u64;
    /// True for counters (their family name gains `_total` in the Prometheus format).
    fn is_counter(&self) -> bool;
    /// Writes the family.
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result;
}

impl<V: SeriesValue> AnyFamily for Family<V> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn exposed_name(&self) -> &'static str {
        self.exposed_name
    }
    fn len(&self) -> usize {
        Family::len(self)
    }
    fn overflowed(&self) -> u64 {
        Family::overflowed(self)
    }
    fn is_counter(&self) -> bool {
        matches!(V::TYPE, MetricType::Counter)
    }
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        Family::encode(self, encoder)
    }
}

/// The families, in exposition order.
pub(crate) fn families(f: &Families) -> impl Iterator<Item = &dyn AnyFamily> + '_ {
    let all: [&dyn AnyFamily; 11] = [
        &f.runs,
        &f.run_duration,
        &f.ttft,
        &f.tokens_per_run,
        &f.token_usage,
        &f.cost,
        &f.tool_calls,
        &f.tool_duration,
        &f.sla_runs,
        &f.sla_breaches,
        &f.unpriced,
    ];
    all.into_iter()
}

/// The family of overflow counts.
const OVERFLOW_FAMILY: &str = "runmeta_series_overflow";

/// The family of metadata label pairs dropped by the per-run label cap or a name collision.
const LABELS_DROPPED_FAMILY: &str = "runmeta_metadata_labels_dropped";

/// The `prometheus-client` collector of an exporter's families.
struct RunCollector(Arc<Shared>);

impl fmt::Debug for RunCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunCollector")
    }
}

impl Collector for RunCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let families = &self.0.families;
        for family in self::families(families) {
            family.encode(&mut encoder)?;
        }
        let mut metric = encoder.encode_descriptor(
            OVERFLOW_FAMILY,
            "Observations folded into a family's __overflow__ series because it reached its series cap.",
            None,
            MetricType::Counter,
        )?;
        for family in self::families(families) {
            let labels = [("metric", family.exposed_name())];
            let mut sample = metric.encode_family(&labels)?;
            sample.encode_counter::<NoLabelSet, u64, u64>(&family.overflowed(), None)?;
        }
        let mut metric = encoder.encode_descriptor(
            LABELS_DROPPED_FAMILY,
            "Metadata label pairs left off a run's series: past the per-run label cap, or named like a label already kept once sanitized.",
            None,
            MetricType::Counter,
        )?;
        metric.encode_counter::<NoLabelSet, u64, u64>(
            &self.0.labels_dropped.load(Ordering::Relaxed),
            None,
        )?;
        Ok(())
    }
}

/// Registers the collector of `shared` in `registry`.
pub(crate) fn register(shared: &Arc<Shared>, registry: &mut Registry) {
    registry.register_collector(Box::new(RunCollector(Arc::clone(shared))));
}

/// Renders `registry` (which holds the collector of `shared`) in `format`.
pub(crate) fn render(shared: &Shared, registry: &Registry, format: Format) -> String {
    let mut out = String::with_capacity(shared.last_render_len.load(Ordering::Relaxed) + 512);
    // Writing into a `String` cannot fail, and the collector reports no errors of its own.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    shared.last_render_len.store(out.len(), Ordering::Relaxed);
    match format {
        Format::OpenMetrics => out,
        Format::PrometheusText => {
            let counters: Vec<&str> = families(&shared.families)
                .filter(|f| f.is_counter())
                .map(|f| f.name())
                .chain([OVERFLOW_FAMILY, LABELS_DROPPED_FAMILY])
                .collect();
            to_prometheus_text(&out, &counters)
        }
    }
}

/// Converts OpenMetrics text to the Prometheus text format 0.0.4: the `HELP` and `TYPE`
/// lines of a counter name its `_total` sample, and `# UNIT` and `# EOF` are dropped. Sample
/// lines are the same in both formats (label values escape `\`, `"` and newlines alike, so a
/// raw newline only ever ends a line).
pub(crate) fn to_prometheus_text(openmetrics: &str, counters: &[&str]) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.split_inclusive('\n') {
        if line.starts_with("# UNIT ") || line.starts_with("# EOF") {
            continue;
        }
        let descriptor = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "));
        if let Some((name, rest)) = descriptor.and_then(|d| d.split_once(' ')) {
            if counters.contains(&name) {
                out.push_str(&line[..7]);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(rest);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_renames_counter_descriptors_only() {
        let om = "# HELP a Runs.\n# TYPE a counter\na_total{x=\"# HELP a \"} 1\n\
                  # HELP d_seconds D.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                  d_seconds_count 0\n# EOF\n";
        let text = to_prometheus_text(om, &["a"]);
        assert_eq!(
            text,
            "# HELP a_total Runs.\n# TYPE a_total counter\na_total{x=\"# HELP a \"} 1\n\
             # HELP d_seconds D.\n# TYPE d_seconds histogram\nd_seconds_count 0\n"
        );
    }

    #[test]
    fn negotiation_honours_q_zero() {
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
            Format::PrometheusText
        );
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("")), Format::PrometheusText);
    }
}
