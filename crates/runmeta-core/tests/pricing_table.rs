//! Pricing tables: formats, matching, effective dates, errors, applying to runs, exact sums.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use runmeta_core::aggregate::{Aggregator, AggregatorConfig, GroupBy, TokenType};
use runmeta_core::metrics::{Cost, MessageMetrics, ModelRef, ModelRole, Usage};
use runmeta_core::pricing::{PricingError, PricingTable};
use runmeta_core::run::{ModelBreakdown, RunRecord};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const TABLE: &str = r#"
currency = "USD"

[[price]]
provider = "openai"
model = "gpt-4o*"
effective_from = 2024-05-13
input = 5.0
output = 15.0

[[price]]
provider = "openai"
model = "gpt-4o*"
effective_from = 2024-08-06
input = 2.5
output = 10
cache_read = 1.25

[[price]]
provider = "openai"
model = "gpt-4o-mini*"
input = 0.15
output = 0.6

[[price]]
provider = "openai"
model = "gpt-4o-2024-05-13"
input = "5"
output = "15"
"#;

fn model(provider: &str, id: &str) -> ModelRef {
    ModelRef {
        role: ModelRole::Model,
        provider: provider.into(),
        id: id.into(),
    }
}

#[test]
fn effective_dates_pick_the_entry_in_force() {
    let t = PricingTable::from_toml_str(TABLE).unwrap();
    let u = Usage::new(1_000_000, 1_000_000);
    let before = t.cost("openai", "gpt-4o", &u, ts("2024-06-01T00:00:00Z"));
    assert_eq!(before, Some(Cost::from_nanos(20_000_000_000)));
    let after = t.cost("openai", "gpt-4o", &u, ts("2024-08-06T00:00:00Z"));
    assert_eq!(after, Some(Cost::from_nanos(12_500_000_000)));
    // Before the first dated entry: no price.
    assert_eq!(
        t.cost("openai", "gpt-4o", &u, ts("2024-01-01T00:00:00Z")),
        None
    );
    // The exact id beats the pattern, whatever the dates.
    let exact = t.lookup("openai", "gpt-4o-2024-05-13", ts("2025-01-01T00:00:00Z"));
    assert_eq!(exact.unwrap().model, "gpt-4o-2024-05-13");
    // The longer pattern beats the shorter one; provider and model ignore case.
    let mini = t.lookup(
        "OpenAI",
        "GPT-4o-mini-2024-07-18",
        ts("2025-01-01T00:00:00Z"),
    );
    assert_eq!(mini.unwrap().model, "gpt-4o-mini*");
    assert_eq!(t.currency(), "USD");
    assert_eq!(t.entries().len(), 4);
}

#[test]
fn cache_tokens_are_billed_at_their_price_and_reasoning_at_output() {
    let t = PricingTable::from_toml_str(TABLE).unwrap();
    let mut u = Usage::new(1_000_000, 200_000);
    u.cache_read_tokens = 600_000;
    u.reasoning_tokens = 50_000;
    // 400k × 2.5 + 600k × 1.25 + 200k × 10 (reasoning inside output, same price).
    let c = t.cost("openai", "gpt-4o", &u, ts("2024-09-01T00:00:00Z"));
    assert_eq!(
        c,
        Some(Cost::from_nanos(
            1_000_000_000 + 750_000_000 + 2_000_000_000
        ))
    );
}

#[test]
fn json_has_the_same_fields() {
    let t = PricingTable::from_json_str(
        r#"{"currency": "EUR", "price": [
            {"provider": "mistral", "model": "mistral-large*", "effective_from": "2024-07-24T00:00:00Z",
             "input": 2, "output": 6, "reasoning": 8}
        ]}"#,
    )
    .unwrap();
    assert_eq!(t.currency(), "EUR");
    let mut u = Usage::new(0, 1_000_000);
    u.reasoning_tokens = 500_000;
    let c = t.cost(
        "mistral",
        "mistral-large-2407",
        &u,
        ts("2024-08-01T00:00:00Z"),
    );
    assert_eq!(c, Some(Cost::from_nanos(3_000_000_000 + 4_000_000_000)));
}

#[test]
fn errors_name_the_entry_and_the_field() {
    let cases = [
        (
            "[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\ninput = -1\noutput = 1\n",
            "pricing entry 1 (openai/gpt-4o): field `input`",
        ),
        (
            "[[price]]\nprovider = \"a\"\nmodel = \"m\"\ninput = 1\noutput = 1\n[[price]]\nprovider = \"openai\"\nmodel = \"x\"\ninput = 1\nouptut = 1\n",
            "pricing entry 2 (openai/x): field `ouptut`: unknown field",
        ),
        (
            "[[price]]\nprovider = \"a\"\nmodel = \"m\"\ninput = 1\n",
            "field `output`: missing",
        ),
        (
            "[[price]]\nprovider = \"a\"\nmodel = \"m\"\ninput = 1\noutput = 1\neffective_from = \"yesterday\"\n",
            "field `effective_from`",
        ),
        (
            "[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\n",
            "pricing entry 1 (?/m): field `provider`: missing",
        ),
        ("currency = \"USD\"\n", "missing the `price` list"),
        ("prices = 3\n", "`price` must be a list"),
        ("[[price]\n", "syntax"),
    ];
    for (text, expected) in cases {
        let err = PricingTable::from_toml_str(text).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }
    assert!(matches!(
        PricingTable::from_json_str("{"),
        Err(PricingError::Syntax(_))
    ));
    let err = PricingTable::load("/nonexistent/pricing.toml").unwrap_err();
    assert!(matches!(err, PricingError::Io { .. }), "{err}");
}

#[test]
fn shipped_example_file_loads() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/pricing.toml");
    let t = PricingTable::load(&path).unwrap();
    assert_eq!(t.currency(), "USD");
    let at = ts("2024-12-01T00:00:00Z");
    let mini = t.lookup("openai", "gpt-4o-mini-2024-07-18", at).unwrap();
    assert_eq!(mini.prices.input, 150_000_000);
    assert!(t
        .lookup("anthropic", "claude-3-5-sonnet-20241022", at)
        .is_some());
    assert!(t.lookup("google", "gemini-2.5-flash", at).is_some());
}

#[test]
fn unknown_models_are_counted_and_reported_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let t = PricingTable::from_toml_str(TABLE)
        .unwrap()
        .on_unknown_model(move |p, m| s2.lock().unwrap().push(format!("{p}/{m}")));
    let u = Usage::new(10, 10);
    let at = ts("2025-01-01T00:00:00Z");
    for _ in 0..3 {
        assert_eq!(t.cost("openai", "gpt-5", &u, at), None);
    }
    assert_eq!(t.cost("acme", "gpt-4o", &u, at), None);
    assert_eq!(
        t.unknown_models(),
        vec![
            ("acme/gpt-4o".to_string(), 1),
            ("openai/gpt-5".to_string(), 3)
        ]
    );
    assert_eq!(*seen.lock().unwrap(), vec!["openai/gpt-5", "acme/gpt-4o"]);
}

#[test]
fn apply_fills_messages_breakdowns_and_the_run() {
    let t = PricingTable::from_toml_str(TABLE).unwrap();
    let mut run = RunRecord::new("support", ts("2024-09-01T00:00:00Z"));
    let msg = |m: ModelRef, input, output, cost: Option<Cost>| {
        let mut mm = MessageMetrics {
            model: Some(m),
            started_at: Some(ts("2024-09-01T00:00:01Z")),
            ..Default::default()
        };
        mm.metrics.usage = Usage::new(input, output);
        mm.metrics.cost = cost;
        mm
    };
    run.messages = vec![
        msg(model("openai", "gpt-4o"), 1_000_000, 0, None), // 2.50
        msg(model("openai", "gpt-4o-mini"), 0, 1_000_000, None), // 0.60
        msg(model("openai", "gpt-4o"), 0, 0, Some(Cost::from_nanos(7))), // provider cost kept
        msg(model("acme", "unknown-1"), 5, 5, None),        // unpriced
    ];
    run.per_model = vec![
        ModelBreakdown {
            model: model("openai", "gpt-4o"),
            calls: 2,
            metrics: Default::default(),
        },
        ModelBreakdown {
            model: model("acme", "unknown-1"),
            calls: 1,
            metrics: Default::default(),
        },
    ];
    t.apply(&mut run);
    assert_eq!(
        run.messages[0].metrics.cost,
        Some(Cost::from_nanos(2_500_000_000))
    );
    assert_eq!(
        run.messages[1].metrics.cost,
        Some(Cost::from_nanos(600_000_000))
    );
    assert_eq!(run.messages[2].metrics.cost, Some(Cost::from_nanos(7)));
    assert_eq!(run.messages[3].metrics.cost, None);
    assert_eq!(run.metrics.cost, Some(Cost::from_nanos(3_100_000_007)));
    assert_eq!(run.unpriced_messages, 1);
    assert_eq!(
        run.per_model[0].metrics.cost,
        Some(Cost::from_nanos(2_500_000_007))
    );
    assert_eq!(run.per_model[1].metrics.cost, None);

    // The aggregator counts it as unpriced, never as a 0 or a complete cost.
    let mut agg = Aggregator::new(GroupBy::none());
    agg.record(&run);
    let row = &agg.report().rows[0];
    assert_eq!((row.priced_runs, row.unpriced_runs), (0, 1));
    assert_eq!(row.cost_per_run, None);
    assert_eq!(row.cost_total, Cost::from_nanos(3_100_000_007));

    // A record without messages is priced from its breakdown.
    let mut bare = RunRecord::new("a", ts("2024-09-01T00:00:00Z"));
    bare.per_model = vec![ModelBreakdown {
        model: model("openai", "gpt-4o-mini"),
        calls: 3,
        metrics: Default::default(),
    }];
    bare.per_model[0].metrics.usage = Usage::new(1_000_000, 0);
    t.apply(&mut bare);
    assert_eq!(bare.metrics.cost, Some(Cost::from_nanos(150_000_000)));
    assert_eq!(bare.unpriced_messages, 0);
}

#[test]
fn ten_million_run_costs_sum_exactly() {
    // 2.5 per million input tokens = 2 500 nanos per token; 10 per million output = 10 000.
    let t = PricingTable::from_toml_str(
        "[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\ninput = 2.5\noutput = 10\n",
    )
    .unwrap();
    let at = ts("2025-01-01T00:00:00Z");
    let entry = t.lookup("openai", "gpt-4o", at).unwrap();
    let config = AggregatorConfig::new(GroupBy::none()).with_token_sketches(&[TokenType::Total]);
    let mut agg = Aggregator::with_config(config);
    let mut run = RunRecord::new("a", at);
    run.duration = Duration::from_millis(5);
    const N: u64 = 10_000_000;
    for i in 0..N {
        let u = Usage::new(1_000 + i % 1_000, 500 + i % 7);
        run.metrics.usage = u;
        run.metrics.cost = Some(entry.prices.cost_of(&u));
        agg.record(&run);
    }
    // Σ input = N·1000 + (N/1000)·Σ_{0..1000} k; Σ output = N·500 + Σ over i of (i mod 7).
    let sum_in = N * 1_000 + (N / 1_000) * (999 * 1_000 / 2);
    let full_weeks = N / 7;
    let sum_out = N * 500 + full_weeks * 21 + (0..N % 7).sum::<u64>();
    let expected = sum_in * 2_500 + sum_out * 10_000;
    let row = &agg.report().rows[0];
    assert_eq!(row.cost_total.as_nanos(), expected);
    assert_eq!(row.priced_runs, N);
    assert_eq!(row.tokens_per_run.input.mean, sum_in as f64 / N as f64);
}
