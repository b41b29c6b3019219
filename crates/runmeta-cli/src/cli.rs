//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Reports, run listings, import/export and checks over a runmeta SQLite store";

const EXAMPLES: &str = "\
Examples:
  runmeta report --db runs.db --by customer_tier,priority --since 24h
  runmeta report --db runs.db --by agent --from 2026-03-01 --to 2026-03-08 --format csv
  runmeta runs --db runs.db --agent support --label priority=critical --limit 20
  runmeta show --db runs.db 0190c3f2
  runmeta sessions --db runs.db --since 7d
  runmeta export --db runs.db --format jsonl --output runs.jsonl
  runmeta import --db runs.db runs.jsonl
  runmeta import --db runs.db --from agno sessions.json --labels customer_tier,priority
  runmeta validate --schema support_run.schema.json metadata.json
  runmeta pricing check pricing.toml

Exit codes: 0 success, 1 runtime error, 2 usage error.";

/// The `runmeta` command line.
#[derive(Debug, Parser)]
#[command(name = "runmeta", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Print only results: no progress bar, notes or summaries.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// When to color the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to color the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The dashboard table: success rate, latency percentiles, tokens, cost, tool errors, stop
    /// reasons and SLA breaches per group, with the trend against the previous window.
    #[command(after_help = "Examples:
  runmeta report --db runs.db --since 24h
  runmeta report --db runs.db --by customer_tier,priority --since 24h --format json
  runmeta report --db runs.db --by agent,model --from 2026-03-01T00:00:00Z --to 2026-03-02T00:00:00Z

Percentiles are exact (nearest rank over every run of the group). With a window (--since, or
--from and --to) each row shows its change against the previous window of the same length.")]
    Report(ReportArgs),
    /// List runs, newest first, with filters and pagination.
    #[command(after_help = "Examples:
  runmeta runs --db runs.db --since 1h
  runmeta runs --db runs.db --status error --label customer_tier=enterprise --format json
  runmeta runs --db runs.db --limit 50 --after 0190c3f2-7c1e-7d2a-9f00-1a2b3c4d5e6f")]
    Runs(RunsArgs),
    /// One run with its messages, tool calls and child runs, as a tree.
    #[command(after_help = "Examples:
  runmeta show --db runs.db 0190c3f2-7c1e-7d2a-9f00-1a2b3c4d5e6f
  runmeta show --db runs.db 0190c3f2 --format json")]
    Show(ShowArgs),
    /// Session rollups: runs, agents, duration, tokens and cost per session.
    #[command(after_help = "Examples:
  runmeta sessions --db runs.db --since 7d
  runmeta sessions --db runs.db --agent support --format csv")]
    Sessions(ListArgs),
    /// Team rollups: leader runs vs. the full team (leader + members, each token once).
    #[command(after_help = "Example:
  runmeta teams --db runs.db --since 24h")]
    Teams(ListArgs),
    /// Export runs as JSONL (one run record per line) or Prometheus exposition text.
    #[command(after_help = "Examples:
  runmeta export --db runs.db --format jsonl --output runs.jsonl
  runmeta export --db runs.db --format prometheus --since 24h > metrics.prom")]
    Export(ExportArgs),
    /// Import runs from JSONL (runmeta's export) or from Agno session/run JSON.
    #[command(after_help = "Examples:
  runmeta import --db runs.db runs.jsonl
  runmeta import --db runs.db --from agno agno_sessions.json --labels customer_tier,priority

Invalid or truncated lines are reported with their line number and skipped; the rest imports.
The exit code is 1 when any line or run could not be imported.")]
    Import(ImportArgs),
    /// Check metadata JSON against a JSON Schema exported by runmeta.
    #[command(after_help = "Examples:
  runmeta validate --schema support_run.schema.json metadata.json
  cat metadata.json | runmeta validate --schema support_run.schema.json -")]
    Validate(ValidateArgs),
    /// Pricing table tools.
    Pricing {
        /// What to do.
        #[command(subcommand)]
        command: PricingCommand,
    },
}

/// `runmeta pricing ...`.
#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Load a pricing table (TOML or JSON) and list its prices, or say what is wrong.
    #[command(after_help = "Example:
  runmeta pricing check pricing.toml")]
    Check(PricingArgs),
}

/// Output formats of the tabular commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON.
    Json,
    /// CSV with a header row.
    Csv,
}

/// The database file.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The runmeta SQLite database.
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
}

/// Which runs: a time window and filters.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Runs started in the last DURATION (`90s`, `30m`, `24h`, `7d`, `2w`).
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["from", "to"])]
    pub since: Option<String>,
    /// Runs started at or after this instant (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Runs started before this instant (RFC 3339, or a date); default now.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Only this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this session.
    #[arg(long)]
    pub session: Option<String>,
    /// Only this team.
    #[arg(long)]
    pub team: Option<String>,
    /// Only this release.
    #[arg(long)]
    pub release: Option<String>,
    /// Only runs that ended this way.
    #[arg(long, value_parser = ["success", "error", "panicked", "cancelled"])]
    pub status: Option<String>,
    /// Only runs with this metadata label (`key=value`); repeat to require several.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

/// `runmeta report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Group by these dimensions, comma-separated: agent, team, release, model, status,
    /// stop_reason, or metadata label keys.
    #[arg(long, value_name = "LIST", default_value = "")]
    pub by: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Add per-tool lines (calls, error rate, latency) to each group.
    #[arg(long)]
    pub tools: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `runmeta runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most runs to list (1..=10000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Continue after this run (the id printed at the end of the previous page).
    #[arg(long, value_name = "RUN_ID")]
    pub after: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `runmeta show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The run's id, or a unique prefix of it (at least 4 hex digits).
    pub run_id: String,
    /// `tree` for people, `json` for the full record.
    #[arg(long, value_parser = ["tree", "json"], default_value = "tree")]
    pub format: String,
}

/// `runmeta sessions` and `runmeta teams`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most rows to list.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One run record per line, in the core's Agno-compatible JSON.
    Jsonl,
    /// Prometheus text exposition of the runs' metrics.
    Prometheus,
}

/// `runmeta export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// What to write.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Import formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// runmeta's JSONL export.
    Jsonl,
    /// Agno session or run JSON (one document, or JSONL of documents).
    Agno,
}

/// `runmeta import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The file to import (`-` for stdin).
    pub file: PathBuf,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = ImportFormat::Jsonl)]
    pub from: ImportFormat,
    /// Agno only: metadata keys to treat as labels (low-cardinality values to group by).
    #[arg(long, value_name = "LIST", default_value = "")]
    pub labels: String,
}

/// `runmeta validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The JSON Schema (as exported by `RunMetadata::json_schema`).
    #[arg(long, value_name = "FILE")]
    pub schema: PathBuf,
    /// The metadata JSON: one object, or an array of objects (`-` for stdin).
    pub file: PathBuf,
}

/// `runmeta pricing check`.
#[derive(Debug, Args)]
pub struct PricingArgs {
    /// The pricing table (TOML or JSON).
    pub file: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn since_conflicts_with_from() {
        let err = Cli::try_parse_from([
            "runmeta",
            "report",
            "--db",
            "x",
            "--since",
            "1h",
            "--from",
            "2024-01-01",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
