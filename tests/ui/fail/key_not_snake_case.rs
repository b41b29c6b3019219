use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(rename = "ticketId")]
    ticket_id: String,
}

fn main() {}
