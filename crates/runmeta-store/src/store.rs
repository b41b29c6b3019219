//! [`Store`]: a handle on a database file for direct writes and queries.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use runmeta_core::run::RunRecord;

use crate::encode::encode;
use crate::error::{Result, StoreError};
use crate::schema::{self, Durability};
use crate::write::Writer;

/// The result of writing records directly with [`Store::insert`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Records stored.
    pub inserted: u64,
    /// Records skipped because their run id was already stored.
    pub duplicates: u64,
    /// Records that could not be stored, with the reason (e.g. a start time outside
    /// 1677..2262).
    pub rejected: Vec<String>,
}

/// An open store: one SQLite connection, used on the calling thread.
///
/// Use [`Store`] for queries, imports and tests; use [`StoreSink`](crate::StoreSink) to
/// record runs from a running agent (it writes on a background thread).
pub struct Store {
    writer: Writer,
    path: PathBuf,
    read_only: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating the file and its schema if needed and migrating an
    /// older schema.
    ///
    /// # Errors
    /// The file cannot be opened or created, is not a runmeta database, or has a newer schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), true, Durability::Normal)
    }

    /// Opens an existing store for reading and writing; fails if the file does not exist.
    ///
    /// # Errors
    /// As [`Store::open`], plus [`StoreError::Missing`].
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), false, Durability::Normal)
    }

    /// Opens an existing store read-only; its schema must be the current one.
    ///
    /// # Errors
    /// [`StoreError::Missing`], [`StoreError::NotARunmetaDatabase`], a schema of another
    /// version, or an SQLite error.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        schema::configure_reads(&conn)?;
        let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if app_id != schema::APPLICATION_ID {
            return Err(StoreError::NotARunmetaDatabase {
                path: path.to_path_buf(),
            });
        }
        let version = schema::current_version(&conn)?;
        if version > schema::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: schema::SCHEMA_VERSION,
            });
        }
        if version < schema::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooOld {
                found: version,
                supported: schema::SCHEMA_VERSION,
            });
        }
        Ok(Store {
            writer: Writer::new(conn),
            path: path.to_path_buf(),
            read_only: true,
        })
    }

    pub(crate) fn open_with(path: &Path, create: bool, durability: Durability) -> Result<Self> {
        let conn = open_connection(path, create, durability)?;
        Ok(Store {
            writer: Writer::new(conn),
            path: path.to_path_buf(),
            read_only: false,
        })
    }

    /// The database file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `runs` in one transaction on the calling thread. Runs already stored (same run
    /// id) are skipped and counted; runs the store cannot represent are rejected and listed.
    ///
    /// # Errors
    /// A database error; nothing of the batch is written then.
    pub fn insert(&mut self, runs: &[RunRecord]) -> Result<WriteSummary> {
        let mut rejected = Vec::new();
        let encoded: Vec<_> = runs
            .iter()
            .filter_map(|r| encode(r).map_err(|e| rejected.push(e.to_string())).ok())
            .collect();
        let outcome = self.writer.write_batch(&encoded)?;
        Ok(WriteSummary {
            inserted: outcome.inserted,
            duplicates: outcome.duplicates,
            rejected,
        })
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `"ok"` for a sound database.
    ///
    /// # Errors
    /// An SQLite error.
    pub fn integrity_check(&self) -> Result<String> {
        let mut stmt = self.conn().prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("\n"))
    }

    /// Number of stored runs.
    ///
    /// # Errors
    /// An SQLite error.
    pub fn run_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))?;
        Ok(crate::codec::uint(n))
    }

    /// The underlying connection, for queries.
    pub(crate) fn conn(&self) -> &Connection {
        self.writer.conn()
    }

    /// The writer, for imports.
    pub(crate) fn writer_mut(&mut self) -> &mut Writer {
        &mut self.writer
    }
}

/// Opens, configures and migrates a read-write connection.
pub(crate) fn open_connection(
    path: &Path,
    create: bool,
    durability: Durability,
) -> Result<Connection> {
    if !create && !path.exists() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags)?;
    schema::configure(&conn, durability)?;
    schema::migrate(&mut conn, path)?;
    // Only the writer writes through this connection, and the only references it writes
    // are label-set ids it has just looked up or inserted in the same transaction.
    // Enforcing foreign keys too would make every multi-row INSERT of runs keep a statement
    // journal (a copy of each page it changes): measured slower than one row per statement.
    conn.pragma_update(None, "foreign_keys", false)?;
    Ok(conn)
}
