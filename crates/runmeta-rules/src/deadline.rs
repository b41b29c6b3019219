//! The RFC 3339 profile of ISO 8601 that deadlines use.
//!
//! The grammar (positions, digits, separators) is checked here so that each error can name
//! what is wrong; the calendar (days in a month, leap years) and the conversion to UTC are
//! [`jiff`]'s.

use std::fmt;

use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use jiff::Timestamp;

/// Why a string is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineError {
    /// The input is empty.
    Empty,
    /// A character other than the one the format expects at this byte offset.
    Syntax {
        /// Byte offset of the problem.
        at: usize,
        /// What the format expects there.
        expected: &'static str,
    },
    /// The date and time are well formed but carry no `Z` or `±HH:MM` offset.
    MissingOffset,
    /// A field is outside its range (month 13, hour 24, ...).
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u32,
        /// The smallest allowed value.
        min: u32,
        /// The largest allowed value.
        max: u32,
    },
    /// The date does not exist in the calendar (2024-02-30).
    ImpossibleDate {
        /// The date as written, `YYYY-MM-DD`.
        date: String,
    },
    /// Text follows a complete instant.
    TrailingText {
        /// Byte offset where the extra text starts.
        at: usize,
    },
    /// The fraction of a second has more than 9 digits.
    FractionTooLong,
    /// The instant is outside the range the runtime represents.
    OutOfSupportedRange,
}

impl fmt::Display for DeadlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty deadline: expected an RFC 3339 instant such as `2024-01-15T14:00:00Z`"),
            Self::Syntax { at, expected } => write!(f, "invalid deadline at byte {at}: expected {expected} (format `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`)"),
            Self::MissingOffset => f.write_str("deadline has no UTC offset: end it with `Z` or `±HH:MM`, e.g. `2024-01-15T14:00:00Z`"),
            Self::OutOfRange { field, value, min, max } => write!(f, "deadline {field} {value} is out of range ({min}..={max})"),
            Self::ImpossibleDate { date } => write!(f, "deadline date {date} does not exist in the calendar"),
            Self::TrailingText { at } => write!(f, "unexpected text after the deadline at byte {at}"),
            Self::FractionTooLong => f.write_str("deadline fraction of a second has more than 9 digits"),
            Self::OutOfSupportedRange => f.write_str("deadline is outside the supported range of instants"),
        }
    }
}

impl std::error::Error for DeadlineError {}

impl DeadlineError {
    /// The message without any part of the value written: for a redacted field.
    ///
    /// ```
    /// let err = runmeta_rules::parse_rfc3339("2024-02-30T00:00:00Z").unwrap_err();
    /// assert_eq!(err.to_string(), "deadline date 2024-02-30 does not exist in the calendar");
    /// assert_eq!(err.value_free(), "deadline date does not exist in the calendar");
    /// ```
    #[must_use]
    pub fn value_free(&self) -> String {
        match self {
            Self::OutOfRange {
                field, min, max, ..
            } => {
                format!("deadline {field} is out of range ({min}..={max})")
            }
            Self::ImpossibleDate { .. } => "deadline date does not exist in the calendar".into(),
            other => other.to_string(),
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn digits(&mut self, n: usize, expected: &'static str) -> Result<u32, DeadlineError> {
        let mut value = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => {
                    return Err(DeadlineError::Syntax {
                        at: self.pos,
                        expected,
                    })
                }
            }
        }
        Ok(value)
    }

    fn byte(&mut self, want: u8, expected: &'static str) -> Result<(), DeadlineError> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(DeadlineError::Syntax {
                at: self.pos,
                expected,
            })
        }
    }
}

fn in_range(field: &'static str, value: u32, min: u32, max: u32) -> Result<u32, DeadlineError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(DeadlineError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Parses an RFC 3339 instant (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) and returns it
/// in UTC.
///
/// Strict: the `T` separator and the offset are mandatory, every field has its fixed number
/// of digits, and nothing may follow. Leap seconds (`:60`) are rejected.
///
/// ```
/// use runmeta_rules::{parse_rfc3339, DeadlineError};
/// let t = parse_rfc3339("2024-01-15T16:00:00+02:00").unwrap();
/// assert_eq!(t.to_string(), "2024-01-15T14:00:00Z");
/// assert_eq!(parse_rfc3339("2024-01-15T14:00:00"), Err(DeadlineError::MissingOffset));
/// assert!(matches!(parse_rfc3339("2024-02-30T00:00:00Z"), Err(DeadlineError::ImpossibleDate { .. })));
/// ```
pub fn parse_rfc3339(input: &str) -> Result<Timestamp, DeadlineError> {
    if input.is_empty() {
        return Err(DeadlineError::Empty);
    }
    let mut c = Cursor {
        bytes: input.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "a 4-digit year")?;
    c.byte(b'-', "`-` after the year")?;
    let month = in_range("month", c.digits(2, "a 2-digit month")?, 1, 12)?;
    c.byte(b'-', "`-` after the month")?;
    let day = in_range("day", c.digits(2, "a 2-digit day")?, 1, 31)?;
    if c.peek().is_none() {
        return Err(DeadlineError::Syntax {
            at: c.pos,
            expected: "`T` and a time after the date",
        });
    }
    c.byte(b'T', "`T` between the date and the time")?;
    let hour = in_range("hour", c.digits(2, "a 2-digit hour")?, 0, 23)?;
    c.byte(b':', "`:` after the hour")?;
    let minute = in_range("minute", c.digits(2, "a 2-digit minute")?, 0, 59)?;
    c.byte(b':', "`:` and 2-digit seconds after the minute")?;
    let second = in_range("second", c.digits(2, "2-digit seconds")?, 0, 59)?;
    let mut nanos = 0u32;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let start = c.pos;
        while let Some(b'0'..=b'9') = c.peek() {
            if c.pos - start == 9 {
                return Err(DeadlineError::FractionTooLong);
            }
            nanos = nanos * 10 + u32::from(c.bytes[c.pos] - b'0');
            c.pos += 1;
        }
        let len = c.pos - start;
        if len == 0 {
            return Err(DeadlineError::Syntax {
                at: c.pos,
                expected: "digits after `.`",
            });
        }
        nanos *= 10u32.pow(u32::try_from(9 - len).unwrap_or(0));
    }
    let offset_seconds: i32 = match c.peek() {
        None => return Err(DeadlineError::MissingOffset),
        Some(b'Z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let oh = in_range("offset hour", c.digits(2, "a 2-digit offset hour")?, 0, 23)?;
            c.byte(b':', "`:` in the offset (`±HH:MM`)")?;
            let om = in_range(
                "offset minute",
                c.digits(2, "a 2-digit offset minute")?,
                0,
                59,
            )?;
            let secs = i32::try_from(oh * 3600 + om * 60).unwrap_or(0);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => {
            return Err(DeadlineError::Syntax {
                at: c.pos,
                expected: "`Z` or a `±HH:MM` offset",
            })
        }
    };
    if c.pos != input.len() {
        return Err(DeadlineError::TrailingText { at: c.pos });
    }
    let impossible = || DeadlineError::ImpossibleDate {
        date: input[..10].to_owned(),
    };
    let year = i16::try_from(year).map_err(|_| impossible())?;
    // The ranges were checked above; these conversions cannot fail.
    let narrow = |v: u32| i8::try_from(v).unwrap_or(i8::MAX);
    let date = Date::new(year, narrow(month), narrow(day)).map_err(|_| impossible())?;
    let time = Time::new(
        narrow(hour),
        narrow(minute),
        narrow(second),
        i32::try_from(nanos).unwrap_or(0),
    )
    .map_err(|_| DeadlineError::OutOfSupportedRange)?;
    let offset =
        Offset::from_seconds(offset_seconds).map_err(|_| DeadlineError::OutOfSupportedRange)?;
    let instant = offset
        .to_timestamp(date.to_datetime(time))
        .map_err(|_| DeadlineError::OutOfSupportedRange)?;
    // Before 0000-01-01T00:00:00Z (`0000-01-01T00:00:00+02:00`) the UTC year is negative and
    // has no RFC 3339 form: refuse it, so every accepted deadline displays as one that parses.
    if instant.as_second() < -62_167_219_200 {
        return Err(DeadlineError::OutOfSupportedRange);
    }
    Ok(instant)
}

/// A regular expression for the syntax [`parse_rfc3339`] accepts (the calendar is not
/// expressible as a pattern); used in exported JSON Schemas.
pub const RFC3339_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let cases = [
            ("2024-01-15T14:00:00Z", "2024-01-15T14:00:00Z"),
            ("2024-01-15T16:00:00+02:00", "2024-01-15T14:00:00Z"),
            ("2024-01-15T09:30:00-04:30", "2024-01-15T14:00:00Z"),
            ("2024-02-29T23:59:59.5Z", "2024-02-29T23:59:59.5Z"),
            (
                "2024-01-15T14:00:00.123456789Z",
                "2024-01-15T14:00:00.123456789Z",
            ),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_rfc3339(input).map(|t| t.to_string()),
                Ok(expected.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn names_each_problem() {
        use DeadlineError::*;
        let cases: &[(&str, DeadlineError)] = &[
            ("", Empty),
            ("2024-01-15T14:00:00", MissingOffset),
            ("2024-01-15T14:00:00.25", MissingOffset),
            (
                "2024-02-30T00:00:00Z",
                ImpossibleDate {
                    date: "2024-02-30".into(),
                },
            ),
            (
                "2023-02-29T00:00:00Z",
                ImpossibleDate {
                    date: "2023-02-29".into(),
                },
            ),
            (
                "2024-13-01T00:00:00Z",
                OutOfRange {
                    field: "month",
                    value: 13,
                    min: 1,
                    max: 12,
                },
            ),
            (
                "2024-01-15T24:00:00Z",
                OutOfRange {
                    field: "hour",
                    value: 24,
                    min: 0,
                    max: 23,
                },
            ),
            (
                "2024-01-15T14:60:00Z",
                OutOfRange {
                    field: "minute",
                    value: 60,
                    min: 0,
                    max: 59,
                },
            ),
            (
                "2024-01-15T14:00:60Z",
                OutOfRange {
                    field: "second",
                    value: 60,
                    min: 0,
                    max: 59,
                },
            ),
            (
                "2024-01-15T14:00:00+24:00",
                OutOfRange {
                    field: "offset hour",
                    value: 24,
                    min: 0,
                    max: 23,
                },
            ),
            ("2024-01-15T14:00:00Z tomorrow", TrailingText { at: 20 }),
            // An offset cut short is a syntax error in the offset, not a missing one.
            (
                "2024-01-15T14:00:00+02",
                Syntax {
                    at: 22,
                    expected: "`:` in the offset (`±HH:MM`)",
                },
            ),
            ("2024-01-15T14:00:00.1234567891Z", FractionTooLong),
            (
                "2024-01-15",
                Syntax {
                    at: 10,
                    expected: "`T` and a time after the date",
                },
            ),
            (
                "2024-01-15 14:00:00Z",
                Syntax {
                    at: 10,
                    expected: "`T` between the date and the time",
                },
            ),
            (
                "2024-01-15T14:00Z",
                Syntax {
                    at: 16,
                    expected: "`:` and 2-digit seconds after the minute",
                },
            ),
            (
                "2024-1-15T14:00:00Z",
                Syntax {
                    at: 6,
                    expected: "a 2-digit month",
                },
            ),
            (
                "2024-01-15T14:00:00+0200",
                Syntax {
                    at: 22,
                    expected: "`:` in the offset (`±HH:MM`)",
                },
            ),
            (
                "2024-01-15T14:00:00.Z",
                Syntax {
                    at: 20,
                    expected: "digits after `.`",
                },
            ),
            (
                "2024-01-15T14:00:00z",
                Syntax {
                    at: 19,
                    expected: "`Z` or a `±HH:MM` offset",
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_rfc3339(input).as_ref(), Err(expected), "{input}");
        }
    }

    #[test]
    fn every_error_reads_well() {
        let message = parse_rfc3339("2024-02-30T00:00:00Z")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "deadline date 2024-02-30 does not exist in the calendar"
        );
        let message = parse_rfc3339("2024-01-15T14:00:00")
            .unwrap_err()
            .to_string();
        assert!(message.contains("no UTC offset"), "{message}");
    }
}
