//! The serialized form of [`GroupStats`]: the fields in their original order, the token
//! sums and sketches together as `tokens: [{sum, sketch}; 6]`, so that snapshots written
//! before the two were split in memory load unchanged, and new ones read the same.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::stats::Hints;
use super::{CappedCounts, GroupStats, Sketch, ToolStats};
use crate::metrics::Cost;
use crate::sla::SlaCounts;

/// A token type's serialized sum and sketch.
#[derive(Serialize, Deserialize)]
struct TokenRepr<S> {
    sum: u64,
    sketch: Option<S>,
}

/// [`GroupStats`] as serialized, generic over owning (`Deserialize`) or borrowing
/// (`Serialize`) its tables and sketches.
#[derive(Serialize, Deserialize)]
pub(crate) struct GroupStatsRepr<C, K, T> {
    runs: u64,
    by_status: [u64; 4],
    latency_max_us: u64,
    cost_total: Cost,
    priced_cost: Cost,
    priced_runs: u64,
    unpriced_runs: u64,
    tool_calls: u64,
    tool_errors: u64,
    sla: SlaCounts,
    stop_reasons: C,
    latency_us: K,
    ttft_us: K,
    tools: T,
    tokens: [TokenRepr<K>; 6],
    error_classes: C,
}

impl Serialize for GroupStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tokens: [TokenRepr<&Sketch>; 6] = std::array::from_fn(|i| TokenRepr {
            sum: self.token_sums[i],
            sketch: self.token_sketches[i].as_ref(),
        });
        GroupStatsRepr {
            runs: self.runs,
            by_status: self.by_status,
            latency_max_us: self.latency_max_us,
            cost_total: self.cost_total,
            priced_cost: self.priced_cost,
            priced_runs: self.priced_runs,
            unpriced_runs: self.unpriced_runs,
            tool_calls: self.tool_calls,
            tool_errors: self.tool_errors,
            sla: self.sla,
            stop_reasons: &self.stop_reasons,
            latency_us: &self.latency_us,
            ttft_us: &self.ttft_us,
            tools: &self.tools,
            tokens,
            error_classes: &self.error_classes,
        }
        .serialize(s)
    }
}

type OwnedRepr = GroupStatsRepr<CappedCounts, Sketch, Vec<(Box<str>, ToolStats)>>;

impl<'de> Deserialize<'de> for GroupStats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = OwnedRepr::deserialize(d)?;
        let mut token_sums = [0; 6];
        let mut token_sketches: [Option<Sketch>; 6] = Default::default();
        for ((sum, sketch), t) in token_sums.iter_mut().zip(&mut token_sketches).zip(r.tokens) {
            *sum = t.sum;
            *sketch = t.sketch;
        }
        Ok(GroupStats {
            runs: r.runs,
            by_status: r.by_status,
            latency_max_us: r.latency_max_us,
            cost_total: r.cost_total,
            priced_cost: r.priced_cost,
            priced_runs: r.priced_runs,
            unpriced_runs: r.unpriced_runs,
            tool_calls: r.tool_calls,
            tool_errors: r.tool_errors,
            sla: r.sla,
            token_sums,
            hints: Hints::default(),
            latency_us: r.latency_us,
            ttft_us: r.ttft_us,
            stop_reasons: r.stop_reasons,
            tools: r.tools,
            token_sketches,
            error_classes: r.error_classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_serialize_as_sum_and_sketch_pairs() {
        let mut s = GroupStats::new([false, false, true, false, false, false]);
        s.runs = 2;
        s.token_sums = [1, 2, 3, 4, 5, 6];
        if let Some(k) = &mut s.token_sketches[2] {
            k.record(3);
        }
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["tokens"][0],
            serde_json::json!({"sum": 1, "sketch": null})
        );
        assert_eq!(
            json["tokens"][2],
            serde_json::json!({"sum": 3, "sketch": [[3, 1]]})
        );
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(keys.contains(&"stop_reasons") && !keys.contains(&"token_sums"));
        let back: GroupStats = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
