//! Timing one model call or one tool call inside the current run.

use std::borrow::Cow;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use jiff::Timestamp;

use super::active::{first_token, record_message, record_tool};
use super::clock::{self, Instant};
use super::ErrorClass;
use crate::metrics::adapters::ProviderUsage;
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
        let (start, started_at) = clock::now();
        ModelCall {
            model,
            started_at,
            start,
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

    /// Ends the call with the usage a provider adapter read (its tokens, and its
    /// provider-specific fields as the message's provider metrics; one set with
    /// [`ModelCall::provider_metric`] under the same key is kept).
    ///
    /// ```
    /// use runmeta_core::metrics::{adapters, ModelRef};
    /// use runmeta_core::run::ModelCall;
    /// let usage = serde_json::json!({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150});
    /// let call = ModelCall::start(ModelRef::new("openai", "gpt-4o-mini"));
    /// call.finish_provider(adapters::openai_chat_usage(&usage).unwrap());
    /// ```
    pub fn finish_provider(mut self, usage: ProviderUsage) {
        for (key, value) in usage.provider_metrics {
            self.provider_metrics.entry(key).or_insert(value);
        }
        self.finish(usage.usage);
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

/// A tool's status and error class, as recorded.
type ToolOutcome = (ToolStatus, Option<Cow<'static, str>>);

/// Times a tool call and records it in the current run with its status; returns the tool's
/// result. A panic in the tool is recorded as `panicked` and resumed. An `Err` is recorded
/// with the error type's name as its class; [`tool_classified`] uses the error's
/// [`ErrorClass`] instead.
///
/// ```
/// let n: Result<u32, std::num::ParseIntError> = runmeta_core::run::tool("parse", || "42".parse());
/// assert_eq!(n, Ok(42));
/// ```
pub fn tool<R: ToolResult>(name: &str, f: impl FnOnce() -> R) -> R {
    time_tool(name, f, R::tool_outcome)
}

/// Like [`tool`], for a tool whose error type implements [`ErrorClass`]: an `Err` is recorded
/// with the error's own class (`rate_limit`, `timeout`, ...). A panic in `error_class` is
/// recorded as the tool's panic, then resumed.
///
/// ```
/// use std::borrow::Cow;
/// use runmeta_core::run::{tool_classified, ErrorClass};
/// struct SearchDown;
/// impl ErrorClass for SearchDown {
///     fn error_class(&self) -> Cow<'static, str> { "unavailable".into() }
/// }
/// let hits: Result<u32, SearchDown> = tool_classified("search", || Err(SearchDown));
/// assert!(hits.is_err());
/// ```
pub fn tool_classified<T, E: ErrorClass>(
    name: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    time_tool(name, f, classified_outcome)
}

fn time_tool<R>(name: &str, f: impl FnOnce() -> R, classify: fn(&R) -> ToolOutcome) -> R {
    let call = ToolTimer::start(name);
    #[cfg(feature = "tracing")]
    let _entered = call.span.clone().entered();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            call.finish_with(&value, classify);
            value
        }
        Err(panic) => {
            call.finish(ToolStatus::Panicked, Some(Cow::Borrowed("panic")));
            resume_unwind(panic)
        }
    }
}

fn classified_outcome<T, E: ErrorClass>(result: &Result<T, E>) -> ToolOutcome {
    match result {
        Ok(_) => (ToolStatus::Success, None),
        Err(error) => (ToolStatus::Error, Some(error.error_class())),
    }
}

/// Times an async tool call; see [`tool`]. A future dropped before completion is recorded
/// as `cancelled`.
pub async fn tool_async<R: ToolResult, F: std::future::Future<Output = R>>(
    name: &str,
    future: F,
) -> R {
    time_tool_async(name, future, R::tool_outcome).await
}

/// Times an async tool call whose error type implements [`ErrorClass`]; see
/// [`tool_classified`] and [`tool_async`].
pub async fn tool_async_classified<
    T,
    E: ErrorClass,
    F: std::future::Future<Output = Result<T, E>>,
>(
    name: &str,
    future: F,
) -> Result<T, E> {
    time_tool_async(name, future, classified_outcome).await
}

async fn time_tool_async<R, F: std::future::Future<Output = R>>(
    name: &str,
    future: F,
    classify: fn(&R) -> ToolOutcome,
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
        timer.finish_with(&value, classify);
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
        let (start, started_at) = clock::now();
        ToolTimer {
            name: name.to_owned(),
            started_at,
            start,
            #[cfg(feature = "tracing")]
            span: super::spans::tool_span(name),
        }
    }

    /// Finishes with the outcome `classify` reads off the value; a panic in `classify` (user
    /// code: `ErrorClass`) is recorded as the tool's, then resumed.
    fn finish_with<R>(self, value: &R, classify: fn(&R) -> ToolOutcome) {
        match catch_unwind(AssertUnwindSafe(|| classify(value))) {
            Ok((status, class)) => self.finish(status, class),
            Err(panic) => {
                self.finish(ToolStatus::Panicked, Some(Cow::Borrowed("panic")));
                resume_unwind(panic)
            }
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
/// error with the error type's name as its class (use [`tool_classified`] for an error type
/// with an [`ErrorClass`]); any other value is a success.
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
