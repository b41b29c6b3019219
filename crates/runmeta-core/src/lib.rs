//! The runmeta runtime: metadata schemas and validation, the metrics model, the run context
//! and collector, aggregation and pricing. It does no I/O; exporters and stores build on it.
//!
//! Most users depend on the `runmeta` facade instead, which re-exports this crate with the
//! macros.
//!
//! The modules follow the data flow: [`schema`] (what a run's metadata may be) →
//! [`metrics`] (what a model or tool call measured) → [`run`] (a run's record, built while it
//! runs and handed to sinks).

pub mod aggregate;
pub mod alert;
pub mod metrics;
pub mod pricing;
pub mod run;
pub mod schema;
pub mod sla;

#[doc(hidden)]
pub mod __private;
