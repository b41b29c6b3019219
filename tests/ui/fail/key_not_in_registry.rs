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
    tiket_id: String,
    priority: Priority,
}

fn main() {}
