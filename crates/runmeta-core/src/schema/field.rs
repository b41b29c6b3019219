//! The types a metadata field may have, and how each reads untyped input.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::error::limits::MAX_STRING_BYTES;
use super::{Deadline, FieldType, MetadataEnum, Problem};

/// A field's value, borrowed: what exporters and stores read without knowing the Rust type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// An optional field that is `None`.
    Absent,
    /// A string.
    Str(&'a str),
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A deadline.
    Deadline(Deadline),
    /// An enum value's wire name.
    Enum(&'static str),
}

impl FieldValue<'_> {
    /// The value as JSON (`null` for `Absent`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match *self {
            FieldValue::Absent => Value::Null,
            FieldValue::Str(s) => Value::String(s.to_owned()),
            FieldValue::Bool(b) => Value::Bool(b),
            FieldValue::Int(i) => i64::try_from(i)
                .map(Value::from)
                .or_else(|_| u64::try_from(i).map(Value::from))
                .unwrap_or(Value::Null),
            FieldValue::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            FieldValue::Deadline(d) => Value::String(d.to_string()),
            FieldValue::Enum(e) => Value::String(e.to_owned()),
        }
    }

    /// A numeric value read as a number of seconds (for SLA targets).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_seconds(&self) -> Option<Duration> {
        match *self {
            FieldValue::Int(i) => Duration::try_from_secs_f64(i as f64).ok(),
            FieldValue::Float(f) => Duration::try_from_secs_f64(f).ok(),
            _ => None,
        }
    }
}

/// A value of untyped input before it is read as a field's type.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue<'a> {
    /// JSON `null`.
    Null,
    /// A JSON bool.
    Bool(bool),
    /// A JSON integer that fits `i64`.
    I64(i64),
    /// A JSON integer above `i64::MAX`.
    U64(u64),
    /// A JSON number with a fraction or exponent.
    F64(f64),
    /// A JSON string.
    Str(Cow<'a, str>),
    /// Untyped text (from a string map), read according to the field's type.
    Text(Cow<'a, str>),
    /// A JSON array (never a valid field value).
    Array,
    /// A JSON object (never a valid field value).
    Object,
}

impl RawValue<'_> {
    /// The JSON type's name, for messages.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            RawValue::Null => "null",
            RawValue::Bool(_) => "bool",
            RawValue::I64(_) | RawValue::U64(_) => "integer",
            RawValue::F64(_) => "float",
            RawValue::Str(_) | RawValue::Text(_) => "string",
            RawValue::Array => "array",
            RawValue::Object => "object",
        }
    }

    /// Borrows a `serde_json::Value`.
    #[must_use]
    pub fn from_json(value: &Value) -> RawValue<'_> {
        match value {
            Value::Null => RawValue::Null,
            Value::Bool(b) => RawValue::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map(RawValue::I64)
                .or_else(|| n.as_u64().map(RawValue::U64))
                .unwrap_or_else(|| RawValue::F64(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => RawValue::Str(Cow::Borrowed(s)),
            Value::Array(_) => RawValue::Array,
            Value::Object(_) => RawValue::Object,
        }
    }
}

fn wrong_type(expected: &'static str, raw: &RawValue<'_>) -> Problem {
    Problem::WrongType {
        expected: Cow::Borrowed(expected),
        found: raw.kind(),
    }
}

fn shown(redact: bool, value: impl ToString) -> Option<String> {
    (!redact).then(|| value.to_string())
}

/// A type a metadata field may have: `String`, `bool`, integers, `f32`/`f64`, [`Deadline`],
/// a [`MetadataEnum`], or `Option` of one of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a run metadata field",
    label = "not a metadata field type",
    note = "allowed field types: String, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, Deadline, an enum with #[derive(MetadataEnum)], or Option<T> of one of these"
)]
pub trait MetadataField: Sized {
    /// The field's type in the schema.
    const TYPE: FieldType;
    /// False for `Option<T>`.
    const REQUIRED: bool = true;

    /// Reads untyped input. `redact` keeps the value out of the error.
    ///
    /// # Errors
    /// The problem with the value.
    fn from_raw(raw: RawValue<'_>, redact: bool) -> Result<Self, Problem>;

    /// The value of an absent key: `Some(None)` for `Option<T>`, `None` (missing) otherwise.
    #[must_use]
    fn absent() -> Option<Self> {
        None
    }

    /// The value, borrowed.
    fn value(&self) -> FieldValue<'_>;

    /// Rules beyond the type: string length, finite floats.
    ///
    /// # Errors
    /// The problem with the value.
    fn check(&self) -> Result<(), Problem> {
        Ok(())
    }
}

/// A field type that can be a metric label: low-cardinality by construction.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not low-cardinality and cannot be a metric `label`",
    label = "a label must have a small, fixed set of values",
    note = "labels may be enums with #[derive(MetadataEnum)], bool, or Option of those; a String, integer or Deadline would create one metric series per value"
)]
pub trait LabelField {
    /// The label value (`""` for an absent optional field).
    fn label_value(&self) -> &'static str;
}

impl MetadataField for String {
    const TYPE: FieldType = FieldType::String;
    fn from_raw(raw: RawValue<'_>, _redact: bool) -> Result<Self, Problem> {
        match raw {
            RawValue::Str(s) | RawValue::Text(s) => {
                if s.len() > MAX_STRING_BYTES {
                    Err(Problem::StringTooLong {
                        len: s.len(),
                        max: MAX_STRING_BYTES,
                    })
                } else {
                    Ok(s.into_owned())
                }
            }
            other => Err(wrong_type("string", &other)),
        }
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Str(self)
    }
    #[inline]
    fn check(&self) -> Result<(), Problem> {
        if self.len() > MAX_STRING_BYTES {
            Err(Problem::StringTooLong {
                len: self.len(),
                max: MAX_STRING_BYTES,
            })
        } else {
            Ok(())
        }
    }
}

impl MetadataField for bool {
    const TYPE: FieldType = FieldType::Bool;
    fn from_raw(raw: RawValue<'_>, _redact: bool) -> Result<Self, Problem> {
        match raw {
            RawValue::Bool(b) => Ok(b),
            RawValue::Text(s) if s == "true" => Ok(true),
            RawValue::Text(s) if s == "false" => Ok(false),
            other => Err(wrong_type("bool", &other)),
        }
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Bool(*self)
    }
}

impl LabelField for bool {
    fn label_value(&self) -> &'static str {
        if *self {
            "true"
        } else {
            "false"
        }
    }
}

/// An integer field's value written as a float: `2.0` and `1e3` are integers to JSON Schema
/// (and to a Python client's `json.dumps`), exact up to 2⁵³. A JSON integer outside 64 bits
/// also arrives as a float.
#[allow(clippy::cast_possible_truncation)]
fn integral_float(f: f64, redact: bool, min: i128, max: i128) -> Result<i128, Problem> {
    /// 2⁵³: every integer up to it is a float of its own.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    /// -2⁶³: a float this low stands for a number below `i64::MIN` (which JSON gives as an
    /// integer), or for it written with an exponent.
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    if !f.is_finite() || f.fract() != 0.0 {
        return Err(wrong_type("integer", &RawValue::F64(f)));
    }
    if f.abs() <= EXACT {
        return Ok(f as i128);
    }
    // Saturates beyond i128, far outside every field type.
    let wide = f as i128;
    if wide < min || wide > max || f <= I64_MIN {
        return Err(Problem::OutOfRange {
            found: shown(redact, f),
            min,
            max,
        });
    }
    Err(Problem::WrongType {
        expected: Cow::Borrowed(
            "an integer written out in full (a float beyond 2^53 may have lost digits)",
        ),
        found: "float",
    })
}

macro_rules! integer_field {
    ($($t:ty),*) => {$(
        impl MetadataField for $t {
            #[allow(clippy::cast_lossless)]
            const TYPE: FieldType = FieldType::Integer { min: <$t>::MIN as i128, max: <$t>::MAX as i128 };
            #[allow(clippy::cast_lossless, clippy::cast_possible_truncation)]
            fn from_raw(raw: RawValue<'_>, redact: bool) -> Result<Self, Problem> {
                let wide: i128 = match raw {
                    RawValue::I64(i) => i128::from(i),
                    RawValue::U64(u) => i128::from(u),
                    RawValue::F64(f) => integral_float(f, redact, <$t>::MIN as i128, <$t>::MAX as i128)?,
                    RawValue::Text(ref s) => s.trim().parse::<i128>().map_err(|_| wrong_type("integer", &raw))?,
                    other => return Err(wrong_type("integer", &other)),
                };
                <$t>::try_from(wide).map_err(|_| Problem::OutOfRange {
                    found: shown(redact, wide),
                    min: <$t>::MIN as i128,
                    max: <$t>::MAX as i128,
                })
            }
            fn value(&self) -> FieldValue<'_> {
                FieldValue::Int(*self as i128)
            }
        }
    )*};
}
integer_field!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! float_field {
    ($($t:ty),*) => {$(
        impl MetadataField for $t {
            const TYPE: FieldType = FieldType::Float;
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            fn from_raw(raw: RawValue<'_>, _redact: bool) -> Result<Self, Problem> {
                let v = match raw {
                    RawValue::I64(i) => i as f64,
                    RawValue::U64(u) => u as f64,
                    RawValue::F64(f) => f,
                    RawValue::Text(ref s) => s.trim().parse::<f64>().map_err(|_| wrong_type("float", &raw))?,
                    other => return Err(wrong_type("float", &other)),
                };
                let v = v as $t;
                if v.is_finite() { Ok(v) } else { Err(Problem::NonFinite) }
            }
            fn value(&self) -> FieldValue<'_> {
                FieldValue::Float(Widen::widen(*self))
            }
            fn check(&self) -> Result<(), Problem> {
                if self.is_finite() { Ok(()) } else { Err(Problem::NonFinite) }
            }
        }
    )*};
}
float_field!(f32, f64);

/// A float as the `f64` that is written the same: `0.1_f32` is `0.1`, not the
/// `0.10000000149011612` that `f64::from` gives.
trait Widen {
    fn widen(self) -> f64;
}

impl Widen for f64 {
    fn widen(self) -> f64 {
        self
    }
}

impl Widen for f32 {
    fn widen(self) -> f64 {
        use std::fmt::Write as _;
        /// Room for the longest shortest form of an `f32` (`-1.17549435e-38`).
        struct Digits {
            bytes: [u8; 32],
            len: usize,
        }
        impl std::fmt::Write for Digits {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let end = self.len + s.len();
                self.bytes
                    .get_mut(self.len..end)
                    .ok_or(std::fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }
        let mut digits = Digits {
            bytes: [0; 32],
            len: 0,
        };
        // The shortest digits that read back as `self`, read as an `f64`.
        write!(digits, "{self:e}")
            .ok()
            .and_then(|()| std::str::from_utf8(&digits.bytes[..digits.len]).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(f64::from(self))
    }
}

impl MetadataField for Deadline {
    const TYPE: FieldType = FieldType::Deadline;
    fn from_raw(raw: RawValue<'_>, redact: bool) -> Result<Self, Problem> {
        match raw {
            RawValue::Str(s) | RawValue::Text(s) => {
                Deadline::parse(&s).map_err(|e| Problem::invalid_deadline(&e, redact))
            }
            other => Err(wrong_type("an RFC 3339 deadline string", &other)),
        }
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Deadline(*self)
    }
}

/// Reads an enum value; the `from_raw` of every `MetadataEnum`'s `MetadataField` impl.
///
/// # Errors
/// `NotAllowed` for an unknown name, `WrongType` for a non-string.
pub fn enum_from_raw<E: MetadataEnum>(raw: RawValue<'_>, redact: bool) -> Result<E, Problem> {
    match raw {
        RawValue::Str(s) | RawValue::Text(s) => {
            E::from_wire(&s).ok_or_else(|| Problem::NotAllowed {
                found: shown(redact, &s),
                allowed: E::VALUES,
            })
        }
        other => Err(Problem::WrongType {
            expected: Cow::Owned(format!("one of the {} strings", E::NAME)),
            found: other.kind(),
        }),
    }
}

/// Implements `MetadataField` and `LabelField` for a `MetadataEnum` (used by the derive and
/// the built-in enums; direct impls keep compiler errors about other types short).
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_enum_field {
    ($ty:ty; $($krate:tt)+) => {
        impl $($krate)+::MetadataField for $ty {
            const TYPE: $($krate)+::FieldType = $($krate)+::FieldType::Enum {
                name: <$ty as $($krate)+::MetadataEnum>::NAME,
                values: <$ty as $($krate)+::MetadataEnum>::VALUES,
            };
            fn from_raw(raw: $($krate)+::RawValue<'_>, redact: bool) -> ::core::result::Result<Self, $($krate)+::Problem> {
                $($krate)+::enum_from_raw(raw, redact)
            }
            fn value(&self) -> $($krate)+::FieldValue<'_> {
                $($krate)+::FieldValue::Enum(<$ty as $($krate)+::MetadataEnum>::as_str(self))
            }
        }

        impl $($krate)+::LabelField for $ty {
            fn label_value(&self) -> &'static str {
                <$ty as $($krate)+::MetadataEnum>::as_str(self)
            }
        }
    };
}

impl<T: MetadataField> MetadataField for Option<T> {
    const TYPE: FieldType = T::TYPE;
    const REQUIRED: bool = false;
    fn from_raw(raw: RawValue<'_>, redact: bool) -> Result<Self, Problem> {
        match raw {
            RawValue::Null => Ok(None),
            other => T::from_raw(other, redact).map(Some),
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
    fn value(&self) -> FieldValue<'_> {
        self.as_ref().map_or(FieldValue::Absent, T::value)
    }
    fn check(&self) -> Result<(), Problem> {
        self.as_ref().map_or(Ok(()), T::check)
    }
}

impl<T: LabelField> LabelField for Option<T> {
    fn label_value(&self) -> &'static str {
        self.as_ref().map_or("", T::label_value)
    }
}

/// Checks an integer field against its `range`; used by generated `validate()`.
///
/// # Errors
/// `OutOfRange` when the value is outside `min..=max`.
#[inline]
pub fn check_range<T: MetadataField>(
    value: &T,
    min: i128,
    max: i128,
    redact: bool,
) -> Result<(), Problem> {
    match value.value() {
        FieldValue::Int(i) if !(min..=max).contains(&i) => Err(Problem::OutOfRange {
            found: shown(redact, i),
            min,
            max,
        }),
        _ => Ok(()),
    }
}

/// A field's reading problem told against its declared `range`: a value its integer type
/// cannot hold is outside `min..=max` too (the derive checks that the range fits the type),
/// and the message names the range the schema allows, not the type's.
///
/// ```
/// use runmeta_core::schema::{against_range, MetadataField, Problem, RawValue};
/// let read = u8::from_raw(RawValue::I64(300), false).unwrap_err();
/// assert_eq!(
///     against_range(read, 1, 3).to_string(),
///     "300 is out of range 1..=3"
/// );
/// ```
#[must_use]
pub fn against_range(problem: Problem, min: i128, max: i128) -> Problem {
    match problem {
        Problem::OutOfRange { found, .. } => Problem::OutOfRange { found, min, max },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_f32_is_written_as_its_own_digits() {
        assert_eq!(0.1_f32.value(), FieldValue::Float(0.1));
        assert_eq!((-2.5e-7_f32).value(), FieldValue::Float(-2.5e-7));
        assert_eq!(f32::MAX.value(), FieldValue::Float(3.402_823_5e38));
        assert_eq!(
            f32::MIN_POSITIVE.value(),
            FieldValue::Float(1.175_494_4e-38)
        );
        // Every value reads back as itself.
        for bits in (0..u32::MAX).step_by(9_973) {
            let x = f32::from_bits(bits);
            if x.is_finite() {
                #[allow(clippy::cast_possible_truncation)]
                let back = x.widen() as f32;
                assert_eq!(back.to_bits(), x.to_bits(), "{x:e}");
            }
        }
    }

    #[test]
    fn an_integral_float_is_an_integer_as_json_schema_has_it() {
        assert_eq!(u8::from_raw(RawValue::F64(2.0), false), Ok(2));
        assert_eq!(i64::from_raw(RawValue::F64(-3e3), false), Ok(-3000));
        assert_eq!(
            u8::from_raw(RawValue::F64(2.5), false),
            Err(Problem::WrongType {
                expected: "integer".into(),
                found: "float"
            })
        );
        assert_eq!(
            u8::from_raw(RawValue::F64(256.0), false),
            Err(Problem::OutOfRange {
                found: Some("256".into()),
                min: 0,
                max: 255
            })
        );
        assert_eq!(
            u64::from_raw(RawValue::F64(1e300), true),
            Err(Problem::OutOfRange {
                found: None,
                min: 0,
                max: u64::MAX.into()
            })
        );
        // `-9223372036854775809` arrives as the float -2^63: not taken for `i64::MIN`.
        assert!(matches!(
            i64::from_raw(RawValue::F64(-9_223_372_036_854_775_809.0), false),
            Err(Problem::OutOfRange { .. })
        ));
        assert!(matches!(
            u64::from_raw(RawValue::F64(18_446_744_073_709_551_616.0), false),
            Err(Problem::OutOfRange { .. })
        ));
        // Within the type but past 2^53 the float may have lost digits: not guessed.
        assert!(matches!(
            u64::from_raw(RawValue::F64(1e19), false),
            Err(Problem::WrongType { found: "float", .. })
        ));
        assert_eq!(
            i64::from_raw(RawValue::F64(9_007_199_254_740_992.0), false),
            Ok(1 << 53)
        );
    }

    #[test]
    fn a_range_names_the_declared_bounds_for_a_value_the_type_cannot_hold() {
        let read = u8::from_raw(RawValue::I64(300), false).unwrap_err();
        assert_eq!(
            against_range(read, 1, 3),
            Problem::OutOfRange {
                found: Some("300".into()),
                min: 1,
                max: 3
            }
        );
        assert_eq!(
            against_range(Problem::NonFinite, 1, 3),
            Problem::NonFinite,
            "other problems are kept"
        );
    }
}
