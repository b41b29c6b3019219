//! Reading the labels of a metadata value allocates nothing: `labels()`, `label_at` and
//! `value_at` borrow from the value and the static schema.
//!
//! The counting global allocator is `allocation-counter`'s (the workspace forbids
//! `unsafe_code`, which a hand-written `GlobalAlloc` needs), linked into this test binary
//! only. Its counts are per thread, so allocations of the test harness's other threads never
//! disturb them.
#![allow(missing_docs)]

use runmeta::prelude::*;
use runmeta::schema::FieldValue;

/// Allocations (and reallocations) made on this thread while `f` runs.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    (info.count_total, out.expect("ran"))
}

#[derive(Clone, Copy, PartialEq, Eq, MetadataEnum)]
pub enum Channel {
    Chat,
    Email,
    Voice,
}

/// A 4-label schema, with non-label fields around the labels.
#[derive(Clone, RunMetadata)]
pub struct SupportMeta {
    pub ticket_id: String,
    #[run_metadata(label)]
    pub priority: Priority,
    #[run_metadata(label)]
    pub customer_tier: CustomerTier,
    #[run_metadata(redact)]
    pub customer_id: String,
    #[run_metadata(label)]
    pub channel: Channel,
    #[run_metadata(range = 1..=3)]
    pub escalation_level: u8,
    #[run_metadata(label)]
    pub business_impact: Option<BusinessImpact>,
    #[run_metadata(sla_deadline)]
    pub sla_deadline: Option<Deadline>,
}

/// The reference ticket: four labels set, a deadline.
fn support_meta() -> SupportMeta {
    SupportMeta {
        ticket_id: "SUP-2024-001234".into(),
        priority: Priority::High,
        customer_tier: CustomerTier::Enterprise,
        customer_id: "cust_abc123".into(),
        channel: Channel::Voice,
        escalation_level: 2,
        business_impact: Some(BusinessImpact::Critical),
        sla_deadline: Some(runmeta::deadline!("2024-01-15T14:00:00Z")),
    }
}

#[test]
fn iterating_labels_allocates_nothing() {
    let meta = support_meta();
    let fields = SupportMeta::SCHEMA.fields.len();
    let mut labels = [("", ""); 4];

    // The counter works: a `String` allocates once.
    let (n, s) = allocations_in(|| String::from("x"));
    assert_eq!(n, 1, "the counting allocator sees allocations");
    drop(s);

    // `labels()`.
    let (n, count) = allocations_in(|| {
        let mut count = 0;
        for (slot, pair) in labels.iter_mut().zip(meta.labels()) {
            *slot = pair;
            count += 1;
        }
        count
    });
    assert_eq!(n, 0, "labels() allocated {n} times");
    assert_eq!(count, 4);
    assert_eq!(
        labels,
        [
            ("priority", "high"),
            ("customer_tier", "enterprise"),
            ("channel", "voice"),
            ("business_impact", "critical"),
        ]
    );

    // `label_at` over every field (non-labels answer `None`).
    let (n, found) = allocations_in(|| {
        let mut found = 0;
        for i in 0..fields {
            if let Some(value) = meta.label_at(i) {
                assert!(!value.is_empty());
                found += 1;
            }
        }
        found
    });
    assert_eq!(n, 0, "label_at allocated {n} times");
    assert_eq!(found, 4);

    // `value_at` over every field, labels and the rest (strings are borrowed).
    let (n, enums) = allocations_in(|| {
        let mut enums = 0;
        for i in 0..fields {
            match meta.value_at(i) {
                FieldValue::Enum(e) => {
                    assert!(!e.is_empty());
                    enums += 1;
                }
                FieldValue::Str(s) => assert!(!s.is_empty()),
                FieldValue::Int(level) => assert_eq!(level, 2),
                other => {
                    std::hint::black_box(other);
                }
            }
        }
        enums
    });
    assert_eq!(n, 0, "value_at allocated {n} times");
    assert_eq!(enums, 4);

    // Through the type-erased view run records hold.
    let dynamic: &dyn runmeta::schema::DynMetadata = &meta;
    let (n, seen) = allocations_in(|| {
        let mut seen = 0;
        dynamic.for_each_label(&mut |k, v| {
            assert!(!k.is_empty() && !v.is_empty());
            seen += 1;
        });
        assert_eq!(dynamic.label("channel"), Some("voice"));
        assert_eq!(dynamic.label("customer_id"), None);
        seen
    });
    assert_eq!(n, 0, "DynMetadata labels allocated {n} times");
    assert_eq!(seen, 4);

    // An absent optional label is `""` and still allocation-free.
    let mut without = meta.clone();
    without.business_impact = None;
    let (n, last) = allocations_in(|| without.labels().last());
    assert_eq!(n, 0);
    assert_eq!(last, Some(("business_impact", "")));
}

/// Exporting a run to series that exist already allocates nothing: the exporter copies the
/// metadata labels into this thread's reused buffer and builds its label lists on the stack
/// (the ticket's deadline puts the run in the SLA series too).
#[test]
fn exporting_a_run_to_existing_series_allocates_nothing() {
    use runmeta::run::{MetadataRecord, MetadataValue, RunRecord, RunStatus};
    use runmeta_export::prometheus::PrometheusExporter;

    let meta = support_meta();
    let mut run = RunRecord::new("support", jiff::Timestamp::UNIX_EPOCH);
    run.duration = std::time::Duration::from_millis(350);
    run.metadata = Some(MetadataRecord::new(MetadataValue::new(meta)));
    let mut failed = run.clone();
    failed.status = RunStatus::Error;
    failed.error_class = Some("TimeoutError".into());

    let exporter = PrometheusExporter::new();
    // The first runs create the series (and grow this thread's label buffer).
    exporter.observe(&run);
    let (n, ()) = allocations_in(|| {
        for _ in 0..100 {
            exporter.observe(&run);
        }
    });
    assert_eq!(n, 0, "observing a run allocated {n} times");
    let text = exporter.render();
    let runs = text
        .lines()
        .find(|l| l.starts_with("agent_run_total{") && l.contains(r#"priority="high""#))
        .unwrap_or_else(|| panic!("a run series with the labels:\n{text}"));
    assert!(runs.ends_with(" 101"), "{runs}");
    assert!(
        text.contains("agent_sla_runs_total{"),
        "the run had an SLA:\n{text}"
    );
    // A failed run's error class is normalized into a `String`: its own allocation, once
    // per failed run, and only that.
    exporter.observe(&failed);
    let (n, ()) = allocations_in(|| exporter.observe(&failed));
    assert_eq!(n, 1, "a failed run allocated {n} times");
}
