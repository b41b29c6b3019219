//! Grouping rows of the report scans: interned values and the group of a row.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::ValueRef;
use rusqlite::{params_from_iter, Connection};

use runmeta_core::aggregate::{Dimension, GroupLabel, MAX_DISTINCT, OTHER, UNKNOWN_ERROR_CLASS};

/// Interns strings; code 0 stands for "no value".
#[derive(Default)]
pub(crate) struct Interner {
    codes: HashMap<String, u32, foldhash::fast::RandomState>,
    values: Vec<String>,
    /// The last code returned: runs in a row often repeat a value.
    last: u32,
}

impl Interner {
    pub(crate) fn code(&mut self, s: &str) -> u32 {
        if self.last != 0 && self.value(self.last) == Some(s) {
            return self.last;
        }
        let c = self.lookup(s);
        self.last = c;
        c
    }

    fn lookup(&mut self, s: &str) -> u32 {
        if let Some(&c) = self.codes.get(s) {
            return c;
        }
        self.values.push(s.to_owned());
        let c = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.codes.insert(s.to_owned(), c);
        c
    }

    pub(crate) fn value(&self, code: u32) -> Option<&str> {
        let i = usize::try_from(code).ok()?.checked_sub(1)?;
        self.values.get(i).map(String::as_str)
    }
}

/// Counts by interned name.
#[derive(Default)]
pub(crate) struct Counts(Vec<u64>);

impl Counts {
    pub(crate) fn add(&mut self, code: u32) {
        let i = code as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += 1;
    }

    /// The counts by name: the `MAX_DISTINCT - 1` largest, the rest under `OTHER`.
    pub(crate) fn to_map(&self, names: &Interner) -> BTreeMap<String, u64> {
        capped(self.named(names))
    }

    /// The counts by name, all of them.
    pub(crate) fn named(&self, names: &Interner) -> HashMap<String, u64> {
        let mut map = HashMap::new();
        for (code, n) in self.0.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = u32::try_from(code)
                .ok()
                .and_then(|c| names.value(c))
                .unwrap_or(UNKNOWN_ERROR_CLASS);
            *map.entry(name.to_owned()).or_insert(0) += n;
        }
        map
    }
}

/// Counts by name: the `MAX_DISTINCT - 1` largest, the rest under `OTHER`.
pub(crate) fn capped(counts: HashMap<String, u64>) -> BTreeMap<String, u64> {
    let mut all: Vec<(u64, String)> = counts.into_iter().map(|(k, n)| (n, k)).collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut map = BTreeMap::new();
    for (i, (n, name)) in all.into_iter().enumerate() {
        let key = if i + 1 < MAX_DISTINCT {
            name
        } else {
            OTHER.to_owned()
        };
        *map.entry(key).or_insert(0) += n;
    }
    map
}

impl Counts {
    /// Is every count zero?
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }
}

pub(crate) fn text(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::Text(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

pub(crate) fn integer(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    }
}

/// Finds a row's group from its label set and dimension columns.
pub(crate) struct Grouper<'a> {
    pub(crate) dims: &'a [Dimension],
    /// Per label set: the codes of the label dimensions.
    pub(crate) set_codes: HashMap<i64, Vec<u32>>,
    pub(crate) no_labels: Vec<u32>,
    pub(crate) interners: Vec<Interner>,
    pub(crate) groups: HashMap<Vec<u32>, usize, foldhash::fast::RandomState>,
    pub(crate) keys: Vec<Vec<u32>>,
    pub(crate) key: Vec<u32>,
    /// When every dimension is a label, a run's group follows from its label set alone.
    pub(crate) by_set: Option<HashMap<Option<i64>, usize, foldhash::fast::RandomState>>,
}

impl<'a> Grouper<'a> {
    /// A grouper for `dims`, with the label codes of every label set loaded from `conn`;
    /// `columns` says whether some dimension is a column (else runs group by label set).
    pub(crate) fn new(
        conn: &Connection,
        dims: &'a [Dimension],
        columns: bool,
    ) -> rusqlite::Result<Self> {
        let label_keys: Vec<&str> = dims
            .iter()
            .filter_map(|d| match d {
                Dimension::Label(k) => Some(&**k),
                _ => None,
            })
            .collect();
        let mut g = Grouper {
            dims,
            set_codes: HashMap::new(),
            no_labels: vec![0; label_keys.len()],
            interners: dims.iter().map(|_| Interner::default()).collect(),
            groups: HashMap::default(),
            keys: Vec::new(),
            key: vec![0; dims.len()],
            by_set: (!columns).then(HashMap::default),
        };
        if label_keys.is_empty() {
            return Ok(g);
        }
        // Label sets are few: load each one's codes in the label dimensions once.
        let sql = format!(
            "SELECT set_id, key, value FROM label_values WHERE key IN ({})",
            vec!["?"; label_keys.len()].join(", ")
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(label_keys.iter()))?;
        while let Some(row) = rows.next()? {
            let set: i64 = row.get(0)?;
            let key: String = row.get(1)?;
            let value: String = row.get(2)?;
            let Some(li) = label_keys.iter().position(|k| *k == key) else {
                continue;
            };
            let Some(di) = dims
                .iter()
                .position(|d| matches!(d, Dimension::Label(k) if **k == *key))
            else {
                continue;
            };
            let code = g.interners[di].code(&value);
            let n = label_keys.len();
            g.set_codes.entry(set).or_insert_with(|| vec![0; n])[li] = code;
        }
        Ok(g)
    }

    /// The group of a row whose label set is at `set_col` and whose dimension columns follow
    /// from `first_col`; `create` adds missing groups.
    pub(crate) fn group(
        &mut self,
        row: &rusqlite::Row<'_>,
        set_col: usize,
        first_col: usize,
        create: bool,
    ) -> rusqlite::Result<Option<usize>> {
        let set = integer(row.get_ref(set_col)?);
        if let Some(&g) = self.by_set.as_ref().and_then(|m| m.get(&set)) {
            return Ok(Some(g));
        }
        let g = self.group_slow(row, set, first_col, create)?;
        if let (Some(m), Some(g)) = (&mut self.by_set, g) {
            m.insert(set, g);
        }
        Ok(g)
    }

    fn group_slow(
        &mut self,
        row: &rusqlite::Row<'_>,
        set: Option<i64>,
        first_col: usize,
        create: bool,
    ) -> rusqlite::Result<Option<usize>> {
        let codes = set
            .and_then(|s| self.set_codes.get(&s))
            .unwrap_or(&self.no_labels);
        let (mut li, mut ci) = (0, 0);
        for (di, d) in self.dims.iter().enumerate() {
            self.key[di] = if matches!(d, Dimension::Label(_)) {
                li += 1;
                codes[li - 1]
            } else {
                ci += 1;
                text(row.get_ref(first_col + ci - 1)?).map_or(0, |s| self.interners[di].code(s))
            };
        }
        if let Some(&g) = self.groups.get(self.key.as_slice()) {
            return Ok(Some(g));
        }
        if !create {
            return Ok(None);
        }
        self.keys.push(self.key.clone());
        self.groups.insert(self.key.clone(), self.keys.len() - 1);
        Ok(Some(self.keys.len() - 1))
    }

    pub(crate) fn labels(&self, group: usize) -> Vec<GroupLabel> {
        self.dims
            .iter()
            .zip(&self.keys[group])
            .enumerate()
            .map(|(di, (d, &code))| GroupLabel {
                dimension: d.name().to_owned(),
                value: self.interners[di].value(code).map(str::to_owned),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_the_largest_names_and_fold_the_rest() {
        let mut names = Interner::default();
        let mut c = Counts::default();
        for i in 0..40 {
            let code = names.code(&format!("class{i:02}"));
            for _ in 0..=i {
                c.add(code);
            }
        }
        let map = c.to_map(&names);
        assert_eq!(map.len(), MAX_DISTINCT);
        assert_eq!(map.get("class39"), Some(&40));
        assert!(map.get(OTHER).is_some_and(|n| *n > 0));
        assert_eq!(map.values().sum::<u64>(), (1..=40u64).sum::<u64>());
        assert!(!c.is_empty());
        assert!(Counts::default().is_empty());
    }
}
