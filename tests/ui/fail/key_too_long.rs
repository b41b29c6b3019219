use runmeta::prelude::*;

#[derive(RunMetadata)]
struct SupportRun {
    #[run_metadata(rename = "a_key_that_is_much_longer_than_the_sixty_four_bytes_a_metadata_key_may_have")]
    ticket_id: String,
}

fn main() {}
