//! Session and team rollups, checked against hand-computed totals.
//!
//! The team: a leader run with two members, `researcher` and `writer`; the researcher calls
//! a tool that starts a `fact_checker` agent (a grandchild of the leader).
//!
//! | run | parent | input | output | cost (nano) | duration | ttft |
//! |---|---|---|---|---|---|---|
//! | leader | – | 1000 | 200 | 10 000 | 10 s | 0.8 s |
//! | researcher | leader | 400 | 100 | 4 000 | 4 s | 0.5 s |
//! | writer | leader | 300 | 50 | 3 000 | 3 s | 0.6 s |
//! | fact_checker | researcher | 120 | 30 | none | 1.5 s | 0.2 s |
//!
//! Full team: input 1820, output 380, total 2200, cost 17 000, duration 10 s (the leader's).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, SessionMetrics, TeamMetrics, Usage,
};
use runmeta_core::run::{RunId, RunRecord};

fn start() -> Timestamp {
    "2025-03-01T09:30:00Z".parse().unwrap()
}

#[allow(clippy::too_many_arguments)]
fn run(
    agent: &'static str,
    parent: Option<&RunRecord>,
    session: &str,
    model: &str,
    usage: Usage,
    cost: Option<u64>,
    duration_ms: u64,
    ttft_ms: u64,
) -> RunRecord {
    let mut r = RunRecord::new(agent, start());
    r.parent_run_id = parent.map(|p| p.run_id);
    r.session_id = Some(Arc::from(session));
    r.duration = Duration::from_millis(duration_ms);
    r.messages = vec![MessageMetrics {
        model: Some(ModelRef::new("openai", model)),
        started_at: Some(start()),
        metrics: Metrics {
            usage,
            duration: Some(Duration::from_millis(duration_ms / 2)),
            time_to_first_token: Some(Duration::from_millis(ttft_ms)),
            cost: cost.map(Cost::from_nanos),
            ..Metrics::default()
        },
    }];
    r.recompute_totals();
    r
}

struct Team {
    leader: RunRecord,
    researcher: RunRecord,
    writer: RunRecord,
    fact_checker: RunRecord,
}

fn team(session: &str) -> Team {
    let mut leader = run(
        "leader",
        None,
        session,
        "gpt-4o",
        Usage::new(1000, 200),
        Some(10_000),
        10_000,
        800,
    );
    let mut researcher = run(
        "researcher",
        Some(&leader),
        session,
        "gpt-4o-mini",
        Usage::new(400, 100),
        Some(4_000),
        4_000,
        500,
    );
    let writer = run(
        "writer",
        Some(&leader),
        session,
        "gpt-4o-mini",
        Usage::new(300, 50),
        Some(3_000),
        3_000,
        600,
    );
    let fact_checker = run(
        "fact_checker",
        Some(&researcher),
        session,
        "gpt-4o-mini",
        Usage::new(120, 30),
        None,
        1_500,
        200,
    );
    // What the collector records for the children of each run.
    researcher.children_usage = fact_checker.total_usage();
    researcher.children_cost = fact_checker.total_cost();
    researcher.child_runs = 1;
    leader.children_usage = researcher.total_usage() + writer.total_usage();
    leader.children_cost = researcher.total_cost() + writer.total_cost();
    leader.child_runs = 3;
    Team {
        leader,
        researcher,
        writer,
        fact_checker,
    }
}

impl Team {
    fn records(&self) -> Vec<RunRecord> {
        vec![
            self.fact_checker.clone(),
            self.leader.clone(),
            self.writer.clone(),
            self.researcher.clone(),
        ]
    }
}

#[test]
fn leader_and_full_team() {
    let t = team("s1");
    let unrelated = run(
        "other",
        None,
        "s1",
        "gpt-4o",
        Usage::new(9_999, 9_999),
        Some(1),
        1,
        1,
    );
    let mut records = t.records();
    records.push(unrelated);
    let m = TeamMetrics::for_leader(t.leader.run_id, &records).unwrap();

    assert_eq!(m.leader.usage, Usage::new(1000, 200));
    assert_eq!(m.leader.cost, Some(Cost::from_nanos(10_000)));
    assert_eq!(m.leader.duration, Some(Duration::from_secs(10)));
    assert_eq!(
        m.leader.time_to_first_token,
        Some(Duration::from_millis(800))
    );

    assert_eq!(m.full_team.usage, Usage::new(1820, 380));
    assert_eq!(m.full_team.usage.total_tokens, 2200);
    assert_eq!(m.full_team.cost, Some(Cost::from_nanos(17_000)));
    assert_eq!(m.full_team.duration, Some(Duration::from_secs(10)));
    assert_eq!(
        m.full_team.time_to_first_token,
        Some(Duration::from_millis(800))
    );
    // The same total the collector's children sums give: no double counting.
    assert_eq!(m.full_team.usage, t.leader.total_usage());
    assert_eq!(m.full_team.cost, Some(t.leader.total_cost()));

    let members: Vec<(&str, u32, RunId)> = m
        .members
        .iter()
        .map(|x| (x.agent.as_str(), x.depth, x.parent_run_id))
        .collect();
    assert_eq!(
        members,
        vec![
            ("writer", 1, t.leader.run_id),
            ("researcher", 1, t.leader.run_id),
            ("fact_checker", 2, t.researcher.run_id),
        ]
    );
    let researcher = &m.members[1];
    assert_eq!(
        researcher.metrics.usage,
        Usage::new(400, 100),
        "own metrics only"
    );
    assert_eq!(researcher.metrics.duration, Some(Duration::from_secs(4)));

    let json = m.to_json();
    assert_eq!(json["full_team"]["total_tokens"], 2200);
    assert_eq!(json["leader"]["total_tokens"], 1200);
    assert_eq!(json["members"][2]["agent_name"], "fact_checker");
}

#[test]
fn a_member_as_leader_sees_its_own_subtree() {
    let t = team("s1");
    let m = TeamMetrics::for_leader(t.researcher.run_id, &t.records()).unwrap();
    assert_eq!(m.full_team.usage, Usage::new(520, 130));
    assert_eq!(m.full_team.cost, Some(Cost::from_nanos(4_000)));
    assert_eq!(m.members.len(), 1);
}

#[test]
fn team_session_metrics() {
    let first = team("s1");
    let second = run(
        "leader",
        None,
        "s1",
        "gpt-4o",
        Usage::new(500, 100),
        Some(2_000),
        5_000,
        300,
    );
    let mut session = TeamMetrics::for_leader(first.leader.run_id, &first.records()).unwrap();
    session.accumulate(
        &TeamMetrics::for_leader(second.run_id, std::slice::from_ref(&second)).unwrap(),
    );
    // Agno's team.session_metrics: the leader runs only.
    assert_eq!(session.leader.usage, Usage::new(1500, 300));
    assert_eq!(session.leader.duration, Some(Duration::from_secs(15)));
    assert_eq!(
        session.leader.time_to_first_token,
        Some(Duration::from_millis(300))
    );
    // Agno's team.full_team_session_metrics: leaders and all members.
    assert_eq!(session.full_team.usage, Usage::new(2320, 480));
    assert_eq!(session.full_team.cost, Some(Cost::from_nanos(19_000)));
    assert_eq!(session.full_team.duration, Some(Duration::from_secs(15)));
}

#[test]
fn session_metrics_sum_every_run_once() {
    let t = team("s1");
    let second = run(
        "leader",
        None,
        "s1",
        "gpt-4o",
        Usage::new(500, 100),
        Some(2_000),
        5_000,
        300,
    );
    let other = run(
        "support",
        None,
        "s2",
        "gpt-4o",
        Usage::new(50, 5),
        None,
        700,
        100,
    );
    let mut records = t.records();
    records.push(second);
    records.push(other);

    let sessions = SessionMetrics::by_session(&records);
    assert_eq!(sessions.len(), 2);
    let s1 = &sessions["s1"];
    assert_eq!(s1.session_id.as_deref(), Some("s1"));
    assert_eq!(s1.run_count, 5);
    assert_eq!(s1.metrics.usage, Usage::new(2320, 480));
    assert_eq!(s1.metrics.cost, Some(Cost::from_nanos(19_000)));
    // Wall time of the top-level runs only: the members ran inside the leader's 10 s.
    assert_eq!(s1.metrics.duration, Some(Duration::from_secs(15)));
    assert_eq!(
        s1.metrics.time_to_first_token,
        Some(Duration::from_millis(300))
    );
    assert_eq!(
        s1.runs_by_agent
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        vec![
            ("fact_checker", 1),
            ("leader", 2),
            ("researcher", 1),
            ("writer", 1)
        ]
    );
    // Per-model details merged across runs.
    let models: Vec<(&str, u64, u64)> = s1
        .per_model
        .iter()
        .map(|b| (b.model.id.as_str(), b.calls, b.metrics.usage.input_tokens))
        .collect();
    assert_eq!(models, vec![("gpt-4o-mini", 3, 820), ("gpt-4o", 2, 1500)]);
    // Model time: half of each run's duration, in the message durations above.
    assert_eq!(s1.model_time, Duration::from_millis(11_750));

    let s2 = &sessions["s2"];
    assert_eq!(s2.run_count, 1);
    assert_eq!(s2.metrics.cost, None);

    // Incremental and batch agree.
    let mut incremental = SessionMetrics::new();
    for r in records
        .iter()
        .filter(|r| r.session_id.as_deref() == Some("s1"))
    {
        incremental.add(r);
    }
    assert_eq!(&incremental, s1);

    let json = s1.to_json();
    assert_eq!(json["run_count"], 5);
    assert_eq!(json["total_tokens"], 2800);
    assert_eq!(json["duration"], 15.0);
    assert_eq!(json["details"]["model"][0]["id"], "gpt-4o-mini");
    assert_eq!(json["runs_by_agent"]["leader"], 2);
}

#[test]
fn runs_without_session_are_not_grouped() {
    let mut r = RunRecord::new("a", start());
    r.session_id = None;
    assert!(SessionMetrics::by_session(&[r.clone()]).is_empty());
    let s = SessionMetrics::from_runs(&[r]);
    assert_eq!(s.run_count, 1);
    assert_eq!(s.session_id, None);
}
