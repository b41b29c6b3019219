//! # runmeta
//!
//! Compile-time-checked run metadata and automatic run metrics for AI agents.
//!
//! - [`RunMetadata`](derive@RunMetadata) turns a struct into a metadata schema: enum-restricted
//!   fields, RFC 3339 deadlines, ranges, redaction, labels, and an organization-wide key
//!   registry ([`metadata_keys!`]) that makes an inconsistent key a compile error.
//! - [`track_run`] measures an agent entry point, sync or async, as a run: duration, status,
//!   error class, stop reason, token usage, time to first token, tool calls, cost, metadata.
//! - Finished runs go to the sinks of the installed [`Collector`](run::Collector): in memory,
//!   aggregation, Prometheus, SQLite (the `runmeta-export` and `runmeta-store` crates).
//!
//! ```
//! use runmeta::prelude::*;
//!
//! runmeta::metadata_keys! {
//!     pub mod org_keys {
//!         /// Link to the external ticketing system.
//!         ticket_id: String,
//!         priority: Priority,
//!         customer_tier: CustomerTier,
//!         sla_deadline: Deadline,
//!     }
//! }
//!
//! #[derive(Clone, RunMetadata)]
//! #[run_metadata(keys = org_keys)]
//! struct SupportRun {
//!     ticket_id: String,
//!     #[run_metadata(label)]
//!     priority: Priority,
//!     #[run_metadata(label)]
//!     customer_tier: CustomerTier,
//!     #[run_metadata(sla_deadline)]
//!     sla_deadline: Deadline,
//! }
//!
//! #[track_run(agent = "support", metadata = meta)]
//! fn handle(meta: &SupportRun, question: &str) -> Result<String, std::fmt::Error> {
//!     runmeta::record_usage(Usage::new(120, 30));
//!     Ok(format!("answer to {question}"))
//! }
//!
//! # fn main() {
//! let meta = SupportRun::from_json_str(r#"{"ticket_id": "SUP-1", "priority": "high",
//!     "customer_tier": "pro", "sla_deadline": "2024-01-15T14:00:00Z"}"#).unwrap();
//! assert_eq!(meta.labels().collect::<Vec<_>>(), [("priority", "high"), ("customer_tier", "pro")]);
//! assert!(handle(&meta, "refund?").is_ok());
//! # }
//! ```
//!
//! `metadata_keys!` declares a module whose items see the names of the enclosing module
//! (`use super::*`): declare registries at module level, not inside a fn.
//!
//! ## `#[derive(RunMetadata)]` options
//!
//! On the struct: `keys = path::to::registry` (every field must be in the registry, with its
//! type), `name = "Schema"` (default: the struct's name), `version = N` (default 1).
//!
//! On a field: `label` (a low-cardinality value that segments metrics: `MetadataEnum` types and
//! `bool`), `redact` (kept in the record, masked as `[redacted]` in every output, `Debug`
//! included), `range = a..=b` (integers), `rename = "key"`, `sla_deadline` (the `Deadline` a run
//! must finish by), `sla_target` (a number of seconds the run should take at most).
//!
//! Field types: `String`, `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`, [`Deadline`](schema::Deadline),
//! a `#[derive(MetadataEnum)]` enum, or `Option` of one of these (absent = `None`). The derive
//! implements `Debug` (with redaction): do not derive `Debug` as well.
//!
//! ## `#[track_run]` options
//!
//! `agent = "name"` (default: the fn's name), `metadata = expr` (a `RunMetadata` value or a
//! reference to one; validated, and the run is recorded even when invalid), `session = expr`
//! (a string, taken as it is, or anything `Display`), `team = "name"`, `model = expr` (the requested model), `usage = path`
//! (a fn from `&ReturnType` to a [`Usage`](metrics::Usage), read off the return value).
//!
//! A return type named `Result` decides the outcome (`Ok` → success, `Err` → error, with the
//! class from [`ErrorClass`](run::ErrorClass) or the error type's name); any other return is a
//! success; a panic is recorded as `panicked` and resumed; a future dropped before completion
//! is `cancelled`. An `async fn`'s run starts at its first poll, where its `metadata`,
//! `session` and `model` expressions are evaluated: dropped unpolled, it never ran and is not
//! recorded. A fn returning `impl Future` evaluates them when called; its future dropped
//! unpolled is recorded as `cancelled`. For `#[async_trait]` methods, put `#[track_run]` *below* `#[async_trait]`'s
//! expansion point, i.e. on the method inside the `#[async_trait] impl` block: the macro finds
//! the `Box::pin(async move { .. })` body and tracks the future.
//!
//! Inside a run, [`record_usage`], [`first_token`], [`tool`], [`set_stop_reason`] and the
//! other helpers add to the innermost run on the current thread (or task); outside a run they
//! do nothing, and never panic. A tracked call made while its thread is being torn down (from
//! a thread-local's destructor, after runmeta's per-thread state is gone) still runs and is
//! recorded, but it is not the current run of its own code, so those helpers do nothing in it.
//!
//! ## Cargo features
//!
//! - `tracing`: a `tracing` span per run (`invoke_agent {agent}`) and per tool call
//!   (`execute_tool {name}`) carrying OpenTelemetry GenAI attributes.

#[doc(hidden)]
pub mod __private {
    pub use runmeta_core::__private::*;
}

pub use runmeta_core::{aggregate, alert, metrics, pricing, run, schema, sla};
pub use runmeta_macros::{deadline, metadata_keys, track_run, MetadataEnum, RunMetadata};

pub use runmeta_core::run::{
    add_metric, current_run, first_token, flush, flush_guard, record_message, record_usage,
    set_stop_reason, tool, tool_async, tool_async_classified, tool_classified, ModelCall,
};

/// The items most programs need: the derives, `#[track_run]`, the built-in enums, `Deadline`,
/// `Usage`, and the traits their methods come from.
pub mod prelude {
    pub use runmeta_core::metrics::Usage;
    pub use runmeta_core::run::{Collector, ErrorClass, InMemorySink};
    pub use runmeta_core::schema::{
        BusinessImpact, CustomerTier, Deadline, Environment, MetadataEnum, Priority, RunMetadata,
    };
    pub use runmeta_macros::{track_run, MetadataEnum, RunMetadata};
}

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
