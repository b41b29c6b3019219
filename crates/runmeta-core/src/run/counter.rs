//! A counter that many threads add to without sharing a cache line.
//!
//! Every run adds to the collector's run count; with one `AtomicU64`, two threads finishing
//! runs at once pass its cache line back and forth on each add. Here each thread adds to one
//! of [`SLOTS`] slots on lines of their own (threads are spread over the slots in the order
//! they first count), and a read sums the slots.
//!
//! The first [`SLOTS`] threads to ask own their slot for good: no other thread ever writes
//! it, so they add with a plain load and store, not an atomic read-modify-write (about 6 ns
//! each on the machine measured in BENCHMARKS.md). Later threads share a second set of
//! slots and add atomically.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per counter in each set: threads beyond this share slots (still correct, merely
/// contended).
pub(crate) const SLOTS: usize = 8;

/// One slot, alone on its cache line pair (adjacent-line prefetch pairs 64-byte lines).
#[derive(Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A sum of `u64` additions from any number of threads; see the module docs.
#[derive(Default)]
pub(crate) struct StripedCounter {
    /// Slot `i` is written only by the thread that owns index `i`.
    owned: [Slot; SLOTS],
    /// Written with `fetch_add` by threads that came after the owners.
    shared: [Slot; SLOTS],
}

/// This thread's slot: an index in `0..SLOTS` (also the in-memory sink's slot) and whether
/// this thread is the only one ever given it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ThreadSlot {
    pub(crate) index: usize,
    pub(crate) owned: bool,
}

/// This thread's slot; see [`ThreadSlot`].
pub(crate) fn thread_slot() -> ThreadSlot {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    /// No slot yet.
    const UNSET: usize = usize::MAX;
    thread_local! {
        /// The order in which this thread first asked, or `UNSET`.
        static ORDER: std::cell::Cell<usize> = const { std::cell::Cell::new(UNSET) };
    }
    let order = ORDER
        .try_with(|order| {
            if order.get() == UNSET {
                order.set(NEXT.fetch_add(1, Ordering::Relaxed).min(UNSET - 1));
            }
            order.get()
        })
        // During thread teardown: a shared slot will do.
        .unwrap_or(SLOTS);
    ThreadSlot {
        index: order % SLOTS,
        owned: order < SLOTS,
    }
}

impl StripedCounter {
    /// Adds `n`.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let ThreadSlot { index, owned } = thread_slot();
        if owned {
            // The only writer of this slot: readers see the old or the new sum, never a
            // lost addition.
            let slot = &self.owned[index].0;
            slot.store(
                slot.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            self.shared[index].0.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The sum of everything added so far (additions racing with the read may be missed).
    pub(crate) fn get(&self) -> u64 {
        self.owned
            .iter()
            .chain(&self.shared)
            .fold(0u64, |sum, slot| {
                sum.wrapping_add(slot.0.load(Ordering::Relaxed))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_adds_of_many_threads() {
        let counter = StripedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..SLOTS * 2 + 1 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        counter.add(1);
                    }
                });
            }
        });
        assert_eq!(counter.get(), (SLOTS as u64 * 2 + 1) * 10_000);
    }

    #[test]
    fn an_owned_slot_is_given_to_one_thread_only() {
        let slots: Vec<ThreadSlot> = (0..SLOTS * 3)
            .map(|_| std::thread::spawn(thread_slot).join().expect("no panic"))
            .collect();
        let mut owned: Vec<usize> = slots.iter().filter(|s| s.owned).map(|s| s.index).collect();
        let count = owned.len();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(owned.len(), count, "{slots:?}");
        assert!(slots.iter().all(|s| s.index < SLOTS));
        // Threads after the first `SLOTS` of the process share.
        assert!(slots.iter().filter(|s| !s.owned).count() >= SLOTS * 2);
        assert_eq!(thread_slot(), thread_slot(), "stable per thread");
    }

    #[test]
    fn slots_do_not_share_cache_lines() {
        assert_eq!(std::mem::size_of::<Slot>(), 128);
    }
}
