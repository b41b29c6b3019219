use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(rename = "")]
    ticket_id: String,
}

fn main() {}
