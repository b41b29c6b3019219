//! JSONL export and import: one run record per line, in the core's Agno-compatible JSON
//! (`RunRecord::to_json` / `RunRecord::from_json`).

use std::io::{BufRead, Write};

use runmeta_core::run::RunRecord;
use serde_json::Value;

use crate::encode::{encode, EncodedRun};
use crate::error::Result;
use crate::query::RunFilter;
use crate::Store;

/// Longest line an import reads; a longer one is reported and skipped.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Records written per transaction by an import.
const IMPORT_BATCH: usize = 5_000;

/// Most line errors an [`ImportSummary`] lists; the rest are only counted.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// A line an import could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Lines read (blank lines included).
    pub lines: u64,
    /// Records stored.
    pub imported: u64,
    /// Records skipped because their run id was already stored.
    pub duplicates: u64,
    /// Lines that could not be imported.
    pub error_count: u64,
    /// The first [`MAX_LISTED_ERRORS`] of them.
    pub errors: Vec<LineError>,
}

impl ImportSummary {
    pub(crate) fn error(&mut self, line: u64, message: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(LineError { line, message });
        }
    }
}

/// Progress of an import, passed to its callback after every batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Bytes read so far.
    pub bytes: u64,
    /// Lines read so far.
    pub lines: u64,
    /// Records stored so far.
    pub imported: u64,
}

/// Reads one line into `buf` (without its newline), keeping at most `max` bytes. Returns
/// `None` at the end of input, else whether the line was longer than `max`.
fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    bytes: &mut u64,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (part, consumed, done) = match memchr(chunk) {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if buf.len() + part.len() > max {
            too_long = true;
        } else {
            buf.extend_from_slice(part);
        }
        reader.consume(consumed);
        *bytes += consumed as u64;
        if done {
            return Ok(Some(too_long));
        }
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

/// Parses one line into a record.
pub(crate) fn parse_line(line: &[u8]) -> std::result::Result<RunRecord, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    // A byte order mark (a file saved by an editor that writes one) is not the line's JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            format!("truncated JSON: {e}")
        } else {
            format!("invalid JSON: {e}")
        }
    })?;
    RunRecord::from_json(&value).map_err(|e| format!("invalid run record: {e}"))
}

impl Store {
    /// Writes every run matching `filter` to `out` as JSONL, oldest first. Returns the number
    /// of runs written.
    ///
    /// # Errors
    /// An SQLite or I/O error.
    pub fn export_jsonl<W: Write>(&self, filter: &RunFilter, out: &mut W) -> Result<u64> {
        let mut line = Vec::with_capacity(4096);
        let n = self.for_each_record(filter, |record| {
            line.clear();
            serde_json::to_writer(&mut line, &record.to_json()).map_err(std::io::Error::other)?;
            line.push(b'\n');
            out.write_all(&line)?;
            Ok(())
        })?;
        out.flush()?;
        Ok(n)
    }

    /// Imports JSONL from `input`: one run record per line. A line that is not valid JSON,
    /// truncated, or not a valid record is reported with its line number and skipped; the
    /// rest imports. Runs already stored are skipped and counted. `progress` is called after
    /// every batch.
    ///
    /// # Errors
    /// An I/O error reading `input`, or an SQLite error (the batches before it stay
    /// committed).
    pub fn import_jsonl<R: BufRead>(
        &mut self,
        mut input: R,
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let mut batch: Vec<EncodedRun> = Vec::with_capacity(IMPORT_BATCH);
        let mut buf = Vec::new();
        let mut bytes = 0u64;
        loop {
            let line = read_line_bounded(&mut input, &mut buf, MAX_LINE_BYTES, &mut bytes)?;
            let Some(too_long) = line else { break };
            summary.lines += 1;
            let n = summary.lines;
            if too_long {
                summary.error(n, format!("line is longer than {MAX_LINE_BYTES} bytes"));
            } else if !buf.iter().all(u8::is_ascii_whitespace) {
                match parse_line(&buf).and_then(|r| encode(&r).map_err(|e| e.to_string())) {
                    Ok(run) => batch.push(run),
                    Err(message) => summary.error(n, message),
                }
            }
            if batch.len() >= IMPORT_BATCH {
                self.import_batch(&mut batch, &mut summary, bytes, &mut progress)?;
            }
        }
        self.import_batch(&mut batch, &mut summary, bytes, &mut progress)?;
        Ok(summary)
    }

    /// Stores parsed records in one transaction (none: nothing to store), then reports the
    /// progress so far.
    pub(crate) fn import_batch(
        &mut self,
        batch: &mut Vec<EncodedRun>,
        summary: &mut ImportSummary,
        bytes: u64,
        progress: &mut impl FnMut(ImportProgress),
    ) -> Result<()> {
        if !batch.is_empty() {
            let outcome = self.writer_mut().write_batch(batch.iter())?;
            summary.imported += outcome.inserted;
            summary.duplicates += outcome.duplicates;
            batch.clear();
        }
        progress(ImportProgress {
            bytes,
            lines: summary.lines,
            imported: summary.imported,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines_split_on_newlines_and_flag_long_ones() {
        let data = b"ab\n\ncdefgh\nlast";
        let mut r = std::io::BufReader::with_capacity(3, &data[..]);
        let mut buf = Vec::new();
        let mut bytes = 0;
        let mut lines = Vec::new();
        while let Some(long) = read_line_bounded(&mut r, &mut buf, 4, &mut bytes).unwrap() {
            let text = if long {
                "<long>".to_owned()
            } else {
                String::from_utf8(buf.clone()).unwrap()
            };
            lines.push((text, long));
        }
        assert_eq!(
            lines,
            vec![
                ("ab".into(), false),
                (String::new(), false),
                ("<long>".into(), true),
                ("last".into(), false)
            ]
        );
        assert_eq!(bytes, data.len() as u64);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(parse_line(b"{\"run_id\": ")
            .unwrap_err()
            .starts_with("truncated JSON"));
        assert!(parse_line(b"nope").unwrap_err().starts_with("invalid JSON"));
        assert!(parse_line(&[0xff, 0xfe])
            .unwrap_err()
            .starts_with("not UTF-8"));
    }
}
