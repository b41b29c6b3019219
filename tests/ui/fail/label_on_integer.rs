use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(label)]
    escalation_level: u8,
}

fn main() {}
