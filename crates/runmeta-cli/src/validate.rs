//! `runmeta validate` (metadata JSON against a JSON Schema) and `runmeta pricing check`.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use runmeta_core::metrics::Cost;
use runmeta_core::pricing::PricingTable;

use crate::cli::{PricingArgs, ValidateArgs};
use crate::output::{self, cell, sanitize, Cell, Out};
use crate::{CmdResult, Failure};

/// Largest JSON file read.
const MAX_BYTES: u64 = 64 << 20;

/// Reads and parses a JSON file (`-` for stdin).
fn read_json(path: &Path) -> Result<Value, Failure> {
    let name = path.display();
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_BYTES + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
    }
    .map_err(|e| Failure::runtime(format!("cannot read {name}: {e}")))?;
    if read as u64 > MAX_BYTES {
        return Err(Failure::runtime(format!(
            "{name} is larger than {} MiB",
            MAX_BYTES >> 20
        )));
    }
    serde_json::from_str(&text)
        .map_err(|e| Failure::runtime(format!("{name} is not valid JSON: {e}")))
}

/// Runs `runmeta validate`: every problem of every document, then exit 1 if any.
pub fn validate(args: &ValidateArgs, out: &Out) -> CmdResult {
    let schema = read_json(&args.schema)?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| {
        Failure::runtime(format!(
            "{} is not a usable JSON Schema: {e}",
            args.schema.display()
        ))
    })?;
    let instance = read_json(&args.file)?;
    let documents: Vec<(String, &Value)> = match &instance {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        one => vec![(String::new(), one)],
    };
    let mut problems = Vec::new();
    for (prefix, doc) in &documents {
        for e in validator.iter_errors(doc) {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() && prefix.is_empty() {
                "(document)".to_owned()
            } else {
                format!("{prefix}{at}")
            };
            problems.push(format!("{at}: {}", sanitize(&e.to_string())));
        }
    }
    if problems.is_empty() {
        out.print(&format!(
            "ok: {} valid against {}\n",
            if documents.len() == 1 {
                "1 document".to_owned()
            } else {
                format!("{} documents", documents.len())
            },
            args.schema.display()
        ))?;
        return Ok(());
    }
    out.print(
        &problems
            .iter()
            .map(|p| format!("{p}\n"))
            .collect::<String>(),
    )?;
    Err(Failure::runtime(format!(
        "{} does not match the schema ({} problem{})",
        args.file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )))
}

fn per_million(nanos: u64) -> String {
    format!("{:.4}", Cost::from_nanos(nanos).as_f64())
}

/// Runs `runmeta pricing check`: loads the table and lists its prices per million tokens.
pub fn pricing_check(args: &PricingArgs, out: &Out) -> CmdResult {
    let table = PricingTable::load(&args.file)
        .map_err(|e| Failure::runtime(format!("{}: {e}", args.file.display())))?;
    let rows: Vec<Vec<Cell>> = table
        .entries()
        .iter()
        .map(|e| {
            vec![
                cell(&e.provider),
                cell(&e.model),
                cell(
                    e.effective_from
                        .map_or_else(|| "-".into(), |t| t.to_string()),
                ),
                cell(per_million(e.prices.input)),
                cell(per_million(e.prices.output)),
                cell(per_million(e.prices.cache_read)),
                cell(per_million(e.prices.cache_write)),
                cell(per_million(e.prices.reasoning)),
            ]
        })
        .collect();
    let mut text = format!(
        "ok: {} price entr{} in {} (per million tokens)\n",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        sanitize(table.currency())
    );
    if !rows.is_empty() {
        text.push_str(&output::table(
            out,
            &[
                "provider",
                "model",
                "from",
                "input",
                "output",
                "cache read",
                "cache write",
                "reasoning",
            ],
            &rows,
        ));
    }
    out.print(&text)
}
