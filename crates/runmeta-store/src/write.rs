//! Writing run records: one transaction per batch, parameterized statements only.
//!
//! Rows are inserted many per statement (`INSERT OR IGNORE ... VALUES (...), (...)`, see
//! [`CHUNK`] and [`CHILD_CHUNK`]); parameters are bound in place, and only when they differ
//! from what the statement holds (`bind`); the statements are cached on the connection.
//! Label combinations and session ids are interned (`label_sets`, `sessions`); the writer
//! remembers the ids it has seen, so most runs need no lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use crate::bind::{slots, Binder, Bound};
use crate::codec::int;
use crate::encode::{EncodedMessage, EncodedRun, EncodedToolCall, Labels};
use crate::error::{Result, StoreError};
use crate::intern::{session_ids, SessionCache};
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
    sessions: SessionCache,
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

/// Runs per multi-row `INSERT`: a batch's runs are written this many per statement execution
/// instead of one.
pub(crate) const CHUNK: usize = 32;

/// Child rows (model calls, tool calls) per multi-row `INSERT`. Their statements keep a
/// statement journal (an explicit `INTEGER PRIMARY KEY` value may fail its integer check), a
/// copy of each page that existed before the statement and that it changes (the last leaf
/// and its parents): larger chunks spread that copy over more rows.
pub(crate) const CHILD_CHUNK: usize = 128;

/// `runs` columns. No `id`: SQLite assigns `max(id) + 1` (an explicit `INTEGER PRIMARY KEY`
/// value would make the multi-row statement keep a statement journal).
const RUN_COLUMNS: &str = "
    run_id, parent_run_id, session, agent, team, release, model, request_model,
    started_at, duration_ns, model_time_ns, ttft_ns, status, stop_reason, error_class,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, children_tokens, children_cost_nanos, child_runs, unpriced_messages,
    message_count, tool_call_count, tool_error_count, sla_breached, sla_at_risk, label_set,
    meta_schema, meta_version, meta_valid, metadata, extra, flags";
const RUN_PARAMS: usize = 41;

/// `id` is `(run << CHILD_SHIFT) | seq`; `run` and `seq` are generated from it.
const MESSAGE_COLUMNS: &str = "id, role, provider, model, started_at, duration_ns, ttft_ns,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, extra";
const MESSAGE_PARAMS: usize = 18;

const TOOL_CALL_COLUMNS: &str = "id, name, started_at, duration_ns, status, error_class";
const TOOL_CALL_PARAMS: usize = 6;

/// `INSERT OR IGNORE INTO table (columns) VALUES (?, ...), ...` for `rows` rows.
///
/// `OR IGNORE` rather than the default `ABORT`: a multi-row statement that may abort half-way
/// needs a statement journal (a copy of each page it changes). Nothing is ignored silently:
/// the writer compares the rows inserted with the rows bound (a run whose `run_id` is already
/// stored is a counted duplicate; a child row that could not be inserted is an error).
fn insert_sql(table: &str, columns: &str, params: usize, rows: usize) -> String {
    let mut row = String::with_capacity(params * 2 + 2);
    row.push('(');
    for i in 0..params {
        row.push_str(if i == 0 { "?" } else { ",?" });
    }
    row.push(')');
    let mut sql = format!("INSERT OR IGNORE INTO {table} ({columns}) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql
}

/// The single-row and the multi-row statements of one table.
struct Inserts {
    one: String,
    chunk: String,
    /// Rows of `chunk`.
    rows: usize,
    /// Parameters per row.
    params: usize,
}

impl Inserts {
    fn new(table: &str, columns: &str, params: usize, rows: usize) -> Self {
        Inserts {
            one: insert_sql(table, columns, params, 1),
            chunk: insert_sql(table, columns, params, rows),
            rows,
            params,
        }
    }
}

/// The statements' SQL, built once per process.
fn sql() -> &'static [Inserts; 3] {
    static SQL: std::sync::OnceLock<[Inserts; 3]> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        [
            Inserts::new("runs", RUN_COLUMNS, RUN_PARAMS, CHUNK),
            Inserts::new("messages", MESSAGE_COLUMNS, MESSAGE_PARAMS, CHILD_CHUNK),
            Inserts::new(
                "tool_calls",
                TOOL_CALL_COLUMNS,
                TOOL_CALL_PARAMS,
                CHILD_CHUNK,
            ),
        ]
    })
}

impl Writer {
    /// A writer on a configured, migrated connection.
    pub(crate) fn new(conn: Connection) -> Self {
        Writer {
            conn,
            label_sets: LabelCache::default(),
            sessions: SessionCache::default(),
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
        let runs: Vec<&EncodedRun> = runs.into_iter().collect();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = write_runs(&tx, &mut self.label_sets, &mut self.sessions, &runs);
        match result.and_then(|outcome| tx.commit().map(|()| outcome).map_err(StoreError::from)) {
            Ok(outcome) => {
                if self.label_sets.len() > LABEL_CACHE_LIMIT {
                    self.label_sets.clear();
                }
                Ok(outcome)
            }
            Err(e) => {
                // Ids handed out inside the rolled-back transaction no longer exist.
                self.label_sets.clear();
                self.sessions.clear();
                Err(e)
            }
        }
    }
}

/// A run's interned references: its label set and its session.
#[derive(Clone, Copy)]
struct Refs {
    set: Option<i64>,
    session: Option<i64>,
}

/// A child row to insert: its key and its values.
type Child<'a, T> = (i64, &'a T);

/// Inserts `runs` and their children inside `tx`.
///
/// Runs are inserted [`CHUNK`] per statement; SQLite gives them the row ids `max(id) + 1`
/// onwards, in order, so when every run of a chunk was inserted its ids are the
/// `chunk.len()` ids ending at `last_insert_rowid()`. A chunk with duplicates (skipped by
/// `OR IGNORE`) reads its new ids back instead. Children are inserted after all runs of the
/// batch, still in key order (appends).
fn write_runs<'v>(
    tx: &Transaction<'_>,
    cache: &mut LabelCache,
    session_cache: &mut SessionCache,
    runs: &[&'v EncodedRun],
) -> Result<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    if runs.is_empty() {
        return Ok(outcome);
    }
    // Each run's label set and session, ids resolved before the inserts.
    let sessions = session_ids(tx, session_cache, runs)?;
    let mut sets = Vec::with_capacity(runs.len());
    for (run, session) in runs.iter().zip(sessions) {
        let set = match &run.labels {
            Some(labels) => Some(label_set(tx, cache, labels)?),
            None => None,
        };
        sets.push(Refs { set, session });
    }
    let mut last_id: i64 = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM runs")?
        .query_row([], |r| r.get(0))?;
    let [run_sql, message_sql, tool_sql] = sql();
    let mut chunk_stmt = tx.prepare_cached(&run_sql.chunk)?;
    let mut one_stmt = tx.prepare_cached(&run_sql.one)?;
    let mut chunk_slots = slots(run_sql.params * run_sql.rows);
    let mut one_slots = slots(run_sql.params);
    let mut messages: Vec<Child<'_, EncodedMessage>> = Vec::with_capacity(runs.len());
    let mut tool_calls: Vec<Child<'_, EncodedToolCall>> = Vec::with_capacity(runs.len());
    let mut stored: Vec<(i64, &'v EncodedRun)> = Vec::with_capacity(run_sql.rows);
    for (chunk, sets) in runs.chunks(run_sql.rows).zip(sets.chunks(run_sql.rows)) {
        let rows = chunk.iter().zip(sets);
        let inserted = if chunk.len() == run_sql.rows {
            let mut b = Binder::new(&mut chunk_stmt, &mut chunk_slots);
            for (run, set) in rows {
                bind_run(&mut b, run, set)?;
            }
            chunk_stmt.raw_execute()?
        } else {
            let mut n = 0;
            for (run, set) in rows {
                bind_run(&mut Binder::new(&mut one_stmt, &mut one_slots), run, set)?;
                n += one_stmt.raw_execute()?;
            }
            n
        };
        outcome.inserted += inserted as u64;
        outcome.duplicates += (chunk.len() - inserted) as u64;
        stored.clear();
        if inserted == chunk.len() {
            let first = tx.last_insert_rowid().saturating_sub(inserted as i64 - 1);
            if Some(first) != last_id.checked_add(1) {
                return Err(StoreError::Corrupt(format!(
                    "new runs got row ids from {first}, expected the one after {last_id}"
                )));
            }
            // `first + i` is an id SQLite just gave, so it cannot overflow.
            stored.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &run)| (first + i as i64, run)),
            );
        } else if inserted > 0 {
            stored_runs(tx, last_id, chunk, &mut stored)?;
        }
        for &(id, run) in &stored {
            // `encode` rejects runs with more than MAX_CHILDREN of either.
            let base = child_base(id)?;
            messages.extend((base..).zip(&run.messages));
            tool_calls.extend((base..).zip(&run.tool_calls));
            last_id = id;
        }
    }
    insert_children(tx, message_sql, "messages", &messages, bind_message)?;
    insert_children(tx, tool_sql, "tool_calls", &tool_calls, bind_tool_call)?;
    Ok(outcome)
}

/// The row ids of the runs of `chunk` that were inserted (the others were duplicates): the
/// rows above `last_id`, in the order of the chunk.
fn stored_runs<'v>(
    tx: &Transaction<'_>,
    last_id: i64,
    chunk: &[&'v EncodedRun],
    out: &mut Vec<(i64, &'v EncodedRun)>,
) -> Result<()> {
    let mut stmt = tx.prepare_cached("SELECT id, run_id FROM runs WHERE id > ?1 ORDER BY id")?;
    let mut rows = stmt.query([last_id])?;
    let mut runs = chunk.iter();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let run_id: Vec<u8> = row.get(1)?;
        // The inserted runs come back in the chunk's order; skipped ones are missing.
        let Some(run) = runs.find(|r| r.run_id.0.as_bytes().as_slice() == run_id.as_slice()) else {
            return Err(StoreError::Corrupt(format!(
                "run row {id} is not one of the runs just inserted"
            )));
        };
        out.push((id, run));
    }
    Ok(())
}

/// Inserts child rows, a multi-row statement at a time; every row must be inserted.
fn insert_children<'v, T>(
    tx: &Transaction<'_>,
    sql: &Inserts,
    table: &str,
    rows: &[Child<'v, T>],
    bind: fn(&mut Binder<'_, '_, 'v>, i64, &'v T) -> Result<()>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut chunk_stmt = tx.prepare_cached(&sql.chunk)?;
    let mut one_stmt = tx.prepare_cached(&sql.one)?;
    let mut chunk_slots: Vec<Bound<'v>> = slots(sql.params * sql.rows);
    let mut one_slots: Vec<Bound<'v>> = slots(sql.params);
    for chunk in rows.chunks(sql.rows) {
        let inserted = if chunk.len() == sql.rows {
            let mut b = Binder::new(&mut chunk_stmt, &mut chunk_slots);
            for &(key, row) in chunk {
                bind(&mut b, key, row)?;
            }
            chunk_stmt.raw_execute()?
        } else {
            let mut n = 0;
            for &(key, row) in chunk {
                bind(&mut Binder::new(&mut one_stmt, &mut one_slots), key, row)?;
                n += one_stmt.raw_execute()?;
            }
            n
        };
        if inserted != chunk.len() {
            return Err(StoreError::Corrupt(format!(
                "`{table}` already has rows with the keys of new runs (left from deleted \
                 runs?): {} of {} rows not inserted",
                chunk.len() - inserted,
                chunk.len()
            )));
        }
    }
    Ok(())
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

fn bind_message<'v>(b: &mut Binder<'_, '_, 'v>, id: i64, m: &'v EncodedMessage) -> Result<()> {
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

fn bind_tool_call<'v>(b: &mut Binder<'_, '_, 'v>, id: i64, t: &'v EncodedToolCall) -> Result<()> {
    b.bind(id)?;
    b.bind(t.name.as_str())?;
    b.bind(t.started_at)?;
    b.bind(t.duration)?;
    b.bind(t.status)?;
    b.bind(t.error_class.as_deref())
}

fn bind_run<'v>(b: &mut Binder<'_, '_, 'v>, run: &'v EncodedRun, refs: &Refs) -> Result<()> {
    b.bind(run.run_id.0.as_bytes().as_slice())?;
    b.bind(run.parent.as_ref().map(|p| p.0.as_bytes().as_slice()))?;
    b.bind(refs.session)?;
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
    b.bind(refs.set)?;
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
