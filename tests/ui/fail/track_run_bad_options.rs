use runmeta::prelude::*;

#[track_run(agent = "a", agent = "b", retries = 3)]
fn handle() {}

fn main() {
    handle();
}
