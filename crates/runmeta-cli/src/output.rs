//! Output: tables, CSV, colors (only on a terminal) and messages on stderr.

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;

/// Where results and messages go, and how they look.
pub struct Out {
    /// Print only results.
    pub quiet: bool,
    /// Color stdout.
    pub color: bool,
    /// Color stderr.
    color_err: bool,
}

/// A color for a table cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// No color.
    Plain,
    /// Better than before.
    Good,
    /// Worse than before.
    Bad,
    /// Headers.
    Bold,
}

/// Writes a line on stderr. Not `eprintln!`, which panics when stderr is a closed pipe
/// (`runmeta runs 2>&1 | head -1`): a message nobody can read any more is dropped.
fn to_stderr(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

impl Out {
    /// Output settings from the flags and the environment.
    pub fn new(quiet: bool, choice: ColorChoice) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let pick = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Out {
            quiet,
            color: pick(std::io::stdout().is_terminal()),
            color_err: pick(std::io::stderr().is_terminal()),
        }
    }

    /// Prints `error: message` on stderr.
    pub fn error(&self, message: &str) {
        let label = if self.color_err {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        to_stderr(&format!("{label}: {}", sanitize(message)));
    }

    /// Prints a note on stderr unless quiet.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            to_stderr(&sanitize(message));
        }
    }

    /// Paints `text` for stdout.
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Plain => return text.to_owned(),
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// Writes `text` to stdout; a closed pipe (`| head`) ends quietly.
    pub fn print(&self, text: &str) -> Result<(), crate::Failure> {
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(crate::Failure::runtime(format!(
                "cannot write to stdout: {e}"
            ))),
        }
    }
}

/// Replaces control characters (terminal escapes, newlines) in untrusted text.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A table cell: its text and color.
pub struct Cell {
    /// The text (sanitized when built with [`cell`]).
    pub text: String,
    /// The color.
    pub tone: Tone,
}

/// A plain cell of untrusted text.
pub fn cell(text: impl AsRef<str>) -> Cell {
    Cell {
        text: sanitize(text.as_ref()),
        tone: Tone::Plain,
    }
}

/// A colored cell.
pub fn toned(text: impl AsRef<str>, tone: Tone) -> Cell {
    Cell {
        text: sanitize(text.as_ref()),
        tone,
    }
}

/// Columns aligned by width; numeric-looking columns right-aligned.
pub fn table(out: &Out, headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.text.chars().count());
        }
    }
    let right: Vec<bool> = (0..n)
        .map(|i| {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.get(i).is_none_or(|c| numeric(&c.text)))
        })
        .collect();
    let mut s = String::new();
    let pad = |s: &mut String, text: &str, tone: Tone, width: usize, right: bool| {
        let fill = " ".repeat(width.saturating_sub(text.chars().count()));
        let painted = out.paint(text, tone);
        if right {
            s.push_str(&fill);
            s.push_str(&painted);
        } else {
            s.push_str(&painted);
            s.push_str(&fill);
        }
    };
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            s.push_str("  ");
        }
        pad(&mut s, h, Tone::Bold, widths[i], right[i]);
    }
    trim_end(&mut s);
    s.push('\n');
    for row in rows {
        for (i, c) in row.iter().enumerate().take(n) {
            if i > 0 {
                s.push_str("  ");
            }
            pad(&mut s, &c.text, c.tone, widths[i], right[i]);
        }
        trim_end(&mut s);
        s.push('\n');
    }
    s
}

/// A number with an optional unit or note (`171 ms`, `91.4%`, `-`): right-aligned.
fn numeric(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or("");
    first == "-"
        || first
            .trim_end_matches(['%', 'k', 'M'])
            .parse::<f64>()
            .is_ok()
}

fn trim_end(s: &mut String) {
    while s.ends_with(' ') {
        s.pop();
    }
}

/// One CSV field, quoted when needed (RFC 4180). A leading `= + - @` is prefixed with `'`
/// so spreadsheets do not run stored text as a formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '@'])
        || (text.starts_with('-') && text.parse::<f64>().is_err())
    {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A CSV document from a header and rows.
pub fn csv(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = headers
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for row in rows {
        s.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s
}

/// Milliseconds for people: `850 ms`, `2.40 s`.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(ms) if ms < 1_000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{:.2} s", ms / 1_000.0),
    }
}

/// A fraction as a percentage: `91.4%`.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |f| format!("{:.1}%", f * 100.0))
}

/// A count for people: `8.9k`, `1.2M`.
pub fn count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(sanitize("a\x1b[31mb\nc"), "a?[31mb?c");
        assert_eq!(sanitize("plain"), "plain");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-5.3"), "-5.3");
        assert_eq!(
            csv(&["a", "b"], &[vec!["1".into(), "x\ny".into()]]),
            "a,b\n1,\"x\ny\"\n"
        );
    }

    #[test]
    fn tables_align_numbers_right() {
        let out = Out {
            quiet: false,
            color: false,
            color_err: false,
        };
        let t = table(
            &out,
            &["name", "runs"],
            &[vec![cell("a"), cell("5")], vec![cell("bbb"), cell("120")]],
        );
        assert_eq!(t, "name  runs\na        5\nbbb    120\n");
        assert!(numeric("171 ms") && numeric("91.4%") && numeric("-") && numeric("12.3k"));
        assert!(!numeric("01a200c0-dd46-7751") && !numeric("2026-11-22 00:56") && !numeric("0/1"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(ms(Some(850.0)), "850 ms");
        assert_eq!(ms(Some(2_400.0)), "2.40 s");
        assert_eq!(pct(Some(0.914)), "91.4%");
        assert_eq!(count(8_900.0), "8900");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(120.5), "120.5");
    }
}
