//! Binding parameters without rebinding what a statement holds already.
//!
//! SQLite keeps a statement's bindings across executions (`sqlite3_reset` does not clear
//! them), and binding is not free: a text value is copied into a buffer SQLite allocates and
//! frees on every bind. Most of a run's columns repeat from one run to the next (agent,
//! status, model, zero token counts, empty optional columns), so a [`Binder`] remembers what
//! each parameter holds and binds only values that differ. The memory borrows the values
//! themselves (they live as long as the batch being written), so a comparison is exact.

use rusqlite::types::Null;
use rusqlite::Statement;

use crate::error::Result;

/// What a parameter holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bound<'v> {
    /// Not known (a fresh statement, or one whose bindings were cleared): always bind.
    Unknown,
    Null,
    Int(i64),
    Text(&'v str),
    Blob(&'v [u8]),
}

/// Equal values; text and blobs are the same when they are the same bytes in memory (values
/// shared between runs: static strings, `Arc`s) before their contents are compared.
impl PartialEq for Bound<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &[u8], b: &[u8]) -> bool {
            a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
        }
        match (self, other) {
            (Bound::Unknown, Bound::Unknown) | (Bound::Null, Bound::Null) => true,
            (Bound::Int(a), Bound::Int(b)) => a == b,
            (Bound::Text(a), Bound::Text(b)) => same(a.as_bytes(), b.as_bytes()),
            (Bound::Blob(a), Bound::Blob(b)) => same(a, b),
            _ => false,
        }
    }
}

/// The memory of one statement's parameters: one slot per parameter, all unknown.
pub(crate) fn slots<'v>(params: usize) -> Vec<Bound<'v>> {
    vec![Bound::Unknown; params]
}

/// A value that binds to a parameter.
pub(crate) trait Param<'v> {
    fn bound(self) -> Bound<'v>;
}

impl<'v> Param<'v> for i64 {
    fn bound(self) -> Bound<'v> {
        Bound::Int(self)
    }
}

impl<'v> Param<'v> for bool {
    fn bound(self) -> Bound<'v> {
        Bound::Int(i64::from(self))
    }
}

impl<'v> Param<'v> for &'v str {
    fn bound(self) -> Bound<'v> {
        Bound::Text(self)
    }
}

impl<'v> Param<'v> for &'v [u8] {
    fn bound(self) -> Bound<'v> {
        Bound::Blob(self)
    }
}

impl<'v, T: Param<'v>> Param<'v> for Option<T> {
    fn bound(self) -> Bound<'v> {
        self.map_or(Bound::Null, Param::bound)
    }
}

/// Binds values to consecutive parameters of a statement, skipping those that hold the value
/// already.
pub(crate) struct Binder<'s, 'c, 'v> {
    stmt: &'s mut Statement<'c>,
    slots: &'s mut [Bound<'v>],
    next: usize,
}

impl<'s, 'c, 'v> Binder<'s, 'c, 'v> {
    /// Binds from the first parameter on. `slots` must be the memory of `stmt` alone, kept
    /// since its bindings were last cleared (or fresh).
    pub(crate) fn new(stmt: &'s mut Statement<'c>, slots: &'s mut [Bound<'v>]) -> Self {
        Binder {
            stmt,
            slots,
            next: 0,
        }
    }

    /// Binds `value` to the next parameter.
    pub(crate) fn bind<P: Param<'v>>(&mut self, value: P) -> Result<()> {
        let value = value.bound();
        let index = self.next;
        self.next += 1;
        let Some(slot) = self.slots.get_mut(index) else {
            // More values than remembered parameters: bind without memory.
            return bind_value(self.stmt, index + 1, value);
        };
        if *slot != value {
            // Forget first: a failed bind leaves the parameter unknown.
            *slot = Bound::Unknown;
            bind_value(self.stmt, index + 1, value)?;
            *slot = value;
        }
        Ok(())
    }
}

fn bind_value(stmt: &mut Statement<'_>, index: usize, value: Bound<'_>) -> Result<()> {
    match value {
        Bound::Unknown | Bound::Null => stmt.raw_bind_parameter(index, Null)?,
        Bound::Int(v) => stmt.raw_bind_parameter(index, v)?,
        Bound::Text(v) => stmt.raw_bind_parameter(index, v)?,
        Bound::Blob(v) => stmt.raw_bind_parameter(index, v)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn row(stmt: &mut Statement<'_>) -> (Option<i64>, Option<String>, Option<Vec<u8>>) {
        let mut rows = stmt.raw_query();
        let r = rows.next().unwrap().unwrap();
        (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap())
    }

    #[test]
    fn unchanged_values_are_kept_and_changed_ones_rebound() {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare("SELECT ?1, ?2, ?3").unwrap();
        let mut slots = slots(3);
        let text = String::from("abc");
        let same_text = String::from("abc");
        let blob = [1_u8, 2];
        let mut b = Binder::new(&mut stmt, &mut slots);
        b.bind(5_i64).unwrap();
        b.bind(text.as_str()).unwrap();
        b.bind(Some(blob.as_slice())).unwrap();
        assert_eq!(
            row(&mut stmt),
            (Some(5), Some("abc".into()), Some(vec![1, 2]))
        );
        assert_eq!(
            slots,
            vec![
                Bound::Int(5),
                Bound::Text("abc"),
                Bound::Blob(blob.as_slice())
            ]
        );
        // Equal values (another string with the same text) are skipped; the statement still
        // holds them.
        let mut b = Binder::new(&mut stmt, &mut slots);
        b.bind(5_i64).unwrap();
        b.bind(same_text.as_str()).unwrap();
        b.bind(None::<&[u8]>).unwrap();
        assert_eq!(row(&mut stmt), (Some(5), Some("abc".into()), None));
        let mut b = Binder::new(&mut stmt, &mut slots);
        b.bind(true).unwrap();
        b.bind(None::<&str>).unwrap();
        b.bind(None::<&[u8]>).unwrap();
        assert_eq!(row(&mut stmt), (Some(1), None, None));
        // A cleared statement starts from unknown slots.
        stmt.clear_bindings();
        let mut slots = super::slots(3);
        let mut b = Binder::new(&mut stmt, &mut slots);
        b.bind(Some(7_i64)).unwrap();
        b.bind("x").unwrap();
        b.bind(None::<&[u8]>).unwrap();
        assert_eq!(row(&mut stmt), (Some(7), Some("x".into()), None));
    }
}
