//! JSONL import into the SQLite store (`Store::import_jsonl`) of arbitrary bytes: never
//! panics, every line is accounted for (imported, duplicate, error or blank), and each stored
//! record is exactly one of the input lines that carried its run id.
#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use runmeta::run::RunRecord;
use runmeta_store::{RunFilter, Store};
use serde_json::Value;

/// A directory on tmpfs when there is one: a fresh store per input.
fn scratch() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!(
        "runmeta-fuzz-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut store = Store::open(dir.join("runs.db")).expect("store opens");
    let summary = store.import_jsonl(data, |_| {}).expect("in-memory input");

    let lines: Vec<&[u8]> = {
        let mut l: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        if data.is_empty() || data.ends_with(b"\n") {
            l.pop();
        }
        l
    };
    assert_eq!(summary.lines, lines.len() as u64, "{summary:?}");
    let blank = lines
        .iter()
        .filter(|l| l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    assert_eq!(
        summary.imported + summary.duplicates + summary.error_count + blank,
        summary.lines,
        "{summary:?}"
    );
    assert!(summary.errors.len() as u64 <= summary.error_count);
    assert_eq!(store.run_count().expect("count"), summary.imported);

    // Each stored record is one of the lines that carried its run id.
    let mut candidates: HashMap<String, Vec<Value>> = HashMap::new();
    for line in &lines {
        if let Some(record) = std::str::from_utf8(line)
            .ok()
            .and_then(|t| RunRecord::from_json_str(t).ok())
        {
            candidates
                .entry(record.run_id.to_string())
                .or_default()
                .push(record.to_json());
        }
    }
    let mut exported = Vec::new();
    let n = store
        .export_jsonl(&RunFilter::default(), &mut exported)
        .expect("export");
    assert_eq!(n, summary.imported);
    for line in exported.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let stored: Value = serde_json::from_slice(line).expect("exported JSON");
        let id = stored["run_id"].as_str().expect("run id").to_owned();
        let options = candidates.get(&id).expect("stored run came from a line");
        assert!(
            options.contains(&stored),
            "stored {stored}\nnone of {options:?}"
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
});
