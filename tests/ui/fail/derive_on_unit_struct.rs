use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun;

fn main() {}
