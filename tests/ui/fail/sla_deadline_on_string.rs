use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(sla_deadline)]
    due: String,
}

fn main() {}
