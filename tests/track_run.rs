//! Behaviour of `#[track_run]` through the public API: every fn shape, every outcome, the run
//! context across tasks and threads, nesting and team totals.
#![warn(clippy::pedantic)]
#![allow(missing_docs, clippy::unused_async, clippy::unnecessary_wraps)]

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runmeta::metrics::{ModelRef, Usage};
use runmeta::prelude::*;
use runmeta::run::{RunRecord, RunStatus};

fn sink() -> &'static Arc<InMemorySink> {
    static SINK: OnceLock<Arc<InMemorySink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(InMemorySink::new(100_000));
        Collector::builder()
            .release("test-release")
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("one collector per test binary");
        sink
    })
}

/// The runs of one agent (each test uses its own agent names).
fn runs(agent: &str) -> Vec<RunRecord> {
    sink().filter(|r| r.agent == agent)
}

fn only(agent: &str) -> RunRecord {
    let mut runs = runs(agent);
    assert_eq!(runs.len(), 1, "runs of {agent}: {runs:#?}");
    runs.remove(0)
}

#[derive(Debug)]
struct PlainError;

#[derive(Debug)]
enum AgentError {
    RateLimited,
}

impl ErrorClass for AgentError {
    fn error_class(&self) -> Cow<'static, str> {
        match self {
            AgentError::RateLimited => "rate_limit".into(),
        }
    }
}

#[track_run(agent = "sync_ok")]
fn sync_ok(x: u32) -> Result<u32, PlainError> {
    runmeta::record_usage(Usage::new(10, 5));
    Ok(x + 1)
}

#[track_run(agent = "sync_err")]
fn sync_err() -> Result<u32, PlainError> {
    Err(PlainError)
}

#[track_run(agent = "sync_classified")]
fn sync_classified() -> Result<(), AgentError> {
    Err(AgentError::RateLimited)
}

#[track_run]
fn sync_plain_named_after_fn(mut values: Vec<u32>, (a, b): (u32, u32)) -> u32 {
    values.push(a + b);
    values.iter().sum()
}

#[track_run(agent = "sync_early")]
fn sync_early_return(flag: bool) -> Result<&'static str, std::num::ParseIntError> {
    if flag {
        return Ok("early");
    }
    let n: u32 = "x".parse()?;
    Ok(if n > 0 { "late" } else { "zero" })
}

#[track_run(agent = "sync_panics")]
fn sync_panics() -> u32 {
    panic!("boom")
}

#[test]
fn sync_outcomes() {
    sink();
    assert_eq!(sync_ok(1).unwrap(), 2);
    let run = only("sync_ok");
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.stop_reason, "completed");
    assert_eq!(run.metrics.usage, Usage::new(10, 5));
    assert_eq!(run.release.as_deref(), Some("test-release"));
    assert!(run.parent_run_id.is_none());

    assert!(sync_err().is_err());
    let run = only("sync_err");
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.stop_reason, "error");
    assert_eq!(run.error_class.as_deref(), Some("PlainError"));

    assert!(sync_classified().is_err());
    assert_eq!(
        only("sync_classified").error_class.as_deref(),
        Some("rate_limit")
    );

    assert_eq!(sync_plain_named_after_fn(vec![1], (2, 3)), 6);
    assert_eq!(only("sync_plain_named_after_fn").status, RunStatus::Success);

    assert_eq!(sync_early_return(true), Ok("early"));
    assert!(sync_early_return(false).is_err());
    let statuses: Vec<_> = runs("sync_early").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RunStatus::Success, RunStatus::Error]);
    assert_eq!(
        runs("sync_early")[1].error_class.as_deref(),
        Some("ParseIntError")
    );

    let panic = std::panic::catch_unwind(sync_panics);
    assert!(panic.is_err(), "the panic is resumed");
    let run = only("sync_panics");
    assert_eq!(run.status, RunStatus::Panicked);
    assert_eq!(run.stop_reason, "panicked");
}

#[track_run(agent = "impl_ok_type")]
fn impl_ok_type(fail: bool) -> Result<impl std::fmt::Display, AgentError> {
    if fail {
        return Err(AgentError::RateLimited);
    }
    Ok(1)
}

#[track_run(agent = "impl_error_type")]
fn impl_error_type(fail: bool) -> Result<u32, impl std::fmt::Debug> {
    if fail {
        return Err(PlainError);
    }
    Ok(1)
}

#[track_run(agent = "impl_ok_type_async")]
async fn impl_ok_type_async(fail: bool) -> Result<impl std::fmt::Display, PlainError> {
    if fail {
        return Err(PlainError);
    }
    Ok(1)
}

#[track_run]
fn r#match() -> u32 {
    1
}

#[test]
fn impl_trait_in_a_result_is_still_classified_by_its_variant() {
    sink();
    assert!(impl_ok_type(true).is_err());
    assert!(impl_ok_type(false).is_ok());
    let statuses: Vec<_> = runs("impl_ok_type").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RunStatus::Error, RunStatus::Success]);
    assert_eq!(
        runs("impl_ok_type")[0].error_class.as_deref(),
        Some("rate_limit"),
        "a nameable error type keeps its ErrorClass"
    );

    assert!(impl_error_type(true).is_err());
    let run = only("impl_error_type");
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error_class.as_deref(), Some("PlainError"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(impl_ok_type_async(true)).is_err());
    assert_eq!(only("impl_ok_type_async").status, RunStatus::Error);
}

#[test]
fn a_raw_identifier_names_the_agent_without_its_prefix() {
    sink();
    assert_eq!(r#match(), 1);
    assert_eq!(only("match").status, RunStatus::Success);
}

struct Agent {
    calls: u32,
}

impl Agent {
    #[track_run(agent = "method_ref")]
    fn answer(&self, q: &str) -> String {
        format!("{q}:{}", self.calls)
    }

    #[track_run(agent = "method_mut")]
    fn bump(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    #[track_run(agent = "method_async")]
    async fn answer_async(&self, q: &str) -> Result<String, PlainError> {
        tokio::task::yield_now().await;
        Ok(format!("{q}!"))
    }
}

#[track_run(agent = "generic")]
fn generic<T: std::fmt::Display + Clone>(value: &T, times: usize) -> String {
    value.to_string().repeat(times)
}

#[test]
fn methods_and_generics() {
    sink();
    let mut agent = Agent { calls: 0 };
    assert_eq!(agent.bump(), 1);
    assert_eq!(agent.answer("q"), "q:1");
    assert_eq!(generic(&7, 3), "777");
    assert_eq!(generic(&"ab", 2), "abab");
    assert_eq!(only("method_ref").status, RunStatus::Success);
    assert_eq!(only("method_mut").status, RunStatus::Success);
    assert_eq!(runs("generic").len(), 2);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Channel {
    Chat,
    Email,
}

#[derive(Clone, RunMetadata)]
struct Meta {
    #[run_metadata(label)]
    tier: CustomerTier,
    #[run_metadata(label)]
    channel: Channel,
    #[run_metadata(redact)]
    customer_id: String,
    #[run_metadata(range = 1..=3)]
    level: u8,
}

#[track_run(agent = "with_meta", metadata = meta, session = session, team = "desk", model = "gpt-4o-mini")]
fn with_meta(meta: &Meta, session: &str) -> u8 {
    meta.level
}

#[test]
fn metadata_session_team_and_model() {
    sink();
    let meta = Meta {
        tier: CustomerTier::Pro,
        channel: Channel::Email,
        customer_id: "cust-SECRET".into(),
        level: 2,
    };
    with_meta(&meta, "sess-1");
    let run = only("with_meta");
    assert_eq!(run.session_id.as_deref(), Some("sess-1"));
    assert_eq!(run.team.as_deref(), Some("desk"));
    assert_eq!(run.request_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(run.label("tier"), Some("pro"));
    assert_eq!(run.label("channel"), Some("email"));
    assert_eq!(run.label("customer_id"), None, "not a label");
    let metadata = run.metadata.as_ref().unwrap();
    assert!(metadata.errors.is_none());
    assert_eq!(metadata.value.schema_name(), "Meta");
    assert!(!format!("{run:?}").contains("cust-SECRET"));

    // Invalid metadata: the run is still recorded, with the errors.
    let bad = Meta { level: 9, ..meta };
    with_meta(&bad, "sess-2");
    let run = runs("with_meta").pop().unwrap();
    let errors = run.metadata.unwrap().errors.unwrap();
    assert_eq!(errors.errors[0].key, "level");
}

/// A session id that is not a string: recorded as its `Display`.
struct Ticket(u32);

impl std::fmt::Display for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ticket-{}", self.0)
    }
}

#[track_run(agent = "session_kinds", session = session)]
fn with_session<S: std::fmt::Display + ?Sized>(session: &S) {
    let _ = session;
}

#[track_run(agent = "session_kinds", session = session)]
fn with_string_session(session: String) {
    let _ = session;
}

#[test]
fn sessions_of_any_display_type_and_of_strings_are_recorded() {
    sink();
    with_session(&Ticket(7));
    with_session(&42_u64);
    with_session("sess-a");
    with_string_session("sess-a".to_owned());
    with_session(&Ticket(7));
    let runs = runs("session_kinds");
    let ids: Vec<_> = runs.iter().map(|r| r.session_id.as_deref()).collect();
    assert_eq!(
        ids,
        [
            Some("ticket-7"),
            Some("42"),
            Some("sess-a"),
            Some("sess-a"),
            Some("ticket-7")
        ]
    );
    let (a, b) = (runs[2].session_id.as_ref(), runs[3].session_id.as_ref());
    assert!(
        Arc::ptr_eq(a.unwrap(), b.unwrap()),
        "one session's runs on a thread share its id"
    );
}

/// A model chosen at run time, not a string.
#[derive(Clone, Copy)]
enum Tier {
    Fast,
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tier::Fast => f.write_str("gpt-4o-mini"),
        }
    }
}

struct Configured {
    model: String,
}

impl Configured {
    #[track_run(agent = "model_kinds", model = self.model)]
    fn answer(&self) {}
}

#[track_run(agent = "model_kinds", model = tier)]
fn answer_with(tier: Tier) {
    let _ = tier;
}

#[track_run(agent = "model_kinds", model = name)]
fn answer_named(name: &str) {
    let _ = name;
}

#[test]
fn models_from_expressions_are_recorded() {
    sink();
    Configured {
        model: "claude-sonnet-4".to_owned(),
    }
    .answer();
    answer_with(Tier::Fast);
    answer_named("o3");
    let models: Vec<_> = runs("model_kinds")
        .into_iter()
        .map(|r| r.request_model.map(std::borrow::Cow::into_owned))
        .collect();
    assert_eq!(
        models,
        [
            Some("claude-sonnet-4".to_owned()),
            Some("gpt-4o-mini".to_owned()),
            Some("o3".to_owned())
        ]
    );
}

struct Reply {
    tokens: (u64, u64),
}

fn reply_usage(reply: &Reply) -> Usage {
    Usage::new(reply.tokens.0, reply.tokens.1)
}

#[track_run(agent = "usage_path", usage = reply_usage)]
fn usage_path() -> Reply {
    Reply { tokens: (7, 3) }
}

#[test]
fn usage_read_off_the_return_value() {
    sink();
    let reply = usage_path();
    assert_eq!(reply.tokens, (7, 3));
    assert_eq!(only("usage_path").metrics.usage, Usage::new(7, 3));
}

#[track_run(agent = "provider_usage")]
fn provider_usage(usage: &serde_json::Value) {
    let mut call = runmeta::ModelCall::start(ModelRef::new("openai", "gpt-4o-mini"));
    call.provider_metric("service_tier", "flex");
    call.finish_provider(
        runmeta::metrics::adapters::openai_chat_usage(usage).expect("OpenAI usage"),
    );
}

#[test]
fn a_model_call_finished_with_an_adapters_usage_keeps_its_provider_metrics() {
    sink();
    let usage = serde_json::json!({
        "prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 10, "accepted_prediction_tokens": 3},
        "service_tier": "default"
    });
    let expected = runmeta::metrics::adapters::openai_chat_usage(&usage).unwrap();
    assert!(!expected.provider_metrics.is_empty(), "{expected:?}");
    provider_usage(&usage);
    let run = only("provider_usage");
    let message = &run.messages[0].metrics;
    assert_eq!(message.usage, expected.usage);
    assert_eq!(message.usage.cache_read_tokens, 1024);
    for (key, value) in &expected.provider_metrics {
        if key != "service_tier" {
            assert_eq!(message.provider_metrics.get(key), Some(value), "{key}");
        }
    }
    assert_eq!(
        message.provider_metrics["service_tier"], "flex",
        "the call's own metric is kept"
    );
}

#[track_run(agent = "inner_helpers")]
fn inner_helpers() -> Result<u32, PlainError> {
    let mut call = runmeta::ModelCall::start(ModelRef {
        provider: "openai".into(),
        id: "gpt-4o-mini".into(),
        ..ModelRef::default()
    });
    std::thread::sleep(Duration::from_millis(5));
    call.first_token();
    call.provider_metric("request_id_count", 1);
    call.finish(Usage::new(100, 20));
    let ok: Result<u32, std::num::ParseIntError> = runmeta::tool("parse", || "41".parse());
    let failed: Result<u32, std::num::ParseIntError> = runmeta::tool("parse", || "x".parse());
    assert!(failed.is_err());
    assert!(runmeta::current_run().is_some());
    runmeta::set_stop_reason("max_turns");
    runmeta::add_metric("retries", 2);
    Ok(ok.unwrap_or(0) + 1)
}

#[test]
fn helpers_inside_a_run() {
    sink();
    assert!(runmeta::current_run().is_none(), "outside a run");
    runmeta::record_usage(Usage::new(1, 1)); // no-op outside a run
    assert_eq!(inner_helpers().unwrap(), 42);
    let run = only("inner_helpers");
    assert_eq!(run.stop_reason, "max_turns");
    assert_eq!(run.metrics.usage.total_tokens, 120);
    assert_eq!(run.messages.len(), 1);
    assert_eq!(run.per_model.len(), 1);
    assert_eq!(run.per_model[0].model.id, "gpt-4o-mini");
    let ttft = run.time_to_first_token.expect("first token marked");
    assert!(
        ttft >= Duration::from_millis(5) && ttft <= run.duration,
        "{ttft:?}"
    );
    assert!(run.model_time <= run.duration);
    assert_eq!(run.tool_calls.len(), 2);
    assert_eq!(run.tool_calls[0].status.as_str(), "success");
    assert_eq!(run.tool_calls[1].status.as_str(), "error");
    assert_eq!(
        run.tool_calls[1].error_class.as_deref(),
        Some("ParseIntError")
    );
    assert_eq!(run.metrics.additional_metrics["retries"], 2);
}

#[derive(Debug)]
struct ClassPanics;

impl ErrorClass for ClassPanics {
    fn error_class(&self) -> Cow<'static, str> {
        panic!("error_class panicked")
    }
}

#[track_run(agent = "classified_tools")]
async fn classified_tools() -> u32 {
    let limited: Result<u32, AgentError> =
        runmeta::tool_classified("search", || Err(AgentError::RateLimited));
    let named: Result<u32, AgentError> = runmeta::tool("search", || Err(AgentError::RateLimited));
    let ok: Result<u32, AgentError> = runmeta::tool_classified("search", || Ok(1));
    let fetched: Result<u32, AgentError> =
        runmeta::tool_async_classified("fetch", async { Err(AgentError::RateLimited) }).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(5),
        runmeta::tool_async_classified("slow", async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<u32, AgentError>(0)
        }),
    )
    .await;
    let panicked = std::panic::catch_unwind(|| {
        runmeta::tool_classified("broken_class", || Err::<u32, _>(ClassPanics))
    });
    assert!(limited.is_err() && named.is_err() && fetched.is_err());
    assert!(cancelled.is_err() && panicked.is_err());
    ok.unwrap_or(0)
}

#[tokio::test]
async fn tools_record_their_error_class() {
    sink();
    assert_eq!(classified_tools().await, 1);
    let run = only("classified_tools");
    let calls: Vec<_> = run
        .tool_calls
        .iter()
        .map(|c| (c.name.as_str(), c.status.as_str(), c.error_class.as_deref()))
        .collect();
    assert_eq!(
        calls,
        [
            ("search", "error", Some("rate_limit")),
            ("search", "error", Some("AgentError")),
            ("search", "success", None),
            ("fetch", "error", Some("rate_limit")),
            ("slow", "cancelled", None),
            ("broken_class", "panicked", Some("panic")),
        ]
    );
    assert_eq!(run.status, RunStatus::Success);
}

// ----- async -----

#[track_run(agent = "async_ok")]
async fn async_ok(delay_ms: u64) -> Result<u64, PlainError> {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    runmeta::record_usage(Usage::new(delay_ms, 1));
    Ok(delay_ms)
}

#[track_run(agent = "async_slow")]
async fn async_slow() -> u32 {
    tokio::time::sleep(Duration::from_secs(30)).await;
    1
}

#[track_run(agent = "async_panics")]
async fn async_panics() -> u32 {
    tokio::task::yield_now().await;
    panic!("async boom")
}

#[track_run(agent = "impl_future")]
fn impl_future(x: u32) -> impl std::future::Future<Output = Result<u32, PlainError>> {
    async move {
        tokio::task::yield_now().await;
        Ok(x * 2)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_outcomes_across_threads() {
    sink();
    // Many concurrent runs on a multi-thread runtime: each records exactly its own usage.
    let handles: Vec<_> = (1..=50u64).map(|i| tokio::spawn(async_ok(i % 7))).collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let runs_ok = runs("async_ok");
    assert_eq!(runs_ok.len(), 50);
    let input: u64 = runs_ok.iter().map(|r| r.metrics.usage.input_tokens).sum();
    assert_eq!(input, (1..=50u64).map(|i| i % 7).sum::<u64>());
    assert!(runs_ok
        .iter()
        .all(|r| r.parent_run_id.is_none() && r.messages.len() == 1));

    // join!: two runs polled by one task, each with its own context.
    let (a, b) = tokio::join!(async_ok(3), async_ok(4));
    assert_eq!((a.unwrap(), b.unwrap()), (3, 4));

    // select!: the losing future is dropped → cancelled.
    tokio::select! {
        _ = async_slow() => panic!("should lose"),
        () = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    let run = only("async_slow");
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.stop_reason, "cancelled");

    // A timeout and an abort also cancel.
    assert!(tokio::time::timeout(Duration::from_millis(5), async_slow())
        .await
        .is_err());
    let handle = tokio::spawn(async_slow());
    tokio::time::sleep(Duration::from_millis(20)).await;
    handle.abort();
    let _ = handle.await;
    assert_eq!(
        runs("async_slow")
            .iter()
            .filter(|r| r.status == RunStatus::Cancelled)
            .count(),
        3
    );

    // A panic inside a task: recorded, and the task's JoinError carries it.
    assert!(tokio::spawn(async_panics()).await.unwrap_err().is_panic());
    assert_eq!(only("async_panics").status, RunStatus::Panicked);

    assert_eq!(impl_future(21).await.unwrap(), 42);
    assert_eq!(only("impl_future").status, RunStatus::Success);

    let agent = Agent { calls: 0 };
    assert_eq!(agent.answer_async("hi").await.unwrap(), "hi!");
    assert_eq!(only("method_async").status, RunStatus::Success);
}

#[track_run(agent = "context_probe")]
async fn context_probe(
    tx: tokio::sync::oneshot::Sender<()>,
    rx: tokio::sync::oneshot::Receiver<()>,
) -> bool {
    let _ = tx.send(());
    let _ = rx.await;
    runmeta::current_run().is_some()
}

#[tokio::test(flavor = "current_thread")]
async fn context_never_leaks_into_a_sibling_task() {
    sink();
    let (tx1, rx1) = tokio::sync::oneshot::channel();
    let (tx2, rx2) = tokio::sync::oneshot::channel();
    let tracked = tokio::spawn(context_probe(tx1, rx2));
    // Once the tracked task has started and is suspended mid-run, a sibling on the same
    // thread sees no run.
    rx1.await.unwrap();
    let sibling = tokio::spawn(async { runmeta::current_run().is_none() })
        .await
        .unwrap();
    assert!(sibling);
    tx2.send(()).unwrap();
    assert!(
        tracked.await.unwrap(),
        "the tracked task sees its run after moving on"
    );
}

// ----- nesting and teams -----

#[track_run(agent = "member_researcher")]
async fn researcher(q: &str) -> String {
    runmeta::record_usage(Usage::new(100, 10));
    format!("research on {q}")
}

#[track_run(agent = "member_writer")]
async fn writer(notes: &str) -> String {
    runmeta::record_usage(Usage::new(200, 50));
    let checked = runmeta::tool("fact_check", || fact_checker(notes));
    format!("article ({checked})")
}

#[track_run(agent = "member_fact_checker")]
fn fact_checker(text: &str) -> String {
    runmeta::record_usage(Usage::new(30, 3));
    format!("{} chars ok", text.len())
}

#[track_run(agent = "team_leader", team = "newsroom", session = "team-session")]
async fn leader(topic: &str) -> Result<String, PlainError> {
    runmeta::record_usage(Usage::new(50, 5));
    let (notes, other) = tokio::join!(researcher(topic), researcher("context"));
    let article = writer(&format!("{notes} {other}")).await;
    runmeta::record_usage(Usage::new(40, 20));
    Ok(article)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_totals_count_every_token_once() {
    sink();
    leader("rust").await.unwrap();
    let lead = only("team_leader");
    let members = runs("member_researcher");
    let writer_run = only("member_writer");
    let checker = only("member_fact_checker");
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.parent_run_id == Some(lead.run_id)));
    assert_eq!(writer_run.parent_run_id, Some(lead.run_id));
    assert_eq!(
        checker.parent_run_id,
        Some(writer_run.run_id),
        "an agent started inside a tool is a child"
    );
    // Children inherit the session and team.
    assert!(members
        .iter()
        .all(|m| m.session_id.as_deref() == Some("team-session")
            && m.team.as_deref() == Some("newsroom")));

    // Own usage: leader 90 in / 25 out.
    assert_eq!(lead.metrics.usage, Usage::new(90, 25));
    // Children totals: 2 × (100, 10) + writer (200, 50) + checker (30, 3).
    assert_eq!(lead.children_usage, Usage::new(430, 73));
    assert_eq!(lead.child_runs, 3, "direct children");
    assert_eq!(lead.total_usage(), Usage::new(520, 98));
    assert_eq!(writer_run.children_usage, Usage::new(30, 3));

    let team = sink().team(lead.run_id).expect("leader kept");
    assert_eq!(team.leader.usage, Usage::new(90, 25), "leader only");
    assert_eq!(
        team.full_team.usage,
        Usage::new(520, 98),
        "leader + members, each once"
    );
    assert_eq!(team.members.len(), 4);

    let session = sink().session("team-session");
    assert_eq!(
        session.metrics.usage,
        Usage::new(520, 98),
        "a session sums own usage: no double count"
    );
    assert_eq!(session.run_count, 5);
}

// ----- async-trait -----

#[async_trait::async_trait]
trait Responder {
    async fn respond(&self, q: &str) -> Result<String, PlainError>;
}

struct Bot;

// `#[track_run]` on the method inside the `#[async_trait]` impl: async-trait expands first,
// and the macro tracks the `Box::pin(async move { .. })` future it produces.
#[async_trait::async_trait]
impl Responder for Bot {
    #[track_run(agent = "async_trait_bot")]
    async fn respond(&self, q: &str) -> Result<String, PlainError> {
        tokio::task::yield_now().await;
        runmeta::record_usage(Usage::new(9, 1));
        if q.is_empty() {
            return Err(PlainError);
        }
        Ok(q.to_uppercase())
    }
}

#[tokio::test]
async fn async_trait_methods() {
    sink();
    let bot: Box<dyn Responder + Send + Sync> = Box::new(Bot);
    assert_eq!(bot.respond("hi").await.unwrap(), "HI");
    assert!(bot.respond("").await.is_err());
    let runs = runs("async_trait_bot");
    assert_eq!(
        runs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [RunStatus::Success, RunStatus::Error]
    );
    assert!(
        runs.iter().all(|r| r.metrics.usage == Usage::new(9, 1)),
        "the future itself is tracked"
    );
}
