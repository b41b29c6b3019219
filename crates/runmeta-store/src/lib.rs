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
//! Report percentiles are **exact** (nearest rank over every run of the group), not sketches.
//!
//! ```no_run
//! use runmeta_store::{Dimension, ReportQuery, RunFilter, Store};
//! let store = Store::open_read_only("runs.db")?;
//! let now = jiff::Timestamp::now();
//! let report = store.report(&ReportQuery {
//!     filter: RunFilter::between(now - jiff::SignedDuration::from_hours(24), now),
//!     group_by: Dimension::parse_list("customer_tier,priority")?,
//! })?;
//! for row in &report.rows {
//!     println!("{:?}: {} runs, p95 {:?}", row.group, row.run_count, row.latency_p95);
//! }
//! # Ok::<(), runmeta_store::StoreError>(())
//! ```

mod codec;
mod encode;
mod error;
mod jsonl;
mod query;
mod read;
mod report;
mod rollup;
mod schema;
mod sink;
mod store;
mod trend;
mod write;

pub use error::{Result, StoreError};
pub use jsonl::{ImportProgress, ImportSummary, LineError, MAX_LINE_BYTES, MAX_LISTED_ERRORS};
pub use query::{RunFilter, RunPage, RunQuery, RunSummary};
pub use report::{Dimension, Report, ReportQuery, ReportRow};
pub use rollup::{SessionRollup, TeamRollup};
pub use schema::{Durability, SCHEMA_VERSION};
pub use sink::{Overflow, SinkConfig, SinkStats, StoreSink};
pub use store::{Store, WriteSummary};
pub use trend::{compare, Trend, TrendRow};
