//! A schema without a registry, with optional fields, private and public visibility.
#![deny(warnings)]

use runmeta::prelude::*;

#[derive(RunMetadata)]
struct Experiment {
    #[run_metadata(rename = "experiment_id")]
    id: String,
    variant: Option<Variant>,
    #[run_metadata(label)]
    beta: Option<bool>,
    #[run_metadata(range = -10..10)]
    offset: Option<i32>,
    r#type: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, MetadataEnum)]
enum Variant {
    Control,
    #[metadata_enum(rename = "treatment_b")]
    Treatment,
}

fn main() {
    let e = Experiment::from_json_str(r#"{"experiment_id": "exp-1", "variant": "treatment_b", "type": "ab"}"#).unwrap();
    assert_eq!(e.id, "exp-1");
    assert_eq!(e.variant, Some(Variant::Treatment));
    assert_eq!(e.beta, None);
    assert_eq!(e.offset, None);
    assert_eq!(e.r#type.as_deref(), Some("ab"));
    assert_eq!(e.labels().collect::<Vec<_>>(), [("beta", "")]);
}
