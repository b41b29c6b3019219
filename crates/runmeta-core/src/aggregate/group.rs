//! Grouping: the dimensions a run can be grouped by, and the group index that finds a run's
//! group from borrowed values, hashing them without allocating.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

pub(crate) use super::key::{key_from_owned, KeyRef};
use crate::metrics::{ModelRef, ModelRole};
use crate::run::RunRecord;

/// Most dimensions one [`GroupBy`] may hold.
pub const MAX_DIMENSIONS: usize = 8;

/// The value that stands for every group past the aggregator's group cap, in every dimension.
pub const OVERFLOW_VALUE: &str = "__overflow__";

/// What runs can be grouped by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// The agent's name.
    Agent,
    /// The team the agent ran in (absent for a solo agent).
    Team,
    /// The release from the collector's configuration.
    Release,
    /// The run's main model as `provider/model_id`: the first model in the role `model`,
    /// else the first model the run called.
    Model,
    /// Each tool the run called: a run with several distinct tools counts in each tool's
    /// group (with that tool's calls only); a run without tool calls has no tool value.
    Tool,
    /// `success`, `error`, `panicked` or `cancelled`.
    Status,
    /// The run's stop reason.
    StopReason,
    /// A metadata label field, by key (`priority`, `customer_tier`, ...).
    Label(Arc<str>),
}

impl Dimension {
    /// The dimension's name: `agent`, `team`, `release`, `model`, `tool`, `status`,
    /// `stop_reason`, or the label's key.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Dimension::Agent => "agent",
            Dimension::Team => "team",
            Dimension::Release => "release",
            Dimension::Model => "model",
            Dimension::Tool => "tool",
            Dimension::Status => "status",
            Dimension::StopReason => "stop_reason",
            Dimension::Label(key) => key,
        }
    }

    /// The dimension a name stands for; any name other than the built-in ones is a label key.
    #[must_use]
    pub fn from_name(name: &str) -> Dimension {
        match name {
            "agent" => Dimension::Agent,
            "team" => Dimension::Team,
            "release" => Dimension::Release,
            "model" => Dimension::Model,
            "tool" => Dimension::Tool,
            "status" => Dimension::Status,
            "stop_reason" => Dimension::StopReason,
            key => Dimension::Label(Arc::from(key)),
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A [`GroupBy`] that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupByError {
    /// More than [`MAX_DIMENSIONS`] dimensions.
    #[error("at most {MAX_DIMENSIONS} group-by dimensions are supported, found {0}")]
    TooMany(usize),
    /// A dimension given twice.
    #[error("group-by dimension `{0}` is given twice")]
    Duplicate(String),
    /// An empty dimension name.
    #[error("empty group-by dimension name")]
    Empty,
}

/// The ordered set of dimensions runs are grouped by; cheap to clone.
///
/// ```
/// use runmeta_core::aggregate::{Dimension, GroupBy};
/// let by = GroupBy::parse("agent, model, priority").unwrap();
/// assert_eq!(by.dimensions()[2], Dimension::Label("priority".into()));
/// assert!(GroupBy::parse("agent,agent").is_err());
/// assert!(GroupBy::none().dimensions().is_empty()); // one group: all runs
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupBy {
    dims: Arc<[Dimension]>,
    has_tool: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy::none()
    }
}

impl GroupBy {
    /// Grouping by the given dimensions, in order.
    ///
    /// # Errors
    /// More than [`MAX_DIMENSIONS`], or a dimension given twice.
    pub fn new(dims: impl IntoIterator<Item = Dimension>) -> Result<Self, GroupByError> {
        let dims: Vec<Dimension> = dims.into_iter().collect();
        if dims.len() > MAX_DIMENSIONS {
            return Err(GroupByError::TooMany(dims.len()));
        }
        for (i, d) in dims.iter().enumerate() {
            if d.name().is_empty() {
                return Err(GroupByError::Empty);
            }
            if dims[..i].iter().any(|e| e.name() == d.name()) {
                return Err(GroupByError::Duplicate(d.name().to_owned()));
            }
        }
        let has_tool = dims.contains(&Dimension::Tool);
        Ok(GroupBy {
            dims: dims.into(),
            has_tool,
        })
    }

    /// No dimension: every run falls in one group.
    #[must_use]
    pub fn none() -> Self {
        GroupBy {
            dims: Arc::from(Vec::new()),
            has_tool: false,
        }
    }

    /// Parses comma-separated dimension names (see [`Dimension::from_name`]).
    ///
    /// # Errors
    /// As [`GroupBy::new`], and an empty name between commas.
    pub fn parse(list: &str) -> Result<Self, GroupByError> {
        if list.trim().is_empty() {
            return Ok(GroupBy::none());
        }
        let mut dims = Vec::new();
        for name in list.split(',') {
            let name = name.trim();
            if name.is_empty() {
                return Err(GroupByError::Empty);
            }
            dims.push(Dimension::from_name(name));
        }
        GroupBy::new(dims)
    }

    /// The dimensions, in order.
    #[must_use]
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// True when [`Dimension::Tool`] is one of the dimensions.
    #[must_use]
    pub fn has_tool(&self) -> bool {
        self.has_tool
    }
}

/// One dimension's value in a group's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct GroupLabel {
    /// The dimension's name (`agent`, `model`, a label key, ...).
    pub dimension: String,
    /// The value, or `None` when the run had none (no team, no such label, no tool call).
    pub value: Option<String>,
}

/// The run's main model: the first model in the role `model`, else the first model seen.
#[must_use]
pub fn main_model(record: &RunRecord) -> Option<&ModelRef> {
    record
        .per_model
        .iter()
        .find(|b| b.model.role == ModelRole::Model)
        .or_else(|| record.per_model.first())
        .map(|b| &b.model)
        .or_else(|| record.messages.iter().find_map(|m| m.model.as_ref()))
}

/// A group's value in one dimension, as stored once per group and in snapshots
/// (JSON: `null`, `"value"`, or `["provider", "model_id"]` for [`Dimension::Model`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum GroupValue {
    /// The run had no value in this dimension.
    Absent,
    /// A value.
    Str(Box<str>),
    /// A model: provider and model id.
    Pair(Box<str>, Box<str>),
}

impl GroupValue {
    /// The value as text (`provider/model_id` for a model); `None` when absent.
    #[must_use]
    pub fn display(&self) -> Option<String> {
        match self {
            GroupValue::Absent => None,
            GroupValue::Str(s) => Some(s.to_string()),
            GroupValue::Pair(a, b) => Some(format!("{a}/{b}")),
        }
    }
}

/// Hashes are already mixed; the table uses them as they are.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const NO_NEXT: u32 = u32::MAX;

/// One group: its owned key and its value.
#[derive(Clone, Debug)]
pub(crate) struct Entry<T> {
    pub(crate) key: Box<[GroupValue]>,
    /// Where the key's words for [`KeyRef::matches`] are in [`GroupIndex`]'s arena.
    words_at: u32,
    words_len: u32,
    hash: u64,
    next: u32,
    pub(crate) value: T,
}

/// Groups by key: a hash of the borrowed values finds the group; values are compared only
/// against the groups with the same hash, and copied only when a group is created.
#[derive(Clone, Debug)]
pub(crate) struct GroupIndex<T> {
    heads: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    entries: Vec<Entry<T>>,
    /// Every group's key words, one after the other: a lookup reads one dense array (a few
    /// kilobytes for hundreds of groups) rather than one allocation per group.
    words: Vec<u64>,
}

impl<T> Default for GroupIndex<T> {
    fn default() -> Self {
        GroupIndex {
            heads: HashMap::default(),
            entries: Vec::new(),
            words: Vec::new(),
        }
    }
}

impl<T> GroupIndex<T> {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn find(&self, key: &KeyRef<'_>) -> Option<usize> {
        let mut i = *self.heads.get(&key.hash)?;
        while i != NO_NEXT {
            let e = &self.entries[i as usize];
            let at = e.words_at as usize;
            let stored = self
                .words
                .get(at..at + e.words_len as usize)
                .unwrap_or_default();
            if key.matches(stored) {
                return Some(i as usize);
            }
            i = e.next;
        }
        None
    }

    /// Inserts a group known to be absent; returns its index.
    pub(crate) fn insert(&mut self, key: &KeyRef<'_>, value: T) -> usize {
        let index = self.entries.len();
        let idx32 = u32::try_from(index).unwrap_or(NO_NEXT - 1);
        let next = self.heads.insert(key.hash, idx32).unwrap_or(NO_NEXT);
        let stored = key.stored_words();
        let words_at = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        let words_len = u32::try_from(stored.len()).unwrap_or(0);
        self.words.extend_from_slice(&stored);
        self.entries.push(Entry {
            key: key.owned_values(),
            words_at,
            words_len,
            hash: key.hash,
            next,
            value,
        });
        index
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.entries.get_mut(index).map(|e| &mut e.value)
    }

    pub(crate) fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }
}

impl<T> Entry<T> {
    pub(crate) fn key_ref(&self) -> KeyRef<'_> {
        let k = KeyRef::from_values(self.key.iter().map(GroupValue::borrow));
        debug_assert_eq!(k.hash, self.hash);
        k
    }

    pub(crate) fn labels(&self, by: &GroupBy) -> Vec<GroupLabel> {
        by.dimensions()
            .iter()
            .zip(self.key.iter())
            .map(|(d, v)| GroupLabel {
                dimension: d.name().to_owned(),
                value: v.display(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::key::KeyValue;

    #[test]
    fn index_finds_and_chains_on_collision() {
        let mut idx: GroupIndex<u32> = GroupIndex::default();
        let k1 = KeyRef::from_values([KeyValue::Str("a")]);
        let mut k2 = KeyRef::from_values([KeyValue::Str("b")]);
        k2.hash = k1.hash; // force a collision
        let i1 = idx.insert(&k1, 1);
        assert_eq!(idx.find(&k2), None);
        let i2 = idx.insert(&k2, 2);
        assert_eq!(idx.find(&k1), Some(i1));
        assert_eq!(idx.find(&k2), Some(i2));
    }

    #[test]
    fn group_by_rejects_too_many() {
        let dims = (0..9).map(|i| Dimension::Label(Arc::from(format!("l{i}"))));
        assert_eq!(GroupBy::new(dims), Err(GroupByError::TooMany(9)));
        assert_eq!(GroupBy::parse("agent,,model"), Err(GroupByError::Empty));
    }
}
