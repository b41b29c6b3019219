//! Usage of a streamed model call, accumulated chunk by chunk without inflating it.
//!
//! Providers report streaming usage in one of two ways:
//!
//! - **delta**: each chunk carries only what is new (or, like OpenAI Chat Completions with
//!   `stream_options.include_usage`, a single final chunk carries everything). The call's
//!   usage is the sum of the chunks.
//! - **cumulative**: each chunk carries the totals so far (Gemini repeats
//!   `promptTokenCount` and grows `candidatesTokenCount` in every chunk; Anthropic's
//!   `message_delta` carries the cumulative `output_tokens`). The call's usage is the latest
//!   snapshot — summing the chunks counts the prompt once per chunk, the inflation Agno
//!   shipped for Gemini and Anthropic streams.
//!
//! [`UsageAccumulator`] takes the mode up front and never sums cumulative snapshots.

use serde_json::Value;

use super::adapters::{AdapterError, UsageFormat};
use super::json::{Fields, JsonFieldError};
use super::Usage;

/// How a provider reports usage while streaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsageReporting {
    /// Each chunk holds new tokens only; chunks sum. OpenAI Chat Completions and Responses
    /// (one final usage chunk) fit this mode.
    Delta,
    /// Each chunk holds the totals so far; the result is the field-wise maximum, never the
    /// sum. Gemini and Anthropic stream this way.
    Cumulative,
}

/// Accumulates the usage chunks of one streamed model call.
///
/// ```
/// use runmeta_core::metrics::{Usage, UsageAccumulator, UsageReporting};
///
/// // Gemini-style: every chunk repeats the prompt and grows the output.
/// let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
/// for i in 1..=50 {
///     acc.push(Usage::new(120, 4 * i));
/// }
/// assert_eq!(acc.finish(), Usage::new(120, 200)); // not 6000 input tokens
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageAccumulator {
    reporting: UsageReporting,
    total: Usage,
    chunks: u64,
}

impl UsageAccumulator {
    /// An empty accumulator for a provider that reports usage this way.
    #[must_use]
    pub const fn new(reporting: UsageReporting) -> Self {
        UsageAccumulator {
            reporting,
            total: Usage {
                input_tokens: 0,
                output_tokens: 0,
                total_tokens: 0,
                reasoning_tokens: 0,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
                audio_input_tokens: 0,
                audio_output_tokens: 0,
                audio_total_tokens: 0,
            },
            chunks: 0,
        }
    }

    /// The reporting mode.
    #[must_use]
    pub const fn reporting(&self) -> UsageReporting {
        self.reporting
    }

    /// Number of chunks pushed so far.
    #[must_use]
    pub const fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Adds one chunk: summed in [`UsageReporting::Delta`] mode, merged as a snapshot
    /// (field-wise maximum) in [`UsageReporting::Cumulative`] mode.
    pub fn push(&mut self, chunk: Usage) {
        match self.reporting {
            UsageReporting::Delta => self.total += chunk,
            UsageReporting::Cumulative => self.merge_snapshot(&chunk),
        }
        self.chunks = self.chunks.saturating_add(1);
    }

    /// Reads one chunk's usage JSON in `format` (see [`UsageFormat::parse`]) and pushes it. A
    /// chunk without usage (`null`, as OpenAI streams every chunk but the last with
    /// `stream_options.include_usage`) is skipped and not counted.
    ///
    /// ```
    /// use runmeta_core::metrics::{UsageAccumulator, UsageFormat, UsageReporting};
    /// let mut acc = UsageAccumulator::new(UsageReporting::Delta);
    /// let chunks = [serde_json::json!({"usage": null}),
    ///     serde_json::json!({"usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}})];
    /// for chunk in &chunks {
    ///     acc.push_json(UsageFormat::OpenAiChat, &chunk["usage"]).unwrap();
    /// }
    /// assert_eq!((acc.current().total_tokens, acc.chunks()), (14, 1));
    /// ```
    ///
    /// # Errors
    /// The chunk's usage could not be read; nothing is pushed.
    pub fn push_json(&mut self, format: UsageFormat, usage: &Value) -> Result<(), AdapterError> {
        if usage.is_null() {
            return Ok(());
        }
        let chunk = format.parse(usage)?.usage;
        self.push(chunk);
        Ok(())
    }

    /// Pushes the usage of one Anthropic Messages streaming event.
    ///
    /// `message_start` carries the input usage in `message.usage` (with an initial
    /// `output_tokens`); `message_delta` carries the cumulative `output_tokens` in `usage`
    /// (newer API versions repeat the input counts there). Both are snapshots, so they are
    /// merged as in [`UsageReporting::Cumulative`] mode whatever this accumulator's mode is.
    /// Other events (`content_block_delta`, `ping`, `message_stop`, `error`, ...) carry no
    /// usage and are skipped. Returns whether the event carried usage.
    ///
    /// ```
    /// use runmeta_core::metrics::{UsageAccumulator, UsageReporting};
    /// use serde_json::json;
    ///
    /// let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
    /// acc.push_anthropic_event(&json!({"type": "message_start", "message": {
    ///     "id": "msg_1", "type": "message", "role": "assistant", "content": [],
    ///     "usage": {"input_tokens": 472, "cache_read_input_tokens": 2048, "output_tokens": 2}}})).unwrap();
    /// acc.push_anthropic_event(&json!({"type": "content_block_delta", "index": 0,
    ///     "delta": {"type": "text_delta", "text": "Hello"}})).unwrap();
    /// acc.push_anthropic_event(&json!({"type": "message_delta",
    ///     "delta": {"stop_reason": "end_turn", "stop_sequence": null},
    ///     "usage": {"output_tokens": 89}})).unwrap();
    /// let u = acc.finish();
    /// assert_eq!((u.input_tokens, u.output_tokens, u.total_tokens), (2520, 89, 2609));
    /// assert_eq!(u.cache_read_tokens, 2048);
    /// ```
    ///
    /// # Errors
    /// The event is not an object, has no string `type`, or its usage has a field of the
    /// wrong type; nothing is pushed.
    pub fn push_anthropic_event(&mut self, event: &Value) -> Result<bool, AdapterError> {
        let at = |error: JsonFieldError| AdapterError {
            format: UsageFormat::Anthropic,
            error,
        };
        let f = Fields::of(event).map_err(at)?;
        let kind = f
            .string("type")
            .map_err(at)?
            .ok_or_else(|| at(JsonFieldError::missing("type", "a string")))?;
        let usage = match kind {
            "message_start" => {
                let message = f.object("message").map_err(at)?;
                match message.map(Fields::from_map) {
                    Some(m) => m
                        .object("usage")
                        .map_err(|e| at(e.within("message")))?
                        .map(|u| (u, "message.usage")),
                    None => None,
                }
            }
            "message_delta" => f.object("usage").map_err(at)?.map(|u| (u, "usage")),
            _ => None,
        };
        let Some((usage, path)) = usage else {
            return Ok(false);
        };
        let chunk = UsageFormat::Anthropic
            .parse(&Value::Object(usage.clone()))
            .map_err(|e| at(e.error.within(path)))?
            .usage;
        self.merge_snapshot(&chunk);
        self.chunks = self.chunks.saturating_add(1);
        Ok(true)
    }

    /// The usage so far (what [`UsageAccumulator::finish`] would return now).
    #[must_use]
    pub fn current(&self) -> Usage {
        let mut u = self.total;
        // Snapshots may carry input and output in different chunks (Anthropic), and a
        // hand-built delta may lack a total: a total is never below its parts.
        u.total_tokens = u
            .total_tokens
            .max(u.input_tokens.saturating_add(u.output_tokens));
        u.audio_total_tokens = u
            .audio_total_tokens
            .max(u.audio_input_tokens.saturating_add(u.audio_output_tokens));
        u
    }

    /// The call's usage. `total_tokens` is at least `input_tokens + output_tokens` and
    /// `audio_total_tokens` at least audio input + audio output.
    #[must_use]
    pub fn finish(self) -> Usage {
        self.current()
    }

    fn merge_snapshot(&mut self, s: &Usage) {
        let t = &mut self.total;
        t.input_tokens = t.input_tokens.max(s.input_tokens);
        t.output_tokens = t.output_tokens.max(s.output_tokens);
        t.total_tokens = t.total_tokens.max(s.total_tokens);
        t.reasoning_tokens = t.reasoning_tokens.max(s.reasoning_tokens);
        t.cache_read_tokens = t.cache_read_tokens.max(s.cache_read_tokens);
        t.cache_write_tokens = t.cache_write_tokens.max(s.cache_write_tokens);
        t.audio_input_tokens = t.audio_input_tokens.max(s.audio_input_tokens);
        t.audio_output_tokens = t.audio_output_tokens.max(s.audio_output_tokens);
        t.audio_total_tokens = t.audio_total_tokens.max(s.audio_total_tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delta_sums_and_fixes_a_missing_total() {
        let mut acc = UsageAccumulator::new(UsageReporting::Delta);
        acc.push(Usage::new(10, 0));
        acc.push(Usage {
            output_tokens: 5,
            ..Usage::default()
        });
        assert_eq!(acc.chunks(), 2);
        assert_eq!(acc.finish(), Usage::new(10, 5));
    }

    #[test]
    fn empty_accumulator_is_zero() {
        assert!(UsageAccumulator::new(UsageReporting::Cumulative)
            .finish()
            .is_zero());
    }

    #[test]
    fn anthropic_event_errors_name_the_path() {
        let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
        let e = acc
            .push_anthropic_event(
                &json!({"type": "message_delta", "usage": {"output_tokens": "9"}}),
            )
            .unwrap_err();
        assert_eq!(e.error.path(), "usage.output_tokens");
        let e = acc
            .push_anthropic_event(&json!({"type": "message_start", "message": {"usage": []}}))
            .unwrap_err();
        assert_eq!(e.error.path(), "message.usage");
        let e = acc.push_anthropic_event(&json!({"usage": {}})).unwrap_err();
        assert_eq!(e.error.path(), "type");
        assert_eq!(acc.chunks(), 0);
        assert_eq!(
            acc.push_anthropic_event(&json!({"type": "ping"})),
            Ok(false)
        );
        assert_eq!(
            acc.push_anthropic_event(&json!({"type": "message_start", "message": {}})),
            Ok(false)
        );
    }
}
