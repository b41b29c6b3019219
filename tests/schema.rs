//! Behaviour of `#[derive(RunMetadata)]`, `#[derive(MetadataEnum)]`, `metadata_keys!` and
//! `deadline!` through the public API.
#![warn(clippy::pedantic)]
#![allow(missing_docs, clippy::items_after_statements)]

use runmeta::prelude::*;
use runmeta::schema::{FieldType, Problem, UnknownKeys};

runmeta::metadata_keys! {
    /// The example organization's registry.
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

/// What the support desk asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
pub enum RequestType {
    BillingSupport,
    Technical,
    Sales,
    #[metadata_enum(rename = "other")]
    SomethingElse,
}

/// Every field of reference 000's table.
#[derive(Clone, RunMetadata)]
#[run_metadata(keys = org_keys, name = "SupportRun", version = 2)]
pub struct SupportRun {
    /// The ticket.
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

const REFERENCE: &str = r#"{
    "ticket_id": "SUP-2024-001234",
    "priority": "high",
    "request_type": "billing_support",
    "customer_tier": "enterprise",
    "customer_id": "cust_abc123",
    "department": "support",
    "sla_deadline": "2024-01-15T14:00:00Z",
    "escalation_level": 2,
    "business_impact": "critical",
    "estimated_resolution_time_minutes": 30
}"#;

#[test]
fn parses_the_reference_document() {
    let run = SupportRun::from_json_str(REFERENCE).expect("valid");
    assert_eq!(run.ticket_id, "SUP-2024-001234");
    assert_eq!(run.priority, Priority::High);
    assert!(run.priority >= Priority::High);
    assert_eq!(run.request_type, RequestType::BillingSupport);
    assert_eq!(run.sla_deadline, runmeta::deadline!("2024-01-15T14:00:00Z"));
    assert_eq!(run.escalation_level, 2);
    assert_eq!(run.estimated_resolution_time_minutes, Some(30));
    assert_eq!(run.user_id, None);
    assert!(run.validate().is_ok());
}

#[test]
fn labels_are_static_pairs_in_schema_order() {
    let run = SupportRun::from_json_str(REFERENCE).unwrap();
    let labels: Vec<_> = run.labels().collect();
    assert_eq!(
        labels,
        [
            ("priority", "high"),
            ("request_type", "billing_support"),
            ("customer_tier", "enterprise"),
            ("business_impact", "critical")
        ]
    );
}

#[test]
fn schema_descriptor_describes_every_field() {
    let schema = SupportRun::SCHEMA;
    assert_eq!(schema.name, "SupportRun");
    assert_eq!(schema.version, 2);
    assert_eq!(schema.fields.len(), 13);
    let tier = schema.field("customer_tier").unwrap();
    assert!(tier.label && tier.required && !tier.redact);
    assert_eq!(
        tier.ty,
        FieldType::Enum {
            name: "CustomerTier",
            values: &["free", "pro", "enterprise"]
        }
    );
    let level = schema.field("escalation_level").unwrap();
    assert_eq!(level.ty, FieldType::Integer { min: 1, max: 3 });
    assert!(schema.field("customer_id").unwrap().redact);
    assert!(!schema.field("user_id").unwrap().required);
    assert_eq!(schema.field("ticket_id").unwrap().doc, "The ticket.");
    assert!(schema.field("sla_deadline").unwrap().sla_deadline);
    assert_eq!(org_keys::KEYS.len(), 13);
    assert_eq!(
        org_keys::KEYS[0].doc,
        "Link to the external ticketing system."
    );
}

#[test]
fn reports_every_problem_at_once() {
    let input = r#"{
        "ticket_id": 42,
        "priority": "hihg",
        "request_type": "billing_support",
        "customer_id": "cust_1",
        "department": "support",
        "sla_deadline": "2024-02-30T14:00:00Z",
        "escalation_level": 7,
        "business_impact": "critical",
        "tier": "gold"
    }"#;
    let errors = SupportRun::from_json_str(input).unwrap_err();
    assert_eq!(errors.schema, "SupportRun");
    let keys: Vec<&str> = errors.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ticket_id",
            "priority",
            "sla_deadline",
            "escalation_level",
            "tier",
            "customer_tier"
        ]
    );
    assert_eq!(
        errors.for_key("priority"),
        Some(&Problem::NotAllowed {
            found: Some("hihg".into()),
            allowed: &["low", "medium", "high", "critical"]
        })
    );
    assert_eq!(
        errors.for_key("escalation_level"),
        Some(&Problem::OutOfRange {
            found: Some("7".into()),
            min: 1,
            max: 3
        })
    );
    assert_eq!(errors.for_key("customer_tier"), Some(&Problem::Missing));
    assert_eq!(errors.for_key("tier"), Some(&Problem::Unknown));
    let message = errors.to_string();
    assert!(
        message.starts_with("invalid SupportRun metadata (6 problems): "),
        "{message}"
    );
    assert!(
        message.contains("`ticket_id`: expected string, found integer"),
        "{message}"
    );
    assert!(message.contains("`priority`: `hihg` is not allowed; expected one of `low`, `medium`, `high`, `critical`"), "{message}");
    assert!(
        message.contains("`sla_deadline`: deadline date 2024-02-30 does not exist in the calendar"),
        "{message}"
    );
    let json = errors.to_json();
    assert_eq!(json["errors"][1]["problem"], "not_allowed");
    assert_eq!(json["errors"][1]["key"], "priority");

    // A value the field's type cannot hold is told against the declared range too.
    let too_big = input.replace(r#""escalation_level": 7"#, r#""escalation_level": 300"#);
    let errors = SupportRun::from_json_str(&too_big).unwrap_err();
    assert_eq!(
        errors.for_key("escalation_level"),
        Some(&Problem::OutOfRange {
            found: Some("300".into()),
            min: 1,
            max: 3
        })
    );
}

#[test]
fn a_value_the_parser_cannot_read_is_named_by_its_key() {
    // 1e400 is past f64: serde_json stops there. The problems before it are kept, and the
    // stop is reported at its key.
    let errors = SupportRun::from_json_str(
        r#"{"ticket_id": 42, "priority": "hihg", "escalation_level": 1e400, "department": 7}"#,
    )
    .unwrap_err();
    let keys: Vec<&str> = errors.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ticket_id", "priority", "escalation_level"]);
    let Some(Problem::Malformed { message }) = errors.for_key("escalation_level") else {
        panic!("{errors}");
    };
    assert!(message.contains("number out of range"), "{message}");
}

#[test]
fn redacted_values_never_leak() {
    let mut run = SupportRun::from_json_str(REFERENCE).unwrap();
    run.user_id = Some("user-SECRET".into());
    let debug = format!("{run:?}");
    assert!(
        !debug.contains("cust_abc123") && !debug.contains("user-SECRET"),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"));
    let json = serde_json::Value::Object(run.to_json()).to_string();
    assert!(
        !json.contains("cust_abc123") && !json.contains("user-SECRET"),
        "{json}"
    );
    // A bad value of a redacted field is not echoed in the error.
    #[derive(RunMetadata)]
    struct Secretive {
        #[run_metadata(redact, range = 1..=3)]
        pin: u16,
    }
    let err = Secretive::from_json_str(r#"{"pin": 4242}"#)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("4242"), "{err}");
    // Nor any part of a redacted deadline, however it is wrong.
    #[derive(RunMetadata)]
    struct SecretDate {
        #[run_metadata(redact)]
        birthday: Deadline,
    }
    for bad in [
        "1987-02-30T00:00:00Z",
        "1987-13-01T00:00:00Z",
        "1987-04-01T25:00:00Z",
    ] {
        let err = SecretDate::from_json_str(&format!(r#"{{"birthday": "{bad}"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("1987") && !err.contains("13") && !err.contains("25"),
            "{err}"
        );
        assert!(err.contains("birthday"), "{err}");
    }
}

#[test]
fn write_json_is_to_json_without_the_map() {
    let mut run = SupportRun::from_json_str(REFERENCE).unwrap();
    run.user_id = Some("user-SECRET".into());
    run.ticket_id = "quote \" backslash \\ \u{1F600} \n".into();
    run.environment = None;
    let mut out = Vec::new();
    runmeta::schema::DynMetadata::write_json(&run, &mut out).unwrap();
    let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(written, serde_json::Value::Object(run.to_json()));
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("user-SECRET") && !text.contains("cust_abc123"),
        "{text}"
    );
    assert!(
        !text.contains("environment"),
        "absent fields are omitted: {text}"
    );
    // The type-erased default (through `to_json`) gives the same value.
    let json = runmeta::schema::JsonMetadata {
        values: run.to_json(),
        ..Default::default()
    };
    let mut out = Vec::new();
    runmeta::schema::DynMetadata::write_json(&json, &mut out).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
        written
    );
}

#[test]
fn unknown_keys_can_be_kept() {
    let doc = REFERENCE.replace("\"department\"", "\"experiment\": \"b\", \"department\"");
    assert!(SupportRun::from_json_str(&doc).is_err());
    let (run, extra) =
        runmeta::schema::input::from_json_str::<SupportRun>(&doc, UnknownKeys::Keep).unwrap();
    assert_eq!(run.department, "support");
    assert_eq!(extra["experiment"], "b");
}

#[test]
fn from_value_and_from_map_agree_with_from_str() {
    let value: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let a = SupportRun::from_json_value(&value).unwrap();
    let pairs = [
        ("ticket_id", "SUP-2024-001234"),
        ("priority", "high"),
        ("request_type", "billing_support"),
        ("customer_tier", "enterprise"),
        ("customer_id", "cust_abc123"),
        ("department", "support"),
        ("sla_deadline", "2024-01-15T14:00:00Z"),
        ("escalation_level", "2"),
        ("business_impact", "critical"),
        ("estimated_resolution_time_minutes", "30"),
    ];
    let b = SupportRun::from_map(pairs).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    let bad = SupportRun::from_map([("escalation_level", "two")]).unwrap_err();
    assert_eq!(
        bad.for_key("escalation_level"),
        Some(&Problem::WrongType {
            expected: "integer".into(),
            found: "string"
        })
    );
}

#[test]
fn duplicate_keys_and_limits_are_errors() {
    let doc = REFERENCE.replace(
        "\"department\": \"support\"",
        "\"department\": \"support\", \"department\": \"sales\"",
    );
    assert_eq!(
        SupportRun::from_json_str(&doc)
            .unwrap_err()
            .for_key("department"),
        Some(&Problem::Duplicate)
    );
    let huge = format!("{{\"ticket_id\": \"{}\"}}", "x".repeat(5000));
    let err = SupportRun::from_json_str(&huge).unwrap_err();
    assert!(matches!(
        err.for_key("ticket_id"),
        Some(Problem::StringTooLong { len: 5000, .. })
    ));
    let many: String = (0..300)
        .map(|i| format!("\"k{i}\": 1"))
        .collect::<Vec<_>>()
        .join(",");
    let err = SupportRun::from_json_str(&format!("{{{many}}}")).unwrap_err();
    assert!(
        err.errors
            .iter()
            .any(|e| matches!(e.problem, Problem::TooManyKeys { max: 256 })),
        "{err}"
    );
    let big = format!("{{\"ticket_id\": \"{}\"}}", "x".repeat(1_100_000));
    assert!(matches!(
        SupportRun::from_json_str(&big).unwrap_err().errors[0].problem,
        Problem::DocumentTooLarge { .. }
    ));
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(
        SupportRun::from_json_str(&nested).unwrap_err().errors[0].problem,
        Problem::Malformed { .. }
    ));
}

#[test]
fn metadata_enum_derive() {
    assert_eq!(
        RequestType::VALUES,
        ["billing_support", "technical", "sales", "other"]
    );
    assert_eq!(RequestType::ALL.len(), 4);
    assert_eq!(RequestType::SomethingElse.to_string(), "other");
    assert_eq!("sales".parse::<RequestType>(), Ok(RequestType::Sales));
    let err = "Sales".parse::<RequestType>().unwrap_err();
    assert_eq!(err.to_string(), "`Sales` is not a RequestType; expected one of `billing_support`, `technical`, `sales`, `other`");
    assert_eq!(
        serde_json::to_string(&RequestType::BillingSupport).unwrap(),
        "\"billing_support\""
    );
    assert_eq!(
        serde_json::from_str::<RequestType>("\"other\"").unwrap(),
        RequestType::SomethingElse
    );
    // A raw identifier's wire name is the word itself.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
    #[allow(non_camel_case_types)]
    enum Keyword {
        r#match,
        Other,
    }
    assert_eq!(Keyword::VALUES, ["match", "other"]);
    assert_eq!("match".parse::<Keyword>(), Ok(Keyword::r#match));
}

#[test]
fn json_schema_export() {
    let schema = SupportRun::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["properties"]["priority"]["enum"],
        serde_json::json!(["low", "medium", "high", "critical"])
    );
    assert_eq!(schema["properties"]["escalation_level"]["maximum"], 3);
    assert_eq!(schema["properties"]["sla_deadline"]["format"], "date-time");
    assert_eq!(schema["additionalProperties"], false);
    let required = schema["required"].as_array().unwrap();
    assert!(required.contains(&"ticket_id".into()) && !required.contains(&"user_id".into()));
}

/// The exported JSON Schema and the runtime agree on what is valid metadata: the same answer
/// for each document below, and where JSON Schema cannot say what the runtime checks (a
/// string's length in bytes, an instant past year 9999 in UTC), JSON Schema is the looser.
#[test]
fn json_schema_and_runtime_agree() {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&SupportRun::json_schema())
        .expect("the exported schema compiles");
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let with = |key: &str, value: serde_json::Value| {
        let mut doc = reference.clone();
        doc[key] = value;
        doc
    };
    let without = |key: &str| {
        let mut doc = reference.clone();
        doc.as_object_mut().unwrap().remove(key);
        doc
    };
    let same = [
        reference.clone(),
        with("escalation_level", 2.0.into()),
        with("escalation_level", 2.5.into()),
        with("escalation_level", 4.into()),
        with("escalation_level", 0.into()),
        with("escalation_level", "2".into()),
        with("priority", "urgent".into()),
        with("priority", serde_json::Value::Null),
        with("user_id", serde_json::Value::Null),
        with("user_id", "u-1".into()),
        with("environment", "production".into()),
        with("sla_deadline", "2024-01-15T14:00:00+02:00".into()),
        with("sla_deadline", "2024-01-15T14:00:00.123456789Z".into()),
        with("sla_deadline", "2024-01-15T14:00:00".into()),
        with("sla_deadline", "2024-01-15 14:00:00Z".into()),
        with("sla_deadline", "2024-02-30T14:00:00Z".into()),
        with("sla_deadline", "2024-01-15T24:00:00Z".into()),
        with("estimated_resolution_time_minutes", (-1).into()),
        with(
            "estimated_resolution_time_minutes",
            u64::from(u32::MAX).into(),
        ),
        with(
            "estimated_resolution_time_minutes",
            (u64::from(u32::MAX) + 1).into(),
        ),
        with("ticket_id", "x".repeat(4096).into()),
        with("ticket_id", "x".repeat(4097).into()),
        with("ticket_id", 42.into()),
        with("unknown", "x".into()),
        without("ticket_id"),
        without("estimated_resolution_time_minutes"),
    ];
    for doc in &same {
        let runtime = SupportRun::from_json_str(&doc.to_string());
        assert_eq!(
            validator.is_valid(doc),
            runtime.is_ok(),
            "{doc}: runtime says {:?}",
            runtime.err().map(|e| e.to_string())
        );
    }
    let looser = [
        // 2,049 characters, 4,098 bytes.
        with("ticket_id", "é".repeat(2049).into()),
        with("sla_deadline", "9999-12-31T23:30:00-01:00".into()),
    ];
    for doc in &looser {
        assert!(validator.is_valid(doc), "{doc}");
        assert!(
            SupportRun::from_json_str(&doc.to_string()).is_err(),
            "{doc}"
        );
    }
    let string = &SupportRun::json_schema()["properties"]["ticket_id"];
    assert_eq!(string["x-runmeta-max-bytes"], 4096, "{string}");
}

#[test]
fn a_schema_without_registry_and_typed_validation() {
    #[derive(RunMetadata)]
    struct Small {
        #[run_metadata(rename = "feature")]
        feature_name: String,
        #[run_metadata(range = -5..5)]
        score: i32,
        #[run_metadata(label)]
        beta: bool,
        ratio: f64,
    }
    let s = Small {
        feature_name: "document_analysis".into(),
        score: 9,
        beta: true,
        ratio: f64::NAN,
    };
    let err = s.validate().unwrap_err();
    assert_eq!(
        err.for_key("score"),
        Some(&Problem::OutOfRange {
            found: Some("9".into()),
            min: -5,
            max: 4
        })
    );
    assert_eq!(err.for_key("ratio"), Some(&Problem::NonFinite));
    // Every problem, once, in field order, under the schema's name.
    assert_eq!(err.schema, "Small");
    let keys: Vec<&str> = err.errors.iter().map(|e| e.key.as_ref()).collect();
    assert_eq!(keys, ["score", "ratio"]);
    assert_eq!(s.labels().collect::<Vec<_>>(), [("beta", "true")]);
    assert_eq!(Small::SCHEMA.fields[0].key, "feature");
    assert!(
        Small::from_json_str(r#"{"feature": "x", "score": 1, "beta": false, "ratio": 0.5}"#)
            .is_ok()
    );
}
