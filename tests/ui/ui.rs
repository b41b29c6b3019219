//! Compile-time rules: each `fail` case must fail with its reviewed `.stderr`; each `pass` case
//! must compile (under `#![deny(warnings)]`) and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
