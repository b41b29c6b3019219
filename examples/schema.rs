//! A metadata schema checked at compile time, fed valid and invalid input at run time.
//!
//! Run with `cargo run --example schema`.

use runmeta::prelude::*;

runmeta::metadata_keys! {
    /// The organization's metadata keys: each once, with its type.
    pub mod org_keys {
        /// Link to the external ticketing system.
        ticket_id: String,
        /// Urgency.
        priority: Priority,
        /// What the customer asks about.
        request_type: RequestType,
        /// The customer's plan.
        customer_tier: CustomerTier,
        /// The customer record (personal data: redacted in outputs).
        customer_id: String,
        /// When the answer is due.
        sla_deadline: Deadline,
        /// Support tier, 1 to 3.
        escalation_level: u8,
    }
}

/// Request categories; wire names are snake_case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
pub enum RequestType {
    /// `billing_support`
    BillingSupport,
    /// `technical`
    Technical,
    /// `sales`
    Sales,
}

/// The metadata of one support-desk run.
#[derive(Clone, RunMetadata)]
#[run_metadata(keys = org_keys)]
pub struct SupportRun {
    /// Ticket id.
    pub ticket_id: String,
    /// Priority (a metric label).
    #[run_metadata(label)]
    pub priority: Priority,
    /// Request type (a metric label).
    #[run_metadata(label)]
    pub request_type: RequestType,
    /// Customer tier (a metric label).
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    /// Customer id, never shown in clear.
    #[run_metadata(redact)]
    pub customer_id: String,
    /// The SLA deadline.
    #[run_metadata(sla_deadline)]
    pub sla_deadline: Deadline,
    /// Escalation level.
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

fn main() {
    let valid = r#"{
        "ticket_id": "SUP-2024-001234",
        "priority": "high",
        "request_type": "billing_support",
        "customer_tier": "enterprise",
        "customer_id": "cust_abc123",
        "sla_deadline": "2024-01-15T14:00:00Z",
        "escalation_level": 2
    }"#;
    let run = SupportRun::from_json_str(valid).expect("the reference document is valid");
    println!("valid input:\n  {run:?}");
    println!("  labels: {:?}", run.labels().collect::<Vec<_>>());
    println!("  as JSON: {}", serde_json::Value::Object(run.to_json()));
    let due = runmeta::deadline!("2024-01-15T14:00:00Z");
    println!(
        "  deadline checked at compile time: {due}; urgent: {}",
        run.priority >= Priority::High
    );

    let invalid = r#"{
        "ticket_id": 1234,
        "priority": "hihg",
        "request_type": "billing",
        "customer_id": "cust_abc123",
        "sla_deadline": "2024-02-30T14:00:00",
        "escalation_level": 7,
        "tier": "gold"
    }"#;
    match SupportRun::from_json_str(invalid) {
        Ok(_) => unreachable!("the document is invalid"),
        Err(errors) => {
            println!("\ninvalid input, every problem at once:");
            for error in &errors.errors {
                println!("  - {error}");
            }
            println!("\nas JSON for an API response:\n  {}", errors.to_json());
        }
    }

    println!("\nJSON Schema for services in other languages:");
    println!(
        "{}",
        serde_json::to_string_pretty(&SupportRun::json_schema()).unwrap_or_default()
    );
}
