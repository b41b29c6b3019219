//! Cost from a pricing table: prices per provider and model (exact id or glob pattern), per
//! million tokens of each kind, with the dates they take effect.
//!
//! The table is data you provide (see `examples/pricing.toml` at the repository root for a
//! documented example); there is no built-in price list. Costs are computed in integer
//! nano-units of the table's currency, so sums over millions of runs are exact.
//!
//! # Billing rule
//!
//! Token counts follow the OpenTelemetry GenAI convention used by runmeta: cache-read,
//! cache-write and audio-input tokens are *part of* `input_tokens`, reasoning and
//! audio-output tokens *part of* `output_tokens`. So a message costs
//!
//! ```text
//!   (input − cache_read − cache_write − audio_input) × input
//! + cache_read × cache_read_price + cache_write × cache_write_price + audio_input × audio_input_price
//! + (output − reasoning − audio_output) × output
//! + reasoning × reasoning_price + audio_output × audio_output_price
//! ```
//!
//! per million tokens, rounded once to the nearest nano-unit. A price left out of an entry
//! defaults to the input price (cache read/write, audio input) or the output price
//! (reasoning, audio output).
//!
//! # Unknown models
//!
//! A message whose model has no entry in force gets no cost (`None`, never a silent 0); the
//! table counts such messages per `provider/model` ([`PricingTable::unknown_models`]) and
//! calls the hook set with [`PricingTable::on_unknown_model`] once per model. The library
//! writes nothing to stdout or stderr.
//!
//! ```
//! use runmeta_core::metrics::Usage;
//! use runmeta_core::pricing::PricingTable;
//!
//! let table = PricingTable::from_toml_str(r#"
//!     currency = "USD"
//!     [[price]]
//!     provider = "openai"
//!     model = "gpt-4o-mini*"
//!     effective_from = 2024-07-18
//!     input = 0.15        # per million tokens
//!     output = 0.60
//!     cache_read = 0.075
//! "#).unwrap();
//! let mut usage = Usage::new(1_000_000, 100_000);
//! usage.cache_read_tokens = 400_000;
//! let at = "2024-09-01T00:00:00Z".parse().unwrap();
//! let cost = table.cost("openai", "gpt-4o-mini-2024-07-18", &usage, at).unwrap();
//! // 600k × 0.15 + 400k × 0.075 + 100k × 0.60 = 0.09 + 0.03 + 0.06
//! assert_eq!(cost.as_nanos(), 180_000_000);
//! assert!(table.cost("openai", "gpt-9", &usage, at).is_none());
//! assert_eq!(table.unknown_models(), vec![("openai/gpt-9".to_string(), 1)]);
//! ```

mod parse;

pub use parse::PricingError;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;

use crate::metrics::{Cost, MessageMetrics, Usage};
use crate::run::RunRecord;

/// Prices per million tokens, in nano-units of the table's currency (`2_500_000_000` =
/// 2.50 per million tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prices {
    /// Uncached text input.
    pub input: u64,
    /// Text output (non-reasoning).
    pub output: u64,
    /// Input read from the provider's cache.
    pub cache_read: u64,
    /// Input written to the provider's cache.
    pub cache_write: u64,
    /// Reasoning output.
    pub reasoning: u64,
    /// Audio input.
    pub audio_input: u64,
    /// Audio output.
    pub audio_output: u64,
}

impl Prices {
    /// The cost of `usage` at these prices, rounded to the nearest nano-unit.
    #[must_use]
    pub fn cost_of(&self, u: &Usage) -> Cost {
        let text_in = u
            .input_tokens
            .saturating_sub(u.cache_read_tokens)
            .saturating_sub(u.cache_write_tokens)
            .saturating_sub(u.audio_input_tokens);
        let text_out = u
            .output_tokens
            .saturating_sub(u.reasoning_tokens)
            .saturating_sub(u.audio_output_tokens);
        let t = |n: u64, p: u64| u128::from(n) * u128::from(p);
        let per_million = t(text_in, self.input)
            + t(u.cache_read_tokens, self.cache_read)
            + t(u.cache_write_tokens, self.cache_write)
            + t(u.audio_input_tokens, self.audio_input)
            + t(text_out, self.output)
            + t(u.reasoning_tokens, self.reasoning)
            + t(u.audio_output_tokens, self.audio_output);
        let nanos = (per_million + 500_000) / 1_000_000;
        Cost::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// One line of the table: a provider, a model pattern, a start date and prices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceEntry {
    /// The provider (`openai`, `anthropic`, ...), matched case-insensitively.
    pub provider: String,
    /// The model id, or a glob pattern with `*` (any run of characters) and `?` (one
    /// character), matched case-insensitively. An exact id beats any pattern; among
    /// patterns, the one with more literal characters wins.
    pub model: String,
    /// From when the prices apply (inclusive); `None`: always.
    pub effective_from: Option<Timestamp>,
    /// The prices.
    pub prices: Prices,
}

impl PriceEntry {
    fn specificity(&self) -> usize {
        if self.model.contains(['*', '?']) {
            self.model
                .chars()
                .filter(|c| !matches!(c, '*' | '?'))
                .count()
        } else {
            usize::MAX
        }
    }

    fn matches(&self, provider: &str, model: &str) -> bool {
        self.provider.eq_ignore_ascii_case(provider) && glob_match(&self.model, model)
    }
}

/// Case-insensitive glob match with `*` and `?`, linear time (no backtracking blow-up).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

type UnknownHook = Box<dyn Fn(&str, &str) + Send + Sync>;

/// A pricing table: entries per provider and model, with effective dates.
///
/// Build it from TOML or JSON text ([`PricingTable::from_toml_str`],
/// [`PricingTable::from_json_str`]), a file ([`PricingTable::load`]) or entries
/// ([`PricingTable::new`]). Share it by reference or `Arc`; lookups take `&self`.
pub struct PricingTable {
    currency: String,
    entries: Vec<PriceEntry>,
    unknown: Mutex<BTreeMap<String, u64>>,
    on_unknown: Option<UnknownHook>,
}

impl std::fmt::Debug for PricingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PricingTable")
            .field("currency", &self.currency)
            .field("entries", &self.entries)
            .field("unknown_models", &self.unknown_models())
            .finish_non_exhaustive()
    }
}

impl PricingTable {
    /// A table of `entries` in `currency` (an ISO 4217 code such as `USD`).
    #[must_use]
    pub fn new(currency: impl Into<String>, entries: Vec<PriceEntry>) -> Self {
        PricingTable {
            currency: currency.into(),
            entries,
            unknown: Mutex::new(BTreeMap::new()),
            on_unknown: None,
        }
    }

    /// Parses a TOML pricing file's text (format: `examples/pricing.toml`).
    ///
    /// # Errors
    /// A syntax error, or the entry and field of an invalid value.
    pub fn from_toml_str(text: &str) -> Result<Self, PricingError> {
        parse::from_toml_str(text)
    }

    /// Parses JSON text with the same fields as the TOML format:
    /// `{"currency": "USD", "price": [{"provider": ..., "model": ..., "input": ...}]}`.
    ///
    /// # Errors
    /// As [`PricingTable::from_toml_str`].
    pub fn from_json_str(text: &str) -> Result<Self, PricingError> {
        parse::from_json_str(text)
    }

    /// Reads a pricing file: JSON when its name ends in `.json`, TOML otherwise.
    ///
    /// # Errors
    /// The file cannot be read, or its content is invalid.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PricingError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| PricingError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            PricingTable::from_json_str(&text)
        } else {
            PricingTable::from_toml_str(&text)
        }
    }

    /// Calls `hook(provider, model)` the first time a model without a price is seen.
    #[must_use]
    pub fn on_unknown_model(mut self, hook: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_unknown = Some(Box::new(hook));
        self
    }

    /// The currency code.
    #[must_use]
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The entries, in file order.
    #[must_use]
    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }

    /// The entry in force for a model at `at`: among the entries whose pattern matches and
    /// whose `effective_from` is not after `at`, the most specific pattern, then the latest
    /// date.
    #[must_use]
    pub fn lookup(&self, provider: &str, model: &str, at: Timestamp) -> Option<&PriceEntry> {
        self.entries
            .iter()
            .filter(|e| e.effective_from.is_none_or(|from| from <= at))
            .filter(|e| e.matches(provider, model))
            .max_by_key(|e| (e.specificity(), e.effective_from))
    }

    /// The cost of `usage` on a model at `at`; `None` (counted, see
    /// [`PricingTable::unknown_models`]) when no entry is in force.
    #[must_use]
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage, at: Timestamp) -> Option<Cost> {
        match self.lookup(provider, model, at) {
            Some(e) => Some(e.prices.cost_of(usage)),
            None => {
                self.note_unknown(provider, model);
                None
            }
        }
    }

    /// The cost of one model call, priced at its start (now when it has none); `None` when
    /// the call names no model or its model has no price.
    #[must_use]
    pub fn cost_of(&self, message: &MessageMetrics) -> Option<Cost> {
        self.cost_of_at(message, message.started_at.unwrap_or_else(Timestamp::now))
    }

    fn cost_of_at(&self, message: &MessageMetrics, at: Timestamp) -> Option<Cost> {
        match &message.model {
            Some(m) => self.cost(&m.provider, &m.id, &message.metrics.usage, at),
            None => {
                self.note_unknown("", "");
                None
            }
        }
    }

    fn note_unknown(&self, provider: &str, model: &str) {
        let key = format!("{provider}/{model}");
        let first = {
            let mut map = self.unknown.lock().unwrap_or_else(PoisonError::into_inner);
            let n = map.entry(key).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            if let Some(hook) = &self.on_unknown {
                hook(provider, model);
            }
        }
    }

    /// Model calls that found no price, per `provider/model` (`/` for calls naming no
    /// model), sorted by name.
    #[must_use]
    pub fn unknown_models(&self) -> Vec<(String, u64)> {
        let map = self.unknown.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Prices a finished run: fills the cost of each model call that has none (a cost
    /// already set, such as one reported by the provider, is kept), each per-model
    /// breakdown's cost, the run's `metrics.cost` (the sum of the known costs; `None` when
    /// nothing could be priced) and `unpriced_messages`.
    ///
    /// A record without messages is priced from its per-model breakdown instead.
    pub fn apply(&self, run: &mut RunRecord) {
        let mut total = Cost::ZERO;
        let mut priced = 0u32;
        let mut unpriced = 0u32;
        if !run.messages.is_empty() {
            for m in &mut run.messages {
                if m.metrics.cost.is_none() {
                    let at = m.started_at.unwrap_or(run.started_at);
                    m.metrics.cost = self.cost_of_at(m, at);
                }
                match m.metrics.cost {
                    Some(c) => {
                        total += c;
                        priced += 1;
                    }
                    None => unpriced += 1,
                }
            }
            for b in &mut run.per_model {
                let mut sum = Some(Cost::ZERO);
                for m in run
                    .messages
                    .iter()
                    .filter(|m| m.model.as_ref() == Some(&b.model))
                {
                    sum = sum.zip(m.metrics.cost).map(|(a, c)| a + c);
                }
                b.metrics.cost = sum;
            }
        } else if !run.per_model.is_empty() {
            for b in &mut run.per_model {
                if b.metrics.cost.is_none() {
                    b.metrics.cost = self.cost(
                        &b.model.provider,
                        &b.model.id,
                        &b.metrics.usage,
                        run.started_at,
                    );
                }
                let calls = u32::try_from(b.calls.max(1)).unwrap_or(u32::MAX);
                match b.metrics.cost {
                    Some(c) => {
                        total += c;
                        priced = priced.saturating_add(calls);
                    }
                    None => unpriced = unpriced.saturating_add(calls),
                }
            }
        } else {
            if run.metrics.cost.is_none() && !run.metrics.usage.is_zero() {
                self.note_unknown("", "");
                run.unpriced_messages = run.unpriced_messages.max(1);
            }
            return;
        }
        run.unpriced_messages = unpriced;
        run.metrics.cost = (priced > 0 || unpriced == 0).then_some(total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob_match("gpt-4o*", "gpt-4o-mini"));
        assert!(glob_match("GPT-4O*", "gpt-4o"));
        assert!(glob_match("claude-?-haiku*", "claude-3-haiku-20240307"));
        assert!(!glob_match("gpt-4o", "gpt-4o-mini"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn billing_rule_splits_cache_audio_and_reasoning() {
        let p = Prices {
            input: 1_000_000_000,
            output: 4_000_000_000,
            cache_read: 100_000_000,
            cache_write: 2_000_000_000,
            reasoning: 8_000_000_000,
            audio_input: 10_000_000_000,
            audio_output: 20_000_000_000,
        };
        let u = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            total_tokens: 1_500,
            reasoning_tokens: 100,
            cache_read_tokens: 200,
            cache_write_tokens: 100,
            audio_input_tokens: 50,
            audio_output_tokens: 10,
            audio_total_tokens: 60,
        };
        // text in 650 × 1000 + 200 × 100 + 100 × 2000 + 50 × 10000
        // + text out 390 × 4000 + 100 × 8000 + 10 × 20000 (nanos per token)
        let expected = 650_000 + 20_000 + 200_000 + 500_000 + 1_560_000 + 800_000 + 200_000;
        assert_eq!(p.cost_of(&u).as_nanos(), expected);
    }

    #[test]
    fn rounding_is_to_nearest_nano() {
        let p = Prices {
            input: 37_500_000, // 0.0375 per million tokens = 37.5 nanos per token
            output: 1_400_000, // 1.4 nanos per token
            ..Prices::default()
        };
        assert_eq!(p.cost_of(&Usage::new(1, 0)).as_nanos(), 38); // 37.5 → 38
        assert_eq!(p.cost_of(&Usage::new(0, 1)).as_nanos(), 1); // 1.4 → 1
        assert_eq!(p.cost_of(&Usage::new(1, 1)).as_nanos(), 39); // 38.9 → 39, rounded once
    }
}
