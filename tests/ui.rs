//! Compile-time rules: each `tests/ui/fail` case must fail with its reviewed `.stderr`; each
//! `tests/ui/pass` case must compile (under `#![deny(warnings)]`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
