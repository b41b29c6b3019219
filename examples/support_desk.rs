//! The main example: a support desk answering a few thousand tickets.
//!
//! - a deterministic fake model that streams (time to first token) and reports token usage,
//! - tools that sometimes fail, an SLA deadline per ticket, customer tiers and priorities,
//! - every run tracked with `#[track_run]`, priced from `examples/pricing.toml`, stored in an
//!   embedded SQLite file and exported to Prometheus, then reported by tier and priority.
//!
//! No server and no network. Run with `cargo run --release --example support_desk`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runmeta::metrics::{ModelRef, Usage};
use runmeta::prelude::*;
use runmeta::pricing::PricingTable;
use runmeta_export::prometheus::PrometheusExporter;
use runmeta_store::{GroupBy, ReportQuery, SinkConfig, Store, StoreSink};

runmeta::metadata_keys! {
    /// The support organization's metadata keys.
    pub mod desk_keys {
        /// Ticket in the helpdesk.
        ticket_id: String,
        /// Urgency.
        priority: Priority,
        /// Customer plan.
        customer_tier: CustomerTier,
        /// What the ticket is about.
        request_type: RequestType,
        /// The customer record: personal data.
        customer_id: String,
        /// When the first answer is due.
        sla_deadline: Deadline,
        /// Support tier, 1 to 3.
        escalation_level: u8,
    }
}

/// Ticket categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
pub enum RequestType {
    /// `billing_support`
    BillingSupport,
    /// `technical`
    Technical,
    /// `sales`
    Sales,
}

/// The metadata of one ticket's run.
#[derive(Clone, RunMetadata)]
#[run_metadata(keys = desk_keys)]
pub struct Ticket {
    /// Ticket id.
    pub ticket_id: String,
    /// Priority.
    #[run_metadata(label)]
    pub priority: Priority,
    /// Tier.
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    /// Category.
    #[run_metadata(label)]
    pub request_type: RequestType,
    /// Customer id (redacted everywhere).
    #[run_metadata(redact)]
    pub customer_id: String,
    /// SLA deadline.
    #[run_metadata(sla_deadline)]
    pub sla_deadline: Deadline,
    /// Escalation level.
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

/// Why a ticket could not be answered.
#[derive(Debug)]
pub enum DeskError {
    /// The knowledge base was down.
    KnowledgeBaseDown,
    /// The model refused or failed.
    ModelFailure,
}

impl ErrorClass for DeskError {
    fn error_class(&self) -> std::borrow::Cow<'static, str> {
        match self {
            DeskError::KnowledgeBaseDown => "tool_failure".into(),
            DeskError::ModelFailure => "model_failure".into(),
        }
    }
}

/// A tiny deterministic PRNG (xorshift), so every run of the example tells the same story.
#[derive(Clone, Copy)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The fake model: streams an answer in chunks after a latency that grows with the prompt,
/// reporting usage like OpenAI (one final usage object).
async fn fake_model(rng: &mut Rng, model: &str, prompt_tokens: u64) -> Result<String, DeskError> {
    let mut call = runmeta::ModelCall::start(ModelRef::new("openai", model));
    tokio::time::sleep(Duration::from_millis(
        20 + rng.below(60) + prompt_tokens / 100,
    ))
    .await;
    call.first_token();
    let chunks = 5 + rng.below(20);
    for _ in 0..chunks {
        tokio::time::sleep(Duration::from_millis(1 + rng.below(4))).await;
    }
    let cached = if rng.below(3) == 0 {
        prompt_tokens / 2
    } else {
        0
    };
    call.finish(Usage {
        cache_read_tokens: cached,
        ..Usage::new(prompt_tokens, chunks * 12)
    });
    if rng.below(100) < 2 {
        return Err(DeskError::ModelFailure);
    }
    Ok(format!("answer in {chunks} chunks"))
}

#[track_run(agent = "support_desk", metadata = ticket, session = session)]
async fn handle_ticket(ticket: &Ticket, session: &str, seed: u64) -> Result<String, DeskError> {
    let mut rng = Rng(seed | 1);
    let model = if ticket.priority >= Priority::High {
        "gpt-4o"
    } else {
        "gpt-4o-mini"
    };
    let docs = runmeta::tool_async("search_knowledge_base", async {
        tokio::time::sleep(Duration::from_millis(5 + rng.below(30))).await;
        if rng.below(100) < 6 {
            Err(DeskError::KnowledgeBaseDown)
        } else {
            Ok(1 + rng.below(5))
        }
    })
    .await?;
    let draft = fake_model(&mut rng, model, 400 + docs * 350).await?;
    if ticket.escalation_level > 1 {
        // Escalated tickets get a second, checking pass.
        fake_model(&mut rng, "gpt-4o-mini", 300).await?;
    }
    if rng.below(50) == 0 {
        runmeta::set_stop_reason("handoff_to_human");
    }
    Ok(draft)
}

fn ticket(i: u64, now: jiff::Timestamp) -> Ticket {
    let mut rng = Rng(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let priority = [
        Priority::Low,
        Priority::Medium,
        Priority::Medium,
        Priority::High,
        Priority::Critical,
    ][usize::try_from(rng.below(5)).unwrap_or(0)];
    let customer_tier = [
        CustomerTier::Free,
        CustomerTier::Free,
        CustomerTier::Pro,
        CustomerTier::Enterprise,
    ][usize::try_from(rng.below(4)).unwrap_or(0)];
    let request_type = [
        RequestType::BillingSupport,
        RequestType::Technical,
        RequestType::Sales,
    ][usize::try_from(rng.below(3)).unwrap_or(0)];
    // Tighter SLAs for urgent tickets; some are already too tight to meet.
    let budget_ms = match priority {
        Priority::Critical => 230,
        Priority::High => 260,
        _ => 600,
    } + i64::try_from(rng.below(60)).unwrap_or(0);
    let due = now
        .checked_add(jiff::SignedDuration::from_millis(budget_ms))
        .unwrap_or(now);
    Ticket {
        ticket_id: format!("SUP-2024-{i:06}"),
        priority,
        customer_tier,
        request_type,
        customer_id: format!("cust_{:05}", rng.below(2_000)),
        sla_deadline: Deadline::from_timestamp(due),
        escalation_level: 1 + u8::try_from(rng.below(3)).unwrap_or(0),
    }
}

fn db_path() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("support_desk.db");
    // The example's own output from a previous run.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    const TICKETS: u64 = 4_000;
    let path = db_path();
    let store = Arc::new(StoreSink::open(&path, SinkConfig::default())?);
    let prometheus = Arc::new(PrometheusExporter::new());
    let pricing = Arc::new(PricingTable::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pricing.toml"
    ))?);
    let prices = Arc::clone(&pricing);
    Collector::builder()
        .release("desk-2.3.1")
        .enrich(move |run| prices.apply(run))
        .sink(Arc::clone(&store))
        .sink(Arc::clone(&prometheus))
        .build()
        .install()?;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..TICKETS {
        tasks.spawn(async move {
            let ticket = ticket(i, jiff::Timestamp::now());
            let session = format!("sess-{}", i / 4);
            handle_ticket(&ticket, &session, i).await
        });
        if tasks.len() >= 400 {
            let _ = tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let stats = store.shutdown();
    println!(
        "{TICKETS} tickets handled in {:.2?}; stored {} runs in {} (dropped {})\n",
        started.elapsed(),
        stats.written,
        path.display(),
        stats.dropped
    );

    let db = Store::open_read_only(&path)?;
    let report = db.report(&ReportQuery {
        group_by: GroupBy::parse("customer_tier,priority")?,
        ..ReportQuery::default()
    })?;
    println!(
        "{:<11} {:<9} {:>5} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "tier",
        "priority",
        "runs",
        "success",
        "p50 ms",
        "p95 ms",
        "ttft p50",
        "tokens/run",
        "$/run",
        "tool err",
        "sla miss"
    );
    for row in &report.rows {
        let label = |i: usize| {
            row.group
                .get(i)
                .and_then(|l| l.value.clone())
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<11} {:<9} {:>5} {:>7.1}% {:>8.0} {:>8.0} {:>8.0} {:>10.0} {:>9.5} {:>8.1}% {:>8.1}%",
            label(0),
            label(1),
            row.run_count,
            row.success_rate * 100.0,
            row.latency_p50_ms.unwrap_or(0.0),
            row.latency_p95_ms.unwrap_or(0.0),
            row.ttft_p50_ms.unwrap_or(0.0),
            row.tokens_per_run.total.mean,
            row.cost_per_run.map_or(0.0, |c| c.as_f64()),
            row.tool_error_rate.unwrap_or(0.0) * 100.0,
            row.sla_breach_rate.unwrap_or(0.0) * 100.0,
        );
    }

    println!("\nPrometheus exposition (excerpt):");
    let text = prometheus.render_prometheus_text();
    let one_group = r#"priority="critical",customer_tier="enterprise",request_type="technical""#;
    let excerpt = text.lines().filter(|l| {
        l.starts_with("# HELP agent_")
            || (l.contains(one_group)
                && (l.starts_with("agent_run_total") || l.starts_with("agent_sla_breach_total")))
    });
    for line in excerpt {
        println!("  {line}");
    }
    println!("  ... {} lines in all", text.lines().count());
    println!("\nExplore the database: cargo run -p runmeta-cli -- report --db {} --by customer_tier,priority", path.display());
    Ok(())
}
