//! A sink that hands records to a background thread through a bounded queue.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use super::{RunRecord, SharedRecord, Sink};

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
    Record(SharedRecord),
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
/// A tracked run's record is queued as it is, shared, not copied. Once the inner sink is done
/// with it (and keeps no reference), the worker thread gives it back to the record pool, from
/// which the agent threads take it again for their next runs: in the steady state a queued run
/// allocates nothing. A record handed to [`Sink::record`] by reference is copied.
///
/// Records still queued when the process exits are lost unless the collector is flushed
/// first: call `runmeta::flush()` before `main` returns, or hold a
/// [`FlushGuard`](super::FlushGuard) in `main`.
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
    /// `None` once shut down. Senders send through the read lock, without a clone of the
    /// sender (a count to add and drop again per record); `shutdown` takes the write lock,
    /// so it waits for the records being sent and every later one is counted as dropped.
    sender: RwLock<Option<SyncSender<Message>>>,
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

/// The most records a [`QueuedSink`] queue holds: a larger capacity is cut to it. The queue's
/// slots are allocated when it is made (tens of MiB at this capacity), so `usize::MAX` for "no
/// bound" would otherwise abort the process.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 20;

impl QueuedSink {
    /// Starts the background thread; the queue holds `capacity` records, at least 1 and at
    /// most [`MAX_QUEUE_CAPACITY`].
    #[must_use]
    pub fn new(inner: impl Sink, capacity: usize, policy: Overflow) -> Self {
        let (sender, receiver) = mpsc::sync_channel(capacity.clamp(1, MAX_QUEUE_CAPACITY));
        let counters = Arc::new(Counters::default());
        let worker_counters = Arc::clone(&counters);
        let worker = std::thread::Builder::new()
            .name("runmeta-queued-sink".into())
            .spawn(move || work(&inner, &receiver, &worker_counters))
            .ok();
        QueuedSink {
            sender: RwLock::new(Some(sender)),
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

    /// Calls `f` with the sender, or returns `None` once shut down.
    fn with_sender<R>(&self, f: impl FnOnce(&SyncSender<Message>) -> R) -> Option<R> {
        self.sender
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
    }

    /// Stops the worker after it has delivered what is queued.
    pub fn shutdown(&self) {
        self.sender
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = worker.join();
        }
    }
}

fn work(inner: &impl Sink, receiver: &Receiver<Message>, counters: &Counters) {
    let keeps = inner.keeps_records();
    while let Ok(message) = receiver.recv() {
        match message {
            Message::Record(record) => {
                let ok = if keeps {
                    catch_unwind(AssertUnwindSafe(|| inner.record_shared(record))).is_ok()
                } else {
                    let ok = catch_unwind(AssertUnwindSafe(|| inner.record(&record))).is_ok();
                    super::pool::recycle(record);
                    ok
                };
                let counter = if ok {
                    &counters.delivered
                } else {
                    &counters.panicked
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Message::Flush(done) => {
                if catch_unwind(AssertUnwindSafe(|| inner.flush())).is_err() {
                    counters.panicked.fetch_add(1, Ordering::Relaxed);
                }
                let _ = done.send(());
            }
        }
    }
}

impl Sink for QueuedSink {
    /// Queues a copy of `run`.
    fn record(&self, run: &RunRecord) {
        self.record_shared(SharedRecord::new(run.clone()));
    }

    /// Queues `run` itself.
    fn record_shared(&self, run: SharedRecord) {
        let message = Message::Record(run);
        let sent = self.with_sender(|sender| match self.policy {
            Overflow::DropNewest => match sender.try_send(message) {
                Ok(()) => None,
                Err(TrySendError::Full(refused) | TrySendError::Disconnected(refused)) => {
                    Some(refused)
                }
            },
            Overflow::Block => sender.send(message).err().map(|e| e.0),
        });
        // Shut down: counted as dropped (the record went with the closure).
        let Some(refused) = sent else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(refused) = refused {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if let Message::Record(record) = refused {
                super::pool::recycle(record);
            }
        }
    }

    /// True: the collector hands this sink the record itself, to queue without a copy.
    fn keeps_records(&self) -> bool {
        true
    }

    /// Waits until everything queued before this call has reached the inner sink.
    fn flush(&self) {
        let (done, wait) = mpsc::channel();
        // The lock is let go of before waiting: only the send holds it.
        let sent = self.with_sender(|sender| sender.send(Message::Flush(done)).is_ok());
        if sent == Some(true) {
            let _ = wait.recv();
        }
    }
}

impl Drop for QueuedSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver, Sender};

    fn record(agent: &'static str) -> SharedRecord {
        SharedRecord::new(RunRecord::new(agent, jiff::Timestamp::UNIX_EPOCH))
    }

    /// Keeps what it is handed.
    #[derive(Default)]
    struct Keeping(Mutex<Vec<SharedRecord>>);

    impl Sink for Keeping {
        fn record(&self, run: &RunRecord) {
            self.record_shared(SharedRecord::new(run.clone()));
        }
        fn record_shared(&self, run: SharedRecord) {
            self.0.lock().unwrap().push(run);
        }
        fn keeps_records(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_shared_record_reaches_a_keeping_inner_sink_uncopied() {
        let inner = Arc::new(Keeping::default());
        let queued = QueuedSink::new(Arc::clone(&inner), 8, Overflow::Block);
        assert!(queued.keeps_records());
        let run = record("a");
        queued.record_shared(run.clone());
        queued.record(&run);
        queued.flush();
        let kept = inner.0.lock().unwrap();
        assert_eq!(kept.len(), 2);
        assert!(SharedRecord::ptr_eq(&kept[0], &run), "queued as it is");
        assert!(
            !SharedRecord::ptr_eq(&kept[1], &run),
            "a reference is copied"
        );
        assert_eq!(kept[1].agent, "a");
    }

    #[test]
    fn a_capacity_past_the_maximum_is_cut_to_it() {
        // `usize::MAX` ("no bound") would make the channel allocate its slots and abort.
        for capacity in [usize::MAX, MAX_QUEUE_CAPACITY + 1, 0] {
            let inner = Arc::new(Keeping::default());
            let queued = QueuedSink::new(Arc::clone(&inner), capacity, Overflow::Block);
            queued.record(&record("a"));
            queued.flush();
            assert_eq!(inner.0.lock().unwrap().len(), 1, "capacity {capacity}");
        }
    }

    /// Tells when it has a record, then waits to be let go.
    struct Stuck {
        entered: Mutex<Sender<()>>,
        release: Mutex<Receiver<()>>,
    }

    impl Sink for Stuck {
        fn record(&self, _run: &RunRecord) {
            self.entered.lock().unwrap().send(()).unwrap();
            let _ = self.release.lock().unwrap().recv();
        }
    }

    #[test]
    fn a_refused_record_goes_back_to_the_pool_and_is_counted() {
        // A fresh thread: its record pool starts empty.
        std::thread::spawn(|| {
            let (entered, inner_entered) = channel();
            let (release, inner_release) = channel();
            let queued = QueuedSink::new(
                Stuck {
                    entered: Mutex::new(entered),
                    release: Mutex::new(inner_release),
                },
                1,
                Overflow::DropNewest,
            );
            queued.record_shared(record("held by the inner sink"));
            inner_entered.recv().unwrap();
            queued.record_shared(record("fills the queue"));
            let refused = record("refused");
            let at = std::ptr::from_ref::<RunRecord>(&refused);
            queued.record_shared(refused);
            assert_eq!(queued.stats().dropped, 1);
            let (reused, _) = super::super::pool::take_record(None);
            assert_eq!(std::ptr::from_ref::<RunRecord>(&reused), at);
            release.send(()).unwrap();
            release.send(()).unwrap();
            queued.shutdown();
            assert_eq!(queued.stats().delivered, 2);
        })
        .join()
        .unwrap();
    }

    /// Counts what it receives.
    #[derive(Default)]
    struct Counting(AtomicU64);

    impl Sink for Counting {
        fn record(&self, _run: &RunRecord) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn records_sent_while_shutting_down_are_delivered_or_counted_as_dropped() {
        for policy in [Overflow::Block, Overflow::DropNewest] {
            let inner = Arc::new(Counting::default());
            let queued = QueuedSink::new(Arc::clone(&inner), 4, policy);
            let per_thread = 2_000_u64;
            let finished = AtomicU64::new(0);
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        for _ in 0..per_thread {
                            queued.record_shared(record("a"));
                        }
                        finished.fetch_add(1, Ordering::Relaxed);
                    });
                }
                // Shut down once the worker is busy, while the senders still send.
                s.spawn(|| {
                    while inner.0.load(Ordering::Relaxed) < 100
                        && finished.load(Ordering::Relaxed) < 3
                    {
                        std::thread::yield_now();
                    }
                    queued.shutdown();
                });
            });
            let stats = queued.stats();
            assert_eq!(
                stats.delivered,
                inner.0.load(Ordering::Relaxed),
                "{policy:?}"
            );
            assert_eq!(
                stats.delivered + stats.dropped,
                3 * per_thread,
                "{policy:?}"
            );
            queued.record_shared(record("after"));
            assert_eq!(queued.stats().dropped, stats.dropped + 1, "{policy:?}");
        }
    }
}
