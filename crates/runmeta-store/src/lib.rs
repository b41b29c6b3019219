//! The embedded SQLite store of runmeta: records every finished run, answers queries and
//! builds the dashboard report the `runmeta` CLI prints.
//!
//! - [`StoreSink`] is a [`Sink`](runmeta_core::run::Sink): the agent's thread only queues the
//!   record; a background thread writes batches, one transaction each. The default policy drops
//!   (and counts) records when the queue is full rather than ever blocking the agent.
//! - [`Store`] opens a database for queries ([`Store::runs`], [`Store::run`],
//!   [`Store::report`], [`Store::sessions`], [`Store::teams`]), direct writes
//!   ([`Store::insert`]) and JSONL export/import ([`Store::export_jsonl`],
//!   [`Store::import_jsonl`]).
//!
//! The database uses WAL mode; a write is one transaction, so a crash or `kill -9` loses at
//! most the batch in flight, never a committed one, and never corrupts the file. Every value in
//! SQL is a bound parameter. The schema is versioned and migrated on open
//! (see [`SCHEMA_VERSION`]); its tables are described in the `schema` module source.
//!
//! The report uses the core's dashboard shape ([`Report`], [`ReportRow`]); its percentiles are
//! **exact** (nearest rank over every run of the group), not sketches.
//!
//! ```no_run
//! use runmeta_store::{GroupBy, ReportQuery, RunFilter, Store};
//! let store = Store::open_read_only("runs.db")?;
//! let now = jiff::Timestamp::now();
//! let report = store.report_with_trend(&ReportQuery {
//!     filter: RunFilter::between(now - jiff::SignedDuration::from_hours(24), now),
//!     group_by: GroupBy::parse("customer_tier,priority")?,
//!     tools: false,
//! })?;
//! for row in &report.rows {
//!     println!("{:?}: {} runs, p95 {:?} ms", row.group, row.run_count, row.latency_p95_ms);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agno;
mod bind;
mod codec;
mod encode;
mod error;
mod group;
mod intern;
mod jsonl;
#[cfg(test)]
mod migrate_tests;
mod migrations;
mod query;
mod read;
mod report;
mod rollup;
mod scan;
mod schema;
mod sink;
mod store;
mod trend;
mod write;

pub use agno::{parse_agno, AgnoEntry, AgnoOptions, MAX_AGNO_INPUT_BYTES};
pub use error::{Result, StoreError};
pub use jsonl::{ImportProgress, ImportSummary, LineError, MAX_LINE_BYTES, MAX_LISTED_ERRORS};
pub use query::{RunFilter, RunPage, RunQuery, RunSummary};
pub use report::ReportQuery;
pub use rollup::{SessionRollup, TeamRollup};
/// The report's shape and grouping, from the core (re-exported for convenience).
pub use runmeta_core::aggregate::{Dimension, GroupBy, GroupLabel, Report, ReportRow, Trend};
pub use schema::{Durability, SCHEMA_VERSION};
pub use sink::{Overflow, SinkConfig, SinkStats, StoreSink, MAX_SINK_CAPACITY};
pub use store::{Store, WriteSummary};
pub use trend::add_trend;
