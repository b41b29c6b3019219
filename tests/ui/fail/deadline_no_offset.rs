fn main() {
    let _ = runmeta::deadline!("2024-01-15T14:00:00");
}
