//! The record of one finished run: what sinks, aggregators, exporters and stores receive.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::MetadataRecord;
use crate::metrics::{Cost, MessageMetrics, Metrics, ModelRef, ToolCallMetrics, Usage};

/// A run's id: a UUIDv7, unique and sortable by creation time.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RunId(pub uuid::Uuid);

impl RunId {
    /// A new id for a run starting now.
    #[must_use]
    pub fn new() -> Self {
        RunId::at(std::time::SystemTime::now())
    }

    /// A new id for a run that started at `time`.
    #[must_use]
    pub fn at(time: std::time::SystemTime) -> Self {
        let since = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        RunId::at_unix(since.as_secs(), since.subsec_nanos())
    }

    /// A new id for a run that started at this Unix time (before 1970: at 1970).
    ///
    /// RFC 9562's UUIDv7 with its method 3 (§6.2, "increased clock precision"): 48 bits of
    /// milliseconds, the version 7, the fraction of the millisecond in the 12 bits of
    /// `rand_a` (steps of 244 ns), the variant `10` and 62 random bits. So ids sort by start
    /// time to a quarter of a microsecond, not only by millisecond. Written as two words (the
    /// `uuid` builder's byte shuffling cost 19 instructions per run).
    #[inline]
    pub(crate) fn at_unix(seconds: u64, subsec_nanos: u32) -> Self {
        const VERSION_7: u64 = 0x7000;
        const VARIANT_RFC_9562: u64 = 0x8000_0000_0000_0000;
        const NANOS_PER_MILLI: u64 = 1_000_000;
        let subsec = u64::from(subsec_nanos.min(999_999_999));
        let millis = seconds
            .saturating_mul(1_000)
            .saturating_add(subsec / NANOS_PER_MILLI);
        // Below 4,096: the millisecond's fraction in 12 bits.
        let fraction = (subsec % NANOS_PER_MILLI) * 4_096 / NANOS_PER_MILLI;
        let high = (millis << 16) | VERSION_7 | fraction;
        let low = VARIANT_RFC_9562 | (random_word() >> 2);
        RunId(uuid::Uuid::from_u64_pair(high, low))
    }
}

/// A random word for a UUIDv7 (62 of its bits are used), from a per-thread SplitMix64 stream
/// seeded once from the process's random hasher keys: no lock, no system call, no shared
/// counter on the hot path. Ids are ordered by start time (to 244 ns) and unique with
/// overwhelming probability within one such step.
fn random_word() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        /// 0 until this thread's first id (a seed of 0 is taken as 1).
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    fn seed() -> u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        hasher.finish().max(1)
    }
    fn split_mix(state: &Cell<u64>) -> u64 {
        let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    // `try_with` is `#[inline]` where `with` is not (see `run/active.rs`). A `Cell<u64>` has
    // no destructor, so it is never gone; a fresh seed would do if it were.
    STATE
        .try_with(|s| {
            if s.get() == 0 {
                s.set(seed());
            }
            split_mix(s)
        })
        .unwrap_or_else(|_| split_mix(&Cell::new(seed())))
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunStatus {
    /// The fn returned `Ok` or a plain value.
    Success,
    /// The fn returned `Err`.
    Error,
    /// The fn panicked (the panic was recorded, then resumed).
    Panicked,
    /// The future was dropped before it completed.
    Cancelled,
}

impl RunStatus {
    /// The status's wire name: `success`, `error`, `panicked`, `cancelled`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Error => "error",
            RunStatus::Panicked => "panicked",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The default stop reason of a run that ended this way and set none:
    /// `completed`, `error`, `panicked`, `cancelled`.
    #[must_use]
    pub const fn default_stop_reason(self) -> &'static str {
        match self {
            RunStatus::Success => "completed",
            other => other.as_str(),
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "success" => RunStatus::Success,
            "error" => RunStatus::Error,
            "panicked" => RunStatus::Panicked,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One model's share of a run (Agno's per-model `details`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ModelBreakdown {
    /// Role, provider and model id.
    pub model: ModelRef,
    /// Number of calls to this model.
    pub calls: u64,
    /// Their summed metrics.
    pub metrics: Metrics,
}

/// A finished run.
///
/// `metrics` holds the run's own model calls only; `children_usage` and `children_cost` sum the
/// totals of the runs started inside it (team members, agents called from tools). Summing
/// `metrics` over every record counts each token exactly once; [`RunRecord::total_usage`] is
/// the run's full-team total.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// This run's id.
    pub run_id: RunId,
    /// The enclosing run, for a run started inside another.
    pub parent_run_id: Option<RunId>,
    /// The session the run belongs to.
    pub session_id: Option<Arc<str>>,
    /// The agent's name.
    pub agent: Cow<'static, str>,
    /// The team the agent ran in, if any.
    pub team: Option<Cow<'static, str>>,
    /// The model the run requests (`gen_ai.request.model`), when declared.
    pub request_model: Option<Cow<'static, str>>,
    /// The release/version of the agent code (from the collector's configuration).
    pub release: Option<Arc<str>>,
    /// When the run started (UTC).
    pub started_at: Timestamp,
    /// Wall time of the run.
    pub duration: Duration,
    /// Summed duration of the run's model calls.
    pub model_time: Duration,
    /// Time from the run's start to its first token.
    pub time_to_first_token: Option<Duration>,
    /// How the run ended.
    pub status: RunStatus,
    /// Why it stopped (`completed`, `error`, `panicked`, `cancelled`, or set by the agent).
    pub stop_reason: Cow<'static, str>,
    /// The error's class for `Error` and `Panicked` runs.
    pub error_class: Option<Cow<'static, str>>,
    /// The run's own metrics: summed usage and cost of its own model calls, duration, time to
    /// first token, provider and additional metrics.
    pub metrics: Metrics,
    /// Per-model breakdown of the own metrics, keyed by role, provider and model id.
    pub per_model: Vec<ModelBreakdown>,
    /// The run's model calls.
    pub messages: Vec<MessageMetrics>,
    /// The run's tool calls.
    pub tool_calls: Vec<ToolCallMetrics>,
    /// Summed total usage of the child runs (each child counted once, with its own children).
    pub children_usage: Usage,
    /// Summed total cost of the child runs.
    pub children_cost: Cost,
    /// Number of child runs.
    pub child_runs: u32,
    /// Model calls whose model had no price (cost unknown, never a silent 0).
    pub unpriced_messages: u32,
    /// The run's metadata.
    pub metadata: Option<MetadataRecord>,
}

/// What a record starts with, written once when a run starts; every other field starts
/// empty (a run's parent, if it has one, is written after).
pub(crate) struct RecordStart {
    pub(crate) run_id: RunId,
    pub(crate) session_id: Option<Arc<str>>,
    pub(crate) agent: Cow<'static, str>,
    pub(crate) team: Option<Cow<'static, str>>,
    pub(crate) request_model: Option<Cow<'static, str>>,
    pub(crate) release: Option<Arc<str>>,
    pub(crate) started_at: Timestamp,
    pub(crate) stop_reason: Cow<'static, str>,
    pub(crate) metadata: StartMetadata,
}

/// The metadata of a starting record.
pub(crate) enum StartMetadata {
    /// A reused record already holds the run's metadata (it was prepared in it): kept.
    InPlace,
    /// This value, or none.
    Set(Option<MetadataRecord>),
}

impl RecordStart {
    /// An identity alone: no parent, session, team, model, release or metadata, and the
    /// stop reason `completed`.
    pub(crate) fn new(run_id: RunId, agent: Cow<'static, str>, started_at: Timestamp) -> Self {
        RecordStart {
            run_id,
            session_id: None,
            agent,
            team: None,
            request_model: None,
            release: None,
            started_at,
            stop_reason: Cow::Borrowed("completed"),
            metadata: StartMetadata::Set(None),
        }
    }
}

impl RunRecord {
    /// A record with the given identity and everything else empty; the start of a record
    /// built by hand (tests, imports).
    #[must_use]
    pub fn new(agent: impl Into<Cow<'static, str>>, started_at: Timestamp) -> Self {
        RunRecord::with_id(RunId::new(), agent, started_at)
    }

    /// A record with the given id and identity and everything else empty.
    #[must_use]
    pub fn with_id(
        run_id: RunId,
        agent: impl Into<Cow<'static, str>>,
        started_at: Timestamp,
    ) -> Self {
        RunRecord::starting(RecordStart::new(run_id, agent.into(), started_at))
    }

    /// A record holding `start` and everything else empty.
    pub(crate) fn starting(start: RecordStart) -> Self {
        RunRecord {
            run_id: start.run_id,
            parent_run_id: None,
            session_id: start.session_id,
            agent: start.agent,
            team: start.team,
            request_model: start.request_model,
            release: start.release,
            started_at: start.started_at,
            duration: Duration::ZERO,
            model_time: Duration::ZERO,
            time_to_first_token: None,
            status: RunStatus::Success,
            stop_reason: start.stop_reason,
            error_class: None,
            metrics: Metrics::default(),
            per_model: Vec::new(),
            messages: Vec::new(),
            tool_calls: Vec::new(),
            children_usage: Usage::default(),
            children_cost: Cost::ZERO,
            child_runs: 0,
            unpriced_messages: 0,
            metadata: match start.metadata {
                StartMetadata::Set(metadata) => metadata,
                StartMetadata::InPlace => None,
            },
        }
    }

    /// Makes this record what [`RunRecord::starting`] builds, in place, keeping the capacity
    /// of its collections: how a pooled record is reused by the next run.
    #[cfg(test)]
    pub(crate) fn reset(&mut self, start: RecordStart) {
        self.clear_for_run();
        self.run_id = start.run_id;
        self.session_id = start.session_id;
        self.agent = start.agent;
        self.team = start.team;
        self.request_model = start.request_model;
        self.release = start.release;
        self.started_at = start.started_at;
        self.stop_reason = start.stop_reason;
        if let StartMetadata::Set(metadata) = start.metadata {
            self.metadata = metadata;
        }
    }

    /// Empties what a run produces (its outcome, metrics, messages, tool calls, children),
    /// keeping the capacity of its collections; a reused record's run then writes the fields
    /// of [`RecordStart`] itself, straight from where they are (through a `RecordStart`
    /// value they were staged on the stack and copied again).
    #[inline]
    pub(crate) fn clear_for_run(&mut self) {
        // Every field is named (no `..`): a field added later cannot be forgotten here.
        let RunRecord {
            // Written by the run, from `RecordStart`.
            run_id: _,
            session_id: _,
            agent: _,
            team: _,
            request_model: _,
            release: _,
            started_at: _,
            stop_reason: _,
            metadata: _,
            // Produced by the run.
            parent_run_id,
            duration,
            model_time,
            time_to_first_token,
            status,
            error_class,
            metrics,
            per_model,
            messages,
            tool_calls,
            children_usage,
            children_cost,
            child_runs,
            unpriced_messages,
        } = self;
        *parent_run_id = None;
        *duration = Duration::ZERO;
        *model_time = Duration::ZERO;
        *time_to_first_token = None;
        *status = RunStatus::Success;
        *error_class = None;
        metrics.reset();
        per_model.clear();
        messages.clear();
        tool_calls.clear();
        *children_usage = Usage::default();
        *children_cost = Cost::ZERO;
        *child_runs = 0;
        *unpriced_messages = 0;
    }

    /// Own usage plus the children's: the full-team total (Agno's team session metrics).
    #[must_use]
    pub fn total_usage(&self) -> Usage {
        self.metrics.usage + self.children_usage
    }

    /// Own cost plus the children's.
    #[must_use]
    pub fn total_cost(&self) -> Cost {
        self.metrics.cost.unwrap_or(Cost::ZERO) + self.children_cost
    }

    /// The value of a metadata label, if the run has metadata with that label.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref().and_then(|m| m.value.label(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::MetadataValue;
    use std::collections::HashSet;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn run_ids_are_unique_across_threads() {
        let ids: Vec<RunId> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..50_000).map(|_| RunId::new()).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        assert_eq!(ids.len(), 200_000);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        assert!(ids.iter().all(|id| id.0.get_version_num() == 7));
        assert!(ids
            .iter()
            .all(|id| id.0.get_variant() == uuid::Variant::RFC4122));
    }

    #[test]
    fn reset_leaves_nothing_of_the_previous_run() {
        use crate::metrics::{MessageMetrics, ToolCallMetrics, ToolStatus};
        use crate::schema::JsonMetadata;
        let started = Timestamp::UNIX_EPOCH;
        let mut used = RunRecord::new("old", Timestamp::MAX);
        used.parent_run_id = Some(RunId::new());
        used.session_id = Some("s".into());
        used.team = Some("t".into());
        used.request_model = Some("m".into());
        used.release = Some("r".into());
        used.duration = Duration::from_secs(3);
        used.model_time = Duration::from_secs(2);
        used.time_to_first_token = Some(Duration::from_secs(1));
        used.status = RunStatus::Error;
        used.stop_reason = "max_turns".into();
        used.error_class = Some("Timeout".into());
        used.metrics = Metrics::from_usage(Usage::new(10, 5));
        used.metrics.cost = Some(Cost::ZERO);
        used.metrics
            .provider_metrics
            .insert("x".into(), serde_json::Value::from(1));
        used.metrics
            .additional_metrics
            .insert("y".into(), serde_json::Value::from(2));
        used.per_model.push(ModelBreakdown::default());
        used.messages.push(MessageMetrics::default());
        used.tool_calls.push(ToolCallMetrics {
            name: "search".into(),
            started_at: started,
            duration: Duration::from_millis(5),
            status: ToolStatus::Error,
            error_class: Some("Io".into()),
        });
        used.children_usage = Usage::new(1, 1);
        used.children_cost = Cost::from_nanos(7);
        used.child_runs = 2;
        used.unpriced_messages = 3;
        used.metadata = Some(MetadataRecord {
            value: MetadataValue::new(JsonMetadata::default()),
            errors: None,
        });

        let id = RunId::new();
        used.reset(RecordStart::new(id, "new".into(), started));
        let fresh = RunRecord::with_id(id, "new", started);
        assert_eq!(format!("{used:?}"), format!("{fresh:?}"));
        assert!(used.tool_calls.capacity() >= 1, "capacity is kept");
    }

    #[test]
    fn run_ids_carry_the_fraction_of_their_millisecond() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let ids: Vec<RunId> = [0, 244, 250_000, 500_000, 999_999]
            .into_iter()
            .map(|nanos| RunId::at(t0 + Duration::from_nanos(nanos)))
            .collect();
        let fractions: Vec<u64> = ids.iter().map(|id| id.0.as_u64_pair().0 & 0xFFF).collect();
        // floor(nanos × 4096 / 1e6): 244 ns is one step short of the first.
        assert_eq!(fractions, [0, 0, 1_024, 2_048, 4_095]);
        assert!(ids
            .windows(2)
            .all(|w| w[0].0.as_u64_pair().0 <= w[1].0.as_u64_pair().0));
        assert!(ids[1] < ids[2] && ids[2] < ids[3] && ids[3] < ids[4]);
        for id in &ids {
            assert_eq!(id.0.get_version(), Some(uuid::Version::SortRand));
            assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) =
                id.0.get_timestamp()
                    .map(|t| t.to_unix())
                    .unwrap_or_default();
            assert_eq!(secs, 1_700_000_000, "the millisecond is kept: {nanos}");
        }
        // Before 1970: the epoch, still a valid v7.
        let early = RunId::at(UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(early.0.as_u64_pair().0 >> 16, 0);
    }

    #[test]
    fn run_ids_sort_by_millisecond() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let earlier = RunId::at(t0);
        let later = RunId::at(t0 + Duration::from_millis(1));
        assert!(earlier < later);
        let (secs, nanos) = later
            .0
            .get_timestamp()
            .map(|t| t.to_unix())
            .unwrap_or_default();
        assert_eq!((secs, nanos), (1_700_000_000, 1_000_000));
        assert_eq!(later.0.get_version(), Some(uuid::Version::SortRand));
    }
}
