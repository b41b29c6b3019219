//! Production metrics: finished runs grouped by any dimensions, with counts, rates, exact
//! sums and latency/token percentiles, in time windows, as a dashboard [`Report`].
//!
//! - [`Aggregator`]: per-group statistics ([`GroupStats`]) for a [`GroupBy`] of agent,
//!   team, release, model, tool, status, stop reason and metadata labels. Mergeable and
//!   serializable ([`AggregateSnapshot`]), so the aggregates of several processes combine.
//! - [`WindowedAggregator`]: one aggregator per time window (one minute by default), the
//!   last N kept, and [`WindowedAggregator::trend`] for "p95 now vs 30 minutes ago".
//! - [`Report`] / [`ReportRow`]: the dashboard table of production agent metrics, shared by
//!   the CLI and the stores.
//! - [`AggregatorSink`]: a [`Sink`](crate::run::Sink) that feeds an aggregator (and its
//!   windows and alert rules) from the collector.
//!
//! # Percentiles: why an HDR histogram
//!
//! Latency, time to first token, tool latency and tokens per run are kept in [`Sketch`]es,
//! HDR histograms (the `hdrhistogram` crate) with 2 significant digits:
//!
//! - **Error bound**: every recorded value is within 1% of its bucket's reported value
//!   (buckets are at most 1/128 ≈ 0.78% wide above 256 and exact below), so p50/p95/p99 are
//!   within 1% of the exact nearest-rank percentile, whatever the distribution; the tests
//!   check this by property against an exact sort, heavy tails (Pareto, log-normal) included.
//! - **Bounded memory**: 128 counters per power of two, grown only up to the largest value
//!   recorded and capped at [`sketch::MAX_TRACKABLE`] (2^40), so one sketch holds at most
//!   [`sketch::WORST_CASE_BYTES`] = 17.5 KiB of `u32` counters, typically 1–11 KiB.
//! - **Exact merges**: two sketches add counter by counter; merging two aggregators equals
//!   aggregating the union of their runs (checked by property).
//! - **Serializable**: a sketch serializes as its sparse `[value, count]` buckets, which reload
//!   into the identical sketch, in any serde format.
//! - **Speed**: recording is an index computation and an increment, with no allocation once
//!   the histogram covers the value's range. With many groups the cost is the cache miss on
//!   the counter: 128 counters per power of two is what 1% precision takes.
//!
//! DDSketch gives the same kind of relative-error guarantee with fewer buckets for very wide
//! ranges, but its Rust implementations are less mature, its bucket count per group is not
//! fixed in advance without collapsing (which loosens the bound at the low end), and its
//! float-keyed stores make integer data (µs, tokens) less exact. Values here are integers
//! within 12 orders of magnitude, where an HDR histogram's fixed layout is both bounded and
//! exact below 256.
//!
//! # Memory per group
//!
//! [`GroupStats::memory_bytes`] reports a group's bytes: a fixed struct, 2 + 6 sketches, and
//! at most [`MAX_DISTINCT`] error classes, stop reasons and tools (each tool with one sketch);
//! names past the cap fold into [`OTHER`]. The number of groups is capped by
//! [`AggregatorConfig::max_groups`]; runs of further groups count in an overflow group.
//!
//! # Costs
//!
//! Costs sum in integer nano-units ([`Cost`](crate::metrics::Cost)), so totals are exact.
//! Runs with an unpriced model call are counted apart (`unpriced_runs`) and excluded from
//! `cost_per_run`; their cost is never taken as 0.

mod aggregator;
pub(crate) mod group;
mod report;
mod sink;
pub mod sketch;
mod stats;
mod window;

pub use aggregator::{AggregateSnapshot, Aggregator, AggregatorConfig, MergeError, SnapshotGroup};
pub use group::{
    main_model, Dimension, GroupBy, GroupByError, GroupLabel, GroupValue, MAX_DIMENSIONS,
    OVERFLOW_VALUE,
};
pub use report::{Report, ReportRow, TokenStat, TokensPerRun, ToolRow, Trend, WindowSpan};
pub use sink::AggregatorSink;
pub use sketch::Sketch;
pub use stats::{
    CappedCounts, GroupStats, TokenDist, TokenType, ToolStats, MAX_DISTINCT, OTHER,
    UNKNOWN_ERROR_CLASS,
};
pub use window::{WindowConfig, WindowedAggregator};
