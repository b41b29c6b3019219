//! Metrics of one model call (a message) and of one tool call.

use std::fmt;
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

    /// The role with this wire name; a name that is not one of the built-in roles gives
    /// [`ModelRole::Other`] (Agno has more roles, such as `memory_model`).
    #[must_use]
    pub fn from_wire(name: &str) -> Self {
        match name {
            "model" => ModelRole::Model,
            "output_model" => ModelRole::OutputModel,
            "reasoning_model" => ModelRole::ReasoningModel,
            "parser_model" => ModelRole::ParserModel,
            other => ModelRole::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ModelRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

impl ModelRef {
    /// The main model (`ModelRole::Model`) of `provider` with id `id`.
    #[must_use]
    pub fn new(provider: impl Into<String>, id: impl Into<String>) -> Self {
        ModelRef {
            role: ModelRole::Model,
            provider: provider.into(),
            id: id.into(),
        }
    }

    /// The same model in another role.
    #[must_use]
    pub fn with_role(mut self, role: ModelRole) -> Self {
        self.role = role;
        self
    }
}

impl fmt::Display for ModelRef {
    /// `role:provider/id`, e.g. `model:openai/gpt-4o-mini`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.role, self.provider, self.id)
    }
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

    /// Parses a wire name.
    #[must_use]
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "success" => ToolStatus::Success,
            "error" => ToolStatus::Error,
            "panicked" => ToolStatus::Panicked,
            "cancelled" => ToolStatus::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for ToolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
