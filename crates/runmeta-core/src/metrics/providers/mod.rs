//! Conversions from provider SDKs' usage types, each behind a cargo feature.
//!
//! | feature | from | into |
//! |---|---|---|
//! | `async-openai` | `async_openai::types::chat::CompletionUsage` (Chat Completions), `async_openai::types::responses::ResponseUsage` (Responses) | [`Usage`], [`ProviderUsage`] |
//! | `rig` | `rig_core::completion::Usage` | [`Usage`], [`ProviderUsage`], [`Metrics`] (with its cost) |
//!
//! Each is a `From` impl, by value and by reference, so the SDK's value goes straight to
//! [`record_usage`](crate::run::record_usage) or
//! [`ModelCall::finish`](crate::run::ModelCall::finish), which take `impl Into<Usage>`; the
//! examples are in the feature's module.
//!
//! The counts follow the OpenTelemetry GenAI convention, as the JSON
//! [adapters](super::adapters) do: cached input is part of `input_tokens`, reasoning part of
//! `output_tokens`, and a total the provider gives is kept. A conversion from an OpenAI type
//! gives exactly what the matching adapter gives for the type's JSON, so usage read off the
//! wire and usage read from the SDK aggregate alike. Counts never wrap: `u32` and `u64`
//! widen, a negative `i64` counts zero and sums saturate. Counts [`Usage`] has no field for
//! (OpenAI's accepted and rejected prediction tokens, its text, image and cache-write token
//! details, rig's tool-use prompt tokens) go into [`ProviderUsage::provider_metrics`], zeros
//! left out, nested as in the provider's JSON.
//!
//! [`Usage`]: super::Usage
//! [`ProviderUsage`]: super::ProviderUsage
//! [`ProviderUsage::provider_metrics`]: super::ProviderUsage::provider_metrics
//! [`Metrics`]: super::Metrics

#[cfg(feature = "async-openai")]
pub mod async_openai;
#[cfg(feature = "rig")]
pub mod rig;

use serde_json::{Map, Value};

/// Inserts `count` under `key` unless it is zero (the adapters drop zero leftovers too).
fn put_count(map: &mut Map<String, Value>, key: &str, count: u64) {
    if count != 0 {
        map.insert(key.to_owned(), Value::from(count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_counts_are_left_out() {
        let mut map = Map::new();
        put_count(&mut map, "a", 0);
        assert!(map.is_empty());
        put_count(&mut map, "a", 3);
        put_count(&mut map, "b", u64::MAX);
        assert_eq!(
            Value::Object(map),
            serde_json::json!({"a": 3, "b": u64::MAX})
        );
    }
}
