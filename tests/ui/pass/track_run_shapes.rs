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
    let mut a = Agent(1);
    let _ = a.bump();
    let _ = a.ask("q");
    let _ = a.into_inner();
}
