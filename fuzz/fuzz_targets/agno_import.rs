//! Agno session / run import (`parse_agno`, `Store::import_agno`) of arbitrary bytes: never
//! panics; every run (and every part of the input that is not a session or a run) is either
//! converted or reported with its place and what is wrong; a run's result does not depend on
//! its siblings (each top-level element alone converts the same, and a valid session next
//! to the input, in the same array or on the next JSONL line, imports completely); the store
//! accounts for every entry (imported, duplicate or error).
#![no_main]

use std::path::PathBuf;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use runmeta_store::Store;

#[path = "../../tests/fuzz_cases/agno.rs"]
mod agno;

/// A store reused across inputs (a fresh one per input is 100× slower), replaced now and
/// then so it stays small.
static STORE: Mutex<Option<(Store, PathBuf, u32)>> = Mutex::new(None);

fn with_store(f: impl FnOnce(&mut Store)) {
    let mut guard = STORE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.as_ref().is_some_and(|(_, _, uses)| *uses >= 20_000) {
        if let Some((store, dir, _)) = guard.take() {
            drop(store);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let (store, _, uses) = guard.get_or_insert_with(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "runmeta-fuzz-agno-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let store = Store::open(dir.join("runs.db")).expect("store opens");
        (store, dir, 0)
    });
    *uses += 1;
    f(store);
}

fuzz_target!(|data: &[u8]| with_store(|store| agno::check(data, store)));
