//! The grouped aggregator: runs in, per-group statistics out.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::group::{key_from_owned, GroupIndex, GroupValue, KeyRef, KeyWords};
use super::stats::ToolScope;
use super::{GroupBy, GroupLabel, GroupStats, Report, TokenType};
use crate::run::RunRecord;
use crate::sla::{SlaOutcome, SlaPolicy};

/// How an [`Aggregator`] groups and what it keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregatorConfig {
    /// The dimensions runs are grouped by.
    pub group_by: GroupBy,
    /// Most groups kept; runs of further groups are counted in one overflow group whose
    /// values are all [`super::OVERFLOW_VALUE`]. Default: 10 000.
    pub max_groups: usize,
    /// Which token types keep a per-run distribution (for p95), indexed like
    /// [`TokenType::ALL`]; sums (for means) are always kept. Default: all.
    pub token_sketches: [bool; 6],
    /// How SLA breaches are judged.
    pub sla: SlaPolicy,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig::new(GroupBy::none())
    }
}

impl AggregatorConfig {
    /// Grouping by `group_by`, with the defaults.
    #[must_use]
    pub fn new(group_by: GroupBy) -> Self {
        AggregatorConfig {
            group_by,
            max_groups: 10_000,
            token_sketches: [true; 6],
            sla: SlaPolicy::new(),
        }
    }

    /// Keeps per-run distributions only for `types` (sums are kept for all).
    #[must_use]
    pub fn with_token_sketches(mut self, types: &[TokenType]) -> Self {
        self.token_sketches = TokenType::ALL.map(|t| types.contains(&t));
        self
    }

    /// Sets the SLA policy.
    #[must_use]
    pub fn with_sla(mut self, sla: SlaPolicy) -> Self {
        self.sla = sla;
        self
    }

    /// Sets the group cap.
    #[must_use]
    pub fn with_max_groups(mut self, max_groups: usize) -> Self {
        self.max_groups = max_groups;
        self
    }
}

/// Two aggregates that cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// They group by different dimensions.
    #[error("cannot merge aggregates grouped by [{theirs}] into one grouped by [{ours}]")]
    GroupByMismatch {
        /// This aggregator's dimensions.
        ours: String,
        /// The other's dimensions.
        theirs: String,
    },
    /// A snapshot group's key does not have one value per dimension.
    #[error("snapshot group {index} has {found} key values, expected {expected}")]
    BadKey {
        /// The group's position in the snapshot.
        index: usize,
        /// Values found.
        found: usize,
        /// Dimensions.
        expected: usize,
    },
}

/// Per-group statistics of runs, grouped by a [`GroupBy`].
///
/// Recording a run does not allocate once its group exists: the key is hashed from the
/// record's borrowed values. Two aggregators with the same grouping merge into the
/// aggregator of both streams; [`Aggregator::snapshot`] serializes one so that the
/// aggregates of several processes merge.
///
/// ```
/// use std::time::Duration;
/// use runmeta_core::aggregate::{Aggregator, GroupBy};
/// use runmeta_core::run::{RunRecord, RunStatus};
///
/// let mut agg = Aggregator::new(GroupBy::parse("agent,status").unwrap());
/// for i in 0..100u64 {
///     let mut run = RunRecord::new("support", "2024-01-15T13:00:00Z".parse().unwrap());
///     run.duration = Duration::from_millis(100 + i);
///     if i % 10 == 0 {
///         run.status = RunStatus::Error;
///     }
///     agg.record(&run);
/// }
/// let report = agg.report();
/// assert_eq!(report.rows.len(), 2); // support/success and support/error
/// let ok = report.rows.iter().find(|r| r.label("status") == Some("success")).unwrap();
/// assert_eq!(ok.run_count, 90);
/// ```
#[derive(Clone, Debug)]
pub struct Aggregator {
    config: Arc<AggregatorConfig>,
    groups: GroupIndex<GroupStats>,
    overflow_runs: u64,
    /// The key words of the record being counted, refilled per record (a buffer kept so
    /// that it is not zeroed per record).
    scratch: KeyWords,
}

/// A serializable copy of an [`Aggregator`]'s groups, to store or send to another process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateSnapshot {
    /// The dimension names, in order.
    pub group_by: Vec<String>,
    /// The groups.
    pub groups: Vec<SnapshotGroup>,
    /// Runs counted in the overflow group.
    pub overflow_runs: u64,
}

/// One group of a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotGroup {
    /// One value per dimension.
    pub key: Vec<GroupValue>,
    /// The group's statistics.
    pub stats: GroupStats,
}

/// `policy.evaluate(run)`, deciding a run without SLA (most runs) with one look at its
/// metadata and without building the verdict: the same sources as [`SlaPolicy::evaluate`]
/// (the metadata's deadline and target, the agent's target, the default target), all absent.
#[inline]
fn sla_outcome(policy: &SlaPolicy, run: &RunRecord) -> SlaOutcome {
    if policy.is_inert() {
        return SlaOutcome::default();
    }
    let meta_sla = policy.use_metadata
        && run.metadata.as_ref().is_some_and(|m| {
            let m = &*m.value;
            m.sla_deadline().is_some() || m.sla_target().is_some()
        });
    if meta_sla
        || policy.default_target.is_some()
        || (!policy.agent_targets.is_empty() && policy.agent_targets.contains_key(&*run.agent))
    {
        policy.evaluate(run)
    } else {
        SlaOutcome::default()
    }
}

impl Aggregator {
    /// An empty aggregator grouping by `group_by`, with the default configuration.
    #[must_use]
    pub fn new(group_by: GroupBy) -> Self {
        Aggregator::with_config(AggregatorConfig::new(group_by))
    }

    /// An empty aggregator.
    #[must_use]
    pub fn with_config(config: AggregatorConfig) -> Self {
        Aggregator::with_shared_config(Arc::new(config))
    }

    /// An empty aggregator sharing a configuration (windows of one windowed aggregator).
    #[must_use]
    pub fn with_shared_config(config: Arc<AggregatorConfig>) -> Self {
        Aggregator {
            config,
            groups: GroupIndex::default(),
            overflow_runs: 0,
            scratch: KeyWords::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// The grouping.
    #[must_use]
    pub fn group_by(&self) -> &GroupBy {
        &self.config.group_by
    }

    /// Number of groups.
    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when no run was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.len() == 0
    }

    /// Runs counted in the overflow group because the group cap was reached.
    #[must_use]
    pub fn overflow_runs(&self) -> u64 {
        self.overflow_runs
    }

    /// Counts one finished run in its group (in each of its tools' groups when grouping by
    /// tool).
    pub fn record(&mut self, run: &RunRecord) {
        let sla = sla_outcome(&self.config.sla, run);
        self.record_with_sla(run, &sla);
    }

    /// Counts one run whose SLA outcome is already known.
    pub fn record_with_sla(&mut self, run: &RunRecord, sla: &SlaOutcome) {
        if !self.config.group_by.has_tool() {
            self.stats_mut(run, None).ingest(run, ToolScope::All, sla);
        } else if run.tool_calls.is_empty() {
            self.stats_mut(run, None)
                .ingest(run, ToolScope::Nothing, sla);
        } else {
            for (i, call) in run.tool_calls.iter().enumerate() {
                let name = call.name.as_str();
                if run.tool_calls[..i].iter().any(|c| c.name == name) {
                    continue;
                }
                self.stats_mut(run, Some(name))
                    .ingest(run, ToolScope::Only(name), sla);
            }
        }
    }

    /// The group of `run` (with `tool` as its tool value), created if new.
    #[inline]
    fn stats_mut(&mut self, run: &RunRecord, tool: Option<&str>) -> &mut GroupStats {
        self.scratch.fill(&self.config.group_by, run, tool);
        let index = match self.groups.find_words(&self.scratch) {
            Some(i) => i,
            None => self.insert_record_group(run, tool),
        };
        // `index` was just found or inserted.
        match self.groups.get_mut(index) {
            Some(s) => s,
            None => unreachable!("group index {index} out of range"),
        }
    }

    #[cold]
    #[inline(never)]
    fn insert_record_group(&mut self, run: &RunRecord, tool: Option<&str>) -> usize {
        let key = KeyRef::of_record(&self.config.group_by, run, tool);
        debug_assert_eq!(key.words.hash, self.scratch.hash);
        self.insert_group(&key)
    }

    #[cold]
    fn insert_group(&mut self, key: &KeyRef<'_>) -> usize {
        let fresh = GroupStats::new(self.config.token_sketches);
        if self.groups.len() < self.config.max_groups.max(1) {
            return self.groups.insert(key, fresh);
        }
        self.overflow_runs = self.overflow_runs.saturating_add(1);
        let overflow = KeyRef::overflow(key.len());
        match self.groups.find(&overflow) {
            Some(i) => i,
            None => self.groups.insert(&overflow, fresh),
        }
    }

    fn check_group_by(&self, theirs: &[&str]) -> Result<(), MergeError> {
        let ours: Vec<&str> = self
            .group_by()
            .dimensions()
            .iter()
            .map(|d| d.name())
            .collect();
        if ours == theirs {
            Ok(())
        } else {
            Err(MergeError::GroupByMismatch {
                ours: ours.join(","),
                theirs: theirs.join(","),
            })
        }
    }

    /// Adds every group of `other`; the result equals one aggregator fed both streams.
    ///
    /// # Errors
    /// The two group by different dimensions.
    pub fn merge(&mut self, other: &Aggregator) -> Result<(), MergeError> {
        let theirs: Vec<&str> = other
            .group_by()
            .dimensions()
            .iter()
            .map(|d| d.name())
            .collect();
        self.check_group_by(&theirs)?;
        for e in other.groups.entries() {
            self.merge_group(&e.key_ref(), &e.value);
        }
        self.overflow_runs = self.overflow_runs.saturating_add(other.overflow_runs);
        Ok(())
    }

    fn merge_group(&mut self, key: &KeyRef<'_>, stats: &GroupStats) {
        match self.groups.find(key) {
            Some(i) => {
                if let Some(s) = self.groups.get_mut(i) {
                    s.merge(stats);
                }
            }
            None if self.groups.len() < self.config.max_groups.max(1) => {
                self.groups.insert(key, stats.clone());
            }
            None => {
                self.overflow_runs = self.overflow_runs.saturating_add(stats.runs);
                let overflow = KeyRef::overflow(key.len());
                let i = match self.groups.find(&overflow) {
                    Some(i) => i,
                    None => self
                        .groups
                        .insert(&overflow, GroupStats::new(self.config.token_sketches)),
                };
                if let Some(s) = self.groups.get_mut(i) {
                    s.merge(stats);
                }
            }
        }
    }

    /// A serializable copy of the groups.
    #[must_use]
    pub fn snapshot(&self) -> AggregateSnapshot {
        AggregateSnapshot {
            group_by: self
                .group_by()
                .dimensions()
                .iter()
                .map(|d| d.name().to_owned())
                .collect(),
            groups: self
                .groups
                .entries()
                .iter()
                .map(|e| SnapshotGroup {
                    key: e.key.to_vec(),
                    stats: e.value.clone(),
                })
                .collect(),
            overflow_runs: self.overflow_runs,
        }
    }

    /// Adds the groups of a snapshot (from this or another process).
    ///
    /// # Errors
    /// The snapshot groups by other dimensions, or a group's key has the wrong length.
    pub fn merge_snapshot(&mut self, snapshot: &AggregateSnapshot) -> Result<(), MergeError> {
        let theirs: Vec<&str> = snapshot.group_by.iter().map(String::as_str).collect();
        self.check_group_by(&theirs)?;
        let expected = theirs.len();
        for (index, g) in snapshot.groups.iter().enumerate() {
            if g.key.len() != expected {
                return Err(MergeError::BadKey {
                    index,
                    found: g.key.len(),
                    expected,
                });
            }
        }
        for g in &snapshot.groups {
            self.merge_group(&key_from_owned(&g.key), &g.stats);
        }
        self.overflow_runs = self.overflow_runs.saturating_add(snapshot.overflow_runs);
        Ok(())
    }

    /// The groups: their labels and statistics, in first-seen order.
    pub fn groups(&self) -> impl Iterator<Item = (Vec<GroupLabel>, &GroupStats)> + '_ {
        let by = self.group_by();
        self.groups
            .entries()
            .iter()
            .map(move |e| (e.labels(by), &e.value))
    }

    /// The statistics of the group with these values, one per dimension (a model as
    /// `provider/model_id`, `None` for an absent value).
    #[must_use]
    pub fn group(&self, values: &[Option<&str>]) -> Option<&GroupStats> {
        self.groups
            .entries()
            .iter()
            .find(|e| {
                e.key.len() == values.len()
                    && e.key
                        .iter()
                        .zip(values)
                        .all(|(k, v)| k.display().as_deref() == *v)
            })
            .map(|e| &e.value)
    }

    /// Every group merged into one. When grouping by tool, a run with several tools is
    /// counted once per tool here too.
    #[must_use]
    pub fn total(&self) -> GroupStats {
        let mut total = GroupStats::new(self.config.token_sketches);
        for e in self.groups.entries() {
            total.merge(&e.value);
        }
        total
    }

    /// Bytes held by the groups' statistics and keys.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.groups
            .entries()
            .iter()
            .map(|e| {
                e.value.memory_bytes()
                    + e.key
                        .iter()
                        .map(|k| k.display().map_or(0, |s| s.len()))
                        .sum::<usize>()
            })
            .sum()
    }

    /// The dashboard table: one row per group.
    #[must_use]
    pub fn report(&self) -> Report {
        Report::from_aggregator(self, None)
    }

    /// The dashboard table with each row's change against the same group in `previous`.
    #[must_use]
    pub fn report_with_trend(&self, previous: &Aggregator) -> Report {
        Report::from_aggregator(self, Some(previous))
    }

    pub(crate) fn entries(&self) -> &[super::group::Entry<GroupStats>] {
        self.groups.entries()
    }

    pub(crate) fn find_stats(&self, key: &[GroupValue]) -> Option<&GroupStats> {
        let k = key_from_owned(key);
        self.groups
            .find(&k)
            .and_then(|i| self.groups.entries().get(i))
            .map(|e| &e.value)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run::{MetadataRecord, MetadataValue};
    use crate::schema::JsonMetadata;

    fn run(agent: &'static str, deadline: Option<&str>, target_s: Option<f64>) -> RunRecord {
        let mut run = RunRecord::new(agent, "2024-01-15T13:59:00Z".parse().unwrap());
        run.duration = Duration::from_secs(90);
        let mut values = serde_json::Map::new();
        if let Some(d) = deadline {
            values.insert("sla_deadline".into(), d.into());
        }
        if let Some(t) = target_s {
            values.insert("target".into(), t.into());
        }
        run.metadata = Some(MetadataRecord {
            value: MetadataValue::new(JsonMetadata {
                schema: "S".into(),
                version: 1,
                values,
                label_keys: vec![],
                sla_deadline_key: Some("sla_deadline".into()),
                sla_target_key: Some("target".into()),
            }),
            errors: None,
        });
        run
    }

    #[test]
    fn sla_fast_path_equals_evaluate() {
        let mut runs = Vec::new();
        for agent in ["support", "billing"] {
            for deadline in [None, Some("2024-01-15T14:00:00Z"), Some("not a date")] {
                for target in [None, Some(60.0), Some(120.0)] {
                    runs.push(run(agent, deadline, target));
                }
            }
            runs.push(RunRecord::new(agent, jiff::Timestamp::UNIX_EPOCH));
        }
        let base = SlaPolicy::new();
        let mut no_meta = SlaPolicy::new();
        no_meta.use_metadata = false;
        let policies = [
            base.clone(),
            no_meta.clone(),
            base.clone().with_default_target(Duration::from_secs(30)),
            base.clone()
                .with_agent_target("support", Duration::from_secs(100)),
            no_meta
                .clone()
                .with_agent_target("support", Duration::from_secs(100)),
            no_meta.with_default_target(Duration::from_secs(200)),
        ];
        for p in &policies {
            for r in &runs {
                assert_eq!(sla_outcome(p, r), p.evaluate(r), "{p:?} {r:?}");
            }
        }
    }
}
