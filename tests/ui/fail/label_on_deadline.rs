use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(label)]
    sla_deadline: Deadline,
}

fn main() {}
