//! Trends: a report compared with the previous window of the same length.

use runmeta_core::aggregate::Report;

use crate::error::{Result, StoreError};
use crate::report::ReportQuery;
use crate::Store;

/// Adds to each row of `current` its trend against the row of the same group in `previous`
/// ([`ReportRow::with_trend`](runmeta_core::aggregate::ReportRow::with_trend); a group absent
/// before gets a trend with `previous_run_count` 0).
pub fn add_trend(current: &mut Report, previous: &Report) {
    current.previous_window = previous.window;
    for row in &mut current.rows {
        let before = previous.rows.iter().find(|p| p.group == row.group);
        *row = std::mem::take(row).with_trend(before);
    }
}

impl Store {
    /// The report of `query` with each row's trend against the previous window of the same
    /// length (`[from - (to - from), from)`). The filter must set both `from` and `to`.
    ///
    /// # Errors
    /// A filter without both ends, `from` not before `to`, or see [`Store::report`].
    pub fn report_with_trend(&self, query: &ReportQuery) -> Result<Report> {
        let (Some(from), Some(to)) = (query.filter.from, query.filter.to) else {
            return Err(StoreError::InvalidQuery(
                "a trend needs a window with both a start and an end".into(),
            ));
        };
        if from >= to {
            return Err(StoreError::InvalidQuery(format!(
                "the window start {from} is not before its end {to}"
            )));
        }
        let previous_from = from
            .checked_sub(to.duration_since(from))
            .unwrap_or(jiff::Timestamp::MIN);
        // One pass over both windows: runs before `from` form the previous report.
        let mut both = query.clone();
        both.filter.from = Some(previous_from);
        let (mut current, previous) = self.report_windows(&both, Some(from))?;
        add_trend(&mut current, &previous);
        Ok(current)
    }
}
