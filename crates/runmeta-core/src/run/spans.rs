//! `tracing` spans for runs and tool calls, with OpenTelemetry GenAI attribute names, so a
//! `tracing-opentelemetry` layer sends them to any OTLP backend as `invoke_agent {agent}` and
//! `execute_tool {name}` spans.
//!
//! Span field names are static in `tracing`, so the run's metadata labels travel in one field,
//! `runmeta.labels` (`key=value` pairs joined by `,`). Redacted fields are never labels.

use std::fmt::Write as _;

use tracing::field::Empty;

use super::RunRecord;
use crate::metrics::ToolStatus;

pub(crate) fn run_span(record: &RunRecord) -> tracing::Span {
    let span = tracing::info_span!(
        target: "runmeta",
        "invoke_agent",
        otel.name = %format_args!("invoke_agent {}", record.agent),
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = %record.agent,
        gen_ai.conversation.id = Empty,
        gen_ai.request.model = Empty,
        gen_ai.response.model = Empty,
        gen_ai.provider.name = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.reasoning.output_tokens = Empty,
        error.type = Empty,
        runmeta.run_id = %record.run_id,
        runmeta.parent_run_id = Empty,
        runmeta.team = Empty,
        runmeta.status = Empty,
        runmeta.stop_reason = Empty,
        runmeta.labels = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(session) = &record.session_id {
        span.record("gen_ai.conversation.id", &**session);
    }
    if let Some(model) = &record.request_model {
        span.record("gen_ai.request.model", &**model);
    }
    if let Some(parent) = record.parent_run_id {
        span.record("runmeta.parent_run_id", tracing::field::display(parent));
    }
    if let Some(team) = &record.team {
        span.record("runmeta.team", &**team);
    }
    if let Some(metadata) = &record.metadata {
        let mut labels = String::new();
        metadata.value.for_each_label(&mut |key, value| {
            if !labels.is_empty() {
                labels.push(',');
            }
            let _ = write!(labels, "{key}={value}");
        });
        if !labels.is_empty() {
            span.record("runmeta.labels", labels.as_str());
        }
    }
    span
}

pub(crate) fn close_run_span(span: &tracing::Span, record: &RunRecord) {
    if span.is_disabled() {
        return;
    }
    let usage = record.metrics.usage;
    span.record("gen_ai.usage.input_tokens", usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", usage.output_tokens);
    span.record(
        "gen_ai.usage.cache_read.input_tokens",
        usage.cache_read_tokens,
    );
    span.record(
        "gen_ai.usage.cache_creation.input_tokens",
        usage.cache_write_tokens,
    );
    span.record(
        "gen_ai.usage.reasoning.output_tokens",
        usage.reasoning_tokens,
    );
    span.record("runmeta.status", record.status.as_str());
    span.record("runmeta.stop_reason", &*record.stop_reason);
    // The model that answered and its provider: response-side, from the calls the run made
    // (the first model's, when it called several). The requested model is only what the
    // tracked fn declared (`model = ...`).
    if let Some(model) = record.per_model.first() {
        if !model.model.id.is_empty() {
            span.record("gen_ai.response.model", model.model.id.as_str());
        }
        if !model.model.provider.is_empty() {
            span.record("gen_ai.provider.name", model.model.provider.as_str());
        }
    }
    match &record.error_class {
        Some(class) => {
            span.record("error.type", &**class);
            span.record("otel.status_code", "ERROR");
        }
        None if record.status == super::RunStatus::Cancelled => {
            span.record("error.type", "cancelled");
            span.record("otel.status_code", "ERROR");
        }
        None => {
            span.record("otel.status_code", "OK");
        }
    }
}

pub(crate) fn tool_span(name: &str) -> tracing::Span {
    tracing::info_span!(
        target: "runmeta",
        "execute_tool",
        otel.name = %format_args!("execute_tool {name}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        error.type = Empty,
        runmeta.status = Empty,
    )
}

pub(crate) fn close_tool_span(span: &tracing::Span, status: ToolStatus, error_class: Option<&str>) {
    span.record("runmeta.status", status.as_str());
    match (status, error_class) {
        (ToolStatus::Success, _) => {
            span.record("otel.status_code", "OK");
        }
        (_, class) => {
            span.record("error.type", class.unwrap_or(status.as_str()));
            span.record("otel.status_code", "ERROR");
        }
    }
}
