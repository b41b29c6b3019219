//! A counter that many threads add to without sharing a cache line.
//!
//! Every run adds to the collector's run count; with one `AtomicU64`, two threads finishing
//! runs at once pass its cache line back and forth on each add. Here each thread adds to one
//! of [`SLOTS`] slots on lines of their own (threads are spread over the slots in the order
//! they first count), and a read sums the slots.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per counter: threads beyond this share slots (still correct, merely contended).
pub(crate) const SLOTS: usize = 8;

/// One slot, alone on its cache line pair (adjacent-line prefetch pairs 64-byte lines).
#[derive(Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A sum of `u64` additions from any number of threads; see the module docs.
#[derive(Default)]
pub(crate) struct StripedCounter {
    slots: [Slot; SLOTS],
}

/// This thread's slot index, in `0..SLOTS` (also the in-memory sink's slot).
pub(crate) fn slot_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        /// `SLOTS` (no slot yet) until this thread first asks.
        static INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(SLOTS) };
    }
    INDEX
        .try_with(|index| {
            let i = index.get();
            if i < SLOTS {
                return i;
            }
            let i = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            index.set(i);
            i
        })
        // During thread teardown: any slot will do.
        .unwrap_or(0)
}

impl StripedCounter {
    /// Adds `n`.
    pub(crate) fn add(&self, n: u64) {
        self.slots[slot_index()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The sum of everything added so far (additions racing with the read may be missed).
    pub(crate) fn get(&self) -> u64 {
        self.slots.iter().fold(0u64, |sum, slot| {
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
    fn slots_do_not_share_cache_lines() {
        assert_eq!(std::mem::size_of::<Slot>(), 128);
    }
}
