//! The sketch's compact counters: `u16` until a bucket passes 65 535 values, then the whole
//! window is promoted to `u32`; counts are never wrapped or lost, merges and snapshots stay
//! exact across the two widths.

use runmeta_core::aggregate::sketch::{
    bucket_high, bucket_index, COUNTER_BYTES, NARROW_COUNTER_BYTES, WORST_CASE_BYTES,
};
use runmeta_core::aggregate::Sketch;

const LIMIT: u64 = u16::MAX as u64; // 65 535

fn hits(value: u64, n: u64) -> Sketch {
    let mut s = Sketch::new();
    for _ in 0..n {
        s.record(value);
    }
    s
}

fn buckets(s: &Sketch) -> Vec<(u64, u64)> {
    s.buckets().collect()
}

#[test]
fn exactly_65535_hits_stay_narrow() {
    let s = hits(1_500_000, LIMIT);
    assert!(!s.is_promoted());
    assert_eq!(s.count(), LIMIT);
    assert_eq!(s.memory_bytes(), 32 * NARROW_COUNTER_BYTES);
    assert_eq!(
        buckets(&s),
        vec![(bucket_high(bucket_index(1_500_000)), LIMIT)]
    );
}

#[test]
fn the_65536th_hit_promotes_and_is_counted() {
    let mut s = hits(1_500_000, LIMIT);
    let p50 = s.quantile(0.5);
    s.record(1_500_000);
    assert!(s.is_promoted());
    assert_eq!(s.count(), LIMIT + 1);
    // Same window (one cache line of u16 = two of u32), same quantiles.
    assert_eq!(s.memory_bytes(), 32 * COUNTER_BYTES);
    assert_eq!(s.quantile(0.5), p50);
    s.record(1_500_000);
    s.record(7);
    assert_eq!(s.count(), LIMIT + 3);
    assert_eq!(
        buckets(&s),
        vec![(7, 1), (bucket_high(bucket_index(1_500_000)), LIMIT + 2)]
    );
}

#[test]
fn record_n_at_the_boundary() {
    let mut a = Sketch::new();
    a.record_n(300, LIMIT);
    assert!(!a.is_promoted());
    assert_eq!(a, hits(300, LIMIT));
    let mut b = Sketch::new();
    b.record_n(300, LIMIT + 1);
    assert!(b.is_promoted());
    assert_eq!(b, hits(300, LIMIT + 1));
    assert_eq!(b.count(), LIMIT + 1);
    // Other buckets keep their counts through the promotion.
    let mut c = Sketch::new();
    c.record_n(5, 3);
    c.record_n(1_000_000, 9);
    c.record_n(300, LIMIT);
    c.record(300);
    assert!(c.is_promoted());
    assert_eq!(c.count(), 12 + LIMIT + 1);
    assert_eq!(
        buckets(&c),
        vec![
            (5, 3),
            (bucket_high(bucket_index(300)), LIMIT + 1),
            (bucket_high(bucket_index(1_000_000)), 9)
        ]
    );
}

#[test]
fn merging_two_narrow_sketches_past_the_limit_promotes() {
    let a = hits(42, 40_000);
    let b = hits(42, 40_000);
    let mut m = a.clone();
    m.merge(&b);
    assert!(m.is_promoted());
    assert_eq!(m.count(), 80_000);
    assert_eq!(buckets(&m), vec![(42, 80_000)]);
    // Exactly at the limit: stays narrow.
    let mut n = hits(42, 30_000);
    n.merge(&hits(42, LIMIT - 30_000));
    assert!(!n.is_promoted());
    assert_eq!(buckets(&n), vec![(42, LIMIT)]);
}

#[test]
fn merges_of_a_narrow_and_a_wide_sketch_are_exact_both_ways() {
    let mut wide = Sketch::new();
    wide.record_n(2_000, LIMIT + 10);
    wide.record_n(50, 4);
    assert!(wide.is_promoted());
    let mut narrow = Sketch::new();
    narrow.record_n(2_000, 5);
    narrow.record_n(9_000_000, 2);
    assert!(!narrow.is_promoted());
    let expect = vec![
        (50, 4),
        (bucket_high(bucket_index(2_000)), LIMIT + 15),
        (bucket_high(bucket_index(9_000_000)), 2),
    ];

    let mut n_into_w = wide.clone();
    n_into_w.merge(&narrow);
    assert_eq!(buckets(&n_into_w), expect);

    let mut w_into_n = narrow.clone();
    w_into_n.merge(&wide);
    assert!(w_into_n.is_promoted());
    assert_eq!(buckets(&w_into_n), expect);
    assert_eq!(w_into_n, n_into_w);
    assert_eq!(w_into_n.count(), LIMIT + 21);

    // A wide sketch whose counts are all small equals (and merges like) a narrow one.
    let mut small_wide = Sketch::new();
    small_wide.record_n(2_000, LIMIT + 1);
    let mut back = Sketch::new();
    back.record_n(2_000, 1);
    let mut x = small_wide.clone();
    x.merge(&back);
    assert_eq!(x.count(), LIMIT + 2);
    let mut into_empty = Sketch::new();
    into_empty.merge(&narrow);
    assert!(!into_empty.is_promoted());
    assert_eq!(into_empty, narrow);
}

#[test]
fn snapshots_of_promoted_sketches_round_trip() {
    let mut s = hits(1_234_567, LIMIT + 1);
    s.record_n(3, 2);
    s.record_n(u64::MAX, 1);
    assert!(s.is_promoted());
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(&format!(",{}]", LIMIT + 1)), "{json}");
    let back: Sketch = serde_json::from_str(&json).unwrap();
    assert!(back.is_promoted());
    assert_eq!(back, s);
    assert_eq!(back.count(), LIMIT + 4);
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert!(back.memory_bytes() <= WORST_CASE_BYTES);

    // A snapshot with a count of exactly 65 535 loads narrow, identically.
    let narrow: Sketch = serde_json::from_str(&format!("[[99,{LIMIT}]]")).unwrap();
    assert!(!narrow.is_promoted());
    assert_eq!(narrow, hits(99, LIMIT));
}

#[test]
fn counters_saturate_at_u32_max_never_wrap() {
    let mut s = Sketch::new();
    s.record_n(7, u64::from(u32::MAX) + 5);
    assert_eq!(s.count(), u64::from(u32::MAX));
    s.record(7);
    assert_eq!(s.count(), u64::from(u32::MAX));
    let mut n = hits(7, 3);
    n.merge(&s);
    assert_eq!(n.count(), u64::from(u32::MAX));
}

#[test]
fn a_count_near_u64_max_saturates_in_a_filled_bucket() {
    // A narrow bucket and a wide one, each given a count that overflows a `u64` sum.
    let mut narrow = hits(7, 3);
    narrow.record_n(7, u64::MAX);
    assert_eq!(narrow.count(), u64::from(u32::MAX));
    let mut wide = Sketch::new();
    wide.record_n(7, u64::from(u32::MAX) - 1);
    wide.record_n(7, u64::MAX);
    assert_eq!(wide.count(), u64::from(u32::MAX));
    // The same through a snapshot that repeats a bucket (legacy snapshots do).
    let back: Sketch = serde_json::from_str("[[100,1],[100,18446744073709551615]]").unwrap();
    assert_eq!(back.count(), u64::from(u32::MAX));
}

#[test]
fn worst_case_bound_holds_narrow_and_promoted() {
    let mut s = Sketch::new();
    s.record(0);
    s.record(u64::MAX);
    assert!(!s.is_promoted());
    assert_eq!(s.memory_bytes(), WORST_CASE_BYTES / 2);
    s.record_n(0, LIMIT);
    assert!(s.is_promoted());
    assert_eq!(s.memory_bytes(), WORST_CASE_BYTES);
    assert_eq!(WORST_CASE_BYTES, 8_964);
}
