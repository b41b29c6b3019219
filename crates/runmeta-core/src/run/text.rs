//! A `Display` value's text, formatted into a buffer this thread keeps: what `session = expr`
//! and `model = expr` do with a value that is not a string, without a `String` per call.

use std::cell::RefCell;
use std::fmt::{Display, Write as _};

/// The longest text whose buffer a thread keeps; a longer one is formatted, then let go of.
pub(crate) const MAX_KEPT_LEN: usize = 1024;

thread_local! {
    static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `f` of the text `value` writes.
///
/// Formatted into this thread's buffer; into a `String` of its own when the buffer is busy
/// (`value`'s `Display` itself formats a session or a model), during thread teardown, or when
/// `value`'s `Display` fails.
pub(crate) fn with_display<T: Display + ?Sized, R>(value: &T, f: impl Fn(&str) -> R) -> R {
    BUFFER
        .try_with(|buffer| {
            let mut text = buffer.try_borrow_mut().ok()?;
            text.clear();
            write!(text, "{value}").ok()?;
            let result = f(&text);
            if text.capacity() > MAX_KEPT_LEN {
                *text = String::new();
            }
            Some(result)
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| f(&value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_not_kept() {
        let long = "x".repeat(MAX_KEPT_LEN + 1);
        assert_eq!(with_display(long.as_str(), str::len), MAX_KEPT_LEN + 1);
        BUFFER.with(|buffer| assert!(buffer.borrow().capacity() <= MAX_KEPT_LEN));
    }

    /// A value whose `Display` formats another value (re-entered).
    struct Nested;

    impl Display for Nested {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let inner = with_display(&7, str::to_owned);
            write!(f, "outer-of-{inner}")
        }
    }

    #[test]
    fn a_text_formatted_inside_another_gets_its_own() {
        assert_eq!(with_display(&Nested, str::to_owned), "outer-of-7");
    }
}
