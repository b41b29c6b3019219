//! Runs: the record of a finished run, the run in progress and the functions agent code calls
//! inside it, the collector that sinks receive records from, and the built-in sinks.

mod active;
mod calls;
mod clock;
mod collector;
mod counter;
mod json;
mod memory;
mod metadata;
mod model;
mod outcome;
mod pool;
mod queued;
mod record;
mod session;
mod shared;
mod sink;
#[cfg(feature = "tracing")]
mod spans;
mod text;
mod tracked;

pub use active::{
    add_metric, current_run, first_token, record_message, record_usage, set_stop_reason,
    CurrentRun, RunArgs, RunSpec,
};
pub use calls::{tool, tool_async, tool_async_classified, tool_classified, ModelCall, ToolResult};
pub use collector::{
    flush, flush_guard, AlreadyInstalled, Collector, CollectorBuilder, FlushGuard,
};
pub use json::RecordJsonError;
pub use memory::InMemorySink;
pub use metadata::{MetadataRecord, MetadataValue};
pub(crate) use model::{model_name, model_name_str};
pub use outcome::{short_type_name, ClassProbe, ErrorClass, Outcome, ViaErrorClass, ViaTypeName};
pub(crate) use pool::prepare_metadata;
pub use pool::PreparedMetadata;
pub use queued::{Overflow, QueueStats, QueuedSink, MAX_QUEUE_CAPACITY};
pub use record::{ModelBreakdown, RunId, RunRecord, RunStatus};
pub(crate) use session::{session_id, session_id_str};
pub use shared::SharedRecord;
pub use sink::Sink;
pub use tracked::{begin, enabled, run_sync, run_sync_began, Began, Tracked};
