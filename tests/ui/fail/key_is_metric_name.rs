use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    input_tokens: u64,
    #[run_metadata(rename = "duration")]
    expected_duration: f64,
}

fn main() {}
