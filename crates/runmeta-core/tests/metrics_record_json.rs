//! Agno-compatible JSON of a whole `RunRecord`, metadata included.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use runmeta_core::metrics::{
    Cost, MessageMetrics, Metrics, ModelRef, ModelRole, ToolCallMetrics, ToolStatus, Usage,
};
use runmeta_core::run::{
    MetadataRecord, MetadataValue, RecordJsonError, RunId, RunRecord, RunStatus,
};
use runmeta_core::schema::{
    Deadline, DynMetadata, FieldError, JsonMetadata, MetadataErrors, Problem, REDACTED,
};
use serde_json::{json, Map, Value};

/// A typed metadata value as `#[derive(RunMetadata)]` would produce it, implemented by hand.
#[derive(Debug)]
struct SupportRun {
    ticket_id: String,
    priority: &'static str,
    customer_id: String,
    sla_deadline: Deadline,
    sla_target_seconds: f64,
}

impl DynMetadata for SupportRun {
    fn schema_name(&self) -> &str {
        "SupportRun"
    }
    fn schema_version(&self) -> u32 {
        2
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        f("priority", self.priority);
        f("escalated", "false");
    }
    fn label(&self, key: &str) -> Option<&str> {
        match key {
            "priority" => Some(self.priority),
            "escalated" => Some("false"),
            _ => None,
        }
    }
    fn to_json(&self) -> Map<String, Value> {
        let _ = &self.customer_id; // redacted in every output
        json!({
            "ticket_id": self.ticket_id,
            "priority": self.priority,
            "escalated": false,
            "customer_id": REDACTED,
            "sla_deadline": "2025-03-01T10:00:00Z",
            "sla_target_seconds": self.sla_target_seconds,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }
    fn sla_deadline(&self) -> Option<Deadline> {
        Some(self.sla_deadline)
    }
    fn sla_target(&self) -> Option<Duration> {
        Duration::try_from_secs_f64(self.sla_target_seconds).ok()
    }
    fn sla_deadline_key(&self) -> Option<&str> {
        Some("sla_deadline")
    }
    fn sla_target_key(&self) -> Option<&str> {
        self.sla_target().map(|_| "sla_target_seconds")
    }
}

fn start() -> Timestamp {
    "2025-03-01T09:30:00.250Z".parse().unwrap()
}

fn sample() -> RunRecord {
    let gpt = ModelRef::new("openai", "gpt-4o-mini");
    let mut run = RunRecord::new("support", start());
    run.parent_run_id = Some(RunId::new());
    run.session_id = Some(Arc::from("sess-42"));
    run.team = Some(Cow::Borrowed("helpdesk"));
    run.release = Some(Arc::from("v1.2.3"));
    run.request_model = Some(Cow::Borrowed("gpt-4o-mini"));
    run.duration = Duration::from_millis(3250);
    run.status = RunStatus::Error;
    run.stop_reason = Cow::Borrowed("tool_error");
    run.error_class = Some(Cow::Borrowed("RateLimited"));
    run.messages = vec![
        MessageMetrics {
            model: Some(gpt.clone()),
            started_at: Some(start() + SignedDuration::from_millis(20)),
            metrics: Metrics {
                usage: Usage {
                    cache_read_tokens: 1024,
                    ..Usage::new(1500, 60)
                },
                duration: Some(Duration::from_millis(900)),
                time_to_first_token: Some(Duration::from_millis(380)),
                cost: Some(Cost::from_nanos(261_000)),
                provider_metrics: json!({"service_tier": "default"})
                    .as_object()
                    .cloned()
                    .unwrap(),
                ..Metrics::default()
            },
        },
        MessageMetrics {
            model: Some(gpt.with_role(ModelRole::ParserModel)),
            started_at: Some(start() + SignedDuration::from_millis(2100)),
            metrics: Metrics {
                usage: Usage::new(300, 40),
                duration: Some(Duration::from_millis(500)),
                time_to_first_token: Some(Duration::from_millis(120)),
                cost: Some(Cost::ZERO),
                ..Metrics::default()
            },
        },
    ];
    run.tool_calls = vec![
        ToolCallMetrics {
            name: "search_docs".into(),
            started_at: start() + SignedDuration::from_millis(950),
            duration: Duration::from_millis(700),
            status: ToolStatus::Success,
            error_class: None,
        },
        ToolCallMetrics {
            name: "create_ticket".into(),
            started_at: start() + SignedDuration::from_millis(1700),
            duration: Duration::from_millis(300),
            status: ToolStatus::Error,
            error_class: Some("RateLimited".into()),
        },
    ];
    run.recompute_totals();
    run.metrics
        .additional_metrics
        .insert("retries".into(), json!(1));
    run.children_usage = Usage::new(800, 90);
    run.children_cost = Cost::from_nanos(99_000);
    run.child_runs = 2;
    run.metadata = Some(MetadataRecord {
        value: MetadataValue::new(SupportRun {
            ticket_id: "SUP-2024-001234".into(),
            priority: "high",
            customer_id: "cust_abc123".into(),
            sla_deadline: Deadline::parse("2025-03-01T10:00:00Z").unwrap(),
            sla_target_seconds: 3.0,
        }),
        errors: Some(Arc::new(MetadataErrors::new(
            "SupportRun",
            vec![
                FieldError {
                    key: "escalation_level".into(),
                    problem: Problem::OutOfRange {
                        found: Some("7".into()),
                        min: 1,
                        max: 3,
                    },
                },
                FieldError {
                    key: "request_type".into(),
                    problem: Problem::WrongType {
                        expected: Cow::Borrowed("enum"),
                        found: "integer",
                    },
                },
                FieldError {
                    key: "tier".into(),
                    problem: Problem::Unknown,
                },
            ],
        ))),
    });
    run
}

#[test]
fn shape_of_the_json() {
    let run = sample();
    let json = run.to_json();
    assert_eq!(json["run_id"], run.run_id.to_string());
    assert_eq!(
        json["parent_run_id"],
        run.parent_run_id.unwrap().to_string()
    );
    assert_eq!(json["session_id"], "sess-42");
    assert_eq!(json["agent_name"], "support");
    assert_eq!(json["team_name"], "helpdesk");
    assert_eq!(json["release"], "v1.2.3");
    assert_eq!(json["model"], "gpt-4o-mini");
    assert_eq!(json["created_at"], "2025-03-01T09:30:00.25Z");
    assert_eq!(json["status"], "error");
    assert_eq!(json["stop_reason"], "tool_error");
    assert_eq!(json["error_class"], "RateLimited");
    assert_eq!(
        json["metrics"],
        json!({
            "input_tokens": 1800,
            "output_tokens": 100,
            "total_tokens": 1900,
            "cache_read_tokens": 1024,
            "cost": 0.000261,
            "duration": 3.25,
            "time_to_first_token": 0.4,
            "model_time": 1.4,
            "provider_metrics": {"service_tier": "default"},
            "additional_metrics": {"retries": 1},
            "details": {
                "model": [{
                    "provider": "openai", "id": "gpt-4o-mini", "calls": 1,
                    "input_tokens": 1500, "output_tokens": 60, "total_tokens": 1560,
                    "cache_read_tokens": 1024, "cost": 0.000261, "duration": 0.9,
                    "time_to_first_token": 0.38,
                    "provider_metrics": {"service_tier": "default"}
                }],
                "parser_model": [{
                    "provider": "openai", "id": "gpt-4o-mini", "calls": 1,
                    "input_tokens": 300, "output_tokens": 40, "total_tokens": 340,
                    "cost": 0.0, "duration": 0.5, "time_to_first_token": 0.12
                }]
            }
        })
    );
    assert_eq!(json["messages"].as_array().unwrap().len(), 2);
    assert_eq!(json["messages"][0]["model"], "gpt-4o-mini");
    assert_eq!(
        json["tools"][1],
        json!({
            "tool_name": "create_ticket",
            "started_at": "2025-03-01T09:30:01.95Z",
            "duration": 0.3,
            "status": "error",
            "error_class": "RateLimited",
            "tool_call_error": true
        })
    );
    assert_eq!(
        json["children"],
        json!({"runs": 2, "input_tokens": 800, "output_tokens": 90, "total_tokens": 890, "cost": 0.000099})
    );
    let meta = &json["metadata"];
    assert_eq!(meta["schema"], "SupportRun");
    assert_eq!(meta["version"], 2);
    assert_eq!(meta["labels"], json!(["priority", "escalated"]));
    assert_eq!(meta["sla_deadline_key"], "sla_deadline");
    assert_eq!(meta["sla_target_key"], "sla_target_seconds");
    assert_eq!(meta["values"]["customer_id"], REDACTED);
    assert!(
        !json.to_string().contains("cust_abc123"),
        "redacted value leaked"
    );
    assert_eq!(meta["errors"]["schema"], "SupportRun");
    assert_eq!(meta["errors"]["errors"][0]["problem"], "out_of_range");
}

#[test]
fn round_trip() {
    let run = sample();
    let json = run.to_json();
    let back = RunRecord::from_json(&json).unwrap();
    assert_eq!(back.to_json(), json);

    assert_eq!(back.run_id, run.run_id);
    assert_eq!(back.parent_run_id, run.parent_run_id);
    assert_eq!(back.session_id, run.session_id);
    assert_eq!(back.agent, run.agent);
    assert_eq!(back.team, run.team);
    assert_eq!(back.release, run.release);
    assert_eq!(back.request_model, run.request_model);
    assert_eq!(back.started_at, run.started_at);
    assert_eq!(back.duration, run.duration);
    assert_eq!(back.model_time, run.model_time);
    assert_eq!(back.time_to_first_token, run.time_to_first_token);
    assert_eq!(back.status, run.status);
    assert_eq!(back.stop_reason, run.stop_reason);
    assert_eq!(back.error_class, run.error_class);
    assert_eq!(back.metrics, run.metrics);
    assert_eq!(back.per_model, run.per_model);
    assert_eq!(back.messages, run.messages);
    assert_eq!(back.tool_calls, run.tool_calls);
    assert_eq!(back.children_usage, run.children_usage);
    assert_eq!(back.children_cost, run.children_cost);
    assert_eq!(back.child_runs, run.child_runs);
    assert_eq!(back.unpriced_messages, run.unpriced_messages);
    assert_eq!(back.total_usage(), run.total_usage());

    // Metadata comes back as JsonMetadata with labels and SLA fields working.
    assert_eq!(back.label("priority"), Some("high"));
    assert_eq!(back.label("escalated"), Some("false"));
    assert_eq!(back.label("ticket_id"), None);
    let meta = back.metadata.as_ref().unwrap();
    assert_eq!(meta.value.schema_name(), "SupportRun");
    assert_eq!(meta.value.schema_version(), 2);
    assert_eq!(
        meta.value.sla_deadline(),
        Some(Deadline::parse("2025-03-01T10:00:00Z").unwrap())
    );
    assert_eq!(meta.value.sla_target(), Some(Duration::from_secs(3)));
    assert_eq!(meta.value.to_json()["customer_id"], REDACTED);
    let errors = meta.errors.as_ref().unwrap();
    assert_eq!(errors.errors.len(), 3);
    assert_eq!(
        errors.for_key("escalation_level"),
        Some(&Problem::OutOfRange {
            found: Some("7".into()),
            min: 1,
            max: 3
        })
    );
    assert_eq!(
        errors.for_key("request_type"),
        Some(&Problem::WrongType {
            expected: Cow::Borrowed("enum"),
            found: "integer"
        })
    );
    assert_eq!(
        errors.to_string(),
        run.metadata.unwrap().errors.unwrap().to_string()
    );

    // Serde goes through the same form.
    let text = serde_json::to_string(&back).unwrap();
    let again: RunRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(again.to_json(), json);
    assert_eq!(RunRecord::from_json_str(&text).unwrap().to_json(), json);
}

#[test]
fn minimal_record_round_trips() {
    let run = RunRecord::new("echo", start());
    let json = run.to_json();
    assert_eq!(
        json,
        json!({
            "run_id": run.run_id.to_string(),
            "agent_name": "echo",
            "created_at": "2025-03-01T09:30:00.25Z",
            "status": "success",
            "stop_reason": "completed",
            "metrics": {"duration": 0.0}
        })
    );
    let back = RunRecord::from_json(&json).unwrap();
    assert_eq!(back.to_json(), json);
    assert!(back.metadata.is_none());
    assert_eq!(back.metrics.duration, Some(Duration::ZERO));
}

#[test]
fn json_metadata_round_trips_exactly() {
    let mut run = RunRecord::new("echo", start());
    let meta = JsonMetadata {
        schema: "Imported".into(),
        version: 1,
        values: json!({"tier": "pro", "deadline": "2025-03-02T00:00:00Z", "budget_s": 1.5})
            .as_object()
            .cloned()
            .unwrap(),
        label_keys: vec!["tier".into()],
        sla_deadline_key: Some("deadline".into()),
        sla_target_key: Some("budget_s".into()),
    };
    run.metadata = Some(MetadataRecord {
        value: MetadataValue::new(meta.clone()),
        errors: None,
    });
    let back = RunRecord::from_json(&run.to_json()).unwrap();
    let value = back.metadata.unwrap().value;
    assert_eq!(format!("{value:?}"), format!("{meta:?}"));
}

#[test]
fn agno_run_output_is_read() {
    // The shape of Agno's RunOutput.to_dict() (v2), trimmed to what runmeta reads.
    let agno = json!({
        "run_id": "0195508c-6f3a-7c4e-9a43-1f2e3d4c5b6a",
        "agent_id": "finance-agent",
        "agent_name": "Finance Agent",
        "session_id": "b3c1d2e4",
        "created_at": 1740821400,
        "status": "COMPLETED",
        "model": "gemini-2.0-flash-001",
        "model_provider": "Google",
        "content": "NVDA trades at ...",
        "metrics": {
            "input_tokens": 1402, "output_tokens": 98, "total_tokens": 1500,
            "duration": 2.31, "time_to_first_token": 0.41,
            "details": {"model": [{"id": "gemini-2.0-flash-001", "provider": "Google",
                                   "input_tokens": 1402, "output_tokens": 98, "total_tokens": 1500}]}
        },
        "tools": [{
            "tool_call_id": "call_1", "tool_name": "get_current_stock_price",
            "tool_args": {"symbol": "NVDA"}, "tool_call_error": false,
            "metrics": {"start_time": 1740821401.0, "end_time": 1740821401.4, "duration": 0.4},
            "created_at": 1740821401
        }],
        "metadata": {"ticket_id": "SUP-1"}
    });
    let run = RunRecord::from_json(&agno).unwrap();
    assert_eq!(run.agent, "Finance Agent");
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.stop_reason, "completed");
    assert_eq!(run.started_at.to_string(), "2025-03-01T09:30:00Z");
    assert_eq!(run.duration, Duration::from_millis(2310));
    assert_eq!(run.time_to_first_token, Some(Duration::from_millis(410)));
    assert_eq!(run.metrics.usage.total_tokens, 1500);
    assert_eq!(run.request_model.as_deref(), Some("gemini-2.0-flash-001"));
    assert_eq!(run.per_model.len(), 1);
    assert_eq!(run.per_model[0].model.provider, "Google");
    assert_eq!(run.tool_calls[0].duration, Duration::from_millis(400));
    // Agno's free-form metadata dict becomes the values of a schema-less JsonMetadata.
    let meta = run.metadata.unwrap();
    assert_eq!(meta.value.schema_name(), "");
    assert_eq!(meta.value.to_json()["ticket_id"], "SUP-1");
    assert!(meta.errors.is_none());
}

#[test]
fn errors_name_the_field() {
    let run = sample();
    let mut json = run.to_json();
    let check = |json: &Value, message: &str| {
        let err = RunRecord::from_json(json).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert!(matches!(err, RecordJsonError::Field(_)));
    };

    json["messages"][1]["metrics"]["input_tokens"] = json!("300");
    check(
        &json,
        "messages[1].metrics.input_tokens: expected a non-negative integer, found string",
    );
    let mut json = run.to_json();
    json["metrics"]["details"]["model"][0]["output_tokens"] = json!(-60);
    check(
        &json,
        "metrics.details.model[0].output_tokens: expected a non-negative integer, found -60",
    );
    let mut json = run.to_json();
    json["tools"][0]["status"] = json!("fine");
    check(
        &json,
        "tools[0].status: expected one of `success`, `error`, `panicked`, `cancelled`, found \"fine\"",
    );
    let mut json = run.to_json();
    json["run_id"] = json!("not-a-uuid");
    check(&json, "run_id: expected a UUID, found \"not-a-uuid\"");
    let mut json = run.to_json();
    json.as_object_mut().unwrap().remove("agent_name");
    check(&json, "agent_name: missing, expected a string");
    let mut json = run.to_json();
    json["status"] = json!("RUNNING");
    assert!(RunRecord::from_json(&json)
        .unwrap_err()
        .to_string()
        .starts_with("status: expected one of `success`"));
    let mut json = run.to_json();
    json["metadata"]["labels"] = json!(["priority", 3]);
    check(&json, "metadata.labels[1]: expected a string, found 3");
    let mut json = run.to_json();
    json["children"]["runs"] = json!(1u64 << 40);
    check(
        &json,
        "children.runs: expected a non-negative integer below 2^32, found 1099511627776",
    );
    let mut json = run.to_json();
    json["created_at"] = json!("2025-13-01");
    check(
        &json,
        "created_at: expected an RFC 3339 timestamp or Unix seconds, found string",
    );
    check(&json!([]), "expected an object, found array");

    let err = RunRecord::from_json_str("{not json").unwrap_err();
    assert!(matches!(err, RecordJsonError::Syntax(_)));
    assert!(err.to_string().starts_with("invalid JSON: "));
}

#[test]
fn aliases_are_read() {
    let id = RunId::new();
    let json = json!({
        "run_id": id.to_string(),
        "agent_id": "a",
        "team": "t",
        "started_at": "2025-03-01T09:30:00Z",
        "status": "CANCELLED",
        "tool_calls": [{"tool_name": "x", "started_at": "2025-03-01T09:30:01Z", "duration": 1}],
        "details": [{"model_type": "output_model", "provider": "p", "id": "m", "calls": 1}]
    });
    let run = RunRecord::from_json(&json).unwrap();
    assert_eq!(run.run_id, id);
    assert_eq!(run.agent, "a");
    assert_eq!(run.team.as_deref(), Some("t"));
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.stop_reason, "cancelled");
    assert_eq!(run.tool_calls.len(), 1);
    assert_eq!(run.per_model[0].model.role, ModelRole::OutputModel);
}
