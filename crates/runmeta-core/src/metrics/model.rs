//! Metrics of one model call (a message) and of one tool call.

use std::time::Duration;

use jiff::Timestamp;

use super::Metrics;

/// The role a model plays in a run (Agno: `model`, `output_model`, `reasoning_model`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ModelRole {
    /// The agent's main model.
    #[default]
    Model,
    /// A model that writes the final output from the main model's answer.
    OutputModel,
    /// A model used for a reasoning step.
    ReasoningModel,
    /// A model that parses the output into a structure.
    ParserModel,
    /// Any other role, by name.
    Other(String),
}

impl ModelRole {
    /// The role's wire name (`model`, `output_model`, ...).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            ModelRole::Model => "model",
            ModelRole::OutputModel => "output_model",
            ModelRole::ReasoningModel => "reasoning_model",
            ModelRole::ParserModel => "parser_model",
            ModelRole::Other(name) => name,
        }
    }
}

/// Which model answered: provider, model id and role. The key of a run's per-model breakdown.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModelRef {
    /// The model's role in the run.
    pub role: ModelRole,
    /// The provider (`openai`, `anthropic`, `google`, ...).
    pub provider: String,
    /// The model id as the provider names it (`gpt-4o-mini`, ...).
    pub id: String,
}

/// Metrics of one model call.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MessageMetrics {
    /// The model that answered, when known.
    pub model: Option<ModelRef>,
    /// When the call started (UTC).
    pub started_at: Option<Timestamp>,
    /// Tokens, duration, time to first token (from the call's start), cost and provider data.
    pub metrics: Metrics,
}

/// How a tool call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ToolStatus {
    /// The tool returned a value (or `Ok`).
    Success,
    /// The tool returned `Err`.
    Error,
    /// The tool panicked.
    Panicked,
    /// The tool's future was dropped before it completed.
    Cancelled,
}

impl ToolStatus {
    /// The status's wire name (`success`, `error`, `panicked`, `cancelled`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Success => "success",
            ToolStatus::Error => "error",
            ToolStatus::Panicked => "panicked",
            ToolStatus::Cancelled => "cancelled",
        }
    }
}

/// Metrics of one tool call.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallMetrics {
    /// The tool's name.
    pub name: String,
    /// When the call started (UTC).
    pub started_at: Timestamp,
    /// How long the call took.
    pub duration: Duration,
    /// How it ended.
    pub status: ToolStatus,
    /// The error's class when it failed (from `ErrorClass` or the error type's name).
    pub error_class: Option<String>,
}

impl ToolCallMetrics {
    /// When the call ended: `started_at + duration`.
    #[must_use]
    pub fn ended_at(&self) -> Timestamp {
        jiff::SignedDuration::try_from(self.duration)
            .ok()
            .and_then(|d| self.started_at.checked_add(d).ok())
            .unwrap_or(self.started_at)
    }
}
