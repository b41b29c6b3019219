use runmeta::prelude::*;

struct NotMetadata;

// Reported at the expression, not at the attribute.
#[track_run(metadata = NotMetadata)]
fn handle() {}

fn main() {
    handle();
}
