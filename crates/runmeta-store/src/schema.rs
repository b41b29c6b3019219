//! The database schema, its migrations and the connection settings.
//!
//! Tables (version 1, see below for version 2):
//!
//! - `runs`: one row per run; metrics as columns (tokens, cost in nano-units, durations in
//!   nanoseconds, `started_at` in Unix nanoseconds UTC), metadata in `metadata` as the core's
//!   `MetadataRecord::to_json` (`{"values", "errors", "sla_deadline_key", ...}`, redacted
//!   fields masked) less what other columns hold (`meta_schema`, `meta_version`, the label
//!   keys of `label_set`), the rest of the record (per-model breakdown, provider metrics,
//!   children usage) as JSON in `extra`.
//! - `messages` and `tool_calls`: a run's model calls and tool calls, keyed by
//!   `(run, seq)` where `run` is `runs.id` (since version 3 through `id`, see below).
//! - `label_sets` and `label_values`: the distinct combinations of metadata labels. Labels are
//!   low-cardinality by construction (enums and bools), so a run points at its combination
//!   (`runs.label_set`) instead of repeating `(key, value)` rows; `label_values` is indexed on
//!   `(key, value)`, so a label filter resolves to a handful of set ids first, then runs are
//!   filtered by set id while walking the time index. `runs.label_set` itself has no index:
//!   it cost a quarter of the ingest throughput, and every label query is also bounded by
//!   time or a page size. The view `run_labels(run_id, key, value)` shows one row per run and
//!   label for ad-hoc SQL.
//!
//! Pages are 16 KiB (fewer splits when appending, measured 10-25 % faster ingest).
//! - `schema_version`: the version, for migrations.
//!
//! Version 2 adds `runs.flags` (status code, unpriced, SLA bits: everything the report needs
//! in one integer column) and fills it for existing rows.
//!
//! Version 3 turns `messages` and `tool_calls` into rowid tables whose `INTEGER PRIMARY KEY`
//! `id` is `(run << 20) | seq` ([`CHILD_SHIFT`]): a run's rows are appended at the end of
//! one B-tree keyed by an integer, instead of searched into a `WITHOUT ROWID` tree keyed by
//! a record, and without a foreign-key check against `runs` per row (the writer inserts the
//! children of a batch's runs after those runs, in the same transaction): measured ~15 % less
//! writer CPU per typical run (one model call, one tool call). `run` and `seq` stay readable as
//! `VIRTUAL` generated columns (computed on read, not stored); a query for one run's rows
//! uses the rowid range `id BETWEEN run << 20 AND (run << 20) | 0xFFFFF`. A run has at most
//! 2^20 model calls and 2^20 tool calls (`encode` rejects more), and `runs.id` stays below
//! 2^43.
//!
//! Version 4 interns session ids: `sessions(id INTEGER PRIMARY KEY, session_id TEXT UNIQUE)`
//! holds each distinct session id once, and `runs.session` (the `sessions.id`, `NULL` without a
//! session) replaces the text column `runs.session_id`. The index `runs_session` is on
//! `(session, started_at)`: new sessions get increasing ids, so a new run's entry lands near
//! the end of the index instead of anywhere in a tree of text keys (with random session ids,
//! such as UUIDs, those inserts touched most pages of a large index in every batch: measured
//! 10.4-11.5 µs of writer CPU per typical run over 1 000 000 runs, 7.7-9.1 µs with version 4).
//! Only a new session's text goes into the unique index of `sessions`. The writer remembers
//! recent session ids (`intern::SessionCache`) and inserts a batch's new sessions 32 per
//! statement, so most runs need no lookup. Readers get the text back with
//! `(SELECT session_id FROM sessions WHERE id = r.session)`; the migration numbers existing
//! sessions in the order of their first run.

use rusqlite::{Connection, OptionalExtension};

use crate::codec::int;
use crate::error::{Result, StoreError};
use crate::migrations::MIGRATIONS;

/// `PRAGMA application_id` of a runmeta store ("RMTA").
pub(crate) const APPLICATION_ID: i64 = 0x524D_5441;

/// The newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

/// `messages.id` and `tool_calls.id` are `(run << CHILD_SHIFT) | seq` (schema version 3).
pub(crate) const CHILD_SHIFT: u32 = 20;

/// Most model calls (and most tool calls) of one run: `seq` must fit in [`CHILD_SHIFT`] bits.
pub(crate) const MAX_CHILDREN: usize = 1 << CHILD_SHIFT;

/// Largest `runs.id` whose children ids fit in an `i64`.
pub(crate) const MAX_RUN_ROW_ID: i64 = i64::MAX >> CHILD_SHIFT;

/// Bits of `runs.flags` (schema version 2): what the report reads in one column.
pub(crate) mod flags {
    /// The status code in the low two bits: 0 success, 1 error, 2 panicked, 3 cancelled.
    pub const STATUS_MASK: i64 = 0b11;
    /// Some model call had no price, or the run used tokens and has no cost.
    pub const UNPRICED: i64 = 1 << 2;
    /// The run had an SLA (deadline or target).
    pub const HAS_SLA: i64 = 1 << 3;
    /// The run breached its SLA.
    pub const SLA_BREACHED: i64 = 1 << 4;
    /// The run's deadline was at risk at its start.
    pub const SLA_AT_RISK: i64 = 1 << 5;
}

/// Checks that run before migration `i` (from version `i`): the version 3 keys hold
/// `seq < 2^20` and `run < 2^43`.
fn check_before(tx: &Connection, version: i64) -> Result<()> {
    if version != 2 {
        return Ok(());
    }
    for table in ["messages", "tool_calls"] {
        let bad: bool = tx.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {table} \
                 WHERE seq NOT BETWEEN 0 AND ?1 OR run NOT BETWEEN 0 AND ?2)"
            ),
            [int(MAX_CHILDREN as u64 - 1), MAX_RUN_ROW_ID],
            |r| r.get(0),
        )?;
        if bad {
            return Err(StoreError::Corrupt(format!(
                "`{table}` has a run with more than {MAX_CHILDREN} rows or a run id above \
                 {MAX_RUN_ROW_ID}: cannot migrate to schema version 3"
            )));
        }
    }
    Ok(())
}

/// How durable a commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a committed batch survives a crash or kill of the
    /// process; the last batches before a power loss or OS crash may be lost (never
    /// corrupted).
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is fsynced; survives power loss too, slower.
    Full,
}

/// Settings of every connection, read-only ones included: map the file for reads instead of
/// copying pages through read(2).
pub(crate) fn configure_reads(conn: &Connection) -> Result<()> {
    let _size: i64 = conn.query_row("PRAGMA mmap_size = 1073741824", [], |r| r.get(0))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Applies the connection settings: WAL, synchronous level, busy timeout, caches.
pub(crate) fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Only takes effect on a new, empty database (before WAL mode is set).
    conn.pragma_update(None, "page_size", 16_384_i64)?;
    // `journal_mode` returns a row; a read-only connection on a WAL file keeps WAL.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_000_i64)?;
    configure_reads(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`], in one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let has_tables: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')",
        [],
        |r| r.get(0),
    )?;
    if has_tables && app_id != APPLICATION_ID {
        return Err(StoreError::NotARunmetaDatabase {
            path: path.to_path_buf(),
        });
    }
    let mut version = current_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    while version < SCHEMA_VERSION {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and the lock.
        let now = current_version(&tx)?;
        if now > version {
            version = now;
            continue;
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|i| MIGRATIONS.get(i))
        else {
            return Err(StoreError::Corrupt(format!(
                "no migration from schema version {version}"
            )));
        };
        if version == 0 {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
            )?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        check_before(&tx, version)?;
        tx.execute_batch(sql)?;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version + 1],
        )?;
        tx.commit()?;
        version += 1;
    }
    Ok(())
}

/// The schema version stored in the database (0 for an empty database).
pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT max(version) FROM schema_version", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = std::path::Path::new(":memory:");
        migrate(&mut conn, path).unwrap();
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
        migrate(&mut conn, path).unwrap();
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn version_2_fills_flags_of_existing_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute("INSERT INTO schema_version VALUES (1)", [])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO runs (run_id, agent, started_at, duration_ns, model_time_ns, status,
                stop_reason, input_tokens, output_tokens, total_tokens, reasoning_tokens,
                cache_read_tokens, cache_write_tokens, audio_input_tokens, audio_output_tokens,
                audio_total_tokens, cost_nanos, children_tokens, children_cost_nanos, child_runs,
                unpriced_messages, message_count, tool_call_count, tool_error_count,
                sla_breached, sla_at_risk)
             VALUES (x'01', 'a', 0, 0, 0, 'error', 'error', 5, 0, 5, 0, 0, 0, 0, 0, 0, NULL,
                0, 0, 0, 0, 0, 0, 0, 1, 1);",
        )
        .unwrap();
        migrate(&mut conn, std::path::Path::new(":memory:")).unwrap();
        let f: i64 = conn
            .query_row("SELECT flags FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            f,
            1 | flags::UNPRICED | flags::HAS_SLA | flags::SLA_BREACHED | flags::SLA_AT_RISK
        );
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    /// A database at `version` (migrations applied by hand, as an older build would).
    fn database_at(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute("INSERT INTO schema_version VALUES (?1)", [version as i64])
            .unwrap();
        conn
    }

    const V2_RUN: &str = "INSERT INTO runs (id, run_id, agent, started_at, duration_ns,
        model_time_ns, status, stop_reason, input_tokens, output_tokens, total_tokens,
        reasoning_tokens, cache_read_tokens, cache_write_tokens, audio_input_tokens,
        audio_output_tokens, audio_total_tokens, cost_nanos, children_tokens,
        children_cost_nanos, child_runs, unpriced_messages, message_count, tool_call_count,
        tool_error_count, sla_breached, sla_at_risk)
        VALUES (?1, ?2, 'a', 0, 0, 0, 'success', 'completed', 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
        0, 0, 0, 0, 2, 1, 0, NULL, 0)";

    #[test]
    fn version_3_keeps_the_children_of_a_version_2_database() {
        let mut conn = database_at(2);
        for (id, run_id) in [(1_i64, vec![1_u8]), (7, vec![7])] {
            conn.execute(V2_RUN, rusqlite::params![id, run_id]).unwrap();
            for seq in [1_i64, 0] {
                conn.execute(
                    "INSERT INTO messages (run, seq, role, provider, model, started_at,
                        duration_ns, ttft_ns, input_tokens, output_tokens, total_tokens,
                        reasoning_tokens, cache_read_tokens, cache_write_tokens,
                        audio_input_tokens, audio_output_tokens, audio_total_tokens,
                        cost_nanos, extra)
                     VALUES (?1, ?2, 'model', 'p', ?3, 5, 6, NULL, ?2, 2, 3, 4, 5, 6, 7, 8, 9,
                        NULL, '{}')",
                    rusqlite::params![id, seq, format!("m{id}.{seq}")],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO tool_calls (run, seq, name, started_at, duration_ns, status,
                    error_class) VALUES (?1, 0, ?2, 1, 2, 'error', 'timeout')",
                rusqlite::params![id, format!("t{id}")],
            )
            .unwrap();
        }
        migrate(&mut conn, std::path::Path::new(":memory:")).unwrap();
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
        let rows: Vec<(i64, i64, i64, String, i64, Option<String>)> = conn
            .prepare(
                "SELECT id, run, seq, model, input_tokens, extra FROM messages ORDER BY run, seq",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let expected = |run: i64, seq: i64| {
            (
                (run << 20) | seq,
                run,
                seq,
                format!("m{run}.{seq}"),
                seq,
                Some("{}".to_owned()),
            )
        };
        assert_eq!(
            rows,
            vec![
                expected(1, 0),
                expected(1, 1),
                expected(7, 0),
                expected(7, 1)
            ]
        );
        let tools: Vec<(i64, i64, i64, String, String, Option<String>)> = conn
            .prepare("SELECT id, run, seq, name, status, error_class FROM tool_calls ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let tool = |run: i64| {
            (
                run << 20,
                run,
                0,
                format!("t{run}"),
                "error".to_owned(),
                Some("timeout".to_owned()),
            )
        };
        assert_eq!(tools, vec![tool(1), tool(7)]);
        let (ty, pk): (String, i64) = conn
            .query_row(
                "SELECT type, pk FROM pragma_table_info('messages') WHERE name = 'id'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((ty.as_str(), pk), ("INTEGER", 1));
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn version_3_refuses_children_that_do_not_fit_its_keys() {
        let mut conn = database_at(2);
        conn.execute(V2_RUN, rusqlite::params![1, vec![1_u8]])
            .unwrap();
        conn.execute(
            "INSERT INTO tool_calls (run, seq, name, started_at, duration_ns, status)
             VALUES (1, ?1, 't', 0, 0, 'success')",
            [1_i64 << 20],
        )
        .unwrap();
        let err = migrate(&mut conn, std::path::Path::new(":memory:")).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        // Nothing changed: the migration's transaction rolled back.
        assert_eq!(current_version(&conn).unwrap(), 2);
    }

    /// A version 3 run: `session_id` is still text.
    const V3_RUN: &str = "INSERT INTO runs (id, run_id, session_id, agent, started_at,
        duration_ns, model_time_ns, status, stop_reason, input_tokens, output_tokens,
        total_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens,
        audio_input_tokens, audio_output_tokens, audio_total_tokens, cost_nanos,
        children_tokens, children_cost_nanos, child_runs, unpriced_messages, message_count,
        tool_call_count, tool_error_count, sla_breached, sla_at_risk)
        VALUES (?1, ?2, ?3, 'a', ?4, 0, 0, 'success', 'completed', 0, 0, 0, 0, 0, 0, 0, 0, 0,
        NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0)";

    #[test]
    fn version_4_interns_the_sessions_of_a_version_3_database() {
        let mut conn = database_at(3);
        // Runs in sessions "b" (first seen), "a", "c", and runs without a session.
        let runs: [(i64, Option<&str>, i64); 6] = [
            (1, Some("b"), 50),
            (2, None, 10),
            (3, Some("a"), 30),
            (4, Some("b"), 20),
            (5, Some("c"), 40),
            (6, None, 60),
        ];
        for (id, session, started) in runs {
            conn.execute(
                V3_RUN,
                rusqlite::params![id, vec![id as u8], session, started],
            )
            .unwrap();
        }
        migrate(&mut conn, std::path::Path::new(":memory:")).unwrap();
        assert_eq!(current_version(&conn).unwrap(), 4);
        // Sessions numbered in the order of their first run.
        let sessions: Vec<(i64, String)> = conn
            .prepare("SELECT id, session_id FROM sessions ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            sessions,
            vec![
                (1, "b".to_owned()),
                (2, "a".to_owned()),
                (3, "c".to_owned())
            ]
        );
        // Every run keeps its session (as text through `sessions`) and its start.
        let back: Vec<(i64, Option<String>, i64)> = conn
            .prepare(
                "SELECT r.id, (SELECT session_id FROM sessions WHERE id = r.session), \
                 r.started_at FROM runs r ORDER BY r.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let expected: Vec<(i64, Option<String>, i64)> = runs
            .iter()
            .map(|&(id, s, t)| (id, s.map(str::to_owned), t))
            .collect();
        assert_eq!(back, expected);
        // The text column is gone; the index is on the integer reference.
        let old_column: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('runs') WHERE name = 'session_id')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!old_column);
        let index: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info('runs_session') ORDER BY seqno")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(index, ["session", "started_at"]);
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = std::path::Path::new(":memory:");
        migrate(&mut conn, path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        let err = migrate(&mut conn, path).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }));
    }

    #[test]
    fn refuses_a_foreign_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE users (name TEXT)")
            .unwrap();
        let err = migrate(&mut conn, std::path::Path::new("x.db")).unwrap_err();
        assert!(matches!(err, StoreError::NotARunmetaDatabase { .. }));
    }
}
