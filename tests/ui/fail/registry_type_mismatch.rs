use runmeta::prelude::*;

runmeta::metadata_keys! {
    pub mod org_keys {
        ticket_id: String,
        priority: Priority,
    }
}

#[derive(RunMetadata)]
#[run_metadata(keys = org_keys)]
struct SupportRun {
    ticket_id: String,
    priority: String,
}

fn main() {}
