//! Compile-time rules of runmeta's macros, checked by trybuild.
//!
//! This package holds no code: `ui.rs` runs each case in `fail/` (it must fail to compile with
//! the reviewed `.stderr` beside it) and in `pass/` (it must compile under
//! `#![deny(warnings)]` and run). It exists so that trybuild builds the cases against runmeta
//! alone, not against every dev-dependency of the facade.
