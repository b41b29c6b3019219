//! Cost from a pricing file: per message at record time, summed per run and per group, with
//! unknown models counted rather than priced at a silent 0.
//!
//! Run with `cargo run --example cost` (reads `examples/pricing.toml`).

use std::sync::Arc;

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy};
use runmeta::metrics::{ModelRef, Usage};
use runmeta::prelude::*;
use runmeta::pricing::PricingTable;

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Feature {
    DocumentAnalysis,
    Chat,
}

#[derive(Clone, RunMetadata)]
struct Billing {
    #[run_metadata(label)]
    customer_tier: CustomerTier,
    #[run_metadata(label)]
    feature: Feature,
    #[run_metadata(redact)]
    customer_id: String,
}

#[track_run(agent = "assistant", metadata = meta)]
fn assistant(meta: &Billing, model: &str, input: u64, output: u64, cached: u64) {
    let call = runmeta::ModelCall::start(ModelRef::new(
        if model.starts_with("claude") {
            "anthropic"
        } else {
            "openai"
        },
        model,
    ));
    call.finish(Usage {
        cache_read_tokens: cached,
        ..Usage::new(input, output)
    });
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pricing.toml");
    let pricing = Arc::new(PricingTable::load(path).unwrap_or_else(|e| panic!("{path}: {e}")));
    let by_customer = Arc::new(AggregatorSink::new(AggregatorConfig::new(
        GroupBy::parse("customer_tier,feature").expect("valid dimensions"),
    )));
    let pricing_for_runs = Arc::clone(&pricing);
    Collector::builder()
        .enrich(move |run| pricing_for_runs.apply(run))
        .sink(Arc::clone(&by_customer))
        .build()
        .install()
        .expect("first collector");

    let tiers = [
        CustomerTier::Free,
        CustomerTier::Pro,
        CustomerTier::Enterprise,
    ];
    let models = [
        "gpt-4o-mini",
        "gpt-4o",
        "claude-3-5-sonnet-20241022",
        "in-house-llm-v2",
    ];
    for i in 0..3_000u64 {
        let meta = Billing {
            customer_tier: tiers[usize::try_from(i % 3).unwrap_or(0)],
            feature: if i % 4 == 0 {
                Feature::DocumentAnalysis
            } else {
                Feature::Chat
            },
            customer_id: format!("cust_{}", i % 97),
        };
        let model = models[usize::try_from(i % 7 % 4).unwrap_or(0)];
        let input = 500 + (i * 37) % 4_000;
        assistant(&meta, model, input, 50 + (i * 13) % 700, input / 4);
    }

    println!(
        "{:<12} {:<18} {:>6} {:>14} {:>14} {:>9}",
        "tier", "feature", "runs", "cost total $", "cost/run $", "unpriced"
    );
    for row in by_customer.report().rows {
        let label = |i: usize| {
            row.group
                .get(i)
                .and_then(|g| g.value.clone())
                .unwrap_or_default()
        };
        println!(
            "{:<12} {:<18} {:>6} {:>14.6} {:>14.6} {:>9}",
            label(0),
            label(1),
            row.run_count,
            row.cost_total.as_f64(),
            row.cost_per_run.map_or(0.0, |c| c.as_f64()),
            row.unpriced_runs
        );
    }
    println!(
        "\nmodels without a price (counted, never billed as 0): {:?}",
        pricing.unknown_models()
    );
}
