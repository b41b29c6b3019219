//! `#[track_run]` on every fn shape in a crate that denies every warning; attributes, docs,
//! `#[must_use]` and lints are kept.
#![deny(warnings, missing_docs, unused, rust_2018_idioms)]
//! Shapes.

use runmeta::prelude::*;

/// An error.
#[derive(Debug)]
pub struct AgentError;

/// Documented and must-use.
#[must_use]
#[track_run(agent = "shapes")]
pub fn documented(x: u32) -> Result<u32, AgentError> {
    if x == 0 {
        return Err(AgentError);
    }
    Ok(x)
}

/// With `mut` and patterns.
#[track_run]
pub fn patterns(mut v: Vec<u32>, (a, b): (u32, u32), _: u8) -> usize {
    v.push(a + b);
    v.len()
}

/// Generic, with a where clause.
#[track_run]
pub fn generic<T>(value: T) -> String
where
    T: std::fmt::Debug,
{
    format!("{value:?}")
}

/// Returns `impl Future`.
#[track_run]
pub fn future(x: u32) -> impl std::future::Future<Output = u32> {
    async move { x }
}

/// Returns `impl Iterator` (no `Result`: a plain success).
#[track_run]
pub fn iterator(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

/// A one-line body: no `unused_braces` from the block it is moved into.
#[track_run]
pub fn one_line(x: u32) -> u32 { x }

/// A one-line async body.
#[track_run]
pub async fn one_line_async(x: u32) -> u32 { x }

/// A one-line `impl Trait` body.
#[track_run]
pub fn one_line_impl(n: u32) -> impl Iterator<Item = u32> { 0..n }

/// An `impl Trait` inside the `Result`.
#[track_run]
pub fn impl_in_result(n: u32) -> Result<impl std::fmt::Display, AgentError> { Ok(n) }

/// An opaque error type.
#[track_run]
pub fn opaque_error(n: u32) -> Result<u32, impl std::fmt::Debug> { if n == 0 { return Err(AgentError); } Ok(n) }

/// Every option whose value is an expression, under `deny(warnings)`.
#[track_run(agent = "with_options", session = session, model = model, team = "desk")]
pub fn with_options(session: &str, model: String) -> usize { session.len() + model.len() }

/// A raw identifier.
#[track_run]
pub fn r#match() -> u32 { 1 }

/// A struct.
pub struct Agent(u32);

impl Agent {
    /// `&self`, async.
    #[track_run(agent = "agent_async")]
    pub async fn ask(&self, q: &str) -> Result<String, AgentError> {
        Ok(format!("{q}{}", self.0))
    }

    /// `&mut self`.
    #[track_run]
    #[allow(clippy::needless_pass_by_ref_mut)]
    pub fn bump(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }

    /// `self`.
    #[track_run]
    pub fn into_inner(self) -> u32 {
        self.0
    }
}

fn main() {
    let _ = documented(1);
    let _ = patterns(vec![], (1, 2), 0);
    let _ = generic(1u8);
    let _ = future(1);
    let _ = iterator(3).count();
    let _ = one_line(1);
    let _ = one_line_async(1);
    let _ = one_line_impl(1).count();
    let _ = impl_in_result(1).is_ok();
    let _ = opaque_error(1).is_ok();
    let _ = r#match();
    let _ = with_options("s-1", "gpt-4o".to_owned());
    let mut a = Agent(1);
    let _ = a.bump();
    let _ = a.ask("q");
    let _ = a.into_inner();
}
