use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    tags: Vec<String>,
}

fn main() {}
