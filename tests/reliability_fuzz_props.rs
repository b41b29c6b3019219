//! The fuzz targets of `fuzz/` as property tests that run in CI with a fixed number of cases:
//! metadata validation, deadline parsing, provider usage adapters, pricing files, run-record
//! (Agno / JSONL line) import and Agno session import never panic on arbitrary input and
//! return errors instead; what
//! they accept survives a round trip.
#![allow(missing_docs)]

use proptest::prelude::*;
use proptest::test_runner::Config;
use runmeta::metrics::Usage;
use runmeta::prelude::*;
use runmeta::pricing::PricingTable;
use runmeta::run::RunRecord;
use runmeta::schema::{input, MetadataErrors, UnknownKeys};
use runmeta_store::Store;
use serde_json::{Map, Number, Value};

mod fuzz_cases;
use fuzz_cases::{agno, deadline, pricing, run_record, usage};

const CASES: u32 = 256;

fn config() -> Config {
    Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    }
}

// ----- generators -----

/// Keys the parsers know (so generated documents reach deep code), and others.
const KEYS: &[&str] = &[
    // metadata schema below
    "ticket_id",
    "priority",
    "channel",
    "customer_id",
    "pin",
    "tier",
    "sla_deadline",
    "escalation_level",
    "target_seconds",
    "beta",
    "score",
    "big",
    "small",
    "ratio",
    // usage formats
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "reasoning_tokens",
    "audio_tokens",
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "promptTokenCount",
    "candidatesTokenCount",
    "totalTokenCount",
    "thoughtsTokenCount",
    "cachedContentTokenCount",
    "toolUsePromptTokenCount",
    "type",
    "message",
    "usage",
    // run records
    "run_id",
    "parent_run_id",
    "session_id",
    "member_responses",
    "team_id",
    "role",
    "time",
    "input_audio_tokens",
    "output_audio_tokens",
    "agent_name",
    "agent_id",
    "team_name",
    "model",
    "model_provider",
    "provider",
    "id",
    "release",
    "created_at",
    "started_at",
    "status",
    "stop_reason",
    "error_class",
    "metrics",
    "duration",
    "time_to_first_token",
    "model_time",
    "cost",
    "details",
    "provider_metrics",
    "additional_metrics",
    "messages",
    "tools",
    "tool_calls",
    "tool_name",
    "tool_call_error",
    "children",
    "runs",
    "calls",
    "metadata",
    "schema",
    "version",
    "values",
    "labels",
    "errors",
    "key",
    "problem",
    "found",
    "min",
    "max",
    "sla_deadline_key",
    "sla_target_key",
    "unpriced_messages",
    // pricing
    "currency",
    "price",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "audio_input",
    "audio_output",
    "effective_from",
    "note",
];

/// String values the parsers treat specially, and others.
const TEXTS: &[&str] = &[
    "assistant",
    "RUNNING",
    "PAUSED",
    "high",
    "low",
    "chat",
    "voice_call",
    "pro",
    "enterprise",
    "2024-01-15T14:00:00Z",
    "2024-02-30T14:00:00Z",
    "0000-01-01T00:00:00+01:00",
    "9999-12-30T00:00:00-23:59",
    "2024-08-06",
    "0195508c-6f3a-7c4e-9a43-1f2e3d4c5b6a",
    "success",
    "error",
    "panicked",
    "cancelled",
    "COMPLETED",
    "ERROR",
    "CANCELLED",
    "openai",
    "gpt-4o*",
    "*",
    "**?**?*",
    "USD",
    "0.0375",
    "1e400",
    "-1",
    "18446744073709551616",
    "[redacted]",
    "message_start",
    "message_delta",
    "not_allowed",
    "out_of_range",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TEXTS).prop_map(str::to_owned),
        2 => ".{0,24}",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,10})?(Z|[+-][0-9]{2}:[0-9]{2})?",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..5_000).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| {
            Number::from_f64(f).map(Value::Number)
        }),
        (-10.0f64..10.0).prop_map(|f| Value::Number(Number::from_f64(f).unwrap_or(0.into()))),
        Just(Value::Number(Number::from_f64(1.7e308).unwrap_or(0.into()))),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        4 => number(),
        4 => text().prop_map(Value::String),
    ]
}

/// Arbitrary JSON, biased to the keys and values the parsers read.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            3 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json()), 0..10)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>()))
}

/// Arbitrary text: any string, JSON, or JSON with a few bytes spliced in.
fn input_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        3 => json().prop_map(|v| v.to_string()),
        2 => (json(), any::<prop::sample::Index>(), ".{0,4}").prop_map(|(v, at, junk)| {
            let mut s = v.to_string();
            let mut i = at.index(s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.insert_str(i, &junk);
            s
        }),
    ]
}

// ----- metadata validation (fuzz target `metadata_json`) -----

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Channel {
    Chat,
    Email,
    #[metadata_enum(rename = "voice_call")]
    Voice,
}

/// Every field type and option.
#[derive(Clone, RunMetadata)]
struct FuzzRun {
    ticket_id: String,
    #[run_metadata(label)]
    priority: Priority,
    #[run_metadata(label)]
    channel: Option<Channel>,
    #[run_metadata(redact)]
    customer_id: Option<String>,
    #[run_metadata(redact, range = 1..=9999)]
    pin: Option<u16>,
    #[run_metadata(redact)]
    tier: Option<CustomerTier>,
    #[run_metadata(sla_deadline)]
    sla_deadline: Option<Deadline>,
    #[run_metadata(range = 1..=3)]
    escalation_level: Option<u8>,
    #[run_metadata(sla_target)]
    target_seconds: Option<f64>,
    #[run_metadata(label)]
    beta: Option<bool>,
    #[run_metadata(rename = "score")]
    signed_score: Option<i64>,
    big: Option<u64>,
    small: Option<i8>,
    ratio: Option<f32>,
}

fn check_metadata(result: &Result<FuzzRun, MetadataErrors>) {
    match result {
        Ok(run) => {
            assert!(run.validate().is_ok(), "an accepted value validates");
            let _ = format!("{run:?}");
            let _ = run.labels().count();
            let _ = runmeta::schema::DynMetadata::sla_deadline(run);
            let _ = runmeta::schema::DynMetadata::sla_target(run);
        }
        Err(err) => {
            assert!(!err.errors.is_empty(), "an error lists its problems");
            assert!(!err.to_string().is_empty());
            assert!(err.to_json().is_object());
        }
    }
}

fn metadata_case(text: &str) {
    let from_text = FuzzRun::from_json_str(text);
    check_metadata(&from_text);
    let _ = input::from_json_str::<FuzzRun>(text, UnknownKeys::Keep);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let from_value = FuzzRun::from_json_value(&value);
        check_metadata(&from_value);
        let _ = input::from_json_value::<FuzzRun>(&value, UnknownKeys::Keep);
        if let Ok(a) = &from_text {
            let b = from_value.expect("text accepted, its Value refused");
            assert_eq!(RunMetadata::to_json(a), RunMetadata::to_json(&b));
        }
    }
    let pairs: Vec<_> = text.lines().filter_map(|l| l.split_once('=')).collect();
    check_metadata(&FuzzRun::from_map(pairs));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn metadata_json_never_panics(text in input_text()) {
        metadata_case(&text);
    }

    #[test]
    fn metadata_objects_never_panic(doc in object()) {
        metadata_case(&doc.to_string());
    }

    #[test]
    fn metadata_pairs_never_panic(pairs in prop::collection::vec((key(), text()), 0..16)) {
        check_metadata(&FuzzRun::from_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
}

// ----- deadline parsing (fuzz target `deadline`) -----

#[test]
fn deadlines_before_year_zero_in_utc_are_refused() {
    // Found by the `deadline` fuzz target: a negative UTC year displayed as
    // `-000001-12-31T22:00:00.1Z`, which no RFC 3339 parser reads back.
    for text in [
        "0000-01-01T00:00:00.1+02:00",
        "0000-01-01T00:59:59+01:00",
        "0000-01-01T00:00:00+00:01",
    ] {
        assert!(Deadline::parse(text).is_err(), "{text}");
    }
    for text in [
        "0000-01-01T00:00:00Z",
        "0000-01-01T00:00:00-01:00",
        "0000-01-01T01:00:00+01:00",
    ] {
        deadline::check(text);
        assert!(Deadline::parse(text).is_ok(), "{text}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn deadline_text_never_panics(text in any::<String>()) {
        deadline::check(&text);
    }

    #[test]
    fn deadline_shaped_text_round_trips(
        text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,10})?(Z|[+-][0-9]{2}:[0-9]{2})?.{0,1}"
    ) {
        deadline::check(&text);
    }

    #[test]
    fn valid_deadlines_round_trip(
        year in 0u32..=9999, month in 1u32..=12, day in 1u32..=28, hour in 0u32..=23,
        minute in 0u32..=59, second in 0u32..=59, frac in proptest::option::of("[0-9]{1,9}"),
        offset in proptest::option::of((any::<bool>(), 0u32..=23, 0u32..=59)),
    ) {
        let frac = frac.map_or(String::new(), |f| format!(".{f}"));
        let offset = offset.map_or("Z".to_owned(), |(plus, h, m)| {
            format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' })
        });
        let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{offset}");
        deadline::check(&text);
    }
}

// ----- usage adapters (fuzz target `usage_adapters`) -----

proptest! {
    #![proptest_config(config())]

    #[test]
    fn usage_adapters_never_panic(value in json()) {
        usage::check(&value);
    }

    #[test]
    fn usage_objects_never_panic(value in object()) {
        usage::check(&value);
    }

    #[test]
    fn usage_streams_never_panic(events in prop::collection::vec(object(), 0..4)) {
        usage::check(&Value::Array(events));
    }

    #[test]
    fn usage_adapter_text_never_panics(text in input_text()) {
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            usage::check(&value);
        }
    }
}

// ----- pricing files (fuzz target `pricing`) -----

/// A TOML value for a pricing field: numbers of every size and sign, strings, dates.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100, 0u32..1_000_000).prop_map(|(a, b)| format!("{a}.{b}")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("inf".to_owned()),
        Just("nan".to_owned()),
        Just("1e30".to_owned()),
        Just("\"0.0000000001\"".to_owned()),
        Just("2024-08-06".to_owned()),
        Just("2024-08-06T00:00:00Z".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        text().prop_map(|s| format!("{s:?}")),
    ]
}

fn toml_table() -> impl Strategy<Value = String> {
    let field = (
        proptest::sample::select(
            &[
                "provider",
                "model",
                "input",
                "output",
                "cache_read",
                "cache_write",
                "reasoning",
                "audio_input",
                "audio_output",
                "effective_from",
                "note",
                "source",
                "other",
            ][..],
        ),
        toml_value(),
    );
    let entry = prop::collection::vec(field, 0..9).prop_map(|fields| {
        let mut out = String::from("[[price]]\n");
        for (k, v) in fields {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out
    });
    (
        proptest::option::of(text()),
        prop::collection::vec(entry, 0..5),
    )
        .prop_map(|(currency, entries)| {
            let mut out = String::new();
            if let Some(c) = currency {
                out.push_str(&format!("currency = {c:?}\n"));
            }
            for e in entries {
                out.push_str(&e);
            }
            out
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pricing_text_never_panics(text in input_text()) {
        pricing::check(&text);
    }

    #[test]
    fn pricing_tables_never_panic(text in toml_table()) {
        pricing::check(&text);
    }

    #[test]
    fn pricing_json_never_panics(entries in prop::collection::vec(object(), 0..3), currency in text()) {
        let doc = serde_json::json!({"currency": currency, "price": entries});
        pricing::check(&doc.to_string());
    }
}

#[test]
fn pricing_globs_do_not_backtrack_exponentially() {
    // A pattern of many `*` against a long id that almost matches: a naive backtracking
    // matcher takes exponential time. (No timing assertion: a hang fails the run.)
    let pattern = "*a".repeat(40) + "b";
    let doc =
        format!("[[price]]\nprovider = \"p\"\nmodel = \"{pattern}\"\ninput = 1\noutput = 1\n");
    let table = PricingTable::from_toml_str(&doc).expect("valid table");
    let id = "a".repeat(200);
    let at = "2025-06-01T00:00:00Z".parse().expect("valid");
    assert!(table.cost("p", &id, &Usage::new(1, 1), at).is_none());
}

// ----- run-record import (fuzz target `run_record`) -----

const RECORD: &str = include_str!("../fuzz/corpus/run_record/runmeta.json");
const AGNO_RECORD: &str = include_str!("../fuzz/corpus/run_record/agno.json");

/// A valid record with one value, anywhere in it, replaced by arbitrary JSON.
fn mutated_record() -> impl Strategy<Value = String> {
    let base = prop_oneof![Just(RECORD), Just(AGNO_RECORD)];
    (base, any::<prop::sample::Index>(), json()).prop_map(|(base, at, replacement)| {
        let mut doc: Value = serde_json::from_str(base).expect("seed is JSON");
        let mut slots = 0;
        count_slots(&doc, &mut slots);
        let target = at.index(slots.max(1));
        let mut seen = 0;
        replace_slot(&mut doc, target, &mut seen, &replacement);
        doc.to_string()
    })
}

fn count_slots(v: &Value, n: &mut usize) {
    *n += 1;
    match v {
        Value::Array(items) => items.iter().for_each(|i| count_slots(i, n)),
        Value::Object(map) => map.values().for_each(|i| count_slots(i, n)),
        _ => {}
    }
}

fn replace_slot(v: &mut Value, target: usize, seen: &mut usize, with: &Value) -> bool {
    if *seen == target {
        *v = with.clone();
        return true;
    }
    *seen += 1;
    match v {
        Value::Array(items) => items
            .iter_mut()
            .any(|i| replace_slot(i, target, seen, with)),
        Value::Object(map) => map
            .values_mut()
            .any(|i| replace_slot(i, target, seen, with)),
        _ => false,
    }
}

#[test]
fn record_seeds_import_and_round_trip() {
    for seed in [RECORD, AGNO_RECORD] {
        assert!(RunRecord::from_json_str(seed).is_ok());
        run_record::check(seed);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn record_text_never_panics(text in input_text()) {
        run_record::check(&text);
    }

    #[test]
    fn mutated_records_never_panic(text in mutated_record()) {
        run_record::check(&text);
    }
}

// ----- Agno session import (fuzz target `agno_import`) -----

/// The seed corpus of the `agno_import` fuzz target: realistic Agno sessions and runs.
const AGNO_SEEDS: &[&str] = &[
    include_str!("../fuzz/corpus/agno_import/session_v2.json"),
    include_str!("../fuzz/corpus/agno_import/session_v1.json"),
    include_str!("../fuzz/corpus/agno_import/team_session.json"),
    include_str!("../fuzz/corpus/agno_import/runs_array.json"),
    include_str!("../fuzz/corpus/agno_import/run.json"),
    include_str!("../fuzz/corpus/agno_import/regression-zero-audio-total.json"),
];
const AGNO_JSONL_SEED: &str = include_str!("../fuzz/corpus/agno_import/sessions.jsonl");

/// A store in a fresh directory, removed on drop.
struct ScratchStore {
    store: Store,
    dir: std::path::PathBuf,
}

impl ScratchStore {
    fn new(name: &str) -> ScratchStore {
        let dir =
            std::env::temp_dir().join(format!("runmeta-fuzz-props-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = Store::open(dir.join("runs.db")).expect("store opens");
        ScratchStore { store, dir }
    }
}

impl Drop for ScratchStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A seed with one to three values, anywhere in it, replaced by arbitrary JSON; written as
/// one document (compact or pretty) or as JSONL with a valid session on the next line.
fn mutated_agno() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(AGNO_SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), json()), 1..4),
        0u8..3,
    )
        .prop_map(|(seed, edits, form)| {
            let mut doc: Value = serde_json::from_str(seed).expect("seed is JSON");
            for (at, replacement) in &edits {
                let mut slots = 0;
                count_slots(&doc, &mut slots);
                let mut seen = 0;
                replace_slot(&mut doc, at.index(slots.max(1)), &mut seen, replacement);
            }
            match form {
                0 => doc.to_string(),
                1 => serde_json::to_string_pretty(&doc).expect("serializes"),
                _ => format!("{doc}\n{}\n", agno::VALID),
            }
        })
}

/// Runs `case` on `cases` inputs of `strategy` against one store.
fn run_agno<S: Strategy>(name: &str, strategy: S, to_bytes: impl Fn(&S::Value) -> Vec<u8>) {
    let store = std::cell::RefCell::new(ScratchStore::new(name));
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let result = runner.run(&strategy, |input| {
        agno::check(&to_bytes(&input), &mut store.borrow_mut().store);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn agno_seeds_import_and_a_zero_total_survives() {
    let mut scratch = ScratchStore::new("agno-seeds");
    for seed in AGNO_SEEDS.iter().chain([&AGNO_JSONL_SEED, &agno::VALID]) {
        agno::check(seed.as_bytes(), &mut scratch.store);
    }
    // Every seed has runs that import.
    for seed in AGNO_SEEDS.iter().chain([&AGNO_JSONL_SEED]) {
        let (_, entries) = agno::parse(seed).expect("seed parses");
        assert!(entries.iter().any(|e| e.result.is_ok()), "{seed}");
    }
    // The crash the fuzz target found: a given zero audio total with non-zero parts.
    let (_, entries) = agno::parse(AGNO_SEEDS[5]).expect("regression seed");
    let record = entries[0].result.as_ref().expect("imports");
    assert_eq!(record.metrics.usage.audio_output_tokens, 2);
    assert_eq!(record.metrics.usage.audio_total_tokens, 0);
    let back = RunRecord::from_json(&record.to_json()).expect("re-imports");
    assert_eq!(back.metrics.usage, record.metrics.usage);
}

#[test]
fn agno_import_of_mutated_sessions_accounts_for_every_run() {
    run_agno("agno-mutated", mutated_agno(), |s| s.clone().into_bytes());
}

#[test]
fn agno_import_of_arbitrary_text_never_panics() {
    run_agno("agno-text", input_text(), |s| s.clone().into_bytes());
}

#[test]
fn agno_import_of_arbitrary_bytes_never_panics() {
    run_agno(
        "agno-bytes",
        prop::collection::vec(any::<u8>(), 0..512),
        Clone::clone,
    );
}
