//! The metrics model: usage, message and tool-call metrics, Agno-compatible `Metrics`, their
//! JSON, provider usage adapters, streaming accumulation, run totals and session/team rollups.

pub mod adapters;
mod cost;
pub(crate) mod json;
pub(crate) mod json_calls;
#[allow(clippy::module_inception)]
mod metrics;
mod model;
#[cfg(any(feature = "async-openai", feature = "rig"))]
pub mod providers;
mod rollup;
mod stream;
mod totals;
mod usage;

pub use adapters::{AdapterError, ProviderUsage, UsageFormat};
pub use cost::Cost;
pub use json::JsonFieldError;
pub use metrics::{merge_json_maps, Metrics};
pub use model::{MessageMetrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus};
pub use rollup::{MemberMetrics, SessionMetrics, TeamMetrics};
pub use stream::{UsageAccumulator, UsageReporting};
pub use totals::{model_time, per_model_breakdown, run_time_to_first_token, RunTotals};
pub use usage::Usage;
