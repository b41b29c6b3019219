use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(range = 1..=300)]
    escalation_level: u8,
}

fn main() {}
