//! Agno's `Metrics`: the one shape used at message, run and session level.

use std::time::Duration;

use serde_json::{Map, Value};

use super::{Cost, Usage};

/// Token counts, timing, cost and provider data, with Agno's v2 field names and
/// aggregation rules (see [`Metrics::accumulate`]).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Metrics {
    /// Token counts.
    pub usage: Usage,
    /// Wall time (a message: the call; a run: the run; a session: the sum of its runs).
    pub duration: Option<Duration>,
    /// Time to the first token, from the start of the call (message) or of the run.
    pub time_to_first_token: Option<Duration>,
    /// Cost, when a price was known.
    pub cost: Option<Cost>,
    /// Provider-specific data; numbers sum when aggregated, other values keep the latest.
    pub provider_metrics: Map<String, Value>,
    /// Extra metrics; same rule as `provider_metrics`.
    pub additional_metrics: Map<String, Value>,
}
