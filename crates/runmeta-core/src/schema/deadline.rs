//! Deadlines: RFC 3339 instants, normalized to UTC.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
pub use runmeta_rules::DeadlineError;

/// An instant by which something must be done: an ISO 8601 date-time in the RFC 3339 profile
/// (`2024-01-15T14:00:00Z`, `2024-01-15T16:00:00.5+02:00`), normalized to UTC.
///
/// Parsing is strict: the offset is mandatory, impossible dates and out-of-range fields are
/// rejected, nothing may follow. `runmeta::deadline!("...")` checks a literal at compile time.
///
/// ```
/// use runmeta_core::schema::Deadline;
/// let d: Deadline = "2024-01-15T16:00:00+02:00".parse().unwrap();
/// assert_eq!(d.to_string(), "2024-01-15T14:00:00Z");
/// let later: Deadline = "2024-01-15T14:30:00Z".parse().unwrap();
/// assert!(d < later);
/// assert_eq!(d.remaining_at(later.timestamp()), None); // already past
/// assert_eq!(later.remaining_at(d.timestamp()).unwrap().as_secs(), 1800);
/// assert!("2024-02-30T00:00:00Z".parse::<Deadline>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Timestamp);

impl Deadline {
    /// Parses an RFC 3339 instant.
    ///
    /// # Errors
    /// A [`DeadlineError`] naming the problem.
    pub fn parse(input: &str) -> Result<Self, DeadlineError> {
        runmeta_rules::parse_rfc3339(input).map(Deadline)
    }

    /// The deadline as a [`jiff::Timestamp`].
    #[must_use]
    pub const fn timestamp(self) -> Timestamp {
        self.0
    }

    /// A deadline at a timestamp.
    #[must_use]
    pub const fn from_timestamp(ts: Timestamp) -> Self {
        Deadline(ts)
    }

    /// A deadline from seconds since the Unix epoch (`None` if out of range); used by the
    /// macro-checked `deadline!` literal.
    #[must_use]
    pub fn from_unix(seconds: i64, nanos: i32) -> Option<Self> {
        Timestamp::new(seconds, nanos).ok().map(Deadline)
    }

    /// Time left at `now`; `None` when the deadline is at or before `now`.
    #[must_use]
    pub fn remaining_at(self, now: Timestamp) -> Option<Duration> {
        let left = self.0.duration_since(now);
        if left.is_positive() {
            Duration::try_from(left).ok()
        } else {
            None
        }
    }

    /// Time left now (UTC system clock).
    #[must_use]
    pub fn remaining(self) -> Option<Duration> {
        self.remaining_at(Timestamp::now())
    }

    /// True when `at` is after the deadline.
    #[must_use]
    pub fn is_breached_at(self, at: Timestamp) -> bool {
        at > self.0
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deadline({})", self.0)
    }
}

impl FromStr for Deadline {
    type Err = DeadlineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Deadline::parse(s)
    }
}

impl serde::Serialize for Deadline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Deadline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Deadline::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display_and_serde() {
        for input in ["2024-01-15T14:00:00Z", "2024-01-15T14:00:00.25Z"] {
            let d = Deadline::parse(input).unwrap();
            assert_eq!(Deadline::parse(&d.to_string()), Ok(d));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Deadline>(&json).unwrap(), d);
        }
    }

    #[test]
    fn breach_and_remaining() {
        let d = Deadline::parse("2024-01-15T14:00:00Z").unwrap();
        let before = Deadline::parse("2024-01-15T13:59:00Z").unwrap().timestamp();
        let after = Deadline::parse("2024-01-15T14:00:01Z").unwrap().timestamp();
        assert!(!d.is_breached_at(before));
        assert!(!d.is_breached_at(d.timestamp()));
        assert!(d.is_breached_at(after));
        assert_eq!(d.remaining_at(before), Some(Duration::from_secs(60)));
        assert_eq!(d.remaining_at(after), None);
    }
}
