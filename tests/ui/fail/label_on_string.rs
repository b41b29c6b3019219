use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(label)]
    customer_id: String,
}

fn main() {}
