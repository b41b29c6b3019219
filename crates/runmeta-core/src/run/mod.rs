//! Runs: the record of a finished run, the run context, and the collector that sinks receive
//! records from.

mod json;
mod record;
mod sink;

pub use json::RecordJsonError;
pub use record::{MetadataRecord, ModelBreakdown, RunId, RunRecord, RunStatus};
pub use sink::Sink;
