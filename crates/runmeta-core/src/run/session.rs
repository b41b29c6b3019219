//! The session id of `session = expr`, shared between the runs of one session.
//!
//! A string (`AsRef<str>`) is taken as it is; any other `Display` value is formatted into a
//! buffer this thread keeps. When the text is the id of this thread's previous call, the run
//! shares that call's `Arc<str>`: the calls of one session allocate nothing for it. Formatting
//! a `&str` into a new `String`, then copying it into an `Arc`, took 20 ns of a 95 ns call
//! (`core::fmt::write` alone 133 of its 211 instructions); see BENCHMARKS.md.

use std::cell::RefCell;
use std::fmt::Display;
use std::sync::Arc;

use super::text::{with_display, MAX_KEPT_LEN};

thread_local! {
    /// This thread's previous id.
    static LAST: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The session id `text`, shared with this thread's previous call when it is the same.
pub(crate) fn session_id_str(text: &str) -> Arc<str> {
    LAST.try_with(|last| {
        let mut last = last.try_borrow_mut().ok()?;
        Some(share(&mut last, text))
    })
    .ok()
    .flatten()
    // During thread teardown: a copy of its own.
    .unwrap_or_else(|| Arc::from(text))
}

/// The session id `value` writes, shared with this thread's previous call when it is the same.
pub(crate) fn session_id<T: Display + ?Sized>(value: &T) -> Arc<str> {
    with_display(value, session_id_str)
}

/// `last` when it is `text`, else a new id, kept as `last` unless it is long.
fn share(last: &mut Option<Arc<str>>, text: &str) -> Arc<str> {
    match last {
        Some(id) if **id == *text => Arc::clone(id),
        _ => {
            let new: Arc<str> = Arc::from(text);
            *last = (text.len() <= MAX_KEPT_LEN).then(|| Arc::clone(&new));
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_id_is_shared_and_a_new_one_is_not() {
        let a = session_id("session-1");
        let b = session_id(&String::from("session-1"));
        assert!(Arc::ptr_eq(&a, &b));
        let c = session_id(&42);
        assert_eq!(&*c, "42");
        assert!(!Arc::ptr_eq(&a, &c));
        let d = session_id("session-1");
        assert_eq!(&*d, "session-1");
        assert!(!Arc::ptr_eq(&a, &d), "only the previous id is kept");
    }

    #[test]
    fn strings_and_formatted_values_share_the_same_last_id() {
        let a = session_id_str("s-7");
        let b = session_id(&"s-7");
        let c = session_id_str("s-7");
        assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&b, &c));
        assert_eq!(&*session_id_str("s-8"), "s-8");
    }

    #[test]
    fn a_long_id_is_not_kept() {
        let long = "x".repeat(MAX_KEPT_LEN + 1);
        let a = session_id(long.as_str());
        let b = session_id(long.as_str());
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(&a, &b));
    }

    /// An id whose `Display` starts another run with a session (re-entered).
    struct Nested;

    impl Display for Nested {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let inner = session_id("inner");
            write!(f, "outer-of-{inner}")
        }
    }

    #[test]
    fn an_id_formatted_inside_another_gets_its_own() {
        assert_eq!(&*session_id(&Nested), "outer-of-inner");
    }
}
