//! A sink that hands records to a background thread through a bounded queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{RunRecord, Sink};

/// What a [`QueuedSink`] does when its queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the new record and count it: the agent never waits (the default).
    #[default]
    DropNewest,
    /// Wait for room: nothing is lost, but a slow sink slows the agent.
    Block,
}

enum Message {
    Record(Box<RunRecord>),
    Flush(mpsc::Sender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    panicked: AtomicU64,
}

/// Wraps a slow sink: `record` only enqueues; a background thread calls the inner sink.
///
/// ```
/// use std::sync::Arc;
/// use runmeta_core::run::{InMemorySink, Overflow, QueuedSink, RunRecord, Sink};
/// let memory = Arc::new(InMemorySink::new(100));
/// let queued = QueuedSink::new(memory.clone(), 1024, Overflow::DropNewest);
/// queued.record(&RunRecord::new("agent", jiff::Timestamp::UNIX_EPOCH));
/// queued.flush();
/// assert_eq!(memory.records().len(), 1);
/// assert_eq!(queued.stats().delivered, 1);
/// ```
pub struct QueuedSink {
    sender: Mutex<Option<SyncSender<Message>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    policy: Overflow,
    counters: Arc<Counters>,
}

/// Counts of a [`QueuedSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Records the inner sink received.
    pub delivered: u64,
    /// Records dropped because the queue was full (or the worker was gone).
    pub dropped: u64,
    /// Panics of the inner sink, contained.
    pub panicked: u64,
}

impl std::fmt::Debug for QueuedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedSink")
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

impl QueuedSink {
    /// Starts the background thread; the queue holds `capacity` records.
    #[must_use]
    pub fn new(inner: impl Sink, capacity: usize, policy: Overflow) -> Self {
        let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker_counters = Arc::clone(&counters);
        let worker = std::thread::Builder::new()
            .name("runmeta-queued-sink".into())
            .spawn(move || work(&inner, &receiver, &worker_counters))
            .ok();
        QueuedSink {
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(worker),
            policy,
            counters,
        }
    }

    /// Delivered, dropped and panicked counts.
    #[must_use]
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            panicked: self.counters.panicked.load(Ordering::Relaxed),
        }
    }

    fn sender(&self) -> Option<SyncSender<Message>> {
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the worker after it has delivered what is queued.
    pub fn shutdown(&self) {
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(worker) = self
            .worker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = worker.join();
        }
    }
}

fn work(inner: &impl Sink, receiver: &Receiver<Message>, counters: &Counters) {
    while let Ok(message) = receiver.recv() {
        match message {
            Message::Record(record) => {
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    inner.record(&record)
                }))
                .is_ok();
                let counter = if ok {
                    &counters.delivered
                } else {
                    &counters.panicked
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Message::Flush(done) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.flush())).is_err()
                {
                    counters.panicked.fetch_add(1, Ordering::Relaxed);
                }
                let _ = done.send(());
            }
        }
    }
}

impl Sink for QueuedSink {
    fn record(&self, run: &RunRecord) {
        let Some(sender) = self.sender() else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let message = Message::Record(Box::new(run.clone()));
        let sent = match self.policy {
            Overflow::DropNewest => match sender.try_send(message) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            Overflow::Block => sender.send(message).is_ok(),
        };
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until everything queued before this call has reached the inner sink.
    fn flush(&self) {
        let Some(sender) = self.sender() else { return };
        let (done, wait) = mpsc::channel();
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

impl Drop for QueuedSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}
