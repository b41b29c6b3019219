//! Streaming: time to first token, and usage reported cumulatively by the provider.
//!
//! Gemini and Anthropic streams repeat the totals so far in every chunk; summing them per
//! chunk inflates the counts (the bug the Python original shipped). `UsageAccumulator` takes
//! each chunk the way the provider declares it.
//!
//! Run with `cargo run --example streaming`.

use std::sync::Arc;
use std::time::Duration;

use runmeta::metrics::{ModelRef, Usage, UsageAccumulator, UsageReporting};
use runmeta::prelude::*;

/// A fake streaming model: 40 chunks, the first after 120 ms, each carrying the cumulative
/// usage so far, like Gemini's `usageMetadata`.
fn fake_stream(prompt_tokens: u64) -> impl Iterator<Item = (String, Usage)> {
    (1..=40u64).map(move |i| {
        std::thread::sleep(Duration::from_millis(if i == 1 { 120 } else { 5 }));
        (format!("tok{i} "), Usage::new(prompt_tokens, 3 * i))
    })
}

#[track_run(agent = "streamer", model = "gemini-2.5-flash")]
fn answer(prompt: &str) -> String {
    let mut call = runmeta::ModelCall::start(ModelRef::new("google", "gemini-2.5-flash"));
    let mut usage = UsageAccumulator::new(UsageReporting::Cumulative);
    let mut text = String::new();
    for (chunk, chunk_usage) in fake_stream(u64::try_from(prompt.len()).unwrap_or(u64::MAX)) {
        call.first_token(); // only the first call counts
        usage.push(chunk_usage);
        text.push_str(&chunk);
    }
    call.finish(usage.finish());
    text
}

fn main() {
    let memory = Arc::new(InMemorySink::new(100));
    Collector::builder()
        .sink(Arc::clone(&memory))
        .build()
        .install()
        .expect("first collector");

    let text = answer("Summarize the incident report for the on-call engineer.");
    let run = &memory.records()[0];
    println!("answer: {}…", &text[..30]);
    println!("duration:            {:?}", run.duration);
    println!(
        "time to first token: {:?}",
        run.time_to_first_token.unwrap_or_default()
    );
    println!("usage:               {:?}", run.metrics.usage);
    let naive: u64 = (1..=40u64).map(|i| 3 * i).sum();
    println!(
        "output tokens: {} (summing the cumulative chunks would have claimed {naive})",
        run.metrics.usage.output_tokens
    );
    println!(
        "run as Agno JSON:\n{}",
        serde_json::to_string_pretty(&run.to_json()).unwrap_or_default()
    );
}
