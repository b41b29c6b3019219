use runmeta::prelude::*;

#[derive(MetadataEnum)]
enum RequestType {
    Billing,
    Technical { severity: u8 },
}

fn main() {}
