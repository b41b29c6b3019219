//! A tracked call in the steady state allocates nothing: its record comes from the thread's
//! pool, and its metadata is copied field by field into that record's value, or a value of its
//! type the pool kept (a `String` keeps its buffer), also when runs alternate between schemas. A schema with a field type that is not `Clone` still gets the right values.
//!
//! The counting allocator is `allocation-counter`'s (see `alloc_labels.rs`); its counts are
//! per thread.
#![warn(clippy::pedantic)]
#![allow(missing_docs)]

mod common;

use common::{last, serial};
use runmeta::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, MetadataEnum)]
pub enum Channel {
    Chat,
    Email,
}

#[derive(Clone, RunMetadata)]
pub struct Ticket {
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(label)]
    pub channel: Channel,
    #[run_metadata(redact)]
    pub customer_id: String,
    pub note: Option<String>,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
}

#[track_run(agent = "ticket", metadata = meta)]
fn handle(meta: &Ticket) -> usize {
    meta.customer_id.len()
}

fn ticket(customer_id: &str, note: Option<&str>, level: u8) -> Ticket {
    Ticket {
        priority: Priority::High,
        channel: Channel::Chat,
        customer_id: customer_id.into(),
        note: note.map(Into::into),
        escalation_level: level,
    }
}

#[test]
fn steady_state_tracked_calls_allocate_nothing() {
    let _turn = serial();
    let metas: Vec<Ticket> = (0..64)
        .map(|i| ticket(&format!("cust_{i:06}"), Some("vip"), 1 + (i % 3)))
        .collect();
    // Warm up: the pool fills, the pooled value's strings reach their sizes.
    for meta in &metas[..4] {
        handle(meta);
    }
    let info = allocation_counter::measure(|| {
        for meta in &metas {
            handle(meta);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    let run = last();
    let json = run.metadata.as_ref().expect("metadata").value.to_json();
    assert_eq!(json["customer_id"], "[redacted]");
    assert_eq!(json["note"], "vip");
    let last_level = metas.last().expect("64 runs").escalation_level;
    assert_eq!(json["escalation_level"], last_level);
}

/// A second schema, for runs that alternate between two metadata types.
#[derive(Clone, RunMetadata)]
pub struct Order {
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    pub order_id: String,
}

#[track_run(agent = "order", metadata = meta)]
fn place(meta: &Order) -> usize {
    meta.order_id.len()
}

#[test]
fn alternating_schemas_each_reuse_a_kept_value_of_their_type() {
    let _turn = serial();
    let tickets: Vec<Ticket> = (0..32)
        .map(|i| ticket(&format!("cust_{i:06}"), None, 2))
        .collect();
    let orders: Vec<Order> = (0..32)
        .map(|i| Order {
            customer_tier: CustomerTier::Pro,
            order_id: format!("ord_{i:08}"),
        })
        .collect();
    for (t, o) in tickets.iter().zip(&orders).take(4) {
        handle(t);
        place(o);
    }
    let info = allocation_counter::measure(|| {
        for (t, o) in tickets.iter().zip(&orders) {
            handle(t);
            place(o);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    let run = last();
    assert_eq!(run.agent, "order");
    let json = run.metadata.as_ref().expect("metadata").value.to_json();
    assert_eq!(json["order_id"], "ord_00000031");
    handle(&tickets[7]);
    let json = last().metadata.expect("metadata").value.to_json();
    assert_eq!(json["customer_id"], "[redacted]");
    assert_eq!(json["escalation_level"], 2);
}

#[test]
fn reused_metadata_takes_every_value_of_the_next_run() {
    let _turn = serial();
    let calls = [
        ticket("a-much-longer-customer-id-than-before", Some("first"), 1),
        ticket("b", None, 2),
        ticket("c", Some("a note longer than the first one"), 3),
        // Out of range: recorded, with its error.
        ticket("d", Some(""), 9),
    ];
    for meta in &calls {
        handle(meta);
        let run = last();
        let record = run.metadata.as_ref().expect("metadata");
        let json = record.value.to_json();
        assert_eq!(
            json.get("note").and_then(|v| v.as_str()),
            meta.note.as_deref()
        );
        assert_eq!(json["escalation_level"], meta.escalation_level);
        assert_eq!(record.errors.is_some(), meta.escalation_level > 3);
        assert_eq!(run.label("priority"), Some("high"));
        // The value itself (not only its JSON) is the call's, redacted field included.
        let value = &record.value;
        let any: &dyn std::any::Any = &**value;
        let ticket = any.downcast_ref::<Ticket>().expect("a Ticket");
        assert_eq!(ticket.customer_id, meta.customer_id);
    }
}

/// An enum without `Clone`: the schema's own `Clone` impl is the only way to copy it.
#[derive(PartialEq, Eq, Debug, MetadataEnum)]
pub enum Region {
    Eu,
    Us,
}

#[derive(RunMetadata)]
pub struct Regional {
    #[run_metadata(label)]
    pub region: Region,
    pub account: String,
}

impl Clone for Regional {
    fn clone(&self) -> Self {
        Regional {
            region: match self.region {
                Region::Eu => Region::Eu,
                Region::Us => Region::Us,
            },
            account: self.account.clone(),
        }
    }
}

#[track_run(agent = "regional", metadata = meta)]
fn regional(meta: &Regional) -> bool {
    meta.region == Region::Us
}

#[test]
fn a_schema_with_a_field_that_is_not_clone_is_cloned_whole() {
    let _turn = serial();
    let mut a = Regional {
        region: Region::Eu,
        account: "acme".into(),
    };
    let b = Regional {
        region: Region::Us,
        account: "globex".into(),
    };
    assert!(!a.__assign_from(&b), "Region is not Clone");
    assert_eq!((&a.region, a.account.as_str()), (&Region::Eu, "acme"));
    for (meta, region) in [(&a, "eu"), (&b, "us"), (&a, "eu")] {
        regional(meta);
        let run = last();
        assert_eq!(run.label("region"), Some(region));
        let json = run.metadata.as_ref().expect("metadata").value.to_json();
        assert_eq!(json["account"], meta.account.as_str());
    }
}

#[test]
fn derived_assignment_copies_every_field() {
    let mut a = ticket("first-customer", Some("note"), 1);
    let b = ticket("b", None, 3);
    assert!(a.__assign_from(&b));
    assert_eq!(a.customer_id, "b");
    assert_eq!(a.note, None);
    assert_eq!(a.escalation_level, 3);
}
