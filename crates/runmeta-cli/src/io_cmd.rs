//! `runmeta export` and `runmeta import`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use runmeta_store::{AgnoOptions, ImportProgress, ImportSummary, Store, StoreError};

use crate::cli::{ExportArgs, ExportFormat, ImportArgs, ImportFormat};
use crate::output::Out;
use crate::{time, CmdResult, Failure};

/// Opens the output file; an existing file needs `force`.
fn create_output(path: &Path, force: bool) -> Result<File, Failure> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::runtime(format!(
                "{} exists; add --force to overwrite it",
                path.display()
            ))
        } else {
            Failure::runtime(format!("cannot create {}: {e}", path.display()))
        }
    })
}

/// An output that is the database itself or one of its journal files would be truncated
/// before a row is read: refused, `--force` or not.
fn refuse_the_database(output: &Path, db: &Path) -> Result<(), Failure> {
    // A file that does not exist yet is not the database; an unresolvable path is left to
    // the open that follows.
    let (Ok(output), Ok(db)) = (output.canonicalize(), db.canonicalize()) else {
        return Ok(());
    };
    let journal = |suffix: &str| {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    if output == db || output == journal("-wal") || output == journal("-shm") {
        return Err(Failure::usage(format!(
            "--output {} is the database being exported (or its journal); write the export elsewhere",
            output.display()
        )));
    }
    Ok(())
}

fn is_broken_pipe(e: &StoreError) -> bool {
    matches!(e, StoreError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Runs `runmeta export`.
pub fn export(args: &ExportArgs, out: &Out) -> CmdResult {
    let filter = time::filter(&args.filter, jiff::Timestamp::now())?;
    if let Some(path) = &args.output {
        refuse_the_database(path, &args.db.db)?;
    }
    let store = crate::open_store(&args.db.db, out)?;
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(create_output(path, args.force)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let written = match args.format {
        ExportFormat::Jsonl => match store.export_jsonl(&filter, &mut sink) {
            Ok(n) => n,
            Err(e) if is_broken_pipe(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        },
        ExportFormat::Prometheus => prometheus(&store, &filter, &mut sink)?,
    };
    match sink.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    out.note(&format!("exported {written} runs"));
    Ok(())
}

#[cfg(feature = "prometheus")]
fn prometheus(
    store: &Store,
    filter: &runmeta_store::RunFilter,
    sink: &mut dyn Write,
) -> Result<u64, Failure> {
    let exporter = runmeta_export::prometheus::PrometheusExporter::new();
    let n = store.for_each_record(filter, |run| {
        exporter.observe(&run);
        Ok(())
    })?;
    match sink.write_all(exporter.render_prometheus_text().as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(n),
    }
}

#[cfg(not(feature = "prometheus"))]
fn prometheus(
    _store: &Store,
    _filter: &runmeta_store::RunFilter,
    _sink: &mut dyn Write,
) -> Result<u64, Failure> {
    Err(Failure::runtime(
        "this build has no Prometheus export; rebuild runmeta-cli with the `prometheus` feature"
            .into(),
    ))
}

/// A progress bar on stderr, hidden when quiet or when stderr is not a terminal.
fn progress_bar(len: Option<u64>, out: &Out) -> ProgressBar {
    if out.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match len {
        Some(len) => {
            let bar = ProgressBar::new(len);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
            {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    }
}

/// Runs `runmeta import`.
pub fn import(args: &ImportArgs, out: &Out) -> CmdResult {
    let (reader, len): (Box<dyn Read>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(&args.file)
            .map_err(|e| Failure::runtime(format!("cannot open {}: {e}", args.file.display())))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len)
    };
    let mut labels: Vec<String> = Vec::new();
    for key in args
        .labels
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        runmeta_core::schema::check_key(key).map_err(|e| {
            Failure::usage(format!(
                "--labels: `{}` is not a label key: {e}",
                crate::output::sanitize(key)
            ))
        })?;
        if !labels.iter().any(|k| k == key) {
            labels.push(key.to_owned());
        }
    }
    if !labels.is_empty() && args.from != ImportFormat::Agno {
        return Err(Failure::usage(
            "--labels applies to --from agno only".into(),
        ));
    }
    let mut store = Store::open(&args.db.db)?;
    let bar = progress_bar(len, out);
    let input: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 16, reader));
    let progress = |p: ImportProgress| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} runs", p.imported));
    };
    let summary = match args.from {
        ImportFormat::Jsonl => store.import_jsonl(input, progress)?,
        ImportFormat::Agno => {
            store.import_agno(input, &AgnoOptions::with_labels(labels), progress)?
        }
    };
    bar.finish_and_clear();
    report_summary(&summary, out)
}

/// Prints what an import did; fails when anything could not be imported.
fn report_summary(summary: &ImportSummary, out: &Out) -> CmdResult {
    for e in summary.errors.iter().take(20) {
        out.error(&e.to_string());
    }
    if summary.error_count > 20 {
        out.error(&format!("... and {} more", summary.error_count - 20));
    }
    out.note(&format!(
        "imported {} runs ({} already stored, {} lines read)",
        summary.imported, summary.duplicates, summary.lines
    ));
    if summary.error_count > 0 {
        return Err(Failure::runtime(format!(
            "{} could not be imported (listed above); the rest was imported",
            plural(summary.error_count, "entry", "entries")
        )));
    }
    Ok(())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
