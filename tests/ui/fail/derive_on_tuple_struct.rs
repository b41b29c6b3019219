use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun(String, Priority);

fn main() {}
