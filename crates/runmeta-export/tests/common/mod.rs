//! Shared helpers of the behaviour tests: a realistic workload and external-tool lookup.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runmeta_core::metrics::{
    Cost, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, RunStatus};
use runmeta_core::schema::JsonMetadata;
use serde_json::{json, Map, Value};

/// Agent names that need escaping or are not ASCII.
pub const ODD_AGENTS: [&str; 5] = [
    "say \"hi\" bot",
    "C:\\agents\\win",
    "multi\nline",
    "агент-😀",
    "tab\tand unicode é",
];

/// Metadata with label fields `priority` and `customer_tier`, a redacted `customer_id`
/// (not a label) and optional SLA fields.
pub fn metadata(priority: &str, tier: &str, extra: &[(&str, Value)]) -> MetadataRecord {
    let mut values = Map::new();
    values.insert("priority".into(), json!(priority));
    values.insert("customer_tier".into(), json!(tier));
    values.insert("customer_id".into(), json!("[redacted]"));
    values.insert("ticket_id".into(), json!("SUP-2024-001234"));
    for (k, v) in extra {
        values.insert((*k).to_owned(), v.clone());
    }
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "support_run".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into(), "customer_tier".into()],
            sla_deadline_key: Some("sla_deadline".into()),
            sla_target_key: Some("sla_target_seconds".into()),
        }),
        errors: None,
    }
}

/// A model breakdown entry.
pub fn model(provider: &str, id: &str, usage: Usage, cost_nanos: Option<u64>) -> ModelBreakdown {
    ModelBreakdown {
        model: ModelRef {
            role: ModelRole::Model,
            provider: provider.into(),
            id: id.into(),
        },
        calls: 1,
        metrics: Metrics {
            usage,
            cost: cost_nanos.map(Cost::from_nanos),
            ..Metrics::default()
        },
    }
}

/// A tool call.
pub fn tool(name: &str, millis: u64, status: ToolStatus, class: Option<&str>) -> ToolCallMetrics {
    ToolCallMetrics {
        name: name.into(),
        started_at: "2024-01-15T13:00:01Z".parse().unwrap(),
        duration: Duration::from_millis(millis),
        status,
        error_class: class.map(str::to_owned),
    }
}

/// One run of `agent` with the given status, duration and models.
pub fn run(agent: &str, status: RunStatus, millis: u64, models: Vec<ModelBreakdown>) -> RunRecord {
    let mut r = RunRecord::new(agent.to_owned(), "2024-01-15T13:00:00Z".parse().unwrap());
    r.status = status;
    r.stop_reason = status.default_stop_reason().into();
    r.duration = Duration::from_millis(millis);
    r.time_to_first_token = Some(Duration::from_millis(millis / 5));
    let mut usage = Usage::default();
    let mut cost = None::<Cost>;
    for m in &models {
        usage += m.metrics.usage;
        if let Some(c) = m.metrics.cost {
            cost = Some(cost.unwrap_or(Cost::ZERO) + c);
        }
    }
    r.metrics.usage = usage;
    r.metrics.cost = cost;
    r.per_model = models;
    r.session_id = Some(Arc::from("session-7f3a9c"));
    r
}

/// A realistic mix: several agents (some with odd names), releases, statuses, stop reasons,
/// metadata labels with odd values, tools that fail, several models, unpriced calls, SLA
/// breaches, child runs.
pub fn workload() -> Vec<RunRecord> {
    let mut runs = Vec::new();
    let mut usage = Usage::new(1_200, 340);
    usage.cache_read_tokens = 800;
    usage.reasoning_tokens = 120;
    for i in 0..40u64 {
        let status = match i % 10 {
            0 => RunStatus::Error,
            7 => RunStatus::Panicked,
            9 => RunStatus::Cancelled,
            _ => RunStatus::Success,
        };
        let models = vec![
            model("openai", "gpt-4o-mini", usage, Some(2_300_000)),
            model("anthropic", "claude-3-5-sonnet", Usage::new(500, 90), None),
        ];
        let mut r = run(
            if i % 3 == 0 { "billing" } else { "support" },
            status,
            150 + i * 97,
            models,
        );
        r.release = Some(Arc::from(if i % 2 == 0 {
            "2024.01.2"
        } else {
            "2024.01.3"
        }));
        r.unpriced_messages = u32::from(i % 4 == 0);
        if status == RunStatus::Error {
            r.error_class = Some(if i % 20 == 0 {
                "my_app::errors::RateLimitError".into()
            } else {
                "std::io::Error".into()
            });
            r.stop_reason = "tool_error".into();
        }
        if status == RunStatus::Panicked {
            r.error_class = None;
        }
        let priority = ["low", "medium", "high", "critical"][(i % 4) as usize];
        let tier = ["free", "pro", "enterprise"][(i % 3) as usize];
        let sla = if i % 5 == 0 {
            vec![("sla_deadline", json!("2024-01-15T13:00:01Z"))]
        } else {
            vec![("sla_target_seconds", json!(2.0))]
        };
        r.metadata = Some(metadata(priority, tier, &sla));
        r.tool_calls = vec![
            tool("search_docs", 40 + i, ToolStatus::Success, None),
            tool(
                "crm_lookup",
                300,
                if i % 6 == 0 {
                    ToolStatus::Error
                } else {
                    ToolStatus::Success
                },
                (i % 6 == 0).then_some("crm::TimeoutError"),
            ),
        ];
        if i % 8 == 0 {
            r.child_runs = 1;
            r.children_usage = Usage::new(10_000, 10_000);
        }
        runs.push(r);
    }
    // Odd label values everywhere: agents, stop reasons, tools, models, metadata labels.
    for (i, agent) in ODD_AGENTS.iter().enumerate() {
        let mut r = run(
            agent,
            RunStatus::Success,
            2_000,
            vec![model(
                "odd\"provider",
                "model \\ \"x\"\nv2 ✓",
                Usage::new(7, 3),
                Some(1),
            )],
        );
        r.release = Some(Arc::from("rel\"ease\\1\n"));
        r.stop_reason = "max_steps \"limit\"".into();
        r.metadata = Some(metadata(agent, "ent\\erprise\n", &[]));
        r.tool_calls = vec![tool(agent, 5, ToolStatus::Panicked, None)];
        if i == 0 {
            // Usage without a model breakdown: exported as model="unknown".
            r.metrics.usage += Usage::new(11, 0);
        }
        runs.push(r);
    }
    runs
}

/// The path of an external program, or `None` (with a note) when it is missing locally.
/// Under CI (`CI` set) a missing program fails the test.
pub fn require_program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is required under CI (install the Debian package `prometheus`)"
        );
        eprintln!("SKIP: `{name}` not found on PATH; install the Debian package `prometheus` to run this test");
    }
    found
}
