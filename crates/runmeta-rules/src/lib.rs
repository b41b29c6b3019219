//! The rules that define valid runmeta metadata, in one place.
//!
//! `runmeta-macros` applies them at compile time and `runmeta-core` applies them when it
//! validates untyped input at run time, so a key or a deadline accepted by one is accepted
//! by the other. This crate has no dependency but [`jiff`] (for the calendar).

mod deadline;
mod key;

pub use deadline::{parse_rfc3339, DeadlineError, RFC3339_PATTERN};
pub use key::{check_key, to_snake_case_name, KeyError, MAX_KEY_LEN, RESERVED_METRIC_NAMES};
