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
//! second old, so a step of the system clock (NTP) shows in start times within a second.

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

thread_local! {
    /// This thread's `(Instant, Unix nanoseconds)` pair.
    static ANCHOR: Cell<Option<(Instant, i64)>> = const { Cell::new(None) };
}

/// The Unix time, in nanoseconds, of `at`, an instant just read on this thread.
pub(crate) fn unix_nanos_at(at: Instant) -> i64 {
    ANCHOR
        .try_with(|anchor| {
            if let Some((base, base_nanos)) = anchor.get() {
                if let Some(since) = at.checked_duration_since(base) {
                    if since < REANCHOR_AFTER {
                        // Below one second: the nanoseconds fit an `i64` many times over.
                        return base_nanos.saturating_add(since.subsec_nanos().into());
                    }
                }
            }
            let nanos = system_unix_nanos();
            anchor.set(Some((at, nanos)));
            nanos
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
        assert_eq!(ANCHOR.with(Cell::get).map(|(at, _)| at), Some(now));
    }
}
