//! The metrics model: usage, message and tool-call metrics, Agno-compatible `Metrics`.

mod cost;
#[allow(clippy::module_inception)]
mod metrics;
mod model;
mod usage;

pub use cost::Cost;
pub use metrics::Metrics;
pub use model::{MessageMetrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus};
pub use usage::Usage;
