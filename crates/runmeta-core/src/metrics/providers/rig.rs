//! From `rig-core`'s usage type (feature `rig`).
//!
//! `rig_core::completion::Usage` is what every rig provider reports for a completion
//! (`CompletionResponse::usage`), already in the OpenTelemetry GenAI convention: its input
//! counts cache reads and writes, its output counts reasoning. A counter rig leaves
//! unreported (`None`) counts zero; a total rig leaves out is input + output (saturating).
//!
//! | rig | [`Usage`] |
//! |---|---|
//! | `input_tokens` | `input_tokens` |
//! | `output_tokens` | `output_tokens` |
//! | `total_tokens` | `total_tokens` (input + output when `None`) |
//! | `cached_input_tokens` | `cache_read_tokens` |
//! | `cache_creation_input_tokens` | `cache_write_tokens` |
//! | `reasoning_tokens` | `reasoning_tokens` |
//! | `tool_use_prompt_tokens` | [`ProviderUsage::provider_metrics`] (it is already in `input_tokens`) |
//! | `cost.total` (USD) | [`Metrics::cost`] |
//!
//! rig has no audio counts. Its cost goes only into [`Metrics`]: [`Usage`] and
//! [`ProviderUsage`] hold tokens.
//!
//! ```
//! use rig_core::completion::{Cost, Usage as RigUsage};
//! use runmeta_core::metrics::{Metrics, ProviderUsage, Usage};
//!
//! // `response.usage` of a rig completion with a cached prompt and a reported cost.
//! let usage = RigUsage::new()
//!     .input_tokens(1200)
//!     .output_tokens(300)
//!     .total_tokens(1500)
//!     .cached_input_tokens(1024)
//!     .reasoning_tokens(128)
//!     .cost(Cost::from_total(0.0042));
//!
//! // Inside a tracked run this records one message with these counts (outside, nothing).
//! // rig's usage is `Copy`, so it goes by value.
//! runmeta_core::run::record_usage(usage);
//!
//! let u = Usage::from(&usage);
//! assert_eq!((u.input_tokens, u.output_tokens, u.total_tokens), (1200, 300, 1500));
//! assert_eq!((u.cache_read_tokens, u.reasoning_tokens), (1024, 128));
//! assert_eq!(ProviderUsage::from(&usage).usage, u);
//!
//! // `Metrics` keeps rig's cost too: record it as a message to keep it in the run.
//! let m = Metrics::from(&usage);
//! assert_eq!(m.usage, u);
//! assert_eq!(m.cost.map(|c| c.as_nanos()), Some(4_200_000));
//! runmeta_core::run::record_message(runmeta_core::metrics::MessageMetrics {
//!     metrics: m,
//!     ..Default::default()
//! });
//! ```

use rig_core::completion::Usage as RigUsage;
use serde_json::Map;

use super::put_count;
use crate::metrics::{Cost, Metrics, ProviderUsage, Usage};

fn convert(rig: &RigUsage) -> ProviderUsage {
    let input = rig.input_tokens.unwrap_or(0);
    let output = rig.output_tokens.unwrap_or(0);
    let mut provider_metrics = Map::new();
    put_count(
        &mut provider_metrics,
        "tool_use_prompt_tokens",
        rig.tool_use_prompt_tokens.unwrap_or(0),
    );
    ProviderUsage {
        usage: Usage {
            total_tokens: rig
                .total_tokens
                .unwrap_or_else(|| input.saturating_add(output)),
            reasoning_tokens: rig.reasoning_tokens.unwrap_or(0),
            cache_read_tokens: rig.cached_input_tokens.unwrap_or(0),
            cache_write_tokens: rig.cache_creation_input_tokens.unwrap_or(0),
            ..Usage::new(input, output)
        },
        provider_metrics,
    }
}

/// rig's completion usage; `tool_use_prompt_tokens` goes to
/// [`ProviderUsage::provider_metrics`], the cost is left out (see [`Metrics`]'s `From`).
impl From<&RigUsage> for ProviderUsage {
    fn from(usage: &RigUsage) -> Self {
        convert(usage)
    }
}

/// rig's completion usage; `tool_use_prompt_tokens` goes to
/// [`ProviderUsage::provider_metrics`], the cost is left out (see [`Metrics`]'s `From`).
impl From<RigUsage> for ProviderUsage {
    fn from(usage: RigUsage) -> Self {
        convert(&usage)
    }
}

/// rig's completion usage: the token counts.
impl From<&RigUsage> for Usage {
    fn from(usage: &RigUsage) -> Self {
        convert(usage).usage
    }
}

/// rig's completion usage: the token counts.
impl From<RigUsage> for Usage {
    fn from(usage: RigUsage) -> Self {
        convert(&usage).usage
    }
}

/// rig's completion usage with its cost: the counts and provider metrics of its
/// [`ProviderUsage`], and `cost.total` (USD) as [`Metrics::cost`] (left out when negative or
/// not finite). No timing.
impl From<&RigUsage> for Metrics {
    fn from(usage: &RigUsage) -> Self {
        Metrics {
            cost: usage.cost.and_then(|c| Cost::from_f64(c.total)),
            ..convert(usage).into_metrics()
        }
    }
}

/// rig's completion usage with its cost; see the impl for `&rig_core::completion::Usage`.
impl From<RigUsage> for Metrics {
    fn from(usage: RigUsage) -> Self {
        Metrics::from(&usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::adapters::{anthropic_usage, gemini_usage, openai_chat_usage};
    use proptest::prelude::*;
    use rig_core::completion::Cost as RigCost;
    use serde_json::{json, Value};

    #[test]
    fn maps_every_counter() {
        let rig = RigUsage::new()
            .input_tokens(5000)
            .output_tokens(700)
            .total_tokens(5700)
            .cached_input_tokens(3000)
            .cache_creation_input_tokens(1500)
            .tool_use_prompt_tokens(40)
            .reasoning_tokens(400);
        let p = ProviderUsage::from(&rig);
        assert_eq!(
            p.usage,
            Usage {
                input_tokens: 5000,
                output_tokens: 700,
                total_tokens: 5700,
                reasoning_tokens: 400,
                cache_read_tokens: 3000,
                cache_write_tokens: 1500,
                audio_input_tokens: 0,
                audio_output_tokens: 0,
                audio_total_tokens: 0,
            }
        );
        assert_eq!(
            Value::Object(p.provider_metrics.clone()),
            json!({"tool_use_prompt_tokens": 40})
        );
        assert_eq!(Usage::from(&rig), p.usage);
        assert_eq!(Usage::from(rig), p.usage);
        assert_eq!(ProviderUsage::from(rig), p);
    }

    #[test]
    fn unreported_counters_count_zero_and_the_total_is_derived() {
        assert_eq!(Usage::from(RigUsage::new()), Usage::default());
        assert!(ProviderUsage::from(RigUsage::new())
            .provider_metrics
            .is_empty());
        let rig = RigUsage::new().input_tokens(10).output_tokens(5);
        assert_eq!(Usage::from(&rig), Usage::new(10, 5));
        let only_input = RigUsage::new().input_tokens(10);
        assert_eq!(Usage::from(&only_input), Usage::new(10, 0));
        // A reported zero is zero, not "derive it".
        let zero_total = rig.total_tokens(0);
        assert_eq!(Usage::from(&zero_total).total_tokens, 0);
    }

    #[test]
    fn a_derived_total_saturates() {
        let rig = RigUsage::new().input_tokens(u64::MAX).output_tokens(2);
        let u = Usage::from(&rig);
        assert_eq!(u.total_tokens, u64::MAX);
        assert_eq!(u.output_tokens, 2);
    }

    #[test]
    fn metrics_carry_the_cost() {
        let rig = RigUsage::new()
            .input_tokens(100)
            .output_tokens(20)
            .cost(RigCost::from_parts(0.25, 1.5, 0.0, 0.0));
        let m = Metrics::from(&rig);
        assert_eq!(m.usage, Usage::new(100, 20));
        assert_eq!(m.cost, Some(Cost::from_nanos(1_750_000_000)));
        assert!(m.provider_metrics.is_empty());
        assert!(m.duration.is_none() && m.time_to_first_token.is_none());
        assert_eq!(Metrics::from(rig), m);

        assert_eq!(Metrics::from(RigUsage::new().input_tokens(1)).cost, None);
        let zero = RigUsage::new().cost(RigCost::from_total(0.0));
        assert_eq!(Metrics::from(zero).cost, Some(Cost::ZERO));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let rig = RigUsage::new().cost(RigCost::from_total(bad));
            assert_eq!(Metrics::from(rig).cost, None, "{bad}");
        }
        let tools = RigUsage::new().tool_use_prompt_tokens(7);
        assert_eq!(
            Value::Object(Metrics::from(tools).provider_metrics),
            json!({"tool_use_prompt_tokens": 7})
        );
    }

    /// rig reads Gemini's `usageMetadata` with a public function: the same payload through
    /// rig and through runmeta's own Gemini adapter gives the same counts.
    #[test]
    fn rig_gemini_usage_equals_the_gemini_adapter() {
        let payloads = [
            json!({
                "promptTokenCount": 1520, "candidatesTokenCount": 210,
                "thoughtsTokenCount": 890, "cachedContentTokenCount": 1024,
                "toolUsePromptTokenCount": 35, "totalTokenCount": 2655
            }),
            json!({"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15}),
            json!({}),
        ];
        for payload in payloads {
            let rig = rig_core::providers::gemini::completion::usage_of(&payload);
            let ours = gemini_usage(&payload).unwrap();
            assert_eq!(Usage::from(&rig), ours.usage, "{payload}");
        }
    }

    /// Anthropic's `input_tokens` leaves the cache out; rig and runmeta both add it back, so
    /// rig's normalized usage of a message converts to what the Anthropic adapter reads.
    #[test]
    fn rig_normalized_anthropic_usage_equals_the_anthropic_adapter() {
        let (uncached, read, write, output) = (21u64, 1800u64, 188_086u64, 393u64);
        let payload = json!({
            "input_tokens": uncached, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write, "output_tokens": output
        });
        let rig = RigUsage::new()
            .input_tokens(uncached + read + write)
            .output_tokens(output)
            .total_tokens(uncached + read + write + output)
            .cached_input_tokens(read)
            .cache_creation_input_tokens(write);
        assert_eq!(Usage::from(&rig), anthropic_usage(&payload).unwrap().usage);
    }

    /// The same for OpenAI Chat Completions, cached prompt and reasoning included.
    #[test]
    fn rig_normalized_openai_usage_equals_the_openai_adapter() {
        let payload = json!({
            "prompt_tokens": 2006, "completion_tokens": 1850, "total_tokens": 3856,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 1536}
        });
        let rig = RigUsage::new()
            .input_tokens(2006)
            .output_tokens(1850)
            .total_tokens(3856)
            .cached_input_tokens(1920)
            .reasoning_tokens(1536);
        assert_eq!(
            Usage::from(&rig),
            openai_chat_usage(&payload).unwrap().usage
        );
    }

    proptest! {
        #[test]
        fn never_wraps_and_keeps_every_reported_counter(
            input in prop::option::of(any::<u64>()),
            output in prop::option::of(any::<u64>()),
            total in prop::option::of(any::<u64>()),
            cached in prop::option::of(any::<u64>()),
            written in prop::option::of(any::<u64>()),
            tools in prop::option::of(any::<u64>()),
            reasoning in prop::option::of(any::<u64>()),
        ) {
            let rig = RigUsage::new()
                .input_tokens(input)
                .output_tokens(output)
                .total_tokens(total)
                .cached_input_tokens(cached)
                .cache_creation_input_tokens(written)
                .tool_use_prompt_tokens(tools)
                .reasoning_tokens(reasoning);
            let p = ProviderUsage::from(&rig);
            let (i, o) = (input.unwrap_or(0), output.unwrap_or(0));
            prop_assert_eq!(p.usage.input_tokens, i);
            prop_assert_eq!(p.usage.output_tokens, o);
            prop_assert_eq!(p.usage.total_tokens, total.unwrap_or(i.saturating_add(o)));
            prop_assert_eq!(p.usage.cache_read_tokens, cached.unwrap_or(0));
            prop_assert_eq!(p.usage.cache_write_tokens, written.unwrap_or(0));
            prop_assert_eq!(p.usage.reasoning_tokens, reasoning.unwrap_or(0));
            prop_assert_eq!(
                p.provider_metrics.get("tool_use_prompt_tokens").and_then(Value::as_u64),
                tools.filter(|&n| n != 0)
            );
        }
    }
}
