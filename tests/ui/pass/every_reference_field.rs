//! Every field of reference 000's metadata table, through a registry, in a crate that denies
//! every warning.
#![deny(warnings, missing_docs, unused, nonstandard_style, rust_2018_idioms)]

use runmeta::prelude::*;

runmeta::metadata_keys! {
    /// The organization's keys.
    pub mod org_keys {
        /// Link to the external ticketing system.
        ticket_id: String,
        /// Urgency level.
        priority: Priority,
        /// Category of the request.
        request_type: RequestType,
        /// Customer classification.
        customer_tier: CustomerTier,
        /// Link to the customer record.
        customer_id: String,
        /// User identifier.
        user_id: String,
        /// Handling department.
        department: String,
        /// Time-sensitive deadline.
        sla_deadline: Deadline,
        /// Support tier.
        escalation_level: u8,
        /// Criticality.
        business_impact: BusinessImpact,
        /// Agent version.
        agent_version: String,
        /// Deployment context.
        environment: Environment,
        /// Estimate.
        estimated_resolution_time_minutes: u32,
        /// Target duration in seconds.
        sla_target_seconds: f64,
    }
}

/// Request categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
pub enum RequestType {
    /// Billing.
    Billing,
    /// Technical.
    Technical,
    /// Sales.
    Sales,
}

/// A support run.
#[derive(Clone, RunMetadata)]
#[run_metadata(keys = org_keys, name = "SupportRun", version = 3)]
pub struct SupportRun {
    /// Ticket.
    pub ticket_id: String,
    /// Priority.
    #[run_metadata(label)]
    pub priority: Priority,
    /// Request type.
    #[run_metadata(label)]
    pub request_type: RequestType,
    /// Tier.
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    /// Customer.
    #[run_metadata(redact)]
    pub customer_id: String,
    /// User.
    #[run_metadata(redact)]
    pub user_id: Option<String>,
    /// Department.
    pub department: String,
    /// Deadline.
    #[run_metadata(sla_deadline)]
    pub sla_deadline: Deadline,
    /// Level.
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
    /// Impact.
    #[run_metadata(label)]
    pub business_impact: BusinessImpact,
    /// Version.
    pub agent_version: Option<String>,
    /// Environment.
    #[run_metadata(label)]
    pub environment: Option<Environment>,
    /// Estimate.
    pub estimated_resolution_time_minutes: Option<u32>,
    /// Target.
    #[run_metadata(sla_target)]
    pub sla_target_seconds: Option<f64>,
}

const DEADLINE: Deadline = runmeta::deadline!("2024-01-15T14:00:00Z");

fn main() {
    let run = SupportRun {
        ticket_id: "SUP-2024-001234".into(),
        priority: Priority::High,
        request_type: RequestType::Billing,
        customer_tier: CustomerTier::Enterprise,
        customer_id: "cust_abc123".into(),
        user_id: None,
        department: "support".into(),
        sla_deadline: DEADLINE,
        escalation_level: 2,
        business_impact: BusinessImpact::Critical,
        agent_version: Some("v1.2.3".into()),
        environment: Some(Environment::Production),
        estimated_resolution_time_minutes: Some(30),
        sla_target_seconds: Some(3.0),
    };
    assert!(run.validate().is_ok());
    assert_eq!(run.labels().count(), 5);
}
