//! [`StoreSink`]: a [`Sink`] that queues records for a background writer thread.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use runmeta_core::run::{RunRecord, Sink};

use crate::encode::{encode, EncodedRun};
use crate::error::Result;
use crate::schema::Durability;
use crate::store::open_connection;
use crate::write::Writer;

/// What [`StoreSink::record`](Sink::record) does when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the new record and count it in [`SinkStats::dropped`]; the caller never waits.
    #[default]
    DropNewest,
    /// Wait until the writer makes room (opt-in: the agent's thread then waits on disk).
    Block,
    /// Wait at most this long, then drop and count the record.
    BlockFor(Duration),
}

/// The most records a [`StoreSink`] queue holds: a larger [`SinkConfig::capacity`] is cut to
/// it. The queue's slots are allocated when the sink opens (tens of MiB at this capacity), so
/// `usize::MAX` for "no bound" would otherwise abort the process.
pub const MAX_SINK_CAPACITY: usize = 1 << 20;

/// Settings of a [`StoreSink`].
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// Records the queue holds before [`Overflow`] applies, at least 1 and at most
    /// [`MAX_SINK_CAPACITY`]. Default 65 536.
    pub capacity: usize,
    /// Most records written in one transaction. Default 8 192.
    pub max_batch: usize,
    /// What to do when the queue is full. Default [`Overflow::DropNewest`].
    pub overflow: Overflow,
    /// How durable a commit is. Default [`Durability::Normal`].
    pub durability: Durability,
    /// How long [`Sink::flush`] waits for the writer. Default 30 s.
    pub flush_timeout: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            capacity: 65_536,
            max_batch: 8_192,
            overflow: Overflow::DropNewest,
            durability: Durability::Normal,
            flush_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters of a [`StoreSink`], from [`StoreSink::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records accepted into the queue.
    pub queued: u64,
    /// Records committed to the database.
    pub written: u64,
    /// Records skipped because their run id was already stored.
    pub duplicates: u64,
    /// Records dropped because the queue was full or the sink was shut down.
    pub dropped: u64,
    /// Records that reached the writer but could not be stored (database error, or a value the
    /// store cannot represent).
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
    /// The last write error, if any.
    pub last_error: Option<String>,
}

enum Msg {
    Run(Box<EncodedRun>),
    Flush(Sender<()>),
    Shutdown,
}

#[derive(Default)]
struct Shared {
    queued: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
    closed: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn set_error(&self, message: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
    }
}

/// A [`Sink`] that stores every run in an SQLite database.
///
/// `record` encodes the run into column values (CPU only, about the cost of a clone) and
/// puts it in a bounded queue; a background thread writes the
/// queue in batches, one transaction per batch. With the default [`Overflow::DropNewest`] the
/// agent's thread never waits on disk: when the queue is full the new record is dropped and
/// counted. [`Sink::flush`] and [`StoreSink::shutdown`] wait until everything queued before
/// them is committed; dropping the sink shuts it down.
///
/// ```no_run
/// use runmeta_store::{SinkConfig, StoreSink};
/// let sink = StoreSink::open("runs.db", SinkConfig::default())?;
/// // hand `std::sync::Arc::new(sink)` to the collector, keep a clone for stats ...
/// let stats = sink.shutdown();
/// assert_eq!(stats.dropped, 0);
/// # Ok::<(), runmeta_store::StoreError>(())
/// ```
pub struct StoreSink {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    overflow: Overflow,
    flush_timeout: Duration,
}

impl std::fmt::Debug for StoreSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSink")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl StoreSink {
    /// Opens (creating if needed) the database at `path` and starts the writer thread.
    /// Opening and migrating happen here, so configuration errors surface at once.
    ///
    /// # Errors
    /// The database cannot be opened, is not a runmeta database, or has a newer schema; the
    /// thread cannot be spawned.
    pub fn open(path: impl AsRef<Path>, config: SinkConfig) -> Result<Self> {
        let path = path.as_ref();
        let conn = open_connection(path, true, config.durability)?;
        // Checkpoints run on a thread of their own (below), off the writer's path.
        conn.pragma_update(None, "wal_autocheckpoint", 0_i64)?;
        conn.pragma_update(None, "journal_size_limit", 64_i64 << 20)?;
        let checkpointer = Checkpointer::start(open_connection(path, false, config.durability)?)?;
        let wal_path = wal_path(path);
        let (tx, rx) = bounded(config.capacity.clamp(1, MAX_SINK_CAPACITY));
        let shared = Arc::new(Shared::default());
        let writer_shared = Arc::clone(&shared);
        let max_batch = config.max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("runmeta-store-writer".into())
            .spawn(move || {
                let mut writer = Writer::new(conn);
                writer_loop(
                    &mut writer,
                    &rx,
                    &writer_shared,
                    max_batch,
                    &checkpointer,
                    &wal_path,
                );
                checkpointer.stop();
                // Closing the last connection checkpoints the rest and removes the WAL file.
                drop(writer);
            })?;
        Ok(StoreSink {
            tx,
            shared,
            thread: Mutex::new(Some(thread)),
            overflow: config.overflow,
            flush_timeout: config.flush_timeout,
        })
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> SinkStats {
        let s = &self.shared;
        SinkStats {
            queued: s.queued.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            duplicates: s.duplicates.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// Waits until every record queued before this call is committed (or failed), at most
    /// `timeout`. Returns false on timeout or when the writer is gone.
    pub fn flush_within(&self, timeout: Duration) -> bool {
        let (ack_tx, ack_rx) = bounded(1);
        if self.tx.send_timeout(Msg::Flush(ack_tx), timeout).is_err() {
            return false;
        }
        ack_rx.recv_timeout(timeout).is_ok()
    }

    /// Writes out the queue and stops the writer thread; later records are dropped and
    /// counted. Safe to call more than once. Returns the final counters.
    pub fn shutdown(&self) -> SinkStats {
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            self.shared.closed.store(true, Ordering::Relaxed);
            // A blocking send: the queue drains while we wait. It fails only when the writer
            // thread is gone already.
            let _ = self.tx.send(Msg::Shutdown);
            if handle.join().is_err() {
                self.shared
                    .set_error("the writer thread panicked".to_owned());
            }
        }
        self.stats()
    }

    fn enqueue(&self, msg: Msg) {
        let sent = match self.overflow {
            Overflow::DropNewest => match self.tx.try_send(msg) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            Overflow::Block => self.tx.send(msg).is_ok(),
            Overflow::BlockFor(limit) => self.tx.send_timeout(msg, limit).is_ok(),
        };
        let counter = if sent {
            &self.shared.queued
        } else {
            &self.shared.dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl Sink for StoreSink {
    fn record(&self, run: &RunRecord) {
        // After shutdown the writer is gone: count and drop without cloning.
        if self.shared.closed.load(Ordering::Relaxed) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            match encode(run) {
                Ok(encoded) => self.enqueue(Msg::Run(Box::new(encoded))),
                Err(e) => {
                    self.shared.failed.fetch_add(1, Ordering::Relaxed);
                    self.shared.set_error(e.to_string());
                }
            }
        }
    }

    fn flush(&self) {
        let _ = self.flush_within(self.flush_timeout);
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The `-wal` file next to the database.
fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// A WAL larger than this makes the writer checkpoint by itself (the background checkpointer
/// is falling behind).
const WAL_LIMIT_BYTES: u64 = 1 << 30;

/// The writer's helper thread: copies committed WAL frames into the database with
/// `PRAGMA wal_checkpoint(PASSIVE)` (which never blocks the writer) on its own connection,
/// and frees written batches, so the writer spends its time in inserts.
struct Checkpointer {
    signal: Option<Sender<()>>,
    // The boxes come from the queue as they are; unboxing would copy every run.
    #[allow(clippy::vec_box)]
    garbage: Option<Sender<Vec<Box<EncodedRun>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(conn: rusqlite::Connection) -> std::io::Result<Self> {
        let (signal, rx) = bounded::<()>(1);
        let (garbage, trash) = bounded::<Vec<Box<EncodedRun>>>(2);
        let thread = std::thread::Builder::new()
            .name("runmeta-store-checkpoint".into())
            .spawn(move || loop {
                crossbeam_channel::select! {
                    recv(rx) -> msg => match msg {
                        Ok(()) => {
                            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        }
                        Err(_) => break,
                    },
                    recv(trash) -> batch => drop(batch),
                }
            })?;
        Ok(Checkpointer {
            signal: Some(signal),
            garbage: Some(garbage),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; coalesces with one already asked for.
    fn poke(&self) {
        if let Some(s) = &self.signal {
            let _ = s.try_send(());
        }
    }

    /// Frees a written batch on the helper thread (here when it is behind).
    #[allow(clippy::vec_box)]
    fn dispose(&self, batch: Vec<Box<EncodedRun>>) {
        if let Some(g) = &self.garbage {
            let _ = g.try_send(batch);
        }
    }

    fn stop(mut self) {
        self.signal = None;
        self.garbage = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn writer_loop(
    writer: &mut Writer,
    rx: &Receiver<Msg>,
    shared: &Shared,
    max_batch: usize,
    checkpointer: &Checkpointer,
    wal: &Path,
) {
    let mut batch: Vec<Box<EncodedRun>> = Vec::with_capacity(max_batch);
    let mut acks: Vec<Sender<()>> = Vec::new();
    let mut stop = false;
    while !stop {
        let Ok(first) = rx.recv() else { break };
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Run(run) => batch.push(run),
                Msg::Flush(ack) => acks.push(ack),
                Msg::Shutdown => stop = true,
            }
            if batch.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        if stop {
            // Everything sent before the shutdown is already in `batch` (the queue is FIFO);
            // take what raced in after it too.
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    Msg::Run(run) => batch.push(run),
                    Msg::Flush(ack) => acks.push(ack),
                    Msg::Shutdown => {}
                }
            }
        }
        write_with_retry(writer, &batch, shared);
        checkpointer.dispose(std::mem::replace(&mut batch, Vec::with_capacity(max_batch)));
        checkpointer.poke();
        if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES) {
            let _ = writer
                .conn()
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

fn write_with_retry(writer: &mut Writer, batch: &[Box<EncodedRun>], shared: &Shared) {
    if batch.is_empty() {
        return;
    }
    let mut attempt = 0;
    loop {
        match writer.write_batch(batch.iter().map(AsRef::as_ref)) {
            Ok(outcome) => {
                shared.batches.fetch_add(1, Ordering::Relaxed);
                shared
                    .written
                    .fetch_add(outcome.inserted, Ordering::Relaxed);
                shared
                    .duplicates
                    .fetch_add(outcome.duplicates, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt == 0 => {
                // A busy or briefly full disk: wait once and retry the whole batch.
                shared.set_error(e.to_string());
                attempt += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                shared
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                shared.set_error(e.to_string());
                return;
            }
        }
    }
}
