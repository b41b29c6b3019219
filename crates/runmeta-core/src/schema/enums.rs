//! Enum-restricted metadata values, and the built-in enums of reference 000.

use std::fmt;

/// An enum whose values are a fixed set of snake_case wire names: a low-cardinality metadata
/// field that can be a metric label. Implemented by `#[derive(MetadataEnum)]`.
///
/// ```
/// use runmeta_core::schema::{MetadataEnum, Priority};
/// assert_eq!(Priority::VALUES, ["low", "medium", "high", "critical"]);
/// assert!(Priority::Critical >= Priority::High);
/// let err = "hihg".parse::<Priority>().unwrap_err();
/// assert_eq!(err.to_string(), "`hihg` is not a Priority; expected one of `low`, `medium`, `high`, `critical`");
/// ```
pub trait MetadataEnum: Sized + Send + Sync + 'static {
    /// The Rust type's name.
    const NAME: &'static str;
    /// The wire names, in declaration order.
    const VALUES: &'static [&'static str];
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// Low-cardinality by construction: enums may be metric labels.
    const LOW_CARDINALITY: bool = true;

    /// The value's wire name.
    fn as_str(&self) -> &'static str;

    /// The value with this wire name.
    fn from_wire(name: &str) -> Option<Self>;
}

/// A string that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{found}` is not a {name}; expected one of {}", list(allowed))]
pub struct UnknownVariant {
    /// The enum's name.
    pub name: &'static str,
    /// The string found.
    pub found: String,
    /// The allowed wire names.
    pub allowed: &'static [&'static str],
}

fn list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a wire name; the `FromStr` of every `MetadataEnum`.
///
/// # Errors
/// [`UnknownVariant`] listing the allowed values.
pub fn parse_enum<E: MetadataEnum>(s: &str) -> Result<E, UnknownVariant> {
    E::from_wire(s).ok_or_else(|| UnknownVariant {
        name: E::NAME,
        found: s.to_owned(),
        allowed: E::VALUES,
    })
}

/// Implements a built-in metadata enum (the derive cannot be used inside this crate).
macro_rules! builtin_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl MetadataEnum for $name {
            const NAME: &'static str = stringify!($name);
            const VALUES: &'static [&'static str] = &[$($wire),+];
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            fn from_wire(name: &str) -> Option<Self> {
                match name { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        crate::__impl_enum_field!($name; crate::schema);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_enum(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_enum(d)
            }
        }
    };
}

/// Deserializes a `MetadataEnum` from its wire name; serde's `unknown variant` error lists
/// the allowed names.
///
/// # Errors
/// The deserializer's error for a non-string or an unknown name.
pub fn deserialize_enum<'de, E: MetadataEnum, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<E, D::Error> {
    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    E::from_wire(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, E::VALUES))
}

builtin_enum! {
    /// How urgent a run is. Ordered: `Priority::Critical >= Priority::High`.
    Priority { /** `low` */ Low = "low", /** `medium` */ Medium = "medium", /** `high` */ High = "high", /** `critical` */ Critical = "critical" }
}

builtin_enum! {
    /// The customer's plan.
    CustomerTier { /** `free` */ Free = "free", /** `pro` */ Pro = "pro", /** `enterprise` */ Enterprise = "enterprise" }
}

builtin_enum! {
    /// How critical the request is to the business (reference 000: critical, high, normal).
    BusinessImpact { /** `critical` */ Critical = "critical", /** `high` */ High = "high", /** `normal` */ Normal = "normal" }
}

builtin_enum! {
    /// The deployment the run happens in.
    Environment { /** `production` */ Production = "production", /** `staging` */ Staging = "staging", /** `development` */ Development = "development" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_round_trip() {
        for p in Priority::ALL {
            assert_eq!(p.to_string().parse::<Priority>(), Ok(*p));
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), *p);
        }
        assert_eq!(CustomerTier::VALUES, ["free", "pro", "enterprise"]);
        assert_eq!(BusinessImpact::VALUES, ["critical", "high", "normal"]);
        assert_eq!(
            Environment::VALUES,
            ["production", "staging", "development"]
        );
    }

    #[test]
    fn priority_is_ordered() {
        assert!(Priority::Low < Priority::Medium && Priority::Medium < Priority::High);
        assert!(Priority::Critical >= Priority::High);
    }

    #[test]
    fn serde_error_lists_values() {
        let err = serde_json::from_str::<CustomerTier>("\"gold\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown variant `gold`, expected one of `free`, `pro`, `enterprise`"),
            "{err}"
        );
    }
}
