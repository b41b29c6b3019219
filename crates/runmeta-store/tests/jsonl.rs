//! JSONL export and import.

mod common;

use common::{at_secs, full_run, simple_run};
use runmeta_store::{RunFilter, Store};

#[test]
fn export_then_import_reproduces_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = Store::open(dir.path().join("a.db")).unwrap();
    let mut runs = vec![full_run()];
    runs.extend((0..2_500).map(|i| simple_run("a", at_secs(i), 10 + i as u64)));
    src.insert(&runs).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        src.export_jsonl(&RunFilter::default(), &mut out).unwrap(),
        2_501
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.lines().count(), 2_501);

    let mut dst = Store::open(dir.path().join("b.db")).unwrap();
    let mut calls = 0;
    let summary = dst.import_jsonl(&out[..], |_| calls += 1).unwrap();
    assert_eq!(summary.imported, 2_501);
    assert_eq!(summary.error_count, 0);
    assert!(calls >= 1);
    for r in &runs {
        let back = dst.run(r.run_id).unwrap().unwrap();
        assert_eq!(back.to_json(), r.to_json());
    }
    // Importing again only finds duplicates.
    let again = dst.import_jsonl(&out[..], |_| {}).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 2_501));
}

#[test]
fn bad_lines_are_reported_by_number_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("a.db")).unwrap();
    let good = |i: i64| simple_run("a", at_secs(i), 10).to_json().to_string();
    let truncated = good(9);
    let input = [
        good(1),
        "not json".to_owned(),
        String::new(),
        good(2),
        r#"{"run_id": "x"}"#.to_owned(),
        "{\"run_id\": \"'; DROP TABLE runs; --\", \"agent_name\": 1}".to_owned(),
        good(3),
        truncated[..truncated.len() / 2].to_owned(),
    ]
    .join("\n");
    let summary = store.import_jsonl(input.as_bytes(), |_| {}).unwrap();
    assert_eq!(summary.lines, 8);
    assert_eq!(summary.imported, 3);
    assert_eq!(summary.error_count, 4);
    let lines: Vec<u64> = summary.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 5, 6, 8]);
    assert!(summary.errors[0].message.starts_with("invalid JSON"));
    assert!(
        summary.errors[3].message.starts_with("truncated JSON"),
        "{:?}",
        summary.errors[3]
    );
    assert!(summary.errors[1]
        .to_string()
        .starts_with("line 5: invalid run record"));
    assert_eq!(store.run_count().unwrap(), 3);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn export_honours_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("a.db")).unwrap();
    store
        .insert(&[
            simple_run("a", at_secs(0), 1),
            simple_run("b", at_secs(1), 1),
        ])
        .unwrap();
    let mut out = Vec::new();
    let filter = RunFilter {
        agent: Some("b".into()),
        ..RunFilter::default()
    };
    assert_eq!(store.export_jsonl(&filter, &mut out).unwrap(), 1);
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("\"agent_name\":\"b\""));
}
