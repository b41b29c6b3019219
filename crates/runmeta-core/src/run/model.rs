//! The model of `model = expr`, interned.
//!
//! A run records its requested model as a `Cow<'static, str>`. A literal is borrowed as it
//! is; a name chosen at run time (`model = self.model`) was copied into a new `String` per
//! call (12 ns of an 87 ns call, see BENCHMARKS.md). The names an agent requests are few, so
//! each distinct one is now kept once for the life of the process, and a run borrows it:
//! [`MAX_INTERNED`] names at most, none longer than [`MAX_INTERNED_LEN`] bytes (128 KiB in
//! all); others are copied per call, as before.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt::Display;
use std::sync::{LazyLock, Mutex, PoisonError};

/// The most distinct model names kept.
pub(crate) const MAX_INTERNED: usize = 1024;
/// The longest model name kept.
pub(crate) const MAX_INTERNED_LEN: usize = 128;

/// The kept names.
static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

thread_local! {
    /// This thread's last model: most calls find it here, without the lock.
    static LAST: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// The model `text`, borrowed from the kept names when it is one of them or can become one.
/// Always `Some`: returned as a run's arguments hold it, it is written into them with one
/// copy less (wrapped by the caller, its copies' loads waited for this function's stores,
/// 3 ns of a 82 ns call, see BENCHMARKS.md).
pub(crate) fn model_name_str(text: &str) -> Option<Cow<'static, str>> {
    if let Ok(Some(last)) = LAST.try_with(Cell::get) {
        if last == text {
            return Some(Cow::Borrowed(last));
        }
    }
    Some(match intern(text) {
        Some(kept) => {
            let _ = LAST.try_with(|last| last.set(Some(kept)));
            Cow::Borrowed(kept)
        }
        None => Cow::Owned(text.to_owned()),
    })
}

/// The model `value` writes, as [`model_name_str`] keeps it.
pub(crate) fn model_name<T: Display + ?Sized>(value: &T) -> Option<Cow<'static, str>> {
    super::text::with_display(value, model_name_str)
}

/// `text` as a kept name; `None` when it is too long or the names are full.
fn intern(text: &str) -> Option<&'static str> {
    if text.len() > MAX_INTERNED_LEN {
        return None;
    }
    let mut kept = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&name) = kept.get(text) {
        return Some(name);
    }
    if kept.len() >= MAX_INTERNED {
        return None;
    }
    // Kept for the life of the process, on purpose: at most MAX_INTERNED short names.
    let name: &'static str = Box::leak(Box::from(text));
    kept.insert(name);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept name a model borrows, if it borrows one.
    fn borrowed(model: Option<Cow<'static, str>>) -> Option<&'static str> {
        match model.expect("always a model") {
            Cow::Borrowed(name) => Some(name),
            Cow::Owned(_) => None,
        }
    }

    #[test]
    fn a_name_is_kept_once_and_borrowed_after() {
        let a = model_name_str("gpt-4o-mini");
        let b = model_name(&String::from("gpt-4o-mini"));
        let (a, b) = (borrowed(a).unwrap(), borrowed(b).unwrap());
        assert!(std::ptr::eq(a, b), "the same kept name");
        let other = model_name(&format_args!("claude-{}", 4));
        assert_eq!(other.as_deref(), Some("claude-4"));
        assert!(borrowed(other).is_some());
        // Found again from another thread, through the kept names.
        let again = std::thread::spawn(|| borrowed(model_name_str("gpt-4o-mini")).unwrap())
            .join()
            .unwrap();
        assert!(std::ptr::eq(a, again));
    }

    #[test]
    fn a_long_name_is_copied() {
        let long = "m".repeat(MAX_INTERNED_LEN + 1);
        let model = model_name_str(&long);
        assert_eq!(model.as_deref(), Some(long.as_str()));
        assert!(borrowed(model).is_none());
    }
}
