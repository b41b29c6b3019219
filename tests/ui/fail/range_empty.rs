use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(range = 3..=1)]
    escalation_level: u8,
}

fn main() {}
