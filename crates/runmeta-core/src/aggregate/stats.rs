//! The state kept per group: counters, exact sums and quantile sketches.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::key::{same_str, short_words};
use super::Sketch;
use crate::metrics::{Cost, ToolCallMetrics, ToolStatus, Usage};
use crate::run::{RunRecord, RunStatus};
use crate::sla::{SlaCounts, SlaOutcome};

/// Most distinct error classes, stop reasons and tools kept per group; the rest are counted
/// under [`OTHER`]. Keeps a group's memory bounded whatever the values.
pub const MAX_DISTINCT: usize = 32;

/// The name that counts every value past [`MAX_DISTINCT`].
pub const OTHER: &str = "__other__";

/// The error class of a failed run or tool call that reported none.
pub const UNKNOWN_ERROR_CLASS: &str = "unknown";

/// The token counts whose distribution per run is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// `input_tokens` (cached included).
    Input,
    /// `output_tokens` (reasoning included).
    Output,
    /// `total_tokens`.
    Total,
    /// `reasoning_tokens`.
    Reasoning,
    /// `cache_read_tokens`.
    CacheRead,
    /// `cache_write_tokens`.
    CacheWrite,
}

impl TokenType {
    /// Every token type, in report order.
    pub const ALL: [TokenType; 6] = [
        TokenType::Input,
        TokenType::Output,
        TokenType::Total,
        TokenType::Reasoning,
        TokenType::CacheRead,
        TokenType::CacheWrite,
    ];

    /// The count of this type in `usage`.
    #[must_use]
    pub fn of(self, usage: &Usage) -> u64 {
        match self {
            TokenType::Input => usage.input_tokens,
            TokenType::Output => usage.output_tokens,
            TokenType::Total => usage.total_tokens,
            TokenType::Reasoning => usage.reasoning_tokens,
            TokenType::CacheRead => usage.cache_read_tokens,
            TokenType::CacheWrite => usage.cache_write_tokens,
        }
    }

    /// The field name: `input_tokens`, `output_tokens`, ...
    #[must_use]
    pub const fn field_name(self) -> &'static str {
        match self {
            TokenType::Input => "input_tokens",
            TokenType::Output => "output_tokens",
            TokenType::Total => "total_tokens",
            TokenType::Reasoning => "reasoning_tokens",
            TokenType::CacheRead => "cache_read_tokens",
            TokenType::CacheWrite => "cache_write_tokens",
        }
    }
}

/// Counts per name, at most [`MAX_DISTINCT`] names, the rest under [`OTHER`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedCounts {
    /// `(name, count)` in first-seen order.
    pub entries: Vec<(Box<str>, u64)>,
}

impl CappedCounts {
    /// Adds `n` to `name`'s count.
    #[inline]
    pub fn add(&mut self, name: &str, n: u64) {
        self.add_at(name, n);
    }

    /// Adds `n` to `name`'s count; returns the index of the entry counted (the name's own,
    /// or [`OTHER`]'s once the table is full).
    fn add_at(&mut self, name: &str, n: u64) -> usize {
        let pos = match self.entries.iter().position(|e| same_str(&e.0, name)) {
            Some(p) => p,
            None => {
                let name = if self.entries.len() + 1 >= MAX_DISTINCT {
                    OTHER
                } else {
                    name
                };
                match self.entries.iter().position(|e| &*e.0 == name) {
                    Some(p) => p,
                    None => {
                        self.entries.push((name.into(), 0));
                        self.entries.len() - 1
                    }
                }
            }
        };
        let e = &mut self.entries[pos].1;
        *e = e.saturating_add(n);
        pos
    }

    /// Adds one to `name`'s count, trying `hint` (the last name counted here) first: a hit
    /// reads no stored name.
    #[inline]
    fn add_one_hinted(&mut self, name: &str, hint: &mut NameHint) {
        if let Some(e) = hint.get(name).and_then(|i| self.entries.get_mut(i)) {
            e.1 = e.1.saturating_add(1);
            return;
        }
        let i = self.add_at(name, 1);
        hint.set(name, i);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &CappedCounts) {
        for (name, n) in &other.entries {
            self.add(name, *n);
        }
    }

    /// The count of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> u64 {
        self.entries
            .iter()
            .find(|e| &*e.0 == name)
            .map_or(0, |e| e.1)
    }

    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(Box<str>, u64)>()
            + self.entries.iter().map(|e| e.0.len()).sum::<usize>()
    }
}

/// The last name counted in a name table and the index it was counted at, recognized by
/// its words (a name of at most 16 bytes: its length and two words are the name). Tables
/// only grow, so an index stays valid; a name that folded into [`OTHER`] keeps folding there.
/// 24 bytes: the name's two words, its length ([`NameHint::NONE`] when empty, or for a name
/// longer than 16 bytes, which is never hinted) and the index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameHint {
    words: [u64; 2],
    len: u32,
    index: u32,
}

impl Default for NameHint {
    fn default() -> Self {
        NameHint {
            words: [0; 2],
            len: NameHint::NONE,
            index: 0,
        }
    }
}

impl NameHint {
    /// The length of an empty hint (no name has it).
    const NONE: u32 = u32::MAX;

    #[inline]
    fn get(&self, name: &str) -> Option<usize> {
        match short_words(name) {
            Some([n, a, b]) if n == u64::from(self.len) && [a, b] == self.words => {
                Some(self.index as usize)
            }
            _ => None,
        }
    }

    fn set(&mut self, name: &str, index: usize) {
        *self = match (short_words(name), u32::try_from(index)) {
            (Some([n, a, b]), Ok(index)) => NameHint {
                words: [a, b],
                // n ≤ 16.
                len: u32::try_from(n).unwrap_or(NameHint::NONE),
                index,
            },
            _ => NameHint::default(),
        };
    }
}

/// The hints of one group: a cache, equal whatever it holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hints {
    stop_reason: NameHint,
    tool: NameHint,
}

impl PartialEq for Hints {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A token count's per-run distribution, borrowed from a [`GroupStats`]: exact sum,
/// optional sketch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TokenDist<'a> {
    /// Sum over runs (saturating).
    pub sum: u64,
    /// Per-run distribution, when enabled for this type.
    pub sketch: Option<&'a Sketch>,
}

/// One tool's calls within a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolStats {
    /// Calls.
    pub calls: u64,
    /// Calls that failed (error or panic).
    pub errors: u64,
    /// Calls whose future was dropped before completing.
    pub cancelled: u64,
    /// Failures by error class.
    pub error_classes: CappedCounts,
    /// Call latency in microseconds.
    pub latency_us: Sketch,
}

impl ToolStats {
    #[inline]
    fn add(&mut self, call: &ToolCallMetrics) {
        self.calls = self.calls.saturating_add(1);
        match call.status {
            ToolStatus::Success => {}
            ToolStatus::Error | ToolStatus::Panicked => {
                self.errors = self.errors.saturating_add(1);
                self.error_classes.add(
                    call.error_class.as_deref().unwrap_or(UNKNOWN_ERROR_CLASS),
                    1,
                );
            }
            ToolStatus::Cancelled => self.cancelled = self.cancelled.saturating_add(1),
        }
        self.latency_us.record(micros(call.duration));
    }

    fn merge(&mut self, o: &ToolStats) {
        self.calls = self.calls.saturating_add(o.calls);
        self.errors = self.errors.saturating_add(o.errors);
        self.cancelled = self.cancelled.saturating_add(o.cancelled);
        self.error_classes.merge(&o.error_classes);
        self.latency_us.merge(&o.latency_us);
    }
}

/// Which of a run's tool calls count in a group.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ToolScope<'a> {
    /// Every call (the group-by has no tool dimension).
    All,
    /// Only calls of this tool (the group's tool).
    Only(&'a str),
    /// None (the run made no tool call).
    Nothing,
}

/// Everything an aggregator keeps about one group of runs.
///
/// Memory is bounded: a fixed part, [`MAX_DISTINCT`] names per capped count and tool, and
/// sketches of at most [`super::sketch::WORST_CASE_COUNTERS`] counters each; see
/// [`GroupStats::memory_bytes`].
///
/// The fields are laid out in the order written (`repr(C)`, from a cache-line boundary):
/// everything a run updates — the counters, the token sums, the name hints and the sketch
/// and table headers — in the first five lines (312 bytes), the token sketches next, the
/// error classes (failed runs only) last. Serialized as before the token sums and sketches
/// were split (`tokens: [{sum, sketch}; 6]`).
#[derive(Clone, Debug, Default, PartialEq)]
#[repr(C, align(64))]
pub struct GroupStats {
    /// Runs.
    pub runs: u64,
    /// Runs by status: success, error, panicked, cancelled.
    pub by_status: [u64; 4],
    /// Exact longest run, in microseconds.
    pub latency_max_us: u64,
    /// Sum of every known cost, including the known part of partly priced runs.
    pub cost_total: Cost,
    /// Sum of the costs of fully priced runs.
    pub priced_cost: Cost,
    /// Runs whose every model call had a price.
    pub priced_runs: u64,
    /// Runs with at least one unpriced model call (or usage without a cost).
    pub unpriced_runs: u64,
    /// Tool calls in scope.
    pub tool_calls: u64,
    /// Failed tool calls in scope.
    pub tool_errors: u64,
    /// SLA outcomes.
    pub sla: SlaCounts,
    /// Sums of the per-run token counts, in [`TokenType::ALL`] order (saturating).
    pub token_sums: [u64; 6],
    /// Where the last stop reason and tool were counted (not serialized, not compared).
    pub(crate) hints: Hints,
    /// Run wall time in microseconds.
    pub latency_us: Sketch,
    /// Time to first token in microseconds (runs that produced a token).
    pub ttft_us: Sketch,
    /// Runs by stop reason.
    pub stop_reasons: CappedCounts,
    /// Per-tool statistics, at most [`MAX_DISTINCT`] tools (the rest under [`OTHER`]).
    pub tools: Vec<(Box<str>, ToolStats)>,
    /// Per-run distributions of the token counts, in [`TokenType::ALL`] order, for the types
    /// enabled.
    pub token_sketches: [Option<Sketch>; 6],
    /// Failed (error or panicked) runs by error class.
    pub error_classes: CappedCounts,
}

/// `d` in whole microseconds, saturating.
#[inline]
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

const fn status_index(s: RunStatus) -> usize {
    match s {
        RunStatus::Success => 0,
        RunStatus::Error => 1,
        RunStatus::Panicked => 2,
        RunStatus::Cancelled => 3,
    }
}

impl GroupStats {
    /// Empty stats that keep a sketch for the token types flagged in `token_sketches`
    /// (indexed like [`TokenType::ALL`]).
    #[must_use]
    pub fn new(token_sketches: [bool; 6]) -> Self {
        let mut s = GroupStats::default();
        for (t, on) in s.token_sketches.iter_mut().zip(token_sketches) {
            if on {
                *t = Some(Sketch::new());
            }
        }
        s
    }

    /// Runs with this status.
    #[must_use]
    pub fn status_count(&self, s: RunStatus) -> u64 {
        self.by_status[status_index(s)]
    }

    /// Token distribution of one type.
    #[must_use]
    pub fn token(&self, t: TokenType) -> TokenDist<'_> {
        TokenDist {
            sum: self.token_sums[t as usize],
            sketch: self.token_sketches[t as usize].as_ref(),
        }
    }

    /// Counts one run.
    #[inline]
    pub(crate) fn ingest(&mut self, r: &RunRecord, scope: ToolScope<'_>, sla: &SlaOutcome) {
        // Saturating: a merged snapshot may have brought a count to the top.
        self.runs = self.runs.saturating_add(1);
        let by_status = &mut self.by_status[status_index(r.status)];
        *by_status = by_status.saturating_add(1);
        if matches!(r.status, RunStatus::Error | RunStatus::Panicked) {
            self.error_classes
                .add(r.error_class.as_deref().unwrap_or(UNKNOWN_ERROR_CLASS), 1);
        }
        self.stop_reasons
            .add_one_hinted(&r.stop_reason, &mut self.hints.stop_reason);
        let lat = micros(r.duration);
        self.latency_us.record(lat);
        self.latency_max_us = self.latency_max_us.max(lat);
        if let Some(t) = r.time_to_first_token.or(r.metrics.time_to_first_token) {
            self.ttft_us.record(micros(t));
        }
        let usage = &r.metrics.usage;
        for (sum, t) in self.token_sums.iter_mut().zip(TokenType::ALL) {
            *sum = sum.saturating_add(t.of(usage));
        }
        for (sketch, t) in self.token_sketches.iter_mut().zip(TokenType::ALL) {
            if let Some(s) = sketch {
                s.record(t.of(usage));
            }
        }
        let cost = r.metrics.cost;
        self.cost_total += cost.unwrap_or(Cost::ZERO);
        if r.unpriced_messages > 0 || (cost.is_none() && !usage.is_zero()) {
            self.unpriced_runs = self.unpriced_runs.saturating_add(1);
        } else {
            self.priced_runs = self.priced_runs.saturating_add(1);
            self.priced_cost += cost.unwrap_or(Cost::ZERO);
        }
        match scope {
            ToolScope::Nothing => {}
            ToolScope::All => {
                for call in &r.tool_calls {
                    self.add_tool_call(call);
                }
            }
            ToolScope::Only(name) => {
                for call in r.tool_calls.iter().filter(|c| c.name == name) {
                    self.add_tool_call(call);
                }
            }
        }
        self.sla.add(sla);
    }

    #[inline]
    fn add_tool_call(&mut self, call: &ToolCallMetrics) {
        self.tool_calls = self.tool_calls.saturating_add(1);
        if matches!(call.status, ToolStatus::Error | ToolStatus::Panicked) {
            self.tool_errors = self.tool_errors.saturating_add(1);
        }
        let name = call.name.as_str();
        let i = match self.hints.tool.get(name) {
            Some(i) if i < self.tools.len() => i,
            _ => {
                let i = self.tool_index(name);
                self.hints.tool.set(name, i);
                i
            }
        };
        self.tools[i].1.add(call);
    }

    fn tool_mut(&mut self, name: &str) -> &mut ToolStats {
        let pos = self.tool_index(name);
        &mut self.tools[pos].1
    }

    fn tool_index(&mut self, name: &str) -> usize {
        match self.tools.iter().position(|t| same_str(&t.0, name)) {
            Some(p) => p,
            None => {
                let name = if self.tools.len() + 1 >= MAX_DISTINCT {
                    OTHER
                } else {
                    name
                };
                match self.tools.iter().position(|t| &*t.0 == name) {
                    Some(p) => p,
                    None => {
                        self.tools.push((name.into(), ToolStats::default()));
                        self.tools.len() - 1
                    }
                }
            }
        }
    }

    /// Adds every run of `o` to these stats (the result equals ingesting both streams).
    pub fn merge(&mut self, o: &GroupStats) {
        self.runs = self.runs.saturating_add(o.runs);
        for (a, b) in self.by_status.iter_mut().zip(o.by_status) {
            *a = a.saturating_add(b);
        }
        self.error_classes.merge(&o.error_classes);
        self.stop_reasons.merge(&o.stop_reasons);
        self.latency_us.merge(&o.latency_us);
        self.latency_max_us = self.latency_max_us.max(o.latency_max_us);
        self.ttft_us.merge(&o.ttft_us);
        for (a, b) in self.token_sums.iter_mut().zip(o.token_sums) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.token_sketches.iter_mut().zip(&o.token_sketches) {
            match (a, b) {
                (Some(x), Some(y)) => x.merge(y),
                (a @ None, Some(y)) => *a = Some(y.clone()),
                _ => {}
            }
        }
        self.cost_total += o.cost_total;
        self.priced_cost += o.priced_cost;
        self.priced_runs = self.priced_runs.saturating_add(o.priced_runs);
        self.unpriced_runs = self.unpriced_runs.saturating_add(o.unpriced_runs);
        self.tool_calls = self.tool_calls.saturating_add(o.tool_calls);
        self.tool_errors = self.tool_errors.saturating_add(o.tool_errors);
        for (name, t) in &o.tools {
            self.tool_mut(name).merge(t);
        }
        self.sla.merge(&o.sla);
    }

    /// Bytes held by these stats: the struct, its sketches' counters and its name tables.
    /// At most `size_of::<GroupStats>() + (2 + 6 + MAX_DISTINCT) * WORST_CASE_BYTES` (8 964
    /// bytes per sketch) plus the name tables; typically 2–10 KiB (a sketch's counters cover
    /// only the range of the values recorded).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let sketches = self.latency_us.memory_bytes()
            + self.ttft_us.memory_bytes()
            + self
                .token_sketches
                .iter()
                .flatten()
                .map(Sketch::memory_bytes)
                .sum::<usize>();
        let tools = self.tools.capacity() * std::mem::size_of::<(Box<str>, ToolStats)>()
            + self
                .tools
                .iter()
                .map(|(n, t)| n.len() + t.latency_us.memory_bytes() + t.error_classes.heap_bytes())
                .sum::<usize>();
        std::mem::size_of::<Self>()
            + sketches
            + tools
            + self.error_classes.heap_bytes()
            + self.stop_reasons.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_counts_fold_overflow_into_other() {
        let mut c = CappedCounts::default();
        for i in 0..100 {
            c.add(&format!("class{i}"), 1);
        }
        assert_eq!(c.entries.len(), MAX_DISTINCT);
        assert_eq!(c.get("class0"), 1);
        assert_eq!(c.get(OTHER), 100 - (MAX_DISTINCT as u64 - 1));
        assert_eq!(c.entries.iter().map(|e| e.1).sum::<u64>(), 100);
    }

    #[test]
    fn hinted_counts_equal_plain_counts() {
        // Repeats, alternations, long names (no hint) and more names than the table holds.
        let names: Vec<String> = (0..200u32)
            .map(|i| match i % 7 {
                0..=2 => "completed".to_owned(),
                3 => "a_stop_reason_longer_than_16_bytes".to_owned(),
                4 | 5 => format!("reason_{i}"),
                _ => "max_steps".to_owned(),
            })
            .collect();
        let mut s = GroupStats::new([false; 6]);
        let mut plain = CappedCounts::default();
        let mut plain_tools = CappedCounts::default();
        for name in &names {
            let mut r = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
            r.stop_reason = name.clone().into();
            r.tool_calls.push(ToolCallMetrics {
                name: name.clone(),
                started_at: jiff::Timestamp::UNIX_EPOCH,
                duration: Duration::from_millis(3),
                status: ToolStatus::Success,
                error_class: None,
            });
            s.ingest(&r, ToolScope::All, &SlaOutcome::default());
            plain.add(name, 1);
            plain_tools.add(name, 1);
        }
        assert_eq!(s.stop_reasons, plain);
        let tools: Vec<(&str, u64)> = s.tools.iter().map(|(n, t)| (&**n, t.calls)).collect();
        let expected: Vec<(&str, u64)> = plain_tools
            .entries
            .iter()
            .map(|(n, c)| (&**n, *c))
            .collect();
        assert_eq!(tools, expected);
        assert_eq!(s.stop_reasons.entries.len(), MAX_DISTINCT);
    }

    #[test]
    fn unpriced_runs_are_separate() {
        let mut s = GroupStats::new([true; 6]);
        let mut r = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        r.metrics.usage = Usage::new(10, 5);
        s.ingest(&r, ToolScope::All, &SlaOutcome::default());
        assert_eq!((s.priced_runs, s.unpriced_runs), (0, 1));
        r.metrics.cost = Some(Cost::from_nanos(42));
        s.ingest(&r, ToolScope::All, &SlaOutcome::default());
        assert_eq!((s.priced_runs, s.unpriced_runs), (1, 1));
        assert_eq!(s.priced_cost, Cost::from_nanos(42));
    }
}
