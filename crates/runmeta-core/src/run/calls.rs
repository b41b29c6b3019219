//! Timing one model call or one tool call inside the current run.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::active::{first_token, record_message, record_tool};
use crate::metrics::{MessageMetrics, Metrics, ModelRef, ToolCallMetrics, ToolStatus, Usage};

/// Times one model call as a message of the current run.
///
/// ```
/// use runmeta_core::metrics::{ModelRef, Usage};
/// use runmeta_core::run::ModelCall;
/// let mut call = ModelCall::start(ModelRef { provider: "openai".into(), id: "gpt-4o-mini".into(), ..Default::default() });
/// call.first_token();
/// call.finish(Usage::new(120, 30)); // outside a run: measured, then dropped
/// ```
#[derive(Debug)]
pub struct ModelCall {
    model: ModelRef,
    started_at: Timestamp,
    start: Instant,
    first_token: Option<Duration>,
    provider_metrics: serde_json::Map<String, serde_json::Value>,
}

impl ModelCall {
    /// Starts timing a call to `model`.
    #[must_use]
    pub fn start(model: ModelRef) -> Self {
        ModelCall {
            model,
            started_at: Timestamp::now(),
            start: Instant::now(),
            first_token: None,
            provider_metrics: serde_json::Map::new(),
        }
    }

    /// Marks the call's first token (the first call counts); also marks the run's.
    pub fn first_token(&mut self) {
        if self.first_token.is_none() {
            self.first_token = Some(self.start.elapsed());
            first_token();
        }
    }

    /// Adds provider-specific data to the message.
    pub fn provider_metric(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.provider_metrics.insert(key.to_owned(), value.into());
    }

    /// Ends the call with its usage and records it in the current run.
    pub fn finish(self, usage: impl Into<Usage>) {
        let duration = self.start.elapsed();
        record_message(MessageMetrics {
            model: Some(self.model),
            started_at: Some(self.started_at),
            metrics: Metrics {
                usage: usage.into(),
                duration: Some(duration),
                time_to_first_token: self.first_token,
                provider_metrics: self.provider_metrics,
                ..Metrics::default()
            },
        });
    }
}

/// Times a tool call and records it in the current run with its status; returns the tool's
/// result. A panic in the tool is recorded as `panicked` and resumed.
///
/// ```
/// let n: Result<u32, std::num::ParseIntError> = runmeta_core::run::tool("parse", || "42".parse());
/// assert_eq!(n, Ok(42));
/// ```
pub fn tool<R: ToolResult>(name: &str, f: impl FnOnce() -> R) -> R {
    let call = ToolTimer::start(name);
    #[cfg(feature = "tracing")]
    let _entered = call.span.clone().entered();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    match result {
        Ok(value) => {
            let (status, class) = value.tool_outcome();
            call.finish(status, class);
            value
        }
        Err(panic) => {
            call.finish(ToolStatus::Panicked, Some(Cow::Borrowed("panic")));
            std::panic::resume_unwind(panic)
        }
    }
}

/// Times an async tool call; see [`tool`]. A future dropped before completion is recorded
/// as `cancelled`.
pub async fn tool_async<R: ToolResult, F: std::future::Future<Output = R>>(
    name: &str,
    future: F,
) -> R {
    struct Pending(Option<ToolTimer>);
    impl Drop for Pending {
        fn drop(&mut self) {
            if let Some(timer) = self.0.take() {
                let status = if std::thread::panicking() {
                    ToolStatus::Panicked
                } else {
                    ToolStatus::Cancelled
                };
                timer.finish(status, None);
            }
        }
    }
    let mut pending = Pending(Some(ToolTimer::start(name)));
    #[cfg(feature = "tracing")]
    let value = {
        use tracing::Instrument as _;
        let span = pending
            .0
            .as_ref()
            .map_or_else(tracing::Span::none, |t| t.span.clone());
        future.instrument(span).await
    };
    #[cfg(not(feature = "tracing"))]
    let value = future.await;
    if let Some(timer) = pending.0.take() {
        let (status, class) = value.tool_outcome();
        timer.finish(status, class);
    }
    value
}

struct ToolTimer {
    name: String,
    started_at: Timestamp,
    start: Instant,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl ToolTimer {
    fn start(name: &str) -> Self {
        ToolTimer {
            name: name.to_owned(),
            started_at: Timestamp::now(),
            start: Instant::now(),
            #[cfg(feature = "tracing")]
            span: super::spans::tool_span(name),
        }
    }

    fn finish(self, status: ToolStatus, error_class: Option<Cow<'static, str>>) {
        #[cfg(feature = "tracing")]
        super::spans::close_tool_span(&self.span, status, error_class.as_deref());
        record_tool(ToolCallMetrics {
            name: self.name,
            started_at: self.started_at,
            duration: self.start.elapsed(),
            status,
            error_class: error_class.map(Cow::into_owned),
        });
    }
}

/// How a tool's return value maps to a tool status: `Result` is `Ok` → success, `Err` →
/// error (class from [`ErrorClass`](super::ErrorClass) is not available generically, so the
/// error type's name is used); any other value is a success.
pub trait ToolResult {
    /// The status and error class.
    fn tool_outcome(&self) -> (ToolStatus, Option<Cow<'static, str>>);
}

impl<T, E> ToolResult for Result<T, E> {
    fn tool_outcome(&self) -> (ToolStatus, Option<Cow<'static, str>>) {
        match self {
            Ok(_) => (ToolStatus::Success, None),
            Err(_) => (
                ToolStatus::Error,
                Some(Cow::Borrowed(super::outcome::short_type_name::<E>())),
            ),
        }
    }
}

macro_rules! plain_tool_result {
    ($($t:ty),*) => {$(
        impl ToolResult for $t {
            fn tool_outcome(&self) -> (ToolStatus, Option<Cow<'static, str>>) {
                (ToolStatus::Success, None)
            }
        }
    )*};
}
plain_tool_result!(
    (),
    bool,
    String,
    &str,
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    isize,
    f32,
    f64,
    serde_json::Value
);

impl<T> ToolResult for Option<T> {
    fn tool_outcome(&self) -> (ToolStatus, Option<Cow<'static, str>>) {
        (ToolStatus::Success, None)
    }
}

impl<T> ToolResult for Vec<T> {
    fn tool_outcome(&self) -> (ToolStatus, Option<Cow<'static, str>>) {
        (ToolStatus::Success, None)
    }
}
