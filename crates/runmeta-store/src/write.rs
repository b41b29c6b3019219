//! Writing run records: one transaction per batch, parameterized statements only.
//!
//! Statements insert one row each: SQLite then needs no statement journal (a multi-row
//! `INSERT` measured slower for that reason). The three statements are prepared once per
//! batch and parameters bound in place.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, Statement, Transaction, TransactionBehavior};

use crate::codec::int;
use crate::encode::{EncodedMessage, EncodedRun, EncodedToolCall, Labels};
use crate::error::{Result, StoreError};
use crate::schema::{CHILD_SHIFT, MAX_RUN_ROW_ID};

/// Most distinct label combinations remembered by a writer before its cache is reset.
const LABEL_CACHE_LIMIT: usize = 100_000;

/// What happened to the records of one batch.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    /// Records inserted.
    pub inserted: u64,
    /// Records skipped because a run with the same id is already stored.
    pub duplicates: u64,
}

/// Writes batches of records through one connection, remembering label combinations.
pub(crate) struct Writer {
    conn: Connection,
    label_sets: LabelCache,
}

/// Label combination → set id; foldhash is seeded per process, so hostile label values cannot
/// steer collisions.
type LabelCache = HashMap<u64, Vec<(String, i64)>, BuildHasherDefault<PreHashed>>;

/// A `Hasher` for keys that are hashes already (computed by the encoder).
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const INSERT_RUN: &str = "INSERT INTO runs (
    run_id, parent_run_id, session_id, agent, team, release, model, request_model,
    started_at, duration_ns, model_time_ns, ttft_ns, status, stop_reason, error_class,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, children_tokens, children_cost_nanos, child_runs, unpriced_messages,
    message_count, tool_call_count, tool_error_count, sla_breached, sla_at_risk, label_set,
    meta_schema, meta_version, meta_valid, metadata, extra, flags)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
    ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37,
    ?38, ?39, ?40, ?41)
ON CONFLICT (run_id) DO NOTHING";

/// `id` is `(run << CHILD_SHIFT) | seq`; `run` and `seq` are generated from it.
const INSERT_MESSAGE: &str = "INSERT INTO messages (
    id, role, provider, model, started_at, duration_ns, ttft_ns,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, extra)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

const INSERT_TOOL_CALL: &str = "INSERT INTO tool_calls (
    id, name, started_at, duration_ns, status, error_class)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Binds values to consecutive parameters.
struct Binder<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    next: usize,
}

impl Binder<'_, '_> {
    fn bind<T: ToSql>(&mut self, value: T) -> Result<()> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, value)?;
        Ok(())
    }
}

impl Writer {
    /// A writer on a configured, migrated connection.
    pub(crate) fn new(conn: Connection) -> Self {
        Writer {
            conn,
            label_sets: LabelCache::default(),
        }
    }

    /// The connection, for queries on the same thread.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Writes `runs` in one transaction. A database error rolls the whole batch back and is
    /// returned.
    pub(crate) fn write_batch<'a, I>(&mut self, runs: I) -> Result<BatchOutcome>
    where
        I: IntoIterator<Item = &'a EncodedRun>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = BatchOutcome::default();
        let result = (|| {
            let mut run_stmt = tx.prepare_cached(INSERT_RUN)?;
            let mut message_stmt = tx.prepare_cached(INSERT_MESSAGE)?;
            let mut tool_stmt = tx.prepare_cached(INSERT_TOOL_CALL)?;
            for run in runs {
                let label_set = match &run.labels {
                    Some(labels) => Some(label_set(&tx, &mut self.label_sets, labels)?),
                    None => None,
                };
                let mut b = Binder {
                    stmt: &mut run_stmt,
                    next: 0,
                };
                bind_run(&mut b, run, label_set)?;
                if run_stmt.raw_execute()? == 0 {
                    outcome.duplicates += 1;
                    continue;
                }
                outcome.inserted += 1;
                let base = child_base(tx.last_insert_rowid())?;
                // `encode` rejects runs with more than MAX_CHILDREN of either.
                for (key, m) in (base..).zip(&run.messages) {
                    bind_message(
                        &mut Binder {
                            stmt: &mut message_stmt,
                            next: 0,
                        },
                        key,
                        m,
                    )?;
                    message_stmt.raw_execute()?;
                }
                for (key, t) in (base..).zip(&run.tool_calls) {
                    bind_tool_call(
                        &mut Binder {
                            stmt: &mut tool_stmt,
                            next: 0,
                        },
                        key,
                        t,
                    )?;
                    tool_stmt.raw_execute()?;
                }
            }
            Ok(())
        })();
        match result.and_then(|()| tx.commit().map_err(StoreError::from)) {
            Ok(()) => {
                if self.label_sets.len() > LABEL_CACHE_LIMIT {
                    self.label_sets.clear();
                }
                Ok(outcome)
            }
            Err(e) => {
                // Ids handed out inside the rolled-back transaction no longer exist.
                self.label_sets.clear();
                Err(e)
            }
        }
    }
}

/// The first child id of the run with row id `id`.
fn child_base(id: i64) -> Result<i64> {
    if (0..=MAX_RUN_ROW_ID).contains(&id) {
        Ok(id << CHILD_SHIFT)
    } else {
        Err(StoreError::Corrupt(format!(
            "run row id {id} is above {MAX_RUN_ROW_ID}: no room for its children's keys"
        )))
    }
}

fn bind_message(b: &mut Binder<'_, '_>, id: i64, m: &EncodedMessage) -> Result<()> {
    b.bind(id)?;
    b.bind(m.role.as_deref())?;
    b.bind(m.provider.as_deref())?;
    b.bind(m.model.as_deref())?;
    b.bind(m.started_at)?;
    b.bind(m.duration)?;
    b.bind(m.ttft)?;
    for v in m.usage {
        b.bind(v)?;
    }
    b.bind(m.cost)?;
    b.bind(m.extra.as_deref())
}

fn bind_tool_call(b: &mut Binder<'_, '_>, id: i64, t: &EncodedToolCall) -> Result<()> {
    b.bind(id)?;
    b.bind(t.name.as_str())?;
    b.bind(t.started_at)?;
    b.bind(t.duration)?;
    b.bind(t.status)?;
    b.bind(t.error_class.as_deref())
}

fn bind_run(b: &mut Binder<'_, '_>, run: &EncodedRun, label_set: Option<i64>) -> Result<()> {
    b.bind(run.run_id.0.as_bytes().as_slice())?;
    b.bind(run.parent.as_ref().map(|p| p.0.as_bytes().as_slice()))?;
    b.bind(run.session.as_deref())?;
    b.bind(run.agent.as_ref())?;
    b.bind(run.team.as_deref())?;
    b.bind(run.release.as_deref())?;
    b.bind(run.model.as_deref())?;
    b.bind(run.request_model.as_deref())?;
    b.bind(run.started_at)?;
    b.bind(run.duration)?;
    b.bind(run.model_time)?;
    b.bind(run.ttft)?;
    b.bind(run.status)?;
    b.bind(run.stop_reason.as_ref())?;
    b.bind(run.error_class.as_deref())?;
    for v in run.usage {
        b.bind(v)?;
    }
    b.bind(run.cost)?;
    b.bind(run.children_tokens)?;
    b.bind(run.children_cost)?;
    b.bind(run.child_runs)?;
    b.bind(run.unpriced_messages)?;
    b.bind(int(run.messages.len() as u64))?;
    b.bind(int(run.tool_calls.len() as u64))?;
    b.bind(run.tool_errors)?;
    b.bind(run.sla_breached)?;
    b.bind(run.sla_at_risk)?;
    b.bind(label_set)?;
    b.bind(run.meta_schema.as_deref())?;
    b.bind(run.meta_version)?;
    b.bind(run.meta_valid)?;
    b.bind(run.metadata.as_deref())?;
    b.bind(run.extra.as_deref())?;
    b.bind(run.flags)
}

/// The id of a label combination, created on first use.
fn label_set(tx: &Transaction<'_>, cache: &mut LabelCache, labels: &Labels) -> Result<i64> {
    let canonical = labels.canonical.as_str();
    if let Some(&(_, id)) = cache
        .get(&labels.hash)
        .and_then(|bucket| bucket.iter().find(|(c, _)| c == canonical))
    {
        return Ok(id);
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO label_sets (canonical) VALUES (?1) ON CONFLICT (canonical) DO NOTHING",
        )?
        .execute([canonical])?;
    let id = if inserted == 1 {
        let id = tx.last_insert_rowid();
        let pairs = crate::query::labels_from_canonical(Some(canonical));
        let mut stmt = tx.prepare_cached(
            "INSERT INTO label_values (set_id, pos, key, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (pos, (k, v)) in pairs.iter().enumerate() {
            stmt.execute(params![id, int(pos as u64), k, v])?;
        }
        id
    } else {
        tx.prepare_cached("SELECT id FROM label_sets WHERE canonical = ?1")?
            .query_row([canonical], |r| r.get(0))?
    };
    cache
        .entry(labels.hash)
        .or_default()
        .push((canonical.to_owned(), id));
    Ok(id)
}
