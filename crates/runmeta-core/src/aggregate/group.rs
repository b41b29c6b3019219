//! Grouping: the dimensions a run can be grouped by, and the group index that finds a run's
//! group from borrowed values, hashing them without allocating.

use std::fmt;
use std::sync::Arc;

pub(crate) use super::key::{key_from_owned, KeyRef, KeyWords};
use super::plan::FieldPlan;
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
    /// Which record field fills which key position (derived from `dims`).
    plan: Arc<FieldPlan>,
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
        let plan = Arc::new(FieldPlan::new(&dims));
        Ok(GroupBy {
            dims: dims.into(),
            has_tool,
            plan,
        })
    }

    /// No dimension: every run falls in one group.
    #[must_use]
    pub fn none() -> Self {
        GroupBy {
            dims: Arc::from(Vec::new()),
            has_tool: false,
            plan: Arc::new(FieldPlan::new(&[])),
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

    /// The fields a record's key is read from.
    pub(crate) fn plan(&self) -> &FieldPlan {
        &self.plan
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

const EMPTY: u32 = u32::MAX;

/// One group: its owned key and its value.
#[derive(Clone, Debug)]
pub(crate) struct Entry<T> {
    pub(crate) key: Box<[GroupValue]>,
    /// Where the key's lines for [`KeyRef::matches`] start in [`GroupIndex`]'s arena, and
    /// how many.
    words_at: u32,
    words_len: u32,
    hash: u64,
    pub(crate) value: T,
}

/// A slot of the open-addressing table: everything a lookup needs before the key words,
/// in 16 bytes (four slots per cache line), so that finding a group reads one slot and the
/// group's words, not its entry.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The top 32 bits of the key's hash (a filter; the words decide).
    tag: u32,
    /// The entry's index, [`EMPTY`] for a free slot.
    index: u32,
    words_at: u32,
    words_len: u32,
}

const FREE: Slot = Slot {
    tag: 0,
    index: EMPTY,
    words_at: 0,
    words_len: 0,
};

/// Eight words: the arena's unit, cache-line aligned, so that a key of up to 8 words is one
/// cache line and one of up to 16 two.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
pub(crate) struct Line(pub(crate) [u64; 8]);

/// Groups by key: a hash of the borrowed values finds the group; values are compared only
/// against the groups with the same hash, and copied only when a group is created.
///
/// The table is open-addressed (linear probing, at most a quarter full) and holds per group its
/// hash's top bits, its index and where its key words are; the words of every group are in
/// one arena of cache lines, each group's starting on a line.
#[derive(Clone, Debug)]
pub(crate) struct GroupIndex<T> {
    slots: Vec<Slot>,
    entries: Vec<Entry<T>>,
    /// Every group's key words, one group after the other, each group from a new line.
    words: Vec<Line>,
}

impl<T> Default for GroupIndex<T> {
    fn default() -> Self {
        GroupIndex {
            slots: Vec::new(),
            entries: Vec::new(),
            words: Vec::new(),
        }
    }
}

#[inline]
fn tag_of(hash: u64) -> u32 {
    // Truncation intended: the top half.
    #[allow(clippy::cast_possible_truncation)]
    let t = (hash >> 32) as u32;
    t
}

impl<T> GroupIndex<T> {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The key lines of the group in slot `s`.
    #[inline]
    fn lines(&self, s: Slot) -> &[Line] {
        let at = s.words_at as usize;
        self.words
            .get(at..at + s.words_len as usize)
            .unwrap_or_default()
    }

    /// The group with this key.
    #[inline]
    pub(crate) fn find(&self, key: &KeyRef<'_>) -> Option<usize> {
        self.find_words(&key.words)
    }

    /// The group with these key words. The first probe is written out (most lookups end
    /// there); further probes are a loop out of line, so that the key's words are not held
    /// in registers for it.
    #[inline]
    pub(crate) fn find_words(&self, key: &KeyWords) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        // The low bits pick the slot, the high bits are the tag.
        #[allow(clippy::cast_possible_truncation)]
        let pos = key.hash as usize & mask;
        let s = *self.slots.get(pos)?;
        if s.index == EMPTY {
            return None;
        }
        if s.tag == tag_of(key.hash) && key.matches(self.lines(s)) {
            return Some(s.index as usize);
        }
        self.find_further(key, (pos + 1) & mask, mask)
    }

    #[inline(never)]
    fn find_further(&self, key: &KeyWords, mut pos: usize, mask: usize) -> Option<usize> {
        let tag = tag_of(key.hash);
        loop {
            let s = *self.slots.get(pos)?;
            if s.index == EMPTY {
                return None;
            }
            if s.tag == tag && key.matches(self.lines(s)) {
                return Some(s.index as usize);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Puts `index` into a free slot for `hash`; the table has one (it is at most a quarter full).
    fn place(slots: &mut [Slot], hash: u64, slot: Slot) {
        let mask = slots.len() - 1;
        #[allow(clippy::cast_possible_truncation)]
        let mut pos = hash as usize & mask;
        while slots[pos].index != EMPTY {
            pos = (pos + 1) & mask;
        }
        slots[pos] = slot;
    }

    /// Inserts a group known to be absent; returns its index.
    pub(crate) fn insert(&mut self, key: &KeyRef<'_>, value: T) -> usize {
        let index = self.entries.len();
        if (index + 1) * 4 > self.slots.len() {
            self.grow();
        }
        let stored = key.stored_lines();
        let words_at = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        let words_len = u32::try_from(stored.len()).unwrap_or(0);
        self.words.extend_from_slice(&stored);
        let slot = Slot {
            tag: tag_of(key.words.hash),
            index: u32::try_from(index).unwrap_or(EMPTY - 1),
            words_at,
            words_len,
        };
        Self::place(&mut self.slots, key.words.hash, slot);
        self.entries.push(Entry {
            key: key.owned_values(),
            words_at,
            words_len,
            hash: key.words.hash,
            value,
        });
        index
    }

    /// Doubles the table (at least 16 slots) and places every group again.
    #[cold]
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(16);
        let mut slots = vec![FREE; n];
        for (i, e) in self.entries.iter().enumerate() {
            let slot = Slot {
                tag: tag_of(e.hash),
                index: u32::try_from(i).unwrap_or(EMPTY - 1),
                words_at: e.words_at,
                words_len: e.words_len,
            };
            Self::place(&mut slots, e.hash, slot);
        }
        self.slots = slots;
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
        debug_assert_eq!(k.words.hash, self.hash);
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
        k2.words.hash = k1.words.hash; // force a collision
        let i1 = idx.insert(&k1, 1);
        assert_eq!(idx.find(&k2), None);
        let i2 = idx.insert(&k2, 2);
        assert_eq!(idx.find(&k1), Some(i1));
        assert_eq!(idx.find(&k2), Some(i2));
        // Growth keeps every group findable, long keys (several lines of words) included.
        let names: Vec<String> = (0..1000)
            .map(|i| format!("a value longer than sixteen bytes number {i}"))
            .collect();
        let keys: Vec<KeyRef<'_>> = names
            .iter()
            .map(|n| KeyRef::from_values([KeyValue::Str(n), KeyValue::Pair(n, "m")]))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(idx.find(k), None);
            assert_eq!(idx.insert(k, 3), i + 2);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(idx.find(k), Some(i + 2));
        }
        assert_eq!(idx.find(&k1), Some(i1));
        assert_eq!(idx.find(&k2), Some(i2));
        let other = KeyRef::from_values([KeyValue::Str(&names[0]), KeyValue::Pair(&names[1], "m")]);
        assert_eq!(idx.find(&other), None);
    }

    #[test]
    fn group_by_rejects_too_many() {
        let dims = (0..9).map(|i| Dimension::Label(Arc::from(format!("l{i}"))));
        assert_eq!(GroupBy::new(dims), Err(GroupByError::TooMany(9)));
        assert_eq!(GroupBy::parse("agent,,model"), Err(GroupByError::Empty));
    }
}
