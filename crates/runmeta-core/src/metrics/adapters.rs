//! Adapters from providers' usage JSON to [`Usage`].
//!
//! Every adapter follows the OpenTelemetry GenAI convention: cached input tokens are part of
//! `input_tokens` and reasoning tokens part of `output_tokens`. Missing fields count zero;
//! a field of the wrong type is an error naming it. Fields the adapter does not map are kept
//! in [`ProviderUsage::provider_metrics`] as given (zeros, `null`s and empty objects dropped),
//! so nothing the provider reported is lost.
//!
//! | format | input | output | cache read / write | reasoning |
//! |---|---|---|---|---|
//! | [OpenAI Chat Completions](UsageFormat::OpenAiChat) | `prompt_tokens` | `completion_tokens` | `prompt_tokens_details.cached_tokens` / – | `completion_tokens_details.reasoning_tokens` |
//! | [OpenAI Responses](UsageFormat::OpenAiResponses) | `input_tokens` | `output_tokens` | `input_tokens_details.cached_tokens` / – | `output_tokens_details.reasoning_tokens` |
//! | [Anthropic Messages](UsageFormat::Anthropic) | `input_tokens` + `cache_read_input_tokens` + `cache_creation_input_tokens` | `output_tokens` | `cache_read_input_tokens` / `cache_creation_input_tokens` | – |
//! | [Google Gemini](UsageFormat::Gemini) | `promptTokenCount` + `toolUsePromptTokenCount` | `candidatesTokenCount` + `thoughtsTokenCount` | `cachedContentTokenCount` / – | `thoughtsTokenCount` |

use std::fmt;

use serde_json::{Map, Value};

use super::json::{Fields, JsonFieldError};
use super::{Metrics, Usage};

/// A provider's usage read into [`Usage`], with what did not map kept aside.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ProviderUsage {
    /// The token counts.
    pub usage: Usage,
    /// Fields of the provider's usage that have no place in [`Usage`] (such as OpenAI's
    /// `accepted_prediction_tokens` or Anthropic's `service_tier`), nested as given.
    pub provider_metrics: Map<String, Value>,
}

impl ProviderUsage {
    /// The usage as [`Metrics`] (counts and provider metrics; no timing or cost).
    #[must_use]
    pub fn into_metrics(self) -> Metrics {
        Metrics {
            usage: self.usage,
            provider_metrics: self.provider_metrics,
            ..Metrics::default()
        }
    }
}

/// A provider's usage that could not be read: the format and the field at fault.
///
/// ```
/// use runmeta_core::metrics::UsageFormat;
/// let err = UsageFormat::OpenAiChat
///     .parse(&serde_json::json!({"prompt_tokens": "12"}))
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "OpenAI Chat Completions usage: prompt_tokens: expected a non-negative integer, found string"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{format} usage: {error}")]
pub struct AdapterError {
    /// The format being read.
    pub format: UsageFormat,
    /// The field at fault.
    #[source]
    pub error: JsonFieldError,
}

/// The usage shapes the adapters read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsageFormat {
    /// OpenAI Chat Completions `usage` (also most OpenAI-compatible APIs).
    OpenAiChat,
    /// OpenAI Responses API `usage`.
    OpenAiResponses,
    /// Anthropic Messages `usage`.
    Anthropic,
    /// Google Gemini `usageMetadata`.
    Gemini,
}

impl UsageFormat {
    /// A short name for messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            UsageFormat::OpenAiChat => "OpenAI Chat Completions",
            UsageFormat::OpenAiResponses => "OpenAI Responses",
            UsageFormat::Anthropic => "Anthropic Messages",
            UsageFormat::Gemini => "Gemini",
        }
    }

    /// Reads `usage` in this format.
    ///
    /// # Errors
    /// `usage` is not an object, or one of its fields has the wrong type.
    pub fn parse(self, usage: &Value) -> Result<ProviderUsage, AdapterError> {
        let read = || -> Result<ProviderUsage, JsonFieldError> {
            let f = Fields::of(usage)?;
            match self {
                UsageFormat::OpenAiChat => openai_chat(&f),
                UsageFormat::OpenAiResponses => openai_responses(&f),
                UsageFormat::Anthropic => anthropic(&f),
                UsageFormat::Gemini => gemini(&f),
            }
        };
        read().map_err(|error| AdapterError {
            format: self,
            error,
        })
    }

    /// Guesses the format from the field names: `promptTokenCount` → Gemini,
    /// `prompt_tokens` → OpenAI Chat, Anthropic's `cache_*_input_tokens` → Anthropic,
    /// `input_tokens_details`/`output_tokens_details`/`total_tokens` with `input_tokens` →
    /// OpenAI Responses, a bare `input_tokens`/`output_tokens` → Anthropic (the two agree
    /// when there is no cache field). `None` when nothing matches.
    #[must_use]
    pub fn detect(usage: &Value) -> Option<UsageFormat> {
        let map = usage.as_object()?;
        let has = |k: &str| map.contains_key(k);
        if has("promptTokenCount") || has("candidatesTokenCount") || has("totalTokenCount") {
            Some(UsageFormat::Gemini)
        } else if has("prompt_tokens") || has("completion_tokens") {
            Some(UsageFormat::OpenAiChat)
        } else if has("cache_read_input_tokens") || has("cache_creation_input_tokens") {
            Some(UsageFormat::Anthropic)
        } else if has("input_tokens_details")
            || has("output_tokens_details")
            || (has("input_tokens") && has("total_tokens"))
        {
            Some(UsageFormat::OpenAiResponses)
        } else if has("input_tokens") || has("output_tokens") {
            Some(UsageFormat::Anthropic)
        } else {
            None
        }
    }
}

impl fmt::Display for UsageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads OpenAI Chat Completions `usage`.
///
/// ```
/// let usage = serde_json::json!({
///     "prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
///     "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
///     "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
///         "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
/// });
/// let u = runmeta_core::metrics::adapters::openai_chat_usage(&usage).unwrap().usage;
/// assert_eq!((u.input_tokens, u.cache_read_tokens, u.total_tokens), (1117, 1024, 1163));
/// ```
///
/// # Errors
/// See [`UsageFormat::parse`].
pub fn openai_chat_usage(usage: &Value) -> Result<ProviderUsage, AdapterError> {
    UsageFormat::OpenAiChat.parse(usage)
}

/// Reads OpenAI Responses API `usage`.
///
/// # Errors
/// See [`UsageFormat::parse`].
pub fn openai_responses_usage(usage: &Value) -> Result<ProviderUsage, AdapterError> {
    UsageFormat::OpenAiResponses.parse(usage)
}

/// Reads Anthropic Messages `usage`. Anthropic's `input_tokens` excludes cached tokens; the
/// result's `input_tokens` adds `cache_read_input_tokens` and `cache_creation_input_tokens`
/// back, as OpenTelemetry GenAI counts input.
///
/// ```
/// let usage = serde_json::json!({
///     "input_tokens": 21, "cache_creation_input_tokens": 188086,
///     "cache_read_input_tokens": 0, "output_tokens": 393, "service_tier": "standard"
/// });
/// let p = runmeta_core::metrics::adapters::anthropic_usage(&usage).unwrap();
/// assert_eq!(p.usage.input_tokens, 188107);
/// assert_eq!(p.usage.cache_write_tokens, 188086);
/// assert_eq!(p.usage.total_tokens, 188500);
/// assert_eq!(p.provider_metrics["service_tier"], "standard");
/// ```
///
/// # Errors
/// See [`UsageFormat::parse`].
pub fn anthropic_usage(usage: &Value) -> Result<ProviderUsage, AdapterError> {
    UsageFormat::Anthropic.parse(usage)
}

/// Reads Google Gemini `usageMetadata`. Thoughts are reasoning within the output:
/// `output_tokens = candidatesTokenCount + thoughtsTokenCount`.
///
/// # Errors
/// See [`UsageFormat::parse`].
pub fn gemini_usage(usage_metadata: &Value) -> Result<ProviderUsage, AdapterError> {
    UsageFormat::Gemini.parse(usage_metadata)
}

/// Reads a count at `key`, 0 when absent.
fn count(f: &Fields<'_>, key: &str) -> Result<u64, JsonFieldError> {
    Ok(f.count(key)?.unwrap_or(0))
}

fn sub_count(
    obj: Option<&Map<String, Value>>,
    parent: &str,
    key: &str,
) -> Result<u64, JsonFieldError> {
    match obj {
        None => Ok(0),
        Some(m) => count(&Fields::from_map(m), key).map_err(|e| e.within(parent)),
    }
}

/// Everything in `map` except `mapped` keys, recursively dropping zeros, `null`s and empty
/// objects; `nested` lists sub-objects whose own keys in the given list are mapped.
fn leftovers(
    map: &Map<String, Value>,
    mapped: &[&str],
    nested: &[(&str, &[&str])],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        if mapped.contains(&key.as_str()) {
            continue;
        }
        let value = match (value, nested.iter().find(|(k, _)| k == key)) {
            (Value::Object(inner), Some((_, inner_mapped))) => {
                Value::Object(leftovers(inner, inner_mapped, &[]))
            }
            (Value::Object(inner), None) => Value::Object(leftovers(inner, &[], &[])),
            (other, _) => other.clone(),
        };
        let empty = match &value {
            Value::Null => true,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Object(m) => m.is_empty(),
            _ => false,
        };
        if !empty {
            out.insert(key.clone(), value);
        }
    }
    out
}

fn openai_chat(f: &Fields<'_>) -> Result<ProviderUsage, JsonFieldError> {
    let input = count(f, "prompt_tokens")?;
    let output = count(f, "completion_tokens")?;
    let prompt = f.object("prompt_tokens_details")?;
    let completion = f.object("completion_tokens_details")?;
    let audio_in = sub_count(prompt, "prompt_tokens_details", "audio_tokens")?;
    let audio_out = sub_count(completion, "completion_tokens_details", "audio_tokens")?;
    let usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: f
            .count("total_tokens")?
            .unwrap_or_else(|| input.saturating_add(output)),
        reasoning_tokens: sub_count(completion, "completion_tokens_details", "reasoning_tokens")?,
        cache_read_tokens: sub_count(prompt, "prompt_tokens_details", "cached_tokens")?,
        cache_write_tokens: 0,
        audio_input_tokens: audio_in,
        audio_output_tokens: audio_out,
        audio_total_tokens: audio_in.saturating_add(audio_out),
    };
    let extras = leftovers(
        f.map(),
        &["prompt_tokens", "completion_tokens", "total_tokens"],
        &[
            ("prompt_tokens_details", &["cached_tokens", "audio_tokens"]),
            (
                "completion_tokens_details",
                &["reasoning_tokens", "audio_tokens"],
            ),
        ],
    );
    Ok(ProviderUsage {
        usage,
        provider_metrics: extras,
    })
}

fn openai_responses(f: &Fields<'_>) -> Result<ProviderUsage, JsonFieldError> {
    let input = count(f, "input_tokens")?;
    let output = count(f, "output_tokens")?;
    let input_details = f.object("input_tokens_details")?;
    let output_details = f.object("output_tokens_details")?;
    let usage = Usage {
        total_tokens: f
            .count("total_tokens")?
            .unwrap_or_else(|| input.saturating_add(output)),
        reasoning_tokens: sub_count(output_details, "output_tokens_details", "reasoning_tokens")?,
        cache_read_tokens: sub_count(input_details, "input_tokens_details", "cached_tokens")?,
        ..Usage::new(input, output)
    };
    let extras = leftovers(
        f.map(),
        &["input_tokens", "output_tokens", "total_tokens"],
        &[
            ("input_tokens_details", &["cached_tokens"]),
            ("output_tokens_details", &["reasoning_tokens"]),
        ],
    );
    Ok(ProviderUsage {
        usage,
        provider_metrics: extras,
    })
}

fn anthropic(f: &Fields<'_>) -> Result<ProviderUsage, JsonFieldError> {
    let uncached = count(f, "input_tokens")?;
    let cache_read = count(f, "cache_read_input_tokens")?;
    let cache_write = count(f, "cache_creation_input_tokens")?;
    let input = uncached
        .saturating_add(cache_read)
        .saturating_add(cache_write);
    let usage = Usage {
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        ..Usage::new(input, count(f, "output_tokens")?)
    };
    let extras = leftovers(
        f.map(),
        &[
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ],
        &[],
    );
    Ok(ProviderUsage {
        usage,
        provider_metrics: extras,
    })
}

/// Sums the `tokenCount` of the `AUDIO` entries of a Gemini modality list
/// (`[{"modality": "AUDIO", "tokenCount": 12}, ...]`).
fn gemini_audio(f: &Fields<'_>, key: &str) -> Result<u64, JsonFieldError> {
    let Some(list) = f.array(key)? else {
        return Ok(0);
    };
    let mut total: u64 = 0;
    for (i, entry) in list.iter().enumerate() {
        let e = Fields::of(entry).map_err(|e| e.within(&format!("{key}[{i}]")))?;
        if e.string("modality")
            .map_err(|e| e.within(&format!("{key}[{i}]")))?
            == Some("AUDIO")
        {
            let n = count(&e, "tokenCount").map_err(|e| e.within(&format!("{key}[{i}]")))?;
            total = total.saturating_add(n);
        }
    }
    Ok(total)
}

fn gemini(f: &Fields<'_>) -> Result<ProviderUsage, JsonFieldError> {
    let prompt = count(f, "promptTokenCount")?;
    let tool_prompt = count(f, "toolUsePromptTokenCount")?;
    let candidates = count(f, "candidatesTokenCount")?;
    let thoughts = count(f, "thoughtsTokenCount")?;
    let input = prompt.saturating_add(tool_prompt);
    let output = candidates.saturating_add(thoughts);
    let audio_in = gemini_audio(f, "promptTokensDetails")?;
    let audio_out = gemini_audio(f, "candidatesTokensDetails")?;
    let usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: f
            .count("totalTokenCount")?
            .unwrap_or_else(|| input.saturating_add(output)),
        reasoning_tokens: thoughts,
        cache_read_tokens: count(f, "cachedContentTokenCount")?,
        cache_write_tokens: 0,
        audio_input_tokens: audio_in,
        audio_output_tokens: audio_out,
        audio_total_tokens: audio_in.saturating_add(audio_out),
    };
    let extras = leftovers(
        f.map(),
        &[
            "promptTokenCount",
            "toolUsePromptTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
            "totalTokenCount",
            "cachedContentTokenCount",
        ],
        &[],
    );
    Ok(ProviderUsage {
        usage,
        provider_metrics: extras,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leftovers_drop_zeros_nulls_and_empty_objects() {
        let map = json!({
            "a": 0, "b": null, "c": {"d": 0}, "e": "x", "f": {"g": 2, "h": 0.0}, "m": 5
        });
        let out = leftovers(map.as_object().unwrap(), &["m"], &[]);
        assert_eq!(Value::Object(out), json!({"e": "x", "f": {"g": 2}}));
    }

    #[test]
    fn not_an_object_is_an_error() {
        let e = UsageFormat::Gemini.parse(&json!([1, 2])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Gemini usage: expected an object, found array"
        );
    }

    #[test]
    fn nested_wrong_types_name_the_path() {
        let e = openai_chat_usage(&json!({"prompt_tokens_details": {"cached_tokens": -1}}))
            .unwrap_err();
        assert_eq!(e.error.path(), "prompt_tokens_details.cached_tokens");
        let e = openai_chat_usage(&json!({"prompt_tokens_details": 3})).unwrap_err();
        assert_eq!(
            e.error.to_string(),
            "prompt_tokens_details: expected an object, found 3"
        );
        let e = gemini_usage(
            &json!({"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(e.error.path(), "promptTokensDetails[0].tokenCount");
    }
}
