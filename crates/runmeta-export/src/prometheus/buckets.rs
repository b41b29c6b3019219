//! Histogram bucket bounds: the OpenTelemetry GenAI semantic conventions' advice.

use prometheus_client::registry::Unit;

use super::family::{Buckets, FamilyDef, IntHistogram};

/// Bucket bounds of the duration histograms, in seconds: the OpenTelemetry GenAI advice for
/// `gen_ai.client.operation.duration` (0.01 s to 81.92 s, doubling).
pub const GENAI_DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Bucket bounds of the tokens-per-run histogram: the OpenTelemetry GenAI advice for
/// `gen_ai.client.token.usage` (1 to 67,108,864, quadrupling).
pub const GENAI_TOKEN_BUCKETS: [f64; 14] = [
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];

/// [`GENAI_DURATION_BUCKETS`] in nanoseconds, so observations compare as exact integers.
const DURATION_BOUNDS_NANOS: [u64; 14] = [
    10_000_000,
    20_000_000,
    40_000_000,
    80_000_000,
    160_000_000,
    320_000_000,
    640_000_000,
    1_280_000_000,
    2_560_000_000,
    5_120_000_000,
    10_240_000_000,
    20_480_000_000,
    40_960_000_000,
    81_920_000_000,
];

/// [`GENAI_TOKEN_BUCKETS`] as integers.
const TOKEN_BOUNDS: [u64; 14] = [
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216,
    67_108_864,
];

/// A duration histogram family observing nanoseconds, exposed in seconds.
pub(crate) fn seconds_histogram(
    name: &'static str,
    exposed_name: &'static str,
    help: &'static str,
    overflow_names: &'static [&'static str],
) -> FamilyDef<IntHistogram> {
    FamilyDef {
        name,
        exposed_name,
        help,
        unit: Some(Unit::Seconds),
        spec: Buckets {
            bounds: &DURATION_BOUNDS_NANOS,
            exposed: &GENAI_DURATION_BUCKETS,
            divisor: 1e9,
        },
        overflow_names,
    }
}

/// A token-count histogram family.
pub(crate) fn token_histogram(
    name: &'static str,
    help: &'static str,
    overflow_names: &'static [&'static str],
) -> FamilyDef<IntHistogram> {
    FamilyDef {
        name,
        exposed_name: name,
        help,
        unit: None,
        spec: Buckets {
            bounds: &TOKEN_BOUNDS,
            exposed: &GENAI_TOKEN_BUCKETS,
            divisor: 1.0,
        },
        overflow_names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::cast_precision_loss)]
    fn integer_bounds_match_the_exposed_bounds() {
        for (nanos, secs) in DURATION_BOUNDS_NANOS.iter().zip(GENAI_DURATION_BUCKETS) {
            assert!(
                (*nanos as f64 / 1e9 - secs).abs() < 1e-12,
                "{nanos} vs {secs}"
            );
        }
        for (n, f) in TOKEN_BOUNDS.iter().zip(GENAI_TOKEN_BUCKETS) {
            assert_eq!(*n as f64, f);
        }
        assert!(DURATION_BOUNDS_NANOS.windows(2).all(|w| w[0] < w[1]));
        assert!(TOKEN_BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }
}
