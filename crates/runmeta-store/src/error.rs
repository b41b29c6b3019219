//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong opening, writing or querying a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing a file (export, import) failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The database was written by a newer runmeta with a schema this build does not know.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); \
         upgrade runmeta"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A read-only open found an older schema; opening the store for writing once migrates
    /// it.
    #[error(
        "database schema version {found} is older than {supported}; open it for writing once \
         to migrate"
    )]
    SchemaTooOld {
        /// The version in the database.
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// The file is an SQLite database, but not a runmeta store.
    #[error("{} is not a runmeta database", path.display())]
    NotARunmetaDatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database file does not exist and the store was opened read-only.
    #[error("{} does not exist", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// A record could not be stored: a value is outside what the store can represent.
    #[error("run {run_id}: {message}")]
    Unstorable {
        /// The run's id.
        run_id: String,
        /// What is wrong.
        message: String,
    },
    /// A query argument is invalid (an unknown group key, a bad time range, ...).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Input given to an import cannot be read as a whole (too large, not UTF-8, not JSON);
    /// the message says which.
    #[error("{0}")]
    InvalidInput(String),
    /// A stored row could not be read back (the database was edited by hand or is damaged).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
