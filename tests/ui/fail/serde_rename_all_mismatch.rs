use runmeta::prelude::*;

#[derive(RunMetadata, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SupportRun {
    ticket_id: String,
    customer_tier: String,
    // One word: the same under camelCase.
    department: String,
}

#[derive(RunMetadata, serde::Deserialize)]
struct Renamed {
    #[serde(rename(serialize = "ticket_id", deserialize = "ticket"))]
    ticket_id: String,
    // Both sides the key: fine.
    #[serde(rename(serialize = "tier", deserialize = "tier"))]
    #[run_metadata(rename = "tier")]
    customer_tier: String,
}

#[derive(RunMetadata, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
struct SnakeIsFine {
    ticket_id: String,
}

fn main() {}
