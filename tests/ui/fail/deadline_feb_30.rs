fn main() {
    let _ = runmeta::deadline!("2024-02-30T14:00:00Z");
}
