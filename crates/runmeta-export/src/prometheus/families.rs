//! The exporter's metric families: names, help texts, overflow labels.

use super::buckets::{seconds_histogram, token_histogram};
use super::family::{CostCounter, Counter, Family, FamilyDef, IntHistogram, SeriesValue};

/// Every metric family of the exporter.
pub(crate) struct Families {
    pub(crate) runs: Family<Counter>,
    pub(crate) run_duration: Family<IntHistogram>,
    pub(crate) ttft: Family<IntHistogram>,
    pub(crate) tokens_per_run: Family<IntHistogram>,
    pub(crate) token_usage: Family<Counter>,
    pub(crate) cost: Family<CostCounter>,
    pub(crate) tool_calls: Family<Counter>,
    pub(crate) tool_duration: Family<IntHistogram>,
    pub(crate) sla_runs: Family<Counter>,
    pub(crate) sla_breaches: Family<Counter>,
    pub(crate) unpriced: Family<Counter>,
}

fn counter<V: SeriesValue<Spec = ()>>(
    name: &'static str,
    exposed_name: &'static str,
    help: &'static str,
    overflow_names: &'static [&'static str],
) -> FamilyDef<V> {
    FamilyDef {
        name,
        exposed_name,
        help,
        unit: None,
        spec: (),
        overflow_names,
    }
}

impl Families {
    /// Empty families of at most `max` series each.
    pub(crate) fn new(max: usize) -> Self {
        Families {
            runs: Family::new(
                counter(
                    "agent_run",
                    "agent_run_total",
                    "Finished agent runs by agent, release, status, stop reason, error class and metadata labels.",
                    &["agent", "status", "stop_reason"],
                ),
                max,
            ),
            run_duration: Family::new(
                seconds_histogram(
                    "agent_run_duration",
                    "agent_run_duration_seconds",
                    "Wall time of agent runs.",
                    &["agent", "status"],
                ),
                max,
            ),
            ttft: Family::new(
                seconds_histogram(
                    "agent_time_to_first_token",
                    "agent_time_to_first_token_seconds",
                    "Time from the start of a run to its first token.",
                    &["agent"],
                ),
                max,
            ),
            tokens_per_run: Family::new(
                token_histogram(
                    "agent_tokens_per_run",
                    "Tokens of a run's own model calls (child runs excluded).",
                    &["agent"],
                ),
                max,
            ),
            token_usage: Family::new(
                counter(
                    "agent_token_usage",
                    "agent_token_usage_total",
                    "Tokens of the agents' own model calls by model and token type (input includes cache_read; output includes reasoning).",
                    &["agent", "model", "token_type"],
                ),
                max,
            ),
            cost: Family::new(
                counter(
                    "agent_cost",
                    "agent_cost_total",
                    "Cost of the agents' own model calls, in currency units of the pricing table.",
                    &["agent", "model"],
                ),
                max,
            ),
            tool_calls: Family::new(
                counter(
                    "agent_tool_call",
                    "agent_tool_call_total",
                    "Tool calls by agent, tool, status and error class.",
                    &["agent", "tool", "status"],
                ),
                max,
            ),
            tool_duration: Family::new(
                seconds_histogram(
                    "agent_tool_duration",
                    "agent_tool_duration_seconds",
                    "Duration of tool calls.",
                    &["tool"],
                ),
                max,
            ),
            sla_runs: Family::new(
                counter(
                    "agent_sla_runs",
                    "agent_sla_runs_total",
                    "Runs that had an SLA (a deadline or a target duration); the denominator of the breach rate.",
                    &["agent"],
                ),
                max,
            ),
            sla_breaches: Family::new(
                counter(
                    "agent_sla_breach",
                    "agent_sla_breach_total",
                    "Runs that ended after their SLA deadline or took longer than their SLA target.",
                    &["agent"],
                ),
                max,
            ),
            unpriced: Family::new(
                counter(
                    "agent_unpriced_calls",
                    "agent_unpriced_calls_total",
                    "Model calls whose model had no price, so their cost is unknown (not zero).",
                    &["agent"],
                ),
                max,
            ),
        }
    }
}
