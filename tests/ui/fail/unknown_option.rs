use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(lable)]
    priority: Priority,
}

fn main() {}
