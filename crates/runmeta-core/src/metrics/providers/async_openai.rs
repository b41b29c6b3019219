//! From `async-openai`'s usage types (feature `async-openai`).
//!
//! | `async_openai` type | input | output | total | cache read | reasoning | audio in / out |
//! |---|---|---|---|---|---|---|
//! | `types::chat::CompletionUsage` | `prompt_tokens` | `completion_tokens` | `total_tokens` | `prompt_tokens_details.cached_tokens` | `completion_tokens_details.reasoning_tokens` | `prompt_tokens_details.audio_tokens` / `completion_tokens_details.audio_tokens` |
//! | `types::responses::ResponseUsage` | `input_tokens` | `output_tokens` | `total_tokens` | `input_tokens_details.cached_tokens` | `output_tokens_details.reasoning_tokens` | – |
//!
//! The result is the one [`openai_chat_usage`] and [`openai_responses_usage`] give for the
//! type's JSON, [`ProviderUsage::provider_metrics`] included: the other details
//! (`accepted_prediction_tokens`, `rejected_prediction_tokens`, `text_tokens`, `image_tokens`,
//! `cache_write_tokens`) are kept there under their `*_tokens_details` object, zeros left
//! out. The one difference: a negative count in the SDK's `i64` fields counts zero, where
//! the adapter keeps any number it does not map as given.
//!
//! The same type comes back in a whole response (`CreateChatCompletionResponse::usage`,
//! `Response::usage`) and in the last chunk of a stream asked for with
//! `stream_options.include_usage` (`CreateChatCompletionStreamResponse::usage`).
//!
//! ```
//! use async_openai::types::chat::CompletionUsage;
//! use runmeta_core::metrics::{ProviderUsage, Usage};
//!
//! // The `usage` of a chat completion by an o-series model with a cached prompt.
//! let usage: CompletionUsage = serde_json::from_value(serde_json::json!({
//!     "prompt_tokens": 2006, "completion_tokens": 1850, "total_tokens": 3856,
//!     "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
//!     "completion_tokens_details": {"reasoning_tokens": 1536, "audio_tokens": 0,
//!         "accepted_prediction_tokens": 12, "rejected_prediction_tokens": 3}
//! }))
//! .unwrap();
//!
//! // Inside a tracked run this records one message with these counts (outside, nothing).
//! runmeta_core::run::record_usage(&usage);
//!
//! let u = Usage::from(&usage);
//! assert_eq!((u.input_tokens, u.output_tokens, u.total_tokens), (2006, 1850, 3856));
//! assert_eq!((u.cache_read_tokens, u.reasoning_tokens), (1920, 1536));
//!
//! // What `Usage` has no field for is kept aside.
//! let p = ProviderUsage::from(&usage);
//! assert_eq!(p.usage, u);
//! assert_eq!(
//!     serde_json::Value::Object(p.provider_metrics),
//!     serde_json::json!({"completion_tokens_details":
//!         {"accepted_prediction_tokens": 12, "rejected_prediction_tokens": 3}})
//! );
//! ```
//!
//! The Responses API's usage:
//!
//! ```
//! use async_openai::types::responses::{InputTokenDetails, OutputTokenDetails, ResponseUsage};
//! use runmeta_core::metrics::Usage;
//!
//! let usage = ResponseUsage {
//!     input_tokens: 328,
//!     input_tokens_details: InputTokenDetails { cached_tokens: 256, cache_write_tokens: None },
//!     output_tokens: 52,
//!     output_tokens_details: OutputTokenDetails { reasoning_tokens: 32 },
//!     total_tokens: 380,
//! };
//! let u = Usage::from(usage);
//! assert_eq!((u.input_tokens, u.cache_read_tokens, u.reasoning_tokens), (328, 256, 32));
//! assert_eq!(u.total_tokens, 380);
//! ```
//!
//! [`openai_chat_usage`]: crate::metrics::adapters::openai_chat_usage
//! [`openai_responses_usage`]: crate::metrics::adapters::openai_responses_usage

use ::async_openai::types::chat::{CompletionTokensDetails, CompletionUsage, PromptTokensDetails};
use ::async_openai::types::responses::{InputTokenDetails, OutputTokenDetails, ResponseUsage};
use serde_json::{Map, Value};

use super::put_count;
use crate::metrics::{ProviderUsage, Usage};

/// An optional count: absent counts zero.
fn count(n: Option<u32>) -> u64 {
    n.map_or(0, u64::from)
}

/// A signed count: absent or negative counts zero.
fn signed(n: Option<i64>) -> u64 {
    n.map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// Inserts `inner` under `key` unless it is empty.
fn put_object(map: &mut Map<String, Value>, key: &str, inner: Map<String, Value>) {
    if !inner.is_empty() {
        map.insert(key.to_owned(), Value::Object(inner));
    }
}

// The structs are destructured in full, so a field added by a new async-openai release is a
// compile error here rather than a count silently lost.

fn chat(usage: &CompletionUsage) -> ProviderUsage {
    let CompletionUsage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        prompt_tokens_details,
        completion_tokens_details,
    } = usage;
    let mut provider_metrics = Map::new();
    let (mut cached, mut audio_in) = (0, 0);
    if let Some(PromptTokensDetails {
        audio_tokens,
        cached_tokens,
        text_tokens,
        image_tokens,
        cache_write_tokens,
    }) = prompt_tokens_details
    {
        cached = count(*cached_tokens);
        audio_in = count(*audio_tokens);
        let mut rest = Map::new();
        put_count(&mut rest, "text_tokens", signed(*text_tokens));
        put_count(&mut rest, "image_tokens", signed(*image_tokens));
        put_count(&mut rest, "cache_write_tokens", signed(*cache_write_tokens));
        put_object(&mut provider_metrics, "prompt_tokens_details", rest);
    }
    let (mut reasoning, mut audio_out) = (0, 0);
    if let Some(CompletionTokensDetails {
        accepted_prediction_tokens,
        audio_tokens,
        reasoning_tokens,
        rejected_prediction_tokens,
        text_tokens,
    }) = completion_tokens_details
    {
        reasoning = count(*reasoning_tokens);
        audio_out = count(*audio_tokens);
        let mut rest = Map::new();
        put_count(
            &mut rest,
            "accepted_prediction_tokens",
            count(*accepted_prediction_tokens),
        );
        put_count(
            &mut rest,
            "rejected_prediction_tokens",
            count(*rejected_prediction_tokens),
        );
        put_count(&mut rest, "text_tokens", signed(*text_tokens));
        put_object(&mut provider_metrics, "completion_tokens_details", rest);
    }
    ProviderUsage {
        usage: Usage {
            input_tokens: u64::from(*prompt_tokens),
            output_tokens: u64::from(*completion_tokens),
            total_tokens: u64::from(*total_tokens),
            reasoning_tokens: reasoning,
            cache_read_tokens: cached,
            cache_write_tokens: 0,
            audio_input_tokens: audio_in,
            audio_output_tokens: audio_out,
            audio_total_tokens: audio_in.saturating_add(audio_out),
        },
        provider_metrics,
    }
}

fn responses(usage: &ResponseUsage) -> ProviderUsage {
    let ResponseUsage {
        input_tokens,
        input_tokens_details:
            InputTokenDetails {
                cached_tokens,
                cache_write_tokens,
            },
        output_tokens,
        output_tokens_details: OutputTokenDetails { reasoning_tokens },
        total_tokens,
    } = usage;
    let mut provider_metrics = Map::new();
    let mut input_rest = Map::new();
    put_count(
        &mut input_rest,
        "cache_write_tokens",
        signed(*cache_write_tokens),
    );
    put_object(&mut provider_metrics, "input_tokens_details", input_rest);
    ProviderUsage {
        usage: Usage {
            total_tokens: u64::from(*total_tokens),
            reasoning_tokens: u64::from(*reasoning_tokens),
            cache_read_tokens: u64::from(*cached_tokens),
            ..Usage::new(u64::from(*input_tokens), u64::from(*output_tokens))
        },
        provider_metrics,
    }
}

/// OpenAI Chat Completions usage, as [`openai_chat_usage`] reads its JSON; the details
/// [`Usage`] has no field for go to [`ProviderUsage::provider_metrics`].
///
/// [`openai_chat_usage`]: crate::metrics::adapters::openai_chat_usage
impl From<&CompletionUsage> for ProviderUsage {
    fn from(usage: &CompletionUsage) -> Self {
        chat(usage)
    }
}

/// OpenAI Chat Completions usage, as [`openai_chat_usage`] reads its JSON.
///
/// [`openai_chat_usage`]: crate::metrics::adapters::openai_chat_usage
impl From<CompletionUsage> for ProviderUsage {
    fn from(usage: CompletionUsage) -> Self {
        chat(&usage)
    }
}

/// OpenAI Chat Completions usage: the counts of its [`ProviderUsage`].
impl From<&CompletionUsage> for Usage {
    fn from(usage: &CompletionUsage) -> Self {
        chat(usage).usage
    }
}

/// OpenAI Chat Completions usage: the counts of its [`ProviderUsage`].
impl From<CompletionUsage> for Usage {
    fn from(usage: CompletionUsage) -> Self {
        chat(&usage).usage
    }
}

/// OpenAI Responses API usage, as [`openai_responses_usage`] reads its JSON;
/// `input_tokens_details.cache_write_tokens` goes to [`ProviderUsage::provider_metrics`].
///
/// [`openai_responses_usage`]: crate::metrics::adapters::openai_responses_usage
impl From<&ResponseUsage> for ProviderUsage {
    fn from(usage: &ResponseUsage) -> Self {
        responses(usage)
    }
}

/// OpenAI Responses API usage, as [`openai_responses_usage`] reads its JSON.
///
/// [`openai_responses_usage`]: crate::metrics::adapters::openai_responses_usage
impl From<ResponseUsage> for ProviderUsage {
    fn from(usage: ResponseUsage) -> Self {
        responses(&usage)
    }
}

/// OpenAI Responses API usage: the counts of its [`ProviderUsage`].
impl From<&ResponseUsage> for Usage {
    fn from(usage: &ResponseUsage) -> Self {
        responses(usage).usage
    }
}

/// OpenAI Responses API usage: the counts of its [`ProviderUsage`].
impl From<ResponseUsage> for Usage {
    fn from(usage: ResponseUsage) -> Self {
        responses(&usage).usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::adapters::{openai_chat_usage, openai_responses_usage};
    use proptest::prelude::*;
    use serde_json::json;

    /// What the JSON adapter reads from the SDK value's own JSON.
    fn via_json_chat(usage: &CompletionUsage) -> ProviderUsage {
        openai_chat_usage(&serde_json::to_value(usage).unwrap()).unwrap()
    }

    fn via_json_responses(usage: &ResponseUsage) -> ProviderUsage {
        openai_responses_usage(&serde_json::to_value(usage).unwrap()).unwrap()
    }

    fn full_chat() -> CompletionUsage {
        CompletionUsage {
            prompt_tokens: 2006,
            completion_tokens: 1850,
            total_tokens: 3856,
            prompt_tokens_details: Some(PromptTokensDetails {
                audio_tokens: Some(40),
                cached_tokens: Some(1920),
                text_tokens: Some(1900),
                image_tokens: Some(66),
                cache_write_tokens: Some(86),
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                accepted_prediction_tokens: Some(12),
                audio_tokens: Some(210),
                reasoning_tokens: Some(1536),
                rejected_prediction_tokens: Some(3),
                text_tokens: Some(104),
            }),
        }
    }

    #[test]
    fn chat_maps_every_count() {
        let p = ProviderUsage::from(&full_chat());
        assert_eq!(
            p.usage,
            Usage {
                input_tokens: 2006,
                output_tokens: 1850,
                total_tokens: 3856,
                reasoning_tokens: 1536,
                cache_read_tokens: 1920,
                cache_write_tokens: 0,
                audio_input_tokens: 40,
                audio_output_tokens: 210,
                audio_total_tokens: 250,
            }
        );
        assert_eq!(
            Value::Object(p.provider_metrics),
            json!({
                "prompt_tokens_details": {
                    "text_tokens": 1900, "image_tokens": 66, "cache_write_tokens": 86
                },
                "completion_tokens_details": {
                    "accepted_prediction_tokens": 12,
                    "rejected_prediction_tokens": 3,
                    "text_tokens": 104
                }
            })
        );
    }

    #[test]
    fn chat_equals_the_json_adapter() {
        let full = full_chat();
        let bare = CompletionUsage {
            prompt_tokens: 9,
            completion_tokens: 12,
            total_tokens: 21,
            prompt_tokens_details: None,
            completion_tokens_details: None,
        };
        let zero_details = CompletionUsage {
            prompt_tokens_details: Some(PromptTokensDetails {
                audio_tokens: Some(0),
                cached_tokens: Some(0),
                ..PromptTokensDetails::default()
            }),
            completion_tokens_details: Some(CompletionTokensDetails::default()),
            ..bare.clone()
        };
        for usage in [full, bare, zero_details, CompletionUsage::default()] {
            assert_eq!(
                ProviderUsage::from(&usage),
                via_json_chat(&usage),
                "{usage:?}"
            );
        }
    }

    #[test]
    fn chat_by_value_and_by_reference_agree() {
        let usage = full_chat();
        assert_eq!(Usage::from(&usage), Usage::from(usage.clone()));
        assert_eq!(
            ProviderUsage::from(&usage),
            ProviderUsage::from(usage.clone())
        );
        assert_eq!(Usage::from(&usage), ProviderUsage::from(usage).usage);
    }

    #[test]
    fn chat_keeps_the_given_total() {
        // A total that is not input + output (as some OpenAI-compatible servers send) is kept,
        // as the adapter keeps it.
        let usage = CompletionUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 17,
            ..CompletionUsage::default()
        };
        assert_eq!(Usage::from(&usage).total_tokens, 17);
        assert_eq!(via_json_chat(&usage).usage.total_tokens, 17);
    }

    #[test]
    fn chat_extremes_widen_and_saturate_never_wrap() {
        let max = Some(u32::MAX);
        let usage = CompletionUsage {
            prompt_tokens: u32::MAX,
            completion_tokens: u32::MAX,
            total_tokens: u32::MAX,
            prompt_tokens_details: Some(PromptTokensDetails {
                audio_tokens: max,
                cached_tokens: max,
                text_tokens: Some(i64::MAX),
                image_tokens: Some(-5),
                cache_write_tokens: Some(i64::MIN),
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                audio_tokens: max,
                reasoning_tokens: max,
                text_tokens: Some(-1),
                ..CompletionTokensDetails::default()
            }),
        };
        let p = ProviderUsage::from(&usage);
        let big = u64::from(u32::MAX);
        assert_eq!(p.usage.input_tokens, big);
        assert_eq!(p.usage.total_tokens, big);
        assert_eq!(p.usage.audio_total_tokens, 2 * big);
        // Negative counts count zero, so they are left out with the zeros.
        assert_eq!(
            Value::Object(p.provider_metrics),
            json!({"prompt_tokens_details": {"text_tokens": i64::MAX}})
        );
    }

    #[test]
    fn responses_maps_every_count() {
        let usage = ResponseUsage {
            input_tokens: 328,
            input_tokens_details: InputTokenDetails {
                cached_tokens: 256,
                cache_write_tokens: Some(72),
            },
            output_tokens: 52,
            output_tokens_details: OutputTokenDetails {
                reasoning_tokens: 32,
            },
            total_tokens: 380,
        };
        let p = ProviderUsage::from(&usage);
        assert_eq!(
            p.usage,
            Usage {
                cache_read_tokens: 256,
                reasoning_tokens: 32,
                ..Usage::new(328, 52)
            }
        );
        assert_eq!(
            Value::Object(p.provider_metrics.clone()),
            json!({"input_tokens_details": {"cache_write_tokens": 72}})
        );
        assert_eq!(p, via_json_responses(&usage));
        assert_eq!(Usage::from(usage.clone()), p.usage);
        assert_eq!(ProviderUsage::from(usage), p);
    }

    #[test]
    fn responses_equals_the_json_adapter_on_defaults_and_extremes() {
        let max = ResponseUsage {
            input_tokens: u32::MAX,
            input_tokens_details: InputTokenDetails {
                cached_tokens: u32::MAX,
                cache_write_tokens: Some(i64::MAX),
            },
            output_tokens: u32::MAX,
            output_tokens_details: OutputTokenDetails {
                reasoning_tokens: u32::MAX,
            },
            total_tokens: u32::MAX,
        };
        for usage in [ResponseUsage::default(), max] {
            assert_eq!(ProviderUsage::from(&usage), via_json_responses(&usage));
        }
        let negative = ResponseUsage {
            input_tokens_details: InputTokenDetails {
                cached_tokens: 0,
                cache_write_tokens: Some(-3),
            },
            ..ResponseUsage::default()
        };
        assert!(ProviderUsage::from(&negative).provider_metrics.is_empty());
    }

    fn opt<T: std::fmt::Debug + Clone>(
        value: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<T>> {
        prop::option::of(value)
    }

    /// Counts from zero to `u32::MAX`, zeros often (the adapters drop them).
    fn small() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), 0u32..5000, any::<u32>()]
    }

    /// Non-negative `i64` counts: the adapter keeps a negative leftover as given, the
    /// conversion counts it zero (see the module docs).
    fn wide() -> impl Strategy<Value = i64> {
        prop_oneof![Just(0i64), 0i64..5000, 0..=i64::MAX]
    }

    fn chat_usage() -> impl Strategy<Value = CompletionUsage> {
        let prompt = opt((
            opt(small()),
            opt(small()),
            opt(wide()),
            opt(wide()),
            opt(wide()),
        ))
        .prop_map(|d| {
            d.map(|(audio, cached, text, image, write)| PromptTokensDetails {
                audio_tokens: audio,
                cached_tokens: cached,
                text_tokens: text,
                image_tokens: image,
                cache_write_tokens: write,
            })
        });
        let completion = opt((
            opt(small()),
            opt(small()),
            opt(small()),
            opt(small()),
            opt(wide()),
        ))
        .prop_map(|d| {
            d.map(
                |(accepted, audio, reasoning, rejected, text)| CompletionTokensDetails {
                    accepted_prediction_tokens: accepted,
                    audio_tokens: audio,
                    reasoning_tokens: reasoning,
                    rejected_prediction_tokens: rejected,
                    text_tokens: text,
                },
            )
        });
        (small(), small(), small(), prompt, completion).prop_map(
            |(input, output, total, prompt, completion)| CompletionUsage {
                prompt_tokens: input,
                completion_tokens: output,
                total_tokens: total,
                prompt_tokens_details: prompt,
                completion_tokens_details: completion,
            },
        )
    }

    fn responses_usage() -> impl Strategy<Value = ResponseUsage> {
        (small(), small(), opt(wide()), small(), small(), small()).prop_map(
            |(input, cached, write, output, reasoning, total)| ResponseUsage {
                input_tokens: input,
                input_tokens_details: InputTokenDetails {
                    cached_tokens: cached,
                    cache_write_tokens: write,
                },
                output_tokens: output,
                output_tokens_details: OutputTokenDetails {
                    reasoning_tokens: reasoning,
                },
                total_tokens: total,
            },
        )
    }

    proptest! {
        #[test]
        fn any_chat_usage_converts_as_its_json_reads(usage in chat_usage()) {
            prop_assert_eq!(ProviderUsage::from(&usage), via_json_chat(&usage));
        }

        #[test]
        fn any_responses_usage_converts_as_its_json_reads(usage in responses_usage()) {
            prop_assert_eq!(ProviderUsage::from(&usage), via_json_responses(&usage));
        }
    }
}
