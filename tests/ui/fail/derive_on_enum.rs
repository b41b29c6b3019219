use runmeta::prelude::*;

#[derive(RunMetadata)]
enum SupportRun {
    Billing,
}

fn main() {}
