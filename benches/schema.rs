//! Metadata parsing: `RunMetadata::from_json_str` with full validation against its peers.
//!
//! Run: `cargo bench --bench schema`
//!
//! All benches read the same reference document (10 keys):
//!
//! - `parse/runmeta_from_json_str`: `SupportRun::from_json_str`: one streaming pass with every
//!   rule checked (required keys, unknown and duplicate keys, enums, range `1..=3`, RFC 3339
//!   deadline, string and document limits), all problems collected.
//! - `parse/serde_json_no_validation`: the floor: `serde_json::from_str` into an equivalent
//!   `#[derive(Deserialize)]` struct that validates nothing beyond serde's own typing (enums as
//!   serde enums, the deadline as a `String`, no range, unknown keys ignored).
//! - `parse/jsonschema_is_valid`: the `jsonschema` crate checking the document against
//!   `SupportRun::json_schema()` (formats validated, so `date-time` is checked), text parsed
//!   to a `serde_json::Value` inside the loop, the validator compiled once outside it. It
//!   only answers valid/invalid: it builds no typed value.
//! - `parse/jsonschema_then_serde`: what a user of `jsonschema` would actually run to get a
//!   typed value: `Value` parse, validation, then `serde_json::from_value` into the plain
//!   struct.
//! - `parse/serde_json_to_value`: parsing the text to a `Value` alone (the part of the
//!   `jsonschema` benches that is not validation).
#![allow(missing_docs)]

use divan::{black_box, Bencher};
use runmeta::prelude::*;
use serde::Deserialize;

fn main() {
    // Every contender must accept the reference document before it is timed.
    let meta = SupportRun::from_json_str(REFERENCE).expect("runmeta accepts the reference");
    assert_eq!(meta.escalation_level, 2);
    let plain: PlainSupportRun = serde_json::from_str(REFERENCE).expect("serde accepts it");
    assert_eq!(plain.escalation_level, 2);
    let value: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    assert!(validator().is_valid(&value), "jsonschema accepts it");
    // ... and reject the same broken one (range and deadline), except the plain serde struct.
    let bad = REFERENCE
        .replace("\"escalation_level\": 2", "\"escalation_level\": 7")
        .replace("2024-01-15T14", "2024-02-30T14");
    assert_eq!(SupportRun::from_json_str(&bad).unwrap_err().errors.len(), 2);
    // A key with an escape (read into an owned string) is still recognized.
    let escaped = REFERENCE.replace("\"ticket_id\"", "\"ticket\\u005fid\"");
    assert_ne!(escaped, REFERENCE);
    assert_eq!(
        SupportRun::from_json_str(&escaped).unwrap().ticket_id,
        "SUP-2024-001234"
    );
    let bad_value: serde_json::Value = serde_json::from_str(&bad).unwrap();
    assert!(!validator().is_valid(&bad_value));
    divan::main();
}

runmeta::metadata_keys! {
    /// The support desk's registry.
    pub mod org_keys {
        /// Link to the external ticketing system.
        ticket_id: String,
        /// Urgency.
        priority: Priority,
        request_type: RequestType,
        customer_tier: CustomerTier,
        customer_id: String,
        user_id: String,
        department: String,
        /// When the answer is due.
        sla_deadline: Deadline,
        escalation_level: u8,
        business_impact: BusinessImpact,
        estimated_resolution_time_minutes: u32,
        agent_version: String,
        environment: Environment,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, MetadataEnum)]
pub enum RequestType {
    BillingSupport,
    Technical,
    Sales,
    Other,
}

#[derive(Clone, RunMetadata)]
#[run_metadata(keys = org_keys)]
pub struct SupportRun {
    pub ticket_id: String,
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(label)]
    pub request_type: RequestType,
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    #[run_metadata(redact)]
    pub customer_id: String,
    #[run_metadata(redact)]
    pub user_id: Option<String>,
    pub department: String,
    #[run_metadata(sla_deadline)]
    pub sla_deadline: Deadline,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
    #[run_metadata(label)]
    pub business_impact: BusinessImpact,
    pub estimated_resolution_time_minutes: Option<u32>,
    pub agent_version: Option<String>,
    pub environment: Option<Environment>,
}

/// The same fields with plain serde: no range, no deadline check, unknown keys ignored.
#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainSupportRun {
    ticket_id: String,
    priority: PlainPriority,
    request_type: PlainRequestType,
    customer_tier: PlainTier,
    customer_id: String,
    user_id: Option<String>,
    department: String,
    sla_deadline: String,
    escalation_level: u8,
    business_impact: PlainImpact,
    estimated_resolution_time_minutes: Option<u32>,
    agent_version: Option<String>,
    environment: Option<PlainEnvironment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainPriority {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainRequestType {
    BillingSupport,
    Technical,
    Sales,
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainTier {
    Free,
    Pro,
    Enterprise,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainImpact {
    Critical,
    High,
    Normal,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainEnvironment {
    Development,
    Staging,
    Production,
}

const REFERENCE: &str = r#"{"ticket_id": "SUP-2024-001234", "priority": "high", "request_type": "billing_support", "customer_tier": "enterprise", "customer_id": "cust_abc123", "department": "support", "sla_deadline": "2024-01-15T14:00:00Z", "escalation_level": 2, "business_impact": "critical", "estimated_resolution_time_minutes": 30}"#;

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&SupportRun::json_schema())
        .expect("the exported schema compiles")
}

#[divan::bench_group(sample_count = 200, sample_size = 200)]
mod parse {
    use super::{
        black_box, validator, Bencher, PlainSupportRun, RunMetadata, SupportRun, REFERENCE,
    };

    #[divan::bench]
    fn runmeta_from_json_str() -> SupportRun {
        SupportRun::from_json_str(black_box(REFERENCE)).unwrap()
    }

    #[divan::bench]
    fn serde_json_no_validation() -> PlainSupportRun {
        serde_json::from_str(black_box(REFERENCE)).unwrap()
    }

    #[divan::bench]
    fn jsonschema_is_valid(bencher: Bencher<'_, '_>) {
        let validator = validator();
        bencher.bench_local(|| {
            let value: serde_json::Value = serde_json::from_str(black_box(REFERENCE)).unwrap();
            assert!(validator.is_valid(&value));
            value
        });
    }

    #[divan::bench]
    fn jsonschema_then_serde(bencher: Bencher<'_, '_>) {
        let validator = validator();
        bencher.bench_local(|| {
            let value: serde_json::Value = serde_json::from_str(black_box(REFERENCE)).unwrap();
            assert!(validator.is_valid(&value));
            serde_json::from_value::<PlainSupportRun>(value).unwrap()
        });
    }

    #[divan::bench]
    fn serde_json_to_value() -> serde_json::Value {
        serde_json::from_str(black_box(REFERENCE)).unwrap()
    }
}
