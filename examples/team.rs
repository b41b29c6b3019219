//! A team: a leader run delegates to member agents, one of which calls another agent from a
//! tool. Each token is counted once: leader-only metrics, full-team metrics and the session
//! total agree.
//!
//! Run with `cargo run --example team`.

use std::sync::Arc;

use runmeta::metrics::{ModelRef, Usage};
use runmeta::prelude::*;

fn model_call(id: &str, input: u64, output: u64) {
    let call = runmeta::ModelCall::start(ModelRef::new("openai", id));
    call.finish(Usage::new(input, output));
}

#[track_run(agent = "researcher")]
async fn researcher(topic: &str) -> String {
    model_call("gpt-4o-mini", 800, 200);
    format!("notes on {topic}")
}

#[track_run(agent = "fact_checker")]
fn fact_checker(text: &str) -> bool {
    model_call("gpt-4o-mini", 300, 20);
    !text.is_empty()
}

#[track_run(agent = "writer")]
async fn writer(notes: &str) -> String {
    model_call("gpt-4o", 1200, 600);
    // An agent called from inside a tool is a child of the writer's run.
    let checked = runmeta::tool("fact_check", || fact_checker(notes));
    format!("article from {notes} (checked: {checked})")
}

#[track_run(
    agent = "editor_in_chief",
    team = "newsroom",
    session = "newsroom-2024-06-01"
)]
async fn leader(topic: &str) -> String {
    model_call("gpt-4o", 400, 50); // plan
    let (a, b) = tokio::join!(researcher(topic), researcher("background"));
    let article = writer(&format!("{a}; {b}")).await;
    model_call("gpt-4o", 900, 100); // review
    article
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let memory = Arc::new(InMemorySink::new(1_000));
    Collector::builder()
        .sink(Arc::clone(&memory))
        .build()
        .install()
        .expect("first collector");

    let article = leader("rust async runtimes").await;
    println!("{article}\n");

    let runs = memory.records();
    let agent_of = |id| {
        runs.iter()
            .find(|r| r.run_id == id)
            .map_or("?", |r| &*r.agent)
    };
    for run in &runs {
        println!(
            "{:<16} parent={:<16} own={:>5} tokens  children={:>5}",
            run.agent,
            run.parent_run_id.map_or("-", agent_of),
            run.metrics.usage.total_tokens,
            run.children_usage.total_tokens,
        );
    }
    let lead = runs
        .iter()
        .find(|r| r.agent == "editor_in_chief")
        .expect("leader recorded");
    let team = memory.team(lead.run_id).expect("leader kept");
    let session = memory.session("newsroom-2024-06-01");
    println!(
        "\nleader only:  {:>6} tokens",
        team.leader.usage.total_tokens
    );
    println!(
        "full team:    {:>6} tokens ({} member runs)",
        team.full_team.usage.total_tokens,
        team.members.len()
    );
    println!(
        "session:      {:>6} tokens over {} runs",
        session.metrics.usage.total_tokens, session.run_count
    );
    assert_eq!(
        team.full_team.usage, session.metrics.usage,
        "no double counting"
    );
    println!(
        "\nsession metrics (Agno JSON):\n{}",
        serde_json::to_string_pretty(&session.to_json()).unwrap_or_default()
    );
}
