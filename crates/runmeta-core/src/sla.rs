//! Service-level checks of finished runs: deadlines and target durations.
//!
//! A run can carry two kinds of SLA:
//!
//! - a **deadline**: the metadata field marked `sla_deadline` (an RFC 3339 instant). The run
//!   breaches it when it *ended* (`started_at + duration`) after the deadline. It is **at risk**
//!   when the time left at its start was under [`SlaPolicy::at_risk_threshold`] (including a
//!   run started after its deadline had passed).
//! - a **target duration**: the metadata field marked `sla_target_seconds`, else the
//!   per-agent target of the policy, else the policy's default. The run breaches it when its
//!   wall time exceeds the target (Agno's `duration > sla_target_seconds`).
//!
//! A run with neither has no SLA: it is not counted in breach rates.
//!
//! ```
//! use std::time::Duration;
//! use runmeta_core::run::RunRecord;
//! use runmeta_core::sla::SlaPolicy;
//!
//! let policy = SlaPolicy::new().with_agent_target("support", Duration::from_secs(3));
//! let mut run = RunRecord::new("support", "2024-01-15T13:00:00Z".parse().unwrap());
//! run.duration = Duration::from_millis(3_500);
//! let outcome = policy.evaluate(&run);
//! assert!(outcome.has_sla && outcome.breached && outcome.target_breached);
//! assert_eq!(outcome.overrun, Some(Duration::from_millis(500)));
//! ```

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::run::RunRecord;
use crate::schema::Deadline;

/// Where SLA targets come from and when a run counts as at risk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Target duration for runs whose agent has none and whose metadata sets none.
    pub default_target: Option<Duration>,
    /// Target duration per agent name (overridden by a target in the run's metadata).
    pub agent_targets: HashMap<String, Duration>,
    /// A run whose deadline left less than this at its start is at risk. Default: 60 s.
    pub at_risk_threshold: Duration,
    /// Read `sla_deadline` and `sla_target_seconds` fields from the metadata. Default: true.
    pub use_metadata: bool,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy::new()
    }
}

/// The SLA verdict on one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SlaOutcome {
    /// The run had a deadline or a target.
    pub has_sla: bool,
    /// The run breached its deadline or its target.
    pub breached: bool,
    /// The run ended after its deadline.
    pub deadline_breached: bool,
    /// The run took longer than its target.
    pub target_breached: bool,
    /// The run's deadline left less than the at-risk threshold at its start.
    pub at_risk: bool,
    /// The deadline that applied.
    pub deadline: Option<Deadline>,
    /// The target duration that applied.
    pub target: Option<Duration>,
    /// Time between the run's start and its deadline (zero if it started past it).
    pub time_left_at_start: Option<Duration>,
    /// By how much the run missed: the larger of its lateness past the deadline and its
    /// excess over the target; `None` when not breached.
    pub overrun: Option<Duration>,
}

impl SlaPolicy {
    /// A policy with no default or per-agent targets, metadata SLAs on, and a 60 s at-risk
    /// threshold.
    #[must_use]
    pub fn new() -> Self {
        SlaPolicy {
            default_target: None,
            agent_targets: HashMap::new(),
            at_risk_threshold: Duration::from_secs(60),
            use_metadata: true,
        }
    }

    /// Sets the default target duration.
    #[must_use]
    pub fn with_default_target(mut self, target: Duration) -> Self {
        self.default_target = Some(target);
        self
    }

    /// Sets one agent's target duration.
    #[must_use]
    pub fn with_agent_target(mut self, agent: impl Into<String>, target: Duration) -> Self {
        self.agent_targets.insert(agent.into(), target);
        self
    }

    /// Sets the at-risk threshold.
    #[must_use]
    pub fn with_at_risk_threshold(mut self, threshold: Duration) -> Self {
        self.at_risk_threshold = threshold;
        self
    }

    /// True when no run can have an SLA under this policy (nothing to evaluate).
    #[must_use]
    pub fn is_inert(&self) -> bool {
        !self.use_metadata && self.default_target.is_none() && self.agent_targets.is_empty()
    }

    /// The target duration that applies to `run`.
    #[must_use]
    pub fn target_for(&self, run: &RunRecord) -> Option<Duration> {
        let from_meta = if self.use_metadata {
            run.metadata.as_ref().and_then(|m| m.value.sla_target())
        } else {
            None
        };
        from_meta
            .or_else(|| self.agent_targets.get(run.agent.as_ref()).copied())
            .or(self.default_target)
    }

    /// Judges one finished run.
    #[must_use]
    pub fn evaluate(&self, run: &RunRecord) -> SlaOutcome {
        let deadline = if self.use_metadata {
            run.metadata.as_ref().and_then(|m| m.value.sla_deadline())
        } else {
            None
        };
        let target = self.target_for(run);
        let mut out = SlaOutcome {
            has_sla: deadline.is_some() || target.is_some(),
            deadline,
            target,
            ..SlaOutcome::default()
        };
        let mut overrun = Duration::ZERO;
        if let Some(d) = deadline {
            let left = d.remaining_at(run.started_at).unwrap_or(Duration::ZERO);
            out.time_left_at_start = Some(left);
            out.at_risk = left < self.at_risk_threshold;
            let ended = ended_at(run.started_at, run.duration);
            if d.is_breached_at(ended) {
                out.deadline_breached = true;
                let late = ended.duration_since(d.timestamp());
                overrun = overrun.max(Duration::try_from(late).unwrap_or(Duration::ZERO));
            }
        }
        if let Some(t) = target {
            if run.duration > t {
                out.target_breached = true;
                overrun = overrun.max(run.duration - t);
            }
        }
        out.breached = out.deadline_breached || out.target_breached;
        if out.breached {
            out.overrun = Some(overrun);
        }
        out
    }
}

/// `start + duration`, saturating at the largest timestamp.
fn ended_at(start: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| start.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Counts of SLA outcomes, as the aggregator keeps them per group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlaCounts {
    /// Runs that had an SLA.
    pub with_sla: u64,
    /// Runs that breached it.
    pub breached: u64,
    /// Runs at risk at their start.
    pub at_risk: u64,
}

impl SlaCounts {
    /// Counts one outcome.
    pub fn add(&mut self, o: &SlaOutcome) {
        if o.has_sla {
            self.with_sla = self.with_sla.saturating_add(1);
            self.breached = self.breached.saturating_add(u64::from(o.breached));
            self.at_risk = self.at_risk.saturating_add(u64::from(o.at_risk));
        }
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, o: &SlaCounts) {
        self.with_sla = self.with_sla.saturating_add(o.with_sla);
        self.breached = self.breached.saturating_add(o.breached);
        self.at_risk = self.at_risk.saturating_add(o.at_risk);
    }

    /// Breaches per run with an SLA; `None` when no run had one.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn breach_rate(&self) -> Option<f64> {
        (self.with_sla > 0).then(|| self.breached as f64 / self.with_sla as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{MetadataRecord, MetadataValue};
    use crate::schema::JsonMetadata;

    fn run_with_deadline(start: &str, deadline: &str, dur_s: u64) -> RunRecord {
        let mut run = RunRecord::new("support", start.parse().unwrap());
        run.duration = Duration::from_secs(dur_s);
        let mut values = serde_json::Map::new();
        values.insert("sla_deadline".into(), deadline.into());
        let meta = JsonMetadata {
            schema: "S".into(),
            version: 1,
            values,
            label_keys: vec![],
            sla_deadline_key: Some("sla_deadline".into()),
            sla_target_key: None,
        };
        run.metadata = Some(MetadataRecord {
            value: MetadataValue::new(meta),
            errors: None,
        });
        run
    }

    #[test]
    fn deadline_breach_uses_end_time() {
        let p = SlaPolicy::new();
        let ok = run_with_deadline("2024-01-15T13:59:00Z", "2024-01-15T14:00:00Z", 59);
        let o = p.evaluate(&ok);
        assert!(o.has_sla && !o.breached);
        assert!(
            !o.at_risk,
            "exactly 60 s left is not under the 60 s threshold"
        );
        let close = run_with_deadline("2024-01-15T13:59:30Z", "2024-01-15T14:00:00Z", 10);
        assert!(p.evaluate(&close).at_risk);
    }

    #[test]
    fn deadline_breach_and_overrun() {
        let p = SlaPolicy::new();
        let late = run_with_deadline("2024-01-15T13:00:00Z", "2024-01-15T14:00:00Z", 3_610);
        let o = p.evaluate(&late);
        assert!(o.breached && o.deadline_breached && !o.at_risk);
        assert_eq!(o.overrun, Some(Duration::from_secs(10)));
        assert_eq!(o.time_left_at_start, Some(Duration::from_secs(3_600)));
    }

    #[test]
    fn started_after_deadline_is_at_risk() {
        let p = SlaPolicy::new();
        let r = run_with_deadline("2024-01-15T15:00:00Z", "2024-01-15T14:00:00Z", 0);
        let o = p.evaluate(&r);
        assert!(o.at_risk && o.breached);
        assert_eq!(o.time_left_at_start, Some(Duration::ZERO));
    }

    #[test]
    fn no_sla_is_not_counted() {
        let p = SlaPolicy::new();
        let r = RunRecord::new("a", Timestamp::UNIX_EPOCH);
        let o = p.evaluate(&r);
        assert!(!o.has_sla);
        let mut c = SlaCounts::default();
        c.add(&o);
        assert_eq!(c.breach_rate(), None);
    }
}
