//! Records for the store's tests.
#![allow(dead_code)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunRecord, RunStatus};
use runmeta_core::schema::JsonMetadata;

/// 2024-01-15T12:00:00Z.
pub fn t0() -> Timestamp {
    "2024-01-15T12:00:00Z".parse().unwrap()
}

pub fn at_secs(s: i64) -> Timestamp {
    t0() + jiff::SignedDuration::from_secs(s)
}

pub fn metadata(priority: &str, tier: &str, deadline: Option<&str>) -> MetadataRecord {
    let mut values = Map::new();
    values.insert("ticket_id".into(), json!("SUP-2024-001234"));
    values.insert("priority".into(), json!(priority));
    values.insert("customer_tier".into(), json!(tier));
    values.insert("customer_id".into(), json!("[redacted]"));
    if let Some(d) = deadline {
        values.insert("sla_deadline".into(), json!(d));
    }
    MetadataRecord {
        value: MetadataValue::new(JsonMetadata {
            schema: "SupportRun".into(),
            version: 1,
            values,
            label_keys: vec!["priority".into(), "customer_tier".into()],
            sla_deadline_key: deadline.map(|_| "sla_deadline".into()),
            sla_target_key: None,
        }),
        errors: None,
    }
}

/// A small, typical run: one model call, one tool call, two labels.
pub fn simple_run(agent: &'static str, started_at: Timestamp, ms: u64) -> RunRecord {
    let mut r = RunRecord::new(agent, started_at);
    r.duration = Duration::from_millis(ms);
    r.metrics = Metrics {
        usage: Usage::new(100, 20),
        duration: Some(r.duration),
        time_to_first_token: Some(Duration::from_millis(ms / 4)),
        cost: Some(Cost::from_nanos(1_000)),
        ..Metrics::default()
    };
    r.time_to_first_token = r.metrics.time_to_first_token;
    r.messages.push(MessageMetrics {
        model: Some(ModelRef {
            role: ModelRole::Model,
            provider: "openai".into(),
            id: "gpt-4o-mini".into(),
        }),
        started_at: Some(started_at),
        metrics: Metrics::from_usage(Usage::new(100, 20)),
    });
    r.tool_calls.push(ToolCallMetrics {
        name: "search_docs".into(),
        started_at,
        duration: Duration::from_millis(5),
        status: ToolStatus::Success,
        error_class: None,
    });
    r.metadata = Some(metadata("high", "enterprise", None));
    r
}

/// A run using every part of the record.
pub fn full_run() -> RunRecord {
    let mut r = simple_run("support", at_secs(1), 2_300);
    r.session_id = Some(Arc::from("sess-1"));
    r.team = Some(Cow::Borrowed("desk"));
    r.release = Some(Arc::from("2026-03-21"));
    r.model_time = Duration::from_millis(1_900);
    r.status = RunStatus::Error;
    r.stop_reason = Cow::Borrowed("tool_error");
    r.error_class = Some(Cow::Borrowed("TimeoutError"));
    r.metrics
        .provider_metrics
        .insert("queue_ms".into(), json!(12));
    r.metrics
        .additional_metrics
        .insert("note".into(), json!("x"));
    r.per_model.push(ModelBreakdown {
        model: ModelRef {
            role: ModelRole::Model,
            provider: "openai".into(),
            id: "gpt-4o-mini".into(),
        },
        calls: 1,
        metrics: Metrics::from_usage(Usage::new(100, 20)),
    });
    r.tool_calls.push(ToolCallMetrics {
        name: "create_ticket".into(),
        started_at: at_secs(2),
        duration: Duration::from_millis(40),
        status: ToolStatus::Error,
        error_class: Some("TimeoutError".into()),
    });
    r.children_usage = Usage::new(7, 3);
    r.children_cost = Cost::from_nanos(55);
    r.child_runs = 1;
    r.unpriced_messages = 1;
    r.metadata = Some(metadata("critical", "pro", Some("2024-01-15T12:00:02Z")));
    r
}

pub fn json_of(r: &RunRecord) -> Value {
    r.to_json()
}
