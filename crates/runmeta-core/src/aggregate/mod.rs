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
//! # Percentiles: why a log-linear histogram
//!
//! Latency, time to first token, tool latency and tokens per run are kept in [`Sketch`]es:
//! log-linear histograms (the HDR-histogram layout) with 64 buckets per power of two:
//!
//! - **Error bound**: values below 128 are exact; above, a bucket is less than 1/64 of its
//!   lowest value wide and reports its midpoint, so every value in it is within 1/128
//!   ([`sketch::RELATIVE_ERROR`], 0.78%) of the reported one, and p50/p95/p99 are within 1% of
//!   the exact nearest-rank percentile whatever the distribution; the tests check this by
//!   property against an exact sort, heavy tails (Pareto, log-normal) included.
//! - **Bounded memory**: only the buckets between the lowest and the highest recorded value
//!   have a counter, capped at [`sketch::MAX_TRACKABLE`] (2^40). Counters are `u16` until a
//!   bucket passes 65 535 values, then the sketch's window is promoted to `u32` (no count is
//!   lost or wrapped; a `u32` counter saturates): one sketch holds at most
//!   [`sketch::WORST_CASE_BYTES`] = 8 964 bytes (promoted, every bucket; 4 482 in `u16`),
//!   typically 0.25–3 KiB.
//! - **Exact merges**: two sketches add counter by counter; merging two aggregators equals
//!   aggregating the union of their runs (checked by property).
//! - **Serializable**: a sketch serializes as its sparse `[value, count]` buckets, which reload
//!   into the identical sketch, in any serde format. Snapshots written by the earlier sketch
//!   (an HDR histogram with 2 significant digits, 128 buckets per power of two) load exactly:
//!   each of its buckets lies inside one bucket here (tested).
//! - **Speed**: recording is a leading-zero count, a shift, a bounds check and an increment,
//!   with no allocation once the value's range is covered. With many groups the cost is the
//!   cache miss on the counter: 64 buckets per power of two (the fewest power-of-two layout
//!   that keeps 1%) is half of what the HDR histogram kept, and a window of `u16` counters
//!   an eighth of its memory (a quarter once promoted).
//!
//! DDSketch gives the same kind of relative-error guarantee with fewer buckets (a true
//! logarithmic mapping, ≈ 35 per power of two at 1%), but its index costs a logarithm (or a
//! polynomial approximation of one) per value, its bucket count per group is not fixed in
//! advance without collapsing (which loosens the bound at the low end), and its float-keyed
//! stores make integer data (µs, tokens) less exact. Values here are integers within 12
//! orders of magnitude, where a log-linear layout is bounded, cheap to index and exact below
//! 128.
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
mod key;
mod plan;
mod report;
mod sink;
pub mod sketch;
mod stats;
mod stats_serde;
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
