fn main() {
    let _ = runmeta::deadline!("15/01/2024 14:00");
}
