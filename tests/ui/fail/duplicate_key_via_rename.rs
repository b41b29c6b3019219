use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    ticket_id: String,
    #[run_metadata(rename = "ticket_id")]
    external_ticket: String,
}

fn main() {}
