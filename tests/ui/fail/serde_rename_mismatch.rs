use runmeta::prelude::*;

#[derive(RunMetadata, serde::Serialize)]
struct SupportRun {
    #[serde(rename = "ticket")]
    ticket_id: String,
}

fn main() {}
