//! A grouping's field plan: computed once per [`GroupBy`](super::GroupBy), it says for each
//! record field which key position (if any) takes its value, so that building a record's key
//! reads only the fields the grouping uses, in straight-line code with no per-dimension
//! dispatch (a loop over the dimensions with a `match` made the compiler load every field
//! any dimension could need before the loop).

use std::sync::Arc;

use super::group::{main_model, Dimension, MAX_DIMENSIONS};
use super::key::KeyValue;
use crate::run::RunRecord;

/// The position of a field not in the key (any index past [`MAX_DIMENSIONS`] works: the
/// lookup of the position is the test).
const UNUSED: u8 = u8::MAX;

/// Which key position each record field fills; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FieldPlan {
    len: u8,
    agent: u8,
    team: u8,
    release: u8,
    model: u8,
    tool: u8,
    status: u8,
    stop_reason: u8,
    /// Label keys and their positions.
    labels: Box<[(Arc<str>, u8)]>,
}

impl FieldPlan {
    /// The plan of `dims` (at most [`MAX_DIMENSIONS`], each at most once: what
    /// [`GroupBy::new`](super::GroupBy::new) checks; further dimensions are ignored).
    pub(crate) fn new(dims: &[Dimension]) -> Self {
        let mut plan = FieldPlan {
            len: 0,
            agent: UNUSED,
            team: UNUSED,
            release: UNUSED,
            model: UNUSED,
            tool: UNUSED,
            status: UNUSED,
            stop_reason: UNUSED,
            labels: Box::new([]),
        };
        let mut labels = Vec::new();
        for (i, d) in dims.iter().take(MAX_DIMENSIONS).enumerate() {
            // i < MAX_DIMENSIONS = 8.
            let at = u8::try_from(i).unwrap_or(UNUSED);
            plan.len = at + 1;
            match d {
                Dimension::Agent => plan.agent = at,
                Dimension::Team => plan.team = at,
                Dimension::Release => plan.release = at,
                Dimension::Model => plan.model = at,
                Dimension::Tool => plan.tool = at,
                Dimension::Status => plan.status = at,
                Dimension::StopReason => plan.stop_reason = at,
                Dimension::Label(key) => labels.push((key.clone(), at)),
            }
        }
        plan.labels = labels.into();
        plan
    }

    /// The number of key values.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Writes the values of `record` (with `tool` as the value of [`Dimension::Tool`]) in
    /// key order into the first [`FieldPlan::len`] entries of `v` (which must be
    /// [`KeyValue::Absent`]: a field the record lacks is not written).
    #[inline(always)]
    pub(crate) fn values_into<'a>(
        &self,
        v: &mut [KeyValue<'a>; MAX_DIMENSIONS],
        record: &'a RunRecord,
        tool: Option<&'a str>,
    ) {
        // A position is either a slot of `v` or UNUSED (no slot): `get_mut` is the test.
        if let Some(slot) = v.get_mut(usize::from(self.agent)) {
            *slot = KeyValue::Str(&record.agent);
        }
        if let Some(slot) = v.get_mut(usize::from(self.release)) {
            *slot = opt(record.release.as_deref());
        }
        if let Some(slot) = v.get_mut(usize::from(self.model)) {
            if let Some(m) = main_model(record) {
                *slot = KeyValue::Pair(&m.provider, &m.id);
            }
        }
        for (key, at) in &*self.labels {
            if let Some(slot) = v.get_mut(usize::from(*at)) {
                *slot = opt(record.label(key));
            }
        }
        if let Some(slot) = v.get_mut(usize::from(self.team)) {
            *slot = opt(record.team.as_deref());
        }
        if let Some(slot) = v.get_mut(usize::from(self.tool)) {
            *slot = opt(tool);
        }
        if let Some(slot) = v.get_mut(usize::from(self.status)) {
            *slot = KeyValue::Str(record.status.as_str());
        }
        if let Some(slot) = v.get_mut(usize::from(self.stop_reason)) {
            *slot = KeyValue::Str(&record.stop_reason);
        }
    }

    /// The values of `record` in key order: the first [`FieldPlan::len`] entries.
    #[cfg(test)]
    pub(crate) fn values<'a>(
        &self,
        record: &'a RunRecord,
        tool: Option<&'a str>,
    ) -> [KeyValue<'a>; MAX_DIMENSIONS] {
        let mut v = [KeyValue::Absent; MAX_DIMENSIONS];
        self.values_into(&mut v, record, tool);
        v
    }
}

#[inline(always)]
fn opt(s: Option<&str>) -> KeyValue<'_> {
    s.map_or(KeyValue::Absent, KeyValue::Str)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::group::GroupBy;
    use crate::aggregate::key::{KeyRef, KeyWords};
    use crate::metrics::{MessageMetrics, Metrics, ModelRef, ModelRole};
    use crate::run::{MetadataRecord, MetadataValue, ModelBreakdown, RunStatus};
    use crate::schema::JsonMetadata;

    fn model(role: ModelRole, provider: &str, id: &str) -> ModelBreakdown {
        ModelBreakdown {
            model: ModelRef {
                role,
                provider: provider.into(),
                id: id.into(),
            },
            calls: 1,
            metrics: Metrics::default(),
        }
    }

    /// Records covering every field present and absent, long strings, and each way the
    /// main model is found (role `model`, first model, first message, none).
    fn records() -> Vec<RunRecord> {
        let mut out = Vec::new();
        for i in 0..8u32 {
            let mut r = RunRecord::new(
                if i % 2 == 0 {
                    "support"
                } else {
                    "an-agent-name-longer-than-16"
                },
                jiff::Timestamp::UNIX_EPOCH,
            );
            if i & 1 != 0 {
                r.team = Some("team-a".into());
            }
            if i & 2 != 0 {
                r.release = Some(Arc::from("2026-03-21"));
            }
            match i % 4 {
                0 => {
                    r.per_model
                        .push(model(ModelRole::ParserModel, "openai", "gpt-4o-mini"));
                    r.per_model
                        .push(model(ModelRole::Model, "anthropic", "claude-3-5-sonnet"));
                }
                1 => r
                    .per_model
                    .push(model(ModelRole::ParserModel, "google", "gemini-2.5-flash")),
                2 => r.messages.push(MessageMetrics {
                    model: Some(ModelRef {
                        role: ModelRole::Model,
                        provider: "openai".into(),
                        id: "gpt-4o".into(),
                    }),
                    ..MessageMetrics::default()
                }),
                _ => {}
            }
            if i & 4 != 0 {
                r.status = RunStatus::Error;
                r.stop_reason = "max_steps".into();
            }
            if i != 7 {
                let mut values = serde_json::Map::new();
                values.insert("priority".into(), "high".into());
                if i % 3 == 0 {
                    values.insert("tier".into(), "a-tier-value-longer-than-sixteen".into());
                }
                r.metadata = Some(MetadataRecord {
                    value: MetadataValue::new(JsonMetadata {
                        schema: "S".into(),
                        version: 1,
                        values,
                        label_keys: vec!["priority".into(), "tier".into()],
                        sla_deadline_key: None,
                        sla_target_key: None,
                    }),
                    errors: None,
                });
            }
            out.push(r);
        }
        out
    }

    fn all_dimensions() -> Vec<Dimension> {
        vec![
            Dimension::Agent,
            Dimension::Team,
            Dimension::Release,
            Dimension::Model,
            Dimension::Tool,
            Dimension::Status,
            Dimension::StopReason,
            Dimension::Label("priority".into()),
            Dimension::Label("tier".into()),
        ]
    }

    /// Every subset of the dimensions (at most 8 of them), in their order and reversed,
    /// gives through the plan the values, words and hash of the per-dimension key
    /// (`KeyRef::of_record`, which groups are created from), so the same groups.
    #[test]
    fn plan_gives_the_per_dimension_key_for_every_subset() {
        let all = all_dimensions();
        let records = records();
        let mut words = KeyWords::default();
        let mut checked = 0;
        for mask in 0u32..1 << all.len() {
            let subset: Vec<Dimension> = (0..all.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i].clone())
                .collect();
            if subset.len() > MAX_DIMENSIONS {
                continue;
            }
            let mut reversed = subset.clone();
            reversed.reverse();
            for dims in [subset, reversed] {
                let by = GroupBy::new(dims).unwrap();
                assert_eq!(by.plan().len(), by.dimensions().len());
                for r in &records {
                    for tool in [
                        None,
                        Some("search_docs"),
                        Some("a-tool-name-longer-than-16"),
                    ] {
                        let key = KeyRef::of_record(&by, r, tool);
                        let planned = by.plan().values(r, tool);
                        assert_eq!(
                            &planned[..by.plan().len()],
                            key.values().collect::<Vec<_>>().as_slice()
                        );
                        words.fill(&by, r, tool);
                        assert_eq!(words.hash, key.words.hash);
                        assert!(words.matches(&key.stored_lines()));
                        assert!(key.words.matches(&words.stored_lines()));
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn fields_outside_the_grouping_are_not_read() {
        let by = GroupBy::new([Dimension::Label("priority".into()), Dimension::Agent]).unwrap();
        let plan = by.plan();
        assert_eq!(plan.len(), 2);
        assert_eq!(plan.agent, 1);
        assert_eq!(&*plan.labels, &[(Arc::from("priority"), 0)]);
        for unused in [plan.team, plan.release, plan.model, plan.tool, plan.status] {
            assert_eq!(unused, UNUSED);
        }
        assert_eq!(GroupBy::none().plan().len(), 0);
    }
}
