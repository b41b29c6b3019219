use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(label, label)]
    priority: Priority,
    #[run_metadata(rename = "a", rename = "b")]
    tier: CustomerTier,
}

fn main() {}
