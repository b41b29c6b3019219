//! Session and team rollups (Agno's session metrics and team metrics).
//!
//! Sums use each run's own usage, so a session's totals count every token once even when
//! child runs share the session. A team's "full" totals are its leader runs' own usage plus
//! their children's (the record's `children_usage`), Agno's leader-vs-team split.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use runmeta_core::metrics::{Cost, Usage};

use crate::codec::{duration, int, timestamp, uint, usage_from_row};
use crate::error::{Result, StoreError};
use crate::query::{where_clause, RunFilter};
use crate::schema::flags;
use crate::Store;

/// Totals of one session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRollup {
    /// The session's id.
    pub session_id: String,
    /// Runs in the session (children included: each has its own usage).
    pub runs: u64,
    /// Runs that succeeded.
    pub successes: u64,
    /// The agents that ran in it, sorted.
    pub agents: Vec<String>,
    /// Start of its first run.
    pub first_started: Timestamp,
    /// Start of its last run.
    pub last_started: Timestamp,
    /// Summed wall time of its top-level runs (Agno's session `duration`).
    pub duration: Duration,
    /// Summed own usage of every run.
    pub usage: Usage,
    /// Summed own cost of the priced runs.
    pub cost: Cost,
    /// Runs with usage or model calls that no price covered (as the report's
    /// `unpriced_runs`; a run with no usage and no cost is not one).
    pub unpriced_runs: u64,
    /// Tool calls.
    pub tool_calls: u64,
    /// Failed tool calls.
    pub tool_errors: u64,
}

/// Totals of one team.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamRollup {
    /// The team's name.
    pub team: String,
    /// Leader runs: runs of the team not started inside another run of the same team.
    pub team_runs: u64,
    /// The other runs that carry the team's name (members).
    pub member_runs: u64,
    /// Leader runs that succeeded.
    pub successes: u64,
    /// Summed wall time of the leader runs.
    pub duration: Duration,
    /// The leaders' own usage.
    pub leader_usage: Usage,
    /// The leaders' own usage plus everything run inside them, each token once.
    pub full_total_tokens: u64,
    /// The leaders' own cost.
    pub leader_cost: Cost,
    /// The leaders' own cost plus their children's.
    pub full_cost: Cost,
}

const ROLLUP_COLUMNS: &str = "r.input_tokens, r.output_tokens, r.total_tokens, \
    r.reasoning_tokens, r.cache_read_tokens, r.cache_write_tokens, r.audio_input_tokens, \
    r.audio_output_tokens, r.audio_total_tokens, r.cost_nanos, r.status, r.duration_ns, \
    r.started_at, r.agent, r.tool_call_count, r.tool_error_count, r.parent_run_id IS NULL";

impl Store {
    /// Session rollups of the runs matching `filter`, the most recently active first, at most
    /// `limit` sessions.
    ///
    /// # Errors
    /// A limit of 0 or an SQLite error.
    pub fn sessions(&self, filter: &RunFilter, limit: usize) -> Result<Vec<SessionRollup>> {
        if limit == 0 {
            return Err(StoreError::InvalidQuery("limit must be at least 1".into()));
        }
        let mut params = Vec::new();
        let mut conds = filter.conditions(&mut params);
        conds.push("r.session IS NOT NULL");
        // Grouped by the interned id (`runs_session` is on it), named through `sessions`.
        let sql = format!(
            "SELECT s.session_id, max(r.started_at) AS last \
             FROM runs r JOIN sessions s ON s.id = r.session{} \
             GROUP BY r.session ORDER BY last DESC, s.session_id LIMIT ?",
            where_clause(&conds)
        );
        let mut list_params = params.clone();
        list_params.push(SqlValue::Integer(int(limit as u64)));
        let ids: Vec<String> = self
            .conn()
            .prepare(&sql)?
            .query_map(params_from_iter(list_params), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;

        let mut per_session = filter.clone();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            per_session.session = Some(id.clone());
            let mut p = Vec::new();
            let c = per_session.conditions(&mut p);
            let sql = format!(
                "SELECT {ROLLUP_COLUMNS}, r.flags FROM runs r{}",
                where_clause(&c)
            );
            let mut s = SessionRollup {
                session_id: id,
                runs: 0,
                successes: 0,
                agents: Vec::new(),
                first_started: Timestamp::MAX,
                last_started: Timestamp::MIN,
                duration: Duration::ZERO,
                usage: Usage::default(),
                cost: Cost::ZERO,
                unpriced_runs: 0,
                tool_calls: 0,
                tool_errors: 0,
            };
            let mut stmt = self.conn().prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(p))?;
            while let Some(row) = rows.next()? {
                s.runs += 1;
                s.usage += usage_from_row(row, 0)?;
                if let Some(c) = row.get::<_, Option<i64>>(9)? {
                    s.cost += Cost::from_nanos(uint(c));
                }
                // As the report counts them: a run with tokens or calls no price covered.
                if row.get::<_, i64>(17)? & flags::UNPRICED != 0 {
                    s.unpriced_runs += 1;
                }
                s.successes += u64::from(row.get::<_, String>(10)? == "success");
                if row.get::<_, bool>(16)? {
                    s.duration = s.duration.saturating_add(duration(row.get(11)?));
                }
                let started = timestamp(row.get(12)?);
                s.first_started = s.first_started.min(started);
                s.last_started = s.last_started.max(started);
                let agent: String = row.get(13)?;
                if let Err(pos) = s.agents.binary_search(&agent) {
                    s.agents.insert(pos, agent);
                }
                s.tool_calls = s.tool_calls.saturating_add(uint(row.get(14)?));
                s.tool_errors = s.tool_errors.saturating_add(uint(row.get(15)?));
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Team rollups of the runs matching `filter` that carry a team, by team name.
    ///
    /// # Errors
    /// An SQLite error.
    pub fn teams(&self, filter: &RunFilter) -> Result<Vec<TeamRollup>> {
        let mut params = Vec::new();
        let mut conds = filter.conditions(&mut params);
        conds.push("r.team IS NOT NULL");
        let sql = format!(
            "SELECT {ROLLUP_COLUMNS}, r.team, r.children_tokens, r.children_cost_nanos, \
             NOT EXISTS (SELECT 1 FROM runs p WHERE p.run_id = r.parent_run_id \
                         AND p.team = r.team) \
             FROM runs r{}",
            where_clause(&conds)
        );
        let mut teams: BTreeMap<String, TeamRollup> = BTreeMap::new();
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(17)?;
            let t = teams.entry(name.clone()).or_insert_with(|| TeamRollup {
                team: name,
                team_runs: 0,
                member_runs: 0,
                successes: 0,
                duration: Duration::ZERO,
                leader_usage: Usage::default(),
                full_total_tokens: 0,
                leader_cost: Cost::ZERO,
                full_cost: Cost::ZERO,
            });
            if !row.get::<_, bool>(20)? {
                t.member_runs += 1;
                continue;
            }
            t.team_runs += 1;
            t.successes += u64::from(row.get::<_, String>(10)? == "success");
            t.duration = t.duration.saturating_add(duration(row.get(11)?));
            let own = usage_from_row(row, 0)?;
            t.leader_usage += own;
            t.full_total_tokens = t
                .full_total_tokens
                .saturating_add(own.total_tokens)
                .saturating_add(uint(row.get(18)?));
            let cost = Cost::from_nanos(uint(row.get::<_, Option<i64>>(9)?.unwrap_or(0)));
            t.leader_cost += cost;
            t.full_cost += cost + Cost::from_nanos(uint(row.get(19)?));
        }
        Ok(teams.into_values().collect())
    }
}
