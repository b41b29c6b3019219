//! Money, kept exact.

use std::fmt;
use std::ops::{Add, AddAssign};

/// An amount of money in nano-units of the pricing currency (USD unless the pricing table
/// says otherwise), as an integer so that sums over millions of runs stay exact.
///
/// `u64` nano-units reach 18.4 billion currency units; sums saturate there.
///
/// ```
/// use runmeta_core::metrics::Cost;
/// let c = Cost::from_nanos(1_500_000_000) + Cost::from_nanos(250_000_000);
/// assert_eq!(c.as_f64(), 1.75);
/// assert_eq!(c.to_string(), "1.750000000");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cost(u64);

impl Cost {
    /// No cost.
    pub const ZERO: Cost = Cost(0);

    /// A cost of `nanos` billionths of a currency unit.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Self {
        Cost(nanos)
    }

    /// The cost in billionths of a currency unit.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// A cost from a decimal amount, rounded to the nearest nano-unit. Negative, NaN and
    /// infinite amounts give `None`.
    #[must_use]
    pub fn from_f64(amount: f64) -> Option<Self> {
        if !amount.is_finite() || amount < 0.0 {
            return None;
        }
        let nanos = (amount * 1e9).round();
        if nanos >= u64::MAX as f64 {
            return Some(Cost(u64::MAX));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(Cost(nanos as u64))
    }

    /// The cost as a decimal amount (for display and JSON; sums use the integer).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(self) -> f64 {
        (self.0 / 1_000_000_000) as f64 + (self.0 % 1_000_000_000) as f64 / 1e9
    }
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, rhs: Cost) -> Cost {
        Cost(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, rhs: Cost) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, Add::add)
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

impl serde::Serialize for Cost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> serde::Deserialize<'de> for Cost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let amount = f64::deserialize(d)?;
        Cost::from_f64(amount).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "cost must be a finite, non-negative number, found {amount}"
            ))
        })
    }
}
