//! Filters and run listings with keyset pagination.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Row};

use runmeta_core::metrics::Cost;
use runmeta_core::run::{RunId, RunStatus};

use crate::codec::{duration, int, timestamp, ts_nanos, uint};
use crate::error::{Result, StoreError};
use crate::Store;

/// Which runs a query covers. Every set field must match; label pairs all must match.
///
/// Values are always bound as SQL parameters, never spliced into the statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Runs started at or after this instant.
    pub from: Option<Timestamp>,
    /// Runs started before this instant.
    pub to: Option<Timestamp>,
    /// Runs of this agent.
    pub agent: Option<String>,
    /// Runs of this session.
    pub session: Option<String>,
    /// Runs of this team.
    pub team: Option<String>,
    /// Runs of this release.
    pub release: Option<String>,
    /// Runs that ended this way.
    pub status: Option<RunStatus>,
    /// Runs whose metadata has every one of these `(label key, value)` pairs.
    pub labels: Vec<(String, String)>,
}

impl RunFilter {
    /// A filter on runs started in `[from, to)`.
    #[must_use]
    pub fn between(from: Timestamp, to: Timestamp) -> Self {
        RunFilter {
            from: Some(from),
            to: Some(to),
            ..RunFilter::default()
        }
    }

    /// The `WHERE` conditions on table alias `r`, their parameters appended to `params`.
    pub(crate) fn conditions(&self, params: &mut Vec<SqlValue>) -> Vec<&'static str> {
        let mut conds = Vec::new();
        let text = |s: &String| SqlValue::Text(s.clone());
        if let Some(from) = self.from {
            conds.push("r.started_at >= ?");
            params.push(SqlValue::Integer(clamp_ts(from)));
        }
        if let Some(to) = self.to {
            conds.push("r.started_at < ?");
            params.push(SqlValue::Integer(clamp_ts(to)));
        }
        let columns = [
            ("r.agent = ?", &self.agent),
            // The session's interned id (no session with that id: no run matches).
            (
                "r.session = (SELECT id FROM sessions WHERE session_id = ?)",
                &self.session,
            ),
            ("r.team = ?", &self.team),
            ("r.release = ?", &self.release),
        ];
        for (cond, value) in columns {
            if let Some(v) = value {
                conds.push(cond);
                params.push(text(v));
            }
        }
        if let Some(st) = self.status {
            conds.push("r.status = ?");
            params.push(SqlValue::Text(st.as_str().to_owned()));
        }
        for (k, v) in &self.labels {
            conds.push(
                "r.label_set IN (SELECT set_id FROM label_values WHERE key = ? AND value = ?)",
            );
            params.push(text(k));
            params.push(text(v));
        }
        conds
    }
}

/// ` WHERE a AND b` (empty without conditions).
pub(crate) fn where_clause(conds: &[&str]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// A timestamp as Unix nanoseconds, clamped to what the store can hold.
pub(crate) fn clamp_ts(t: Timestamp) -> i64 {
    ts_nanos(t).unwrap_or(if t < Timestamp::UNIX_EPOCH {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A page request for [`Store::runs`]: newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunQuery {
    /// Which runs.
    pub filter: RunFilter,
    /// Most runs in the page (1..=10 000; default 100).
    pub limit: usize,
    /// Continue after this run: the `next` of the previous page.
    pub after: Option<RunId>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            filter: RunFilter::default(),
            limit: 100,
            after: None,
        }
    }
}

/// One run in a listing: its identity, outcome and headline numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: RunId,
    /// The enclosing run, if any.
    pub parent_run_id: Option<RunId>,
    /// The session.
    pub session_id: Option<String>,
    /// The agent.
    pub agent: String,
    /// The team.
    pub team: Option<String>,
    /// The release.
    pub release: Option<String>,
    /// The main model as `provider/model_id`.
    pub model: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// Wall time.
    pub duration: Duration,
    /// Time to first token.
    pub time_to_first_token: Option<Duration>,
    /// How it ended.
    pub status: String,
    /// Why it stopped.
    pub stop_reason: String,
    /// The error class.
    pub error_class: Option<String>,
    /// Own input tokens.
    pub input_tokens: u64,
    /// Own output tokens.
    pub output_tokens: u64,
    /// Own total tokens.
    pub total_tokens: u64,
    /// Own cost, when priced.
    pub cost: Option<Cost>,
    /// Number of model calls.
    pub messages: u64,
    /// Number of tool calls.
    pub tool_calls: u64,
    /// Number of failed tool calls.
    pub tool_errors: u64,
    /// Number of child runs.
    pub child_runs: u64,
    /// SLA verdict: `None` without an SLA.
    pub sla_breached: Option<bool>,
    /// The metadata's label pairs.
    pub labels: Vec<(String, String)>,
}

/// A page of runs and the cursor of the next page.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPage {
    /// The runs, newest first.
    pub runs: Vec<RunSummary>,
    /// Pass as [`RunQuery::after`] for the next page; `None` on the last page.
    pub next: Option<RunId>,
}

pub(crate) const SUMMARY_COLUMNS: &str = "r.run_id, r.parent_run_id, \
    (SELECT session_id FROM sessions WHERE id = r.session), r.agent, r.team, r.release, \
    r.model, r.started_at, r.duration_ns, r.ttft_ns, r.status, r.stop_reason, r.error_class, \
    r.input_tokens, r.output_tokens, r.total_tokens, \
    r.cost_nanos, r.message_count, r.tool_call_count, r.tool_error_count, r.child_runs, \
    r.sla_breached, (SELECT canonical FROM label_sets WHERE id = r.label_set)";

pub(crate) fn run_id_from_blob(bytes: &[u8]) -> rusqlite::Result<RunId> {
    uuid::Uuid::from_slice(bytes).map(RunId).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// Label pairs from a label set's canonical JSON.
pub(crate) fn labels_from_canonical(canonical: Option<&str>) -> Vec<(String, String)> {
    let Some(text) = canonical else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<(String, String)>>(text).unwrap_or_default()
}

pub(crate) fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<RunSummary> {
    let opt_dur = |i: usize| row.get::<_, Option<i64>>(i).map(|v| v.map(duration));
    let count = |i: usize| row.get::<_, i64>(i).map(uint);
    Ok(RunSummary {
        run_id: run_id_from_blob(&row.get::<_, Vec<u8>>(0)?)?,
        parent_run_id: row
            .get::<_, Option<Vec<u8>>>(1)?
            .map(|b| run_id_from_blob(&b))
            .transpose()?,
        session_id: row.get(2)?,
        agent: row.get(3)?,
        team: row.get(4)?,
        release: row.get(5)?,
        model: row.get(6)?,
        started_at: timestamp(row.get(7)?),
        duration: duration(row.get(8)?),
        time_to_first_token: opt_dur(9)?,
        status: row.get(10)?,
        stop_reason: row.get(11)?,
        error_class: row.get(12)?,
        input_tokens: count(13)?,
        output_tokens: count(14)?,
        total_tokens: count(15)?,
        cost: row
            .get::<_, Option<i64>>(16)?
            .map(|c| Cost::from_nanos(uint(c))),
        messages: count(17)?,
        tool_calls: count(18)?,
        tool_errors: count(19)?,
        child_runs: count(20)?,
        sla_breached: row.get(21)?,
        labels: labels_from_canonical(row.get::<_, Option<String>>(22)?.as_deref()),
    })
}

impl Store {
    /// A page of runs matching the query, newest first (by start time, then insertion).
    ///
    /// Pagination is keyset-based: the next page starts strictly after the run named in
    /// [`RunQuery::after`], so pages stay consistent while runs are being added.
    ///
    /// # Errors
    /// An unknown `after` run id, a limit of 0, or an SQLite error.
    pub fn runs(&self, query: &RunQuery) -> Result<RunPage> {
        if query.limit == 0 || query.limit > 10_000 {
            return Err(StoreError::InvalidQuery(format!(
                "limit must be between 1 and 10000, found {}",
                query.limit
            )));
        }
        let mut params = Vec::new();
        let mut conds = query.filter.conditions(&mut params);
        if let Some(after) = query.after {
            let cursor: Option<(i64, i64)> = {
                let mut stmt = self
                    .conn()
                    .prepare_cached("SELECT started_at, id FROM runs WHERE run_id = ?1")?;
                let mut rows = stmt.query([after.0.as_bytes().as_slice()])?;
                match rows.next()? {
                    Some(r) => Some((r.get(0)?, r.get(1)?)),
                    None => None,
                }
            };
            let Some((started, id)) = cursor else {
                return Err(StoreError::InvalidQuery(format!(
                    "no stored run {after} to continue after"
                )));
            };
            conds.push("(r.started_at, r.id) < (?, ?)");
            params.push(SqlValue::Integer(started));
            params.push(SqlValue::Integer(id));
        }
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM runs r{} ORDER BY r.started_at DESC, r.id DESC LIMIT ?",
            where_clause(&conds)
        );
        // One more than asked tells whether another page follows.
        params.push(SqlValue::Integer(int(query.limit as u64 + 1)));
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut runs = stmt
            .query_map(params_from_iter(params), summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next = if runs.len() > query.limit {
            runs.truncate(query.limit);
            runs.last().map(|r| r.run_id)
        } else {
            None
        };
        Ok(RunPage { runs, next })
    }

    /// The runs started inside `parent` (team members, agents called from tools), oldest
    /// first.
    ///
    /// # Errors
    /// An SQLite error.
    pub fn children(&self, parent: RunId) -> Result<Vec<RunSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM runs r WHERE r.parent_run_id = ?1 \
             ORDER BY r.started_at, r.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let runs = stmt
            .query_map([parent.0.as_bytes().as_slice()], summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(runs)
    }

    /// Run ids that start with the hex digits of `prefix` (dashes ignored), at most `limit`.
    /// Lets people type a short id.
    ///
    /// # Errors
    /// A prefix that is not hex, or an SQLite error.
    pub fn find_run_ids(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        let hex: String = prefix.chars().filter(|c| *c != '-').collect();
        if hex.is_empty() || hex.len() > 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StoreError::InvalidQuery(format!(
                "`{prefix}` is not a run id or a prefix of one"
            )));
        }
        let low = format!("{hex:0<32}");
        let high = format!("{hex:f<32}");
        let parse =
            |s: &str| uuid::Uuid::try_parse(s).map_err(|e| StoreError::InvalidQuery(e.to_string()));
        let (low, high) = (parse(&low)?, parse(&high)?);
        let mut stmt = self.conn().prepare_cached(
            "SELECT run_id FROM runs WHERE run_id BETWEEN ?1 AND ?2 ORDER BY run_id LIMIT ?3",
        )?;
        let ids = stmt
            .query_map(
                rusqlite::params![
                    low.as_bytes().as_slice(),
                    high.as_bytes().as_slice(),
                    int(limit as u64)
                ],
                |r| run_id_from_blob(&r.get::<_, Vec<u8>>(0)?),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }
}
