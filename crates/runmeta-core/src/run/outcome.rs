//! How a tracked fn's return value becomes a run's outcome.

use std::borrow::Cow;

use super::RunStatus;

/// Names the class of an error for metrics (`rate_limit`, `timeout`, `tool_failure`, ...).
///
/// Implement it on an agent's error type to group errors by what went wrong; without it, a
/// run's error class is the error type's name. Keep classes few and stable: they become
/// metric labels.
///
/// ```
/// use std::borrow::Cow;
/// use runmeta_core::run::ErrorClass;
/// enum AgentError { RateLimited, Timeout }
/// impl ErrorClass for AgentError {
///     fn error_class(&self) -> Cow<'static, str> {
///         match self {
///             AgentError::RateLimited => "rate_limit".into(),
///             AgentError::Timeout => "timeout".into(),
///         }
///     }
/// }
/// assert_eq!(AgentError::Timeout.error_class(), "timeout");
/// ```
pub trait ErrorClass {
    /// The error's class.
    fn error_class(&self) -> Cow<'static, str>;
}

/// The outcome of a finished call, before it becomes part of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the call ended.
    pub status: RunStatus,
    /// The error's class, for `Error` and `Panicked`.
    pub error_class: Option<Cow<'static, str>>,
}

impl Outcome {
    /// A successful call.
    pub const SUCCESS: Outcome = Outcome {
        status: RunStatus::Success,
        error_class: None,
    };

    /// A failed call of the given class.
    #[must_use]
    pub fn error(class: impl Into<Cow<'static, str>>) -> Self {
        Outcome {
            status: RunStatus::Error,
            error_class: Some(class.into()),
        }
    }
}

/// The short name of a type: `my_crate::errors::AgentError<T>` → `AgentError`.
#[must_use]
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Picks an error's class: its [`ErrorClass`] if it has one, else its type's name
/// ("autoref specialization": the macro calls `(&ClassProbe(&e)).class()` with both traits
/// in scope).
pub struct ClassProbe<'a, E>(pub &'a E);

/// The [`ErrorClass`] arm of [`ClassProbe`].
pub trait ViaErrorClass {
    /// The class.
    fn class(&self) -> Cow<'static, str>;
}

impl<E: ErrorClass> ViaErrorClass for ClassProbe<'_, E> {
    fn class(&self) -> Cow<'static, str> {
        self.0.error_class()
    }
}

/// The type-name arm of [`ClassProbe`].
pub trait ViaTypeName {
    /// The class.
    fn class(&self) -> Cow<'static, str>;
}

impl<E> ViaTypeName for &ClassProbe<'_, E> {
    fn class(&self) -> Cow<'static, str> {
        Cow::Borrowed(short_type_name::<E>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    struct Classy;
    impl ErrorClass for Classy {
        fn error_class(&self) -> Cow<'static, str> {
            "classy".into()
        }
    }

    #[test]
    // The borrow is the point: autoref specialization picks the arm by receiver type.
    #[allow(clippy::needless_borrow)]
    fn probe_prefers_error_class() {
        assert_eq!((&ClassProbe(&Classy)).class(), "classy");
        assert_eq!((&ClassProbe(&Plain)).class(), "Plain");
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
    }
}
