//! Session ids interned in `sessions` (schema version 4): the writer's cache of recent
//! sessions and the resolution of a batch's session ids to `sessions.id`.
//!
//! A batch's sessions are resolved before its runs are inserted: known ones from the cache,
//! the others inserted [`CHUNK`] per statement (`INSERT ... ON CONFLICT DO NOTHING`, like the
//! runs: SQLite numbers new rows `max(id) + 1` onwards, in order, so new sessions get
//! increasing ids and the runs' session index grows at its end). A chunk of which some
//! sessions already existed (stored by an earlier batch and since forgotten by the cache, or
//! by another writer) looks every one of its sessions up instead.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Transaction;

use crate::encode::EncodedRun;
use crate::error::{Result, StoreError};
use crate::write::CHUNK;

/// Session ids per generation of a writer's [`SessionCache`].
const SESSION_CACHE_GENERATION: usize = 32_768;

/// Session id text → `sessions.id`, for the sessions seen lately: two generations, the
/// current one and the one before. A hit in the older one moves the session to the current
/// one; when the current one is full, it becomes the older one (the sessions not seen in two
/// generations are forgotten). A conversation's runs come close together, so the cache holds
/// the active sessions in at most `2 × SESSION_CACHE_GENERATION` entries. Keys share the
/// records' `Arc<str>` (no copy of the text); foldhash is seeded per process.
///
/// The last session looked up is also kept aside: the runs of a conversation usually share
/// one `Arc` (cloned from the agent's session id), so a run in the same session as the one
/// before is recognized by its pointer, without hashing or comparing the text.
#[derive(Default)]
pub(crate) struct SessionCache {
    current: HashMap<Arc<str>, i64, foldhash::fast::RandomState>,
    older: HashMap<Arc<str>, i64, foldhash::fast::RandomState>,
    last: Option<(Arc<str>, i64)>,
}

impl SessionCache {
    /// The remembered id of `session`.
    fn get(&mut self, session: &Arc<str>) -> Option<i64> {
        if let Some((last, id)) = &self.last {
            // The same allocation (held here, so its address is not another string's).
            if Arc::ptr_eq(last, session) {
                return Some(*id);
            }
        }
        let id = match self.current.get(&**session) {
            Some(&id) => id,
            None => {
                let (key, id) = self.older.remove_entry(&**session)?;
                self.insert(key, id);
                id
            }
        };
        self.last = Some((Arc::clone(session), id));
        Some(id)
    }

    /// Remembers `session` as `id`.
    fn insert(&mut self, session: Arc<str>, id: i64) {
        if self.current.len() >= SESSION_CACHE_GENERATION {
            // The older generation is forgotten; its table is reused for the new one.
            std::mem::swap(&mut self.current, &mut self.older);
            self.current.clear();
        }
        self.last = Some((Arc::clone(&session), id));
        self.current.insert(session, id);
    }

    /// Forgets every session (their ids may have been rolled back).
    pub(crate) fn clear(&mut self) {
        self.current.clear();
        self.older.clear();
        self.last = None;
    }
}

/// `INSERT INTO sessions (session_id) VALUES (?), ... ON CONFLICT DO NOTHING` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO sessions (session_id) VALUES (?)");
    for _ in 1..rows {
        sql.push_str(",(?)");
    }
    sql.push_str(" ON CONFLICT (session_id) DO NOTHING");
    sql
}

/// The statements' SQL: one row, and [`CHUNK`] rows.
fn sql() -> &'static [String; 2] {
    static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    SQL.get_or_init(|| [insert_sql(1), insert_sql(CHUNK)])
}

/// The `sessions.id` of each run's session (`None` for a run without one), creating the
/// sessions not stored yet, inside `tx`.
pub(crate) fn session_ids(
    tx: &Transaction<'_>,
    cache: &mut SessionCache,
    runs: &[&EncodedRun],
) -> Result<Vec<Option<i64>>> {
    let mut ids = Vec::with_capacity(runs.len());
    // Sessions not in the cache, each once, in the order of their first run; `pending` maps
    // each to its place in `missing` (and in `resolved`).
    let mut missing: Vec<&Arc<str>> = Vec::new();
    let mut pending: HashMap<&str, usize, foldhash::fast::RandomState> = HashMap::default();
    for run in runs {
        let Some(session) = &run.session else {
            ids.push(None);
            continue;
        };
        let id = cache.get(session);
        if id.is_none() {
            pending.entry(&**session).or_insert_with(|| {
                missing.push(session);
                missing.len() - 1
            });
        }
        ids.push(id);
    }
    if missing.is_empty() {
        return Ok(ids);
    }
    let [one_sql, chunk_sql] = sql();
    let mut last: i64 = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM sessions")?
        .query_row([], |r| r.get(0))?;
    let mut resolved: Vec<i64> = Vec::with_capacity(missing.len());
    for chunk in missing.chunks(CHUNK) {
        let mut stmt = tx.prepare_cached(if chunk.len() == CHUNK {
            chunk_sql
        } else {
            one_sql
        })?;
        let mut inserted = 0;
        if chunk.len() == CHUNK {
            for (i, session) in chunk.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, &***session)?;
            }
            inserted = stmt.raw_execute()?;
        } else {
            for session in chunk {
                stmt.raw_bind_parameter(1, &***session)?;
                inserted += stmt.raw_execute()?;
            }
        }
        if inserted == chunk.len()
            && last.checked_add(inserted as i64) == Some(tx.last_insert_rowid())
        {
            // All new: numbered after the last session, in order (`last + 1 + i` is an id
            // SQLite just gave, so it cannot overflow).
            for (i, session) in chunk.iter().enumerate() {
                let id = last + 1 + i as i64;
                cache.insert(Arc::clone(session), id);
                resolved.push(id);
            }
            last = tx.last_insert_rowid();
            continue;
        }
        // Some existed already (or the new ids are not the expected ones): look each up.
        let mut select = tx.prepare_cached("SELECT id FROM sessions WHERE session_id = ?1")?;
        for session in chunk {
            let id: i64 = select.query_row([&***session], |r| r.get(0))?;
            cache.insert(Arc::clone(session), id);
            resolved.push(id);
            last = last.max(id);
        }
    }
    // This batch's new sessions from `resolved` (a batch may have more than the cache holds).
    for (id, run) in ids.iter_mut().zip(runs) {
        if let (None, Some(session)) = (*id, &run.session) {
            let found = pending.get(&**session).and_then(|&i| resolved.get(i));
            *id = Some(*found.ok_or_else(|| {
                StoreError::Corrupt(format!("session `{session}` was not stored"))
            })?);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cache_keeps_two_generations_and_promotes_hits() {
        let mut cache = SessionCache::default();
        let key = |i: usize| Arc::<str>::from(format!("s{i}"));
        cache.insert(key(0), 100);
        for i in 1..SESSION_CACHE_GENERATION {
            cache.insert(key(i), i as i64);
        }
        assert_eq!(cache.current.len(), SESSION_CACHE_GENERATION);
        // A new generation starts; the full one is still found.
        cache.insert(key(SESSION_CACHE_GENERATION), -1);
        assert_eq!(cache.older.len(), SESSION_CACHE_GENERATION);
        assert_eq!(cache.get(&key(0)), Some(100));
        // The hit moved to the current generation: it outlives the next turnover.
        assert!(cache.current.contains_key("s0") && !cache.older.contains_key("s0"));
        for i in 0..SESSION_CACHE_GENERATION {
            cache.insert(key(SESSION_CACHE_GENERATION + 1 + i), 0);
        }
        assert_eq!(cache.get(&key(0)), Some(100));
        assert_eq!(cache.get(&key(5)), None);
        // The last session is found by its pointer, and forgotten with the rest.
        let same = key(7);
        cache.insert(Arc::clone(&same), 70);
        assert_eq!(cache.get(&same), Some(70));
        cache.clear();
        assert_eq!(cache.get(&key(0)), None);
        assert_eq!(cache.get(&same), None);
    }
}
