//! Soak: runs through tracking and aggregation (a tracked sync fn with metadata, usage and a
//! tool call; an aggregator sink; no sink keeps records) with resident memory bounded.
//!
//! The CI test runs 100k runs and checks the counts and that the peak resident set does not
//! grow with the number of runs. The 10M-run soak is `#[ignore]`d (it takes about 30 s in
//! release mode on 2 cores); run it with
//!
//! ```text
//! cargo test --release --test reliability_soak -- --ignored --nocapture
//! ```
//!
//! and see BENCHMARKS.md's "Soak" section for the result.
#![allow(missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use runmeta::aggregate::{AggregatorConfig, AggregatorSink, GroupBy, TokenType};
use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::run::RunStatus;

#[derive(Clone, RunMetadata)]
struct SoakMeta {
    ticket_id: String,
    #[run_metadata(label)]
    priority: Priority,
    #[run_metadata(label)]
    customer_tier: CustomerTier,
    #[run_metadata(redact)]
    customer_id: String,
}

#[derive(Debug)]
struct Flaky;

fn aggregate() -> &'static Arc<AggregatorSink> {
    static SINK: OnceLock<Arc<AggregatorSink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(AggregatorSink::new(AggregatorConfig::new(
            GroupBy::parse("agent,priority,customer_tier,status").expect("valid dimensions"),
        )));
        Collector::builder()
            .release("soak")
            .sink(Arc::clone(&sink))
            .build()
            .install()
            .expect("one collector per test binary");
        sink
    })
}

fn metas() -> Vec<SoakMeta> {
    let mut out = Vec::new();
    for priority in Priority::ALL {
        for customer_tier in CustomerTier::ALL {
            out.push(SoakMeta {
                ticket_id: format!("T-{priority}-{customer_tier}"),
                priority: *priority,
                customer_tier: *customer_tier,
                customer_id: "c-1".into(),
            });
        }
    }
    out
}

fn usage_of(i: u64) -> Usage {
    Usage::new(100 + i % 900, 10 + i % 90)
}

#[track_run(agent = "soak_ci", metadata = meta)]
fn soak_ci_run(meta: &SoakMeta, i: u64) -> Result<u64, Flaky> {
    runmeta::record_usage(usage_of(i));
    let n = runmeta::tool("lookup", || meta.ticket_id.len() as u64);
    if i.is_multiple_of(50) {
        return Err(Flaky);
    }
    Ok(n)
}

#[track_run(agent = "soak_10m", metadata = meta)]
fn soak_10m_run(meta: &SoakMeta, i: u64) -> Result<u64, Flaky> {
    runmeta::record_usage(usage_of(i));
    let n = runmeta::tool("lookup", || meta.ticket_id.len() as u64);
    if i.is_multiple_of(50) {
        return Err(Flaky);
    }
    Ok(n)
}

/// A `/proc/self/status` field in KiB (`VmHWM`: peak resident set; `VmRSS`: current).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `n` runs starting at `from` through `run`.
fn drive(run: fn(&SoakMeta, u64) -> Result<u64, Flaky>, metas: &[SoakMeta], from: u64, n: u64) {
    for i in from..from + n {
        let meta = &metas[(i % metas.len() as u64) as usize];
        let _ = std::hint::black_box(run(meta, i));
    }
}

/// Checks the aggregator's totals for `agent` after `n` runs numbered from 0.
fn check_totals(agent: &str, n: u64) {
    let expected_input: u64 = (0..n).map(|i| usage_of(i).input_tokens).sum();
    let expected_errors = n.div_ceil(50);
    aggregate().with_aggregator(|agg| {
        let mut runs = 0;
        let mut errors = 0;
        let mut input = 0;
        let mut tool_calls = 0;
        for (labels, stats) in agg.groups() {
            if labels[0].value.as_deref() != Some(agent) {
                continue;
            }
            runs += stats.runs;
            errors += stats.status_count(RunStatus::Error);
            input += stats.token(TokenType::Input).sum;
            tool_calls += stats.tool_calls;
        }
        assert_eq!(runs, n, "{agent}: runs");
        assert_eq!(errors, expected_errors, "{agent}: errors");
        assert_eq!(input, expected_input, "{agent}: input tokens");
        assert_eq!(tool_calls, n, "{agent}: tool calls");
    });
}

#[test]
fn soak_100k_runs_in_bounded_memory() {
    aggregate();
    let metas = metas();
    drive(soak_ci_run, &metas, 0, 20_000);
    let warm = status_kib("VmHWM");
    drive(soak_ci_run, &metas, 20_000, 80_000);
    let end = status_kib("VmHWM");
    check_totals("soak_ci", 100_000);
    if let (Some(warm), Some(end)) = (warm, end) {
        eprintln!("soak 100k: VmHWM {warm} KiB after 20k runs, {end} KiB after 100k");
        // A leak of 50 bytes per run would add 4 MB over these 80k runs.
        assert!(
            end.saturating_sub(warm) < 4 * 1024,
            "peak RSS grew from {warm} KiB to {end} KiB over 80k runs"
        );
    }
}

#[test]
#[ignore = "10M runs, about 30 s in release mode: cargo test --release --test reliability_soak -- --ignored --nocapture"]
fn soak_10m_runs_in_bounded_memory() {
    aggregate();
    let metas = metas();
    const TOTAL: u64 = 10_000_000;
    const STEP: u64 = 1_000_000;
    let start = Instant::now();
    let mut peaks = Vec::new();
    let mut done = 0;
    while done < TOTAL {
        drive(soak_10m_run, &metas, done, STEP);
        done += STEP;
        let hwm = status_kib("VmHWM").unwrap_or(0);
        let rss = status_kib("VmRSS").unwrap_or(0);
        eprintln!(
            "soak: {done:>10} runs, {:>6.1} s, VmHWM {hwm} KiB, VmRSS {rss} KiB",
            start.elapsed().as_secs_f64()
        );
        peaks.push(hwm);
    }
    let elapsed = start.elapsed();
    check_totals("soak_10m", TOTAL);
    eprintln!(
        "soak: {TOTAL} runs in {:.1} s ({:.0} ns/run), peak RSS (VmHWM) {} KiB",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / TOTAL as f64,
        peaks.last().copied().unwrap_or(0)
    );
    // Bounded: after the first million runs, the peak grows by less than 4 MiB over the next
    // nine million (under half a byte per run).
    let (first, last) = (peaks[0], peaks[peaks.len() - 1]);
    assert!(
        last.saturating_sub(first) < 4 * 1024,
        "peak RSS grew from {first} KiB to {last} KiB: {peaks:?}"
    );
}
