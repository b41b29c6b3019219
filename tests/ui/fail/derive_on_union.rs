use runmeta::prelude::*;

#[derive(RunMetadata)]
union SupportRun {
    level: u8,
}

fn main() {}
