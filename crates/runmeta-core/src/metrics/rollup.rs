//! Session and team rollups of run records.
//!
//! A record's `metrics` hold the run's own model calls only (children excluded), so summing
//! the own metrics of a set of runs counts every token exactly once. Timing is different: a
//! child run's wall time lies inside its parent's, so only runs without a parent add their
//! duration and time to first token to a session, and a team's full total keeps the leader's
//! timing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value};

use super::json::{put_count, seconds_value};
use super::json_calls::details_json;
use super::Metrics;
use crate::run::{ModelBreakdown, RunId, RunRecord};

impl RunRecord {
    /// The run's own metrics (its model calls, children excluded) with `duration` set to the
    /// run's wall time and `time_to_first_token` to the run's (from its start).
    #[must_use]
    pub fn run_metrics(&self) -> Metrics {
        let mut m = self.metrics.clone();
        m.duration = Some(self.duration);
        m.time_to_first_token = self.time_to_first_token.or(m.time_to_first_token);
        m
    }
}

/// The metrics of one session: the sum of its runs (Agno's `session_metrics`; with team
/// members' runs included, its `full_team_session_metrics`).
///
/// Every run adds its own token counts, cost, provider and additional metrics, per-model
/// breakdown and model time. Only top-level runs (without a parent) add their wall time to
/// `metrics.duration` and compete for the earliest `time_to_first_token`, since a child
/// run's time lies within its parent's. A child whose parent belongs to another session
/// therefore adds no duration here.
///
/// ```
/// use std::time::Duration;
/// use runmeta_core::metrics::{Metrics, SessionMetrics, Usage};
/// use runmeta_core::run::RunRecord;
///
/// let start = "2024-01-15T14:00:00Z".parse().unwrap();
/// let mut first = RunRecord::new("support", start);
/// first.duration = Duration::from_secs(2);
/// first.metrics = Metrics::from_usage(Usage::new(150, 500));
/// let mut second = RunRecord::new("support", start);
/// second.duration = Duration::from_secs(1);
/// second.metrics = Metrics::from_usage(Usage::new(80, 20));
///
/// let session = SessionMetrics::from_runs(&[first, second]);
/// assert_eq!(session.run_count, 2);
/// assert_eq!(session.metrics.usage.total_tokens, 750);
/// assert_eq!(session.metrics.duration, Some(Duration::from_secs(3)));
/// assert_eq!(session.runs_by_agent["support"], 2);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SessionMetrics {
    /// The session's id, from the first run that had one.
    pub session_id: Option<String>,
    /// The summed metrics (see the type's docs for timing).
    pub metrics: Metrics,
    /// Number of runs added, children included.
    pub run_count: u64,
    /// Number of runs per agent name.
    pub runs_by_agent: BTreeMap<String, u64>,
    /// The runs' per-model breakdowns merged by model (Agno's session `details`).
    pub per_model: Vec<ModelBreakdown>,
    /// Summed model time of the runs.
    pub model_time: Duration,
}

impl SessionMetrics {
    /// An empty session.
    #[must_use]
    pub fn new() -> Self {
        SessionMetrics::default()
    }

    /// The sum of `runs` (the caller picks the runs of one session; see
    /// [`SessionMetrics::by_session`] to group them).
    #[must_use]
    pub fn from_runs(runs: &[RunRecord]) -> Self {
        let mut session = SessionMetrics::new();
        for run in runs {
            session.add(run);
        }
        session
    }

    /// One [`SessionMetrics`] per session id, for the runs that have one.
    #[must_use]
    pub fn by_session(runs: &[RunRecord]) -> BTreeMap<String, SessionMetrics> {
        let mut out: BTreeMap<String, SessionMetrics> = BTreeMap::new();
        for run in runs {
            if let Some(id) = &run.session_id {
                out.entry(id.to_string()).or_default().add(run);
            }
        }
        out
    }

    /// Adds one run.
    pub fn add(&mut self, run: &RunRecord) {
        if self.session_id.is_none() {
            self.session_id = run.session_id.as_deref().map(str::to_owned);
        }
        if run.parent_run_id.is_none() {
            self.metrics.accumulate(&run.run_metrics());
        } else {
            self.metrics.accumulate_counts(&run.metrics);
        }
        self.run_count = self.run_count.saturating_add(1);
        let count = self.runs_by_agent.entry(run.agent.to_string()).or_default();
        *count = count.saturating_add(1);
        merge_breakdowns(&mut self.per_model, &run.per_model);
        self.model_time = self.model_time.saturating_add(run.model_time);
    }

    /// The session as JSON: Agno's metrics fields, `details` (per model, grouped by model
    /// type), `run_count`, `runs_by_agent` and `model_time` (seconds).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = self.metrics.to_json_map();
        let details = details_json(&self.per_model);
        if !details.is_empty() {
            map.insert("details".to_owned(), Value::Object(details));
        }
        put_count(&mut map, "run_count", self.run_count);
        if !self.runs_by_agent.is_empty() {
            let by_agent: Map<String, Value> = self
                .runs_by_agent
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(*v)))
                .collect();
            map.insert("runs_by_agent".to_owned(), Value::Object(by_agent));
        }
        if self.model_time > Duration::ZERO {
            map.insert("model_time".to_owned(), seconds_value(self.model_time));
        }
        if let Some(id) = &self.session_id {
            map.insert("session_id".to_owned(), id.clone().into());
        }
        Value::Object(map)
    }
}

/// Merges breakdowns into `into` by model (role, provider and id), keeping first-seen order.
fn merge_breakdowns(into: &mut Vec<ModelBreakdown>, from: &[ModelBreakdown]) {
    for b in from {
        match into.iter_mut().find(|e| e.model == b.model) {
            Some(e) => {
                e.calls = e.calls.saturating_add(b.calls);
                e.metrics.accumulate(&b.metrics);
            }
            None => into.push(b.clone()),
        }
    }
}

/// One run under a team leader: a member, or a run started inside a member (an agent called
/// from a tool), with its own metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberMetrics {
    /// The run's id.
    pub run_id: RunId,
    /// The run it was started in.
    pub parent_run_id: RunId,
    /// The agent's name.
    pub agent: String,
    /// 1 for a direct member of the leader, 2 for a run started inside a member, ...
    pub depth: u32,
    /// The run's own metrics ([`RunRecord::run_metrics`]).
    pub metrics: Metrics,
}

/// A team run's metrics (Agno's team metrics): the leader's own, and the full team's.
///
/// `full_team` sums the leader's own metrics and the own metrics of every run below it
/// (members, runs started inside members, found through `parent_run_id`), each run counted
/// once; its duration and time to first token are the leader's, since the members ran
/// within the leader's run.
///
/// [`TeamMetrics::accumulate`] combines the team runs of a session (Agno's
/// `session_metrics` for `leader` and `full_team_session_metrics` for `full_team`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TeamMetrics {
    /// The leader run's own metrics (its model calls only).
    pub leader: Metrics,
    /// The leader and every run below it, each counted once.
    pub full_team: Metrics,
    /// The runs below the leader, breadth-first.
    pub members: Vec<MemberMetrics>,
}

impl TeamMetrics {
    /// The team metrics of the run `leader`, from `runs` (which must contain the leader and
    /// may contain unrelated runs). `None` when the leader is not in `runs`. A run listed
    /// twice, or a cycle in the parent links, is counted once.
    #[must_use]
    pub fn for_leader(leader: RunId, runs: &[RunRecord]) -> Option<TeamMetrics> {
        let mut by_id: HashMap<RunId, &RunRecord> = HashMap::new();
        let mut children: HashMap<RunId, Vec<RunId>> = HashMap::new();
        for run in runs {
            if by_id.contains_key(&run.run_id) {
                continue;
            }
            by_id.insert(run.run_id, run);
            if let Some(parent) = run.parent_run_id {
                children.entry(parent).or_default().push(run.run_id);
            }
        }
        let leader_run = by_id.get(&leader)?;
        let leader_metrics = leader_run.run_metrics();
        let mut team = TeamMetrics {
            full_team: leader_metrics.clone(),
            leader: leader_metrics,
            members: Vec::new(),
        };
        let mut seen: HashSet<RunId> = HashSet::from([leader]);
        let mut queue: VecDeque<(RunId, u32)> = VecDeque::from([(leader, 0)]);
        while let Some((parent, depth)) = queue.pop_front() {
            for child in children.get(&parent).into_iter().flatten() {
                if !seen.insert(*child) {
                    continue;
                }
                let Some(run) = by_id.get(child) else {
                    continue;
                };
                team.full_team.accumulate_counts(&run.metrics);
                team.members.push(MemberMetrics {
                    run_id: run.run_id,
                    parent_run_id: parent,
                    agent: run.agent.to_string(),
                    depth: depth.saturating_add(1),
                    metrics: run.run_metrics(),
                });
                queue.push_back((*child, depth.saturating_add(1)));
            }
        }
        Some(team)
    }

    /// Adds another team run (session level): the leaders' and the full teams' metrics
    /// accumulate (durations sum, the earliest time to first token is kept), members append.
    pub fn accumulate(&mut self, other: &TeamMetrics) {
        self.leader.accumulate(&other.leader);
        self.full_team.accumulate(&other.full_team);
        self.members.extend(other.members.iter().cloned());
    }

    /// The team as JSON: `leader` and `full_team` metrics (Agno's form) and `members`, each
    /// with `run_id`, `parent_run_id`, `agent_name`, `depth` and `metrics`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "run_id": m.run_id.to_string(),
                    "parent_run_id": m.parent_run_id.to_string(),
                    "agent_name": m.agent,
                    "depth": m.depth,
                    "metrics": m.metrics.to_json(),
                })
            })
            .collect();
        serde_json::json!({
            "leader": self.leader.to_json(),
            "full_team": self.full_team.to_json(),
            "members": members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Usage;

    fn run(agent: &'static str, parent: Option<RunId>, input: u64) -> RunRecord {
        let mut r = RunRecord::new(agent, "2024-01-15T14:00:00Z".parse().unwrap());
        r.parent_run_id = parent;
        r.duration = Duration::from_secs(1);
        r.metrics = Metrics::from_usage(Usage::new(input, 1));
        r
    }

    #[test]
    fn unknown_leader_is_none() {
        assert!(TeamMetrics::for_leader(RunId::new(), &[run("a", None, 1)]).is_none());
    }

    #[test]
    fn duplicates_and_cycles_count_once() {
        let mut a = run("a", None, 10);
        let b = run("b", Some(a.run_id), 20);
        // A corrupt link: the leader claims to be the member's child.
        a.parent_run_id = Some(b.run_id);
        let team = TeamMetrics::for_leader(a.run_id, &[a.clone(), b.clone(), b.clone()]).unwrap();
        assert_eq!(team.full_team.usage.input_tokens, 30);
        assert_eq!(team.members.len(), 1);
    }

    #[test]
    fn child_runs_add_no_session_duration() {
        let parent = run("lead", None, 10);
        let child = run("member", Some(parent.run_id), 5);
        let s = SessionMetrics::from_runs(&[parent, child]);
        assert_eq!(s.metrics.duration, Some(Duration::from_secs(1)));
        assert_eq!(s.metrics.usage.input_tokens, 15);
        assert_eq!(s.run_count, 2);
    }
}
