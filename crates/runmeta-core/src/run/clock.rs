//! The clocks of a run: one monotonic read at each end; the wall-clock start time (and the
//! run id's millisecond) derived from a per-thread anchor rather than read again.
//!
//! The monotonic clock is a [`quanta::Clock`]: it reads the CPU's time-stamp counter where that
//! is invariant (about half the cost of `clock_gettime` on the machines measured, see
//! BENCHMARKS.md) and the OS clock elsewhere. Its calibration (10–200 ms, once per process)
//! runs when a collector is installed, never inside a run. A run keeps the clock's raw reading
//! and scales only the difference, once, at its end: `quanta::Instant::now()` would also look
//! up a thread-local override (for mocking) and scale every reading.
//!
//! A wall-clock read costs as much as a monotonic one, and a run needs the monotonic pair
//! anyway for its duration. Each thread pairs one `Instant` with one `SystemTime` reading and
//! derives later start times from the distance to it; the pair is read again once it is a
//! second old, so a step of the system clock (NTP) shows in start times within a second. A
//! new pair that would step this thread's times back by less than a millisecond (the
//! counter's own drift) does not: its times read as the last one until they pass it.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The process's monotonic clock, calibrated once.
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A reading of the monotonic clock, unscaled (TSC ticks where the counter is used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Instant(u64);

impl Instant {
    /// Reads the clock.
    #[inline]
    pub(crate) fn now() -> Instant {
        Instant(clock().raw())
    }

    /// The time from `earlier` to `self`; `None` if `earlier` is later (a counter read on
    /// another core can lag).
    #[inline]
    pub(crate) fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        (self.0 >= earlier.0).then(|| clock().delta(earlier.0, self.0))
    }

    /// The time since this reading; zero if the clock reads earlier now.
    #[inline]
    pub(crate) fn elapsed(self) -> Duration {
        let clock = clock();
        clock.delta(self.0, clock.raw())
    }
}

/// How long one anchor serves before the wall clock is read again.
const REANCHOR_AFTER: Duration = Duration::from_secs(1);

/// The largest step back a new anchor smooths over (see [`Anchor::floor`]); a larger one is
/// the system clock being set, and start times follow it.
const SMOOTHED_STEP_NANOS: i64 = 1_000_000;

/// A thread's pairing of the monotonic clock with the wall clock.
#[derive(Clone, Copy)]
struct Anchor {
    /// The instant the wall clock was read at.
    at: Instant,
    /// The wall clock then, in Unix nanoseconds.
    nanos: i64,
    /// The latest time the previous anchor gave. The counter's calibration runs a few parts
    /// per million fast (derived times were up to 7.4 µs ahead of the system clock a second
    /// after an anchor, on the machines measured), so a new anchor would step this thread's
    /// times back by as much: until the new anchor's times pass it, they read as it, and a
    /// thread's start times (and run ids) never go back.
    floor: i64,
}

thread_local! {
    /// This thread's anchor.
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

/// The Unix time, in nanoseconds, of `at`, an instant just read on this thread.
pub(crate) fn unix_nanos_at(at: Instant) -> i64 {
    ANCHOR
        .try_with(|cell| {
            let previous = cell.get();
            let since = previous.and_then(|anchor| at.checked_duration_since(anchor.at));
            if let (Some(anchor), Some(since)) = (previous, since) {
                if since < REANCHOR_AFTER {
                    // Below one second: the nanoseconds fit an `i64` many times over.
                    return anchor
                        .nanos
                        .saturating_add(since.subsec_nanos().into())
                        .max(anchor.floor);
                }
            }
            let nanos = system_unix_nanos();
            // What the previous anchor gives for `at`, if it can still tell.
            let last = previous.zip(since).map(|(anchor, since)| {
                let since = i64::try_from(since.as_nanos()).unwrap_or(i64::MAX);
                anchor.nanos.saturating_add(since)
            });
            let floor = match last {
                Some(last) if last > nanos && last - nanos <= SMOOTHED_STEP_NANOS => last,
                _ => i64::MIN,
            };
            cell.set(Some(Anchor { at, nanos, floor }));
            nanos.max(floor)
        })
        // During thread teardown the anchor is gone: read the clock.
        .unwrap_or_else(|_| system_unix_nanos())
}

/// Now: the monotonic instant and the wall-clock time it stands for (derived, not read).
pub(crate) fn now() -> (Instant, jiff::Timestamp) {
    let at = Instant::now();
    (at, wall(at))
}

/// The wall-clock time `at`, an instant just read on this thread, stands for (derived, not
/// read).
pub(crate) fn wall(at: Instant) -> jiff::Timestamp {
    timestamp(unix_nanos_at(at))
}

/// The timestamp `nanos` Unix nanoseconds stand for, in 64-bit arithmetic
/// (`Timestamp::from_nanosecond` takes an `i128`, whose division is a library call).
fn timestamp(nanos: i64) -> jiff::Timestamp {
    const NANOS_PER_SECOND: i64 = 1_000_000_000;
    let Ok(n) = u64::try_from(nanos) else {
        return from_parts(
            nanos.div_euclid(NANOS_PER_SECOND),
            nanos.rem_euclid(NANOS_PER_SECOND),
        );
    };
    // After 1970 (every run): an unsigned division by a constant is one multiply and shift,
    // where the signed `div_euclid`/`rem_euclid` need corrections (19 instructions per run).
    let per_second = NANOS_PER_SECOND.unsigned_abs();
    // Below 2^64 / 1e9 and 1e9: both fit an `i64`.
    from_parts(
        i64::try_from(n / per_second).unwrap_or(i64::MAX),
        i64::try_from(n % per_second).unwrap_or(0),
    )
}

/// `seconds` and `subsec` (in `0..1e9`) as a timestamp.
fn from_parts(seconds: i64, subsec: i64) -> jiff::Timestamp {
    jiff::Timestamp::new(seconds, i32::try_from(subsec).unwrap_or(0))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Calibrates the monotonic clock, so that no run pays for it.
pub(crate) fn calibrate() {
    let _ = clock();
}

/// The system clock's Unix time in nanoseconds; 0 before 1970, saturated after 2262.
fn system_unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_time_tracks_the_system_clock() {
        let before = system_unix_nanos();
        let derived = unix_nanos_at(Instant::now());
        let after = system_unix_nanos();
        assert!(derived >= before - 1_000_000, "{derived} < {before}");
        assert!(derived <= after + 1_000_000, "{derived} > {after}");
    }

    /// An instant at least `seconds` before `at` (its ticks found by doubling).
    fn earlier(at: Instant, seconds: u64) -> Instant {
        let mut ticks = 1u64;
        loop {
            let then = Instant(at.0.saturating_sub(ticks));
            let since = at.checked_duration_since(then).unwrap_or_default();
            if since >= Duration::from_secs(seconds) || then.0 == 0 {
                return then;
            }
            ticks = ticks.saturating_mul(2);
        }
    }

    /// Sets this thread's anchor one second (or more) before `at`, such that it gives `at`
    /// the system clock's time plus `ahead_nanos`; returns that time.
    fn anchor_ahead(at: Instant, ahead_nanos: i64) -> i64 {
        let then = earlier(at, 1);
        let since = i64::try_from(at.checked_duration_since(then).unwrap().as_nanos()).unwrap();
        let given = system_unix_nanos() + ahead_nanos;
        ANCHOR.with(|cell| {
            cell.set(Some(Anchor {
                at: then,
                nanos: given - since,
                floor: i64::MIN,
            }));
        });
        given
    }

    #[test]
    fn a_new_anchor_never_steps_a_threads_times_back_by_a_little() {
        // The old anchor ran 300 µs ahead: the new one reads the system clock, behind it.
        let at = Instant::now();
        let given = anchor_ahead(at, 300_000);
        let first = unix_nanos_at(at);
        assert!(first >= given, "{first} < {given}: stepped back");
        let next = unix_nanos_at(Instant::now());
        assert!(next >= first, "{next} < {first}");
        // Until the new anchor's times pass the old one's, they read as it.
        assert!(next - given < 300_000);
    }

    #[test]
    fn a_large_step_back_of_the_system_clock_is_followed() {
        // 10 ms ahead is not calibration drift: the system clock was set back.
        let at = Instant::now();
        let given = anchor_ahead(at, 10_000_000);
        let first = unix_nanos_at(at);
        assert!(first < given - 9_000_000, "{first} held at {given}");
    }

    #[test]
    fn later_instants_give_later_times() {
        let first = Instant::now();
        let a = unix_nanos_at(first);
        std::thread::sleep(Duration::from_millis(5));
        let b = unix_nanos_at(Instant::now());
        assert!(b - a >= 5_000_000, "{a} -> {b}");
        assert!(b - a < 1_000_000_000, "{a} -> {b}");
    }

    #[test]
    fn timestamps_match_jiffs_own_conversion() {
        for nanos in [
            0,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            -1_000_000_001,
            1_763_800_000_123_456_789,
            i64::MAX,
            i64::MIN,
        ] {
            let expected = jiff::Timestamp::from_nanosecond(nanos.into())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            assert_eq!(timestamp(nanos), expected, "{nanos}");
        }
    }

    #[test]
    fn an_old_anchor_is_replaced() {
        let start = Instant::now();
        let _ = unix_nanos_at(start);
        std::thread::sleep(REANCHOR_AFTER + Duration::from_millis(20));
        let now = Instant::now();
        let derived = unix_nanos_at(now);
        let system = system_unix_nanos();
        assert!(
            (system - derived).abs() < 50_000_000,
            "{derived} vs {system}"
        );
        assert_eq!(ANCHOR.with(Cell::get).map(|anchor| anchor.at), Some(now));
    }
}
