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

/// The process's monotonic clock, calibrated once, and its scale for the hot path.
static CLOCK: OnceLock<Clock> = OnceLock::new();

struct Clock {
    quanta: quanta::Clock,
    scale: Scale,
}

fn clock() -> &'static quanta::Clock {
    &clocks().quanta
}

fn clocks() -> &'static Clock {
    CLOCK.get_or_init(|| {
        let quanta = quanta::Clock::new();
        let scale = Scale::of(&quanta);
        Clock { quanta, scale }
    })
}

/// The clock's ticks to nanoseconds below one second, in 64-bit arithmetic: `quanta`'s own
/// scaling multiplies into 128 bits and shifts by a variable amount (see BENCHMARKS.md).
#[derive(Clone, Copy)]
struct Scale {
    /// Nanoseconds per 2^32 ticks.
    nanos_per_2_32_ticks: u64,
    /// The ticks of one second, rounded down, so that `ticks * nanos_per_2_32_ticks` stays
    /// below `1e9 << 32` (no overflow, and under one second) for fewer ticks.
    ticks_per_second: u64,
}

impl Scale {
    fn of(clock: &quanta::Clock) -> Scale {
        let nanos_per_2_32_ticks = clock.delta_as_nanos(0, 1 << 32).max(1);
        Scale {
            nanos_per_2_32_ticks,
            ticks_per_second: (NANOS_PER_SECOND << 32) / nanos_per_2_32_ticks,
        }
    }
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

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
    /// `nanos` as seconds and nanoseconds, to add to without dividing.
    time: UnixTime,
    /// The latest time the previous anchor gave. The counter's calibration runs a few parts
    /// per million fast (derived times were up to 7.4 µs ahead of the system clock a second
    /// after an anchor, on the machines measured), so a new anchor would step this thread's
    /// times back by as much: until the new anchor's times pass it, they read as it, and a
    /// thread's start times (and run ids) never go back.
    floor: i64,
    /// The ticks after `at` until which times read as `floor` (0 when it is below `nanos`).
    held: u64,
    /// The ticks after `held` this anchor's times are derived for: up to a second after `at`.
    window: u64,
    scale: Scale,
}

impl Anchor {
    fn new(at: Instant, nanos: i64, floor: i64, scale: Scale) -> Anchor {
        // The fewest ticks whose nanoseconds reach `floor - nanos` (at most a millisecond).
        let held = u64::try_from(floor.saturating_sub(nanos)).map_or(0, |step| {
            ((step.min(NANOS_PER_SECOND) << 32) / scale.nanos_per_2_32_ticks).saturating_add(1)
        });
        Anchor {
            at,
            nanos,
            time: UnixTime::from_nanos(nanos),
            floor,
            held,
            window: scale.ticks_per_second.saturating_sub(held),
            scale,
        }
    }

    /// The time of `at`, unless it is before this anchor, held at its floor or a second or
    /// more after it.
    #[inline]
    fn time_at(&self, at: Instant) -> Option<UnixTime> {
        let ticks = at.0.wrapping_sub(self.at.0);
        // One comparison for all three: each makes the difference wrap or pass the window.
        if ticks.wrapping_sub(self.held) >= self.window {
            return None;
        }
        // Below `1e9 << 32`: `ticks` is under a second's.
        let since = (ticks * self.scale.nanos_per_2_32_ticks) >> 32;
        // Both below 1e9.
        let subsec = u64::from(self.time.subsec) + since;
        Some(if subsec < NANOS_PER_SECOND {
            UnixTime {
                second: self.time.second,
                subsec: u32::try_from(subsec).unwrap_or(0),
            }
        } else {
            UnixTime {
                second: self.time.second.saturating_add(1),
                subsec: u32::try_from(subsec - NANOS_PER_SECOND).unwrap_or(0),
            }
        })
    }
}

thread_local! {
    /// This thread's anchor.
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

/// A Unix time: whole seconds and the nanoseconds past them (below 1e9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnixTime {
    pub(crate) second: i64,
    pub(crate) subsec: u32,
}

impl UnixTime {
    /// The time `nanos` Unix nanoseconds stand for, in 64-bit arithmetic
    /// (`Timestamp::from_nanosecond` takes an `i128`, whose division is a library call).
    fn from_nanos(nanos: i64) -> UnixTime {
        const NANOS: i64 = 1_000_000_000;
        let (second, subsec) = match u64::try_from(nanos) {
            // After 1970: an unsigned division by a constant is one multiply and shift,
            // where the signed `div_euclid`/`rem_euclid` need corrections.
            Ok(n) => (
                i64::try_from(n / NANOS_PER_SECOND).unwrap_or(i64::MAX),
                n % NANOS_PER_SECOND,
            ),
            Err(_) => (
                nanos.div_euclid(NANOS),
                nanos.rem_euclid(NANOS).unsigned_abs(),
            ),
        };
        UnixTime {
            second,
            subsec: u32::try_from(subsec).unwrap_or(0),
        }
    }

    /// This time as a timestamp; the Unix epoch if out of `jiff`'s range.
    pub(crate) fn timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::new(self.second, i32::try_from(self.subsec).unwrap_or(0))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// The Unix time of `at`, an instant just read on this thread.
pub(crate) fn unix_time_at(at: Instant) -> UnixTime {
    ANCHOR
        .try_with(
            |cell| match cell.get().and_then(|anchor| anchor.time_at(at)) {
                Some(time) => time,
                None => UnixTime::from_nanos(reanchor(cell, at)),
            },
        )
        // During thread teardown the anchor is gone: read the clock.
        .unwrap_or_else(|_| UnixTime::from_nanos(system_unix_nanos()))
}

/// The Unix nanoseconds of `at` when this thread's anchor cannot give them by addition:
/// there is none yet, `at` is held at its floor, before it, or a second or more after it
/// (then the wall clock is read again, for a new anchor).
#[cold]
#[inline(never)]
fn reanchor(cell: &Cell<Option<Anchor>>, at: Instant) -> i64 {
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
    cell.set(Some(Anchor::new(at, nanos, floor, clocks().scale)));
    nanos.max(floor)
}

/// Now: the monotonic instant and the wall-clock time it stands for (derived, not read).
pub(crate) fn now() -> (Instant, jiff::Timestamp) {
    let at = Instant::now();
    (at, wall(at))
}

/// The wall-clock time `at`, an instant just read on this thread, stands for (derived, not
/// read).
pub(crate) fn wall(at: Instant) -> jiff::Timestamp {
    unix_time_at(at).timestamp()
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

    fn unix_nanos_at(at: Instant) -> i64 {
        let time = unix_time_at(at);
        time.second * 1_000_000_000 + i64::from(time.subsec)
    }

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
            cell.set(Some(Anchor::new(
                then,
                given - since,
                i64::MIN,
                clocks().scale,
            )));
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
            assert_eq!(UnixTime::from_nanos(nanos).timestamp(), expected, "{nanos}");
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

    /// The nanoseconds `anchor` gives `ticks` after it, by addition.
    fn added(anchor: &Anchor, ticks: u64) -> Option<i64> {
        let time = anchor.time_at(Instant(anchor.at.0 + ticks))?;
        Some(time.second * 1_000_000_000 + i64::from(time.subsec))
    }

    #[test]
    fn added_times_agree_with_the_clocks_own_scaling() {
        let scale = clocks().scale;
        let at = Instant::now();
        // Just below a second boundary, so that the additions carry.
        let nanos = 1_763_800_000_999_999_000;
        let anchor = Anchor::new(at, nanos, i64::MIN, scale);
        let last = scale.ticks_per_second - 1;
        for ticks in [0, 1, 1_000, 123_456_789, last / 2, last] {
            let scaled = clock().delta_as_nanos(0, ticks);
            let expected = nanos + i64::try_from(scaled).unwrap();
            let given = added(&anchor, ticks).expect("within the second");
            assert!(
                (given - expected).abs() <= 2,
                "{ticks}: {given} vs {expected}"
            );
        }
        let next = clock().delta(0, scale.ticks_per_second);
        assert!(next >= REANCHOR_AFTER - Duration::from_nanos(2), "{next:?}");
        assert_eq!(added(&anchor, scale.ticks_per_second), None);
        // An instant before the anchor (a counter read on another core).
        assert_eq!(anchor.time_at(Instant(at.0 - 1)), None);
    }

    #[test]
    fn times_held_at_the_floor_are_not_added() {
        let scale = clocks().scale;
        let at = Instant::now();
        let nanos = 1_763_800_000_000_000_000;
        let floor = nanos + 300_000;
        let anchor = Anchor::new(at, nanos, floor, scale);
        assert!(anchor.held > 0);
        assert_eq!(added(&anchor, anchor.held - 1), None);
        let first = added(&anchor, anchor.held).expect("past the floor");
        assert!(first >= floor, "{first} < {floor}");
        assert!(first - floor <= 2, "{first} vs {floor}");
    }
}
