use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(range = 1..=3)]
    ticket_id: String,
}

fn main() {}
