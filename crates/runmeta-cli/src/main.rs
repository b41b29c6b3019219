//! `runmeta`: reports, run listings, import/export and checks over a runmeta SQLite store.
//!
//! Exit codes: 0 success, 1 runtime error (one `error: ...` line on stderr), 2 usage error.

mod cli;
mod io_cmd;
mod output;
mod report_cmd;
mod runs_cmd;
mod time;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, PricingCommand};
use output::Out;

/// A failure: printed as `error: {message}`; exit code 1 (runtime) or 2 (usage).
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// A runtime failure: exit code 1.
    pub fn runtime(message: String) -> Failure {
        Failure { message, code: 1 }
    }

    /// A usage error found after parsing (a bad value of a flag): exit code 2.
    pub fn usage(message: String) -> Failure {
        Failure { message, code: 2 }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::runtime(e.to_string())
    }
}

/// The result of a command.
pub type CmdResult = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print to stdout and succeed; usage errors exit 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let out = Out::new(cli.quiet, cli.color);
    let result = run(cli.command, &out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, code }) => {
            out.error(&message);
            ExitCode::from(code)
        }
    }
}

/// Opens a store for reading; a store with an older schema is migrated once (which needs
/// write access) and the user told.
pub fn open_store(path: &std::path::Path, out: &Out) -> Result<runmeta_store::Store, Failure> {
    match runmeta_store::Store::open_read_only(path) {
        Err(runmeta_store::StoreError::SchemaTooOld { found, supported }) => {
            let store = runmeta_store::Store::open_existing(path)?;
            out.note(&format!(
                "migrated {} from schema version {found} to {supported}",
                path.display()
            ));
            Ok(store)
        }
        // SQLite's own messages ("file is not a database", "disk I/O error") name no file.
        Err(runmeta_store::StoreError::Sqlite(e)) => Err(Failure::runtime(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
        other => Ok(other?),
    }
}

fn run(command: Command, out: &Out) -> CmdResult {
    match command {
        Command::Report(a) => report_cmd::report(&a, out),
        Command::Runs(a) => runs_cmd::runs(&a, out),
        Command::Show(a) => runs_cmd::show(&a, out),
        Command::Sessions(a) => runs_cmd::sessions(&a, out),
        Command::Teams(a) => runs_cmd::teams(&a, out),
        Command::Export(a) => io_cmd::export(&a, out),
        Command::Import(a) => io_cmd::import(&a, out),
        Command::Validate(a) => validate::validate(&a, out),
        Command::Pricing {
            command: PricingCommand::Check(a),
        } => validate::pricing_check(&a, out),
    }
}
