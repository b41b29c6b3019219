//! Reading pricing tables from TOML and JSON.

use jiff::civil::Date;
use jiff::Timestamp;
use serde_json::Value;

use super::{PriceEntry, Prices, PricingTable};

/// A pricing file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The text is not valid TOML or JSON.
    #[error("pricing file syntax: {0}")]
    Syntax(String),
    /// A top-level problem (missing `price` list, unknown key, bad currency).
    #[error("pricing file: {0}")]
    Top(String),
    /// A problem in one entry.
    #[error("pricing entry {index} ({name}): field `{field}`: {problem}")]
    Entry {
        /// The entry's position, from 1.
        index: usize,
        /// `provider/model`, as far as known.
        name: String,
        /// The field at fault.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The file cannot be read.
    #[error("reading pricing file {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
}

/// Highest accepted price: one million currency units per million tokens.
const MAX_PRICE_NANOS: u64 = 1_000_000 * 1_000_000_000;

const PRICE_FIELDS: [&str; 7] = [
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "audio_input",
    "audio_output",
];

pub(super) fn from_toml_str(text: &str) -> Result<PricingTable, PricingError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| PricingError::Syntax(e.to_string()))?;
    from_value(&toml_to_json(toml::Value::Table(table)))
}

pub(super) fn from_json_str(text: &str) -> Result<PricingTable, PricingError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| PricingError::Syntax(e.to_string()))?;
    from_value(&value)
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn from_value(v: &Value) -> Result<PricingTable, PricingError> {
    let top = v
        .as_object()
        .ok_or_else(|| PricingError::Top("expected a table at the top level".into()))?;
    for key in top.keys() {
        if !matches!(key.as_str(), "currency" | "price" | "prices" | "note") {
            return Err(PricingError::Top(format!(
                "unknown key `{key}` (expected `currency`, `price`, `note`)"
            )));
        }
    }
    let currency = match top.get("currency") {
        None => "USD".to_owned(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(other) => {
            return Err(PricingError::Top(format!(
                "`currency` must be a non-empty string, found {other}"
            )))
        }
    };
    let list = match (top.get("price"), top.get("prices")) {
        (Some(_), Some(_)) => {
            return Err(PricingError::Top(
                "give `price` or `prices`, not both".into(),
            ))
        }
        (Some(l), None) | (None, Some(l)) => l,
        (None, None) => return Err(PricingError::Top("missing the `price` list".into())),
    };
    let list = list
        .as_array()
        .ok_or_else(|| PricingError::Top("`price` must be a list of entries".into()))?;
    let entries = list
        .iter()
        .enumerate()
        .map(|(i, e)| entry(i + 1, e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PricingTable::new(currency, entries))
}

fn entry(index: usize, v: &Value) -> Result<PriceEntry, PricingError> {
    let obj = v.as_object();
    let name = obj
        .map(|o| {
            let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
            format!("{}/{}", s("provider"), s("model"))
        })
        .unwrap_or_else(|| "?".to_owned());
    let err = |field: &str, problem: String| PricingError::Entry {
        index,
        name: name.clone(),
        field: field.to_owned(),
        problem,
    };
    let Some(obj) = obj else {
        return Err(err("-", format!("expected a table, found {v}")));
    };
    for key in obj.keys() {
        let known = PRICE_FIELDS.contains(&key.as_str())
            || matches!(
                key.as_str(),
                "provider" | "model" | "effective_from" | "note" | "source"
            );
        if !known {
            return Err(err(key, "unknown field".into()));
        }
    }
    let text = |field: &str| -> Result<String, PricingError> {
        match obj.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Some(other) => Err(err(
                field,
                format!("must be a non-empty string, found {other}"),
            )),
            None => Err(err(field, "missing".into())),
        }
    };
    let provider = text("provider")?;
    let model = text("model")?;
    let effective_from = match obj.get("effective_from") {
        None => None,
        Some(Value::String(s)) => Some(parse_date(s).map_err(|p| err("effective_from", p))?),
        Some(other) => {
            return Err(err(
                "effective_from",
                format!("must be a date (2024-08-06) or an RFC 3339 instant, found {other}"),
            ))
        }
    };
    let price = |field: &str| -> Result<Option<u64>, PricingError> {
        obj.get(field)
            .map(|v| price_nanos(v).map_err(|p| err(field, p)))
            .transpose()
    };
    let input = price("input")?.ok_or_else(|| err("input", "missing".into()))?;
    let output = price("output")?.ok_or_else(|| err("output", "missing".into()))?;
    let prices = Prices {
        input,
        output,
        cache_read: price("cache_read")?.unwrap_or(input),
        cache_write: price("cache_write")?.unwrap_or(input),
        reasoning: price("reasoning")?.unwrap_or(output),
        audio_input: price("audio_input")?.unwrap_or(input),
        audio_output: price("audio_output")?.unwrap_or(output),
    };
    Ok(PriceEntry {
        provider,
        model,
        effective_from,
        prices,
    })
}

fn parse_date(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let date: Date = s
        .parse()
        .map_err(|_| format!("`{s}` is neither a date (2024-08-06) nor an RFC 3339 instant"))?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| format!("`{s}`: {e}"))
}

/// A price per million tokens as nano-units, parsed exactly from its decimal digits.
fn price_nanos(v: &Value) -> Result<u64, String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        other => {
            return Err(format!(
                "must be a number (price per million tokens), found {other}"
            ))
        }
    };
    let nanos = parse_decimal_nanos(&text)?;
    if nanos > MAX_PRICE_NANOS {
        return Err(format!(
            "{text} per million tokens is above the maximum of 1000000"
        ));
    }
    Ok(nanos)
}

/// `"2.5"` → 2 500 000 000; at most 9 decimal places; no sign, no exponent.
fn parse_decimal_nanos(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a non-negative decimal number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 9 {
        return Err(format!("`{s}` has more than 9 decimal places"));
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut frac_nanos: u64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        frac_nanos += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal_nanos("2.5"), Ok(2_500_000_000));
        assert_eq!(parse_decimal_nanos("0.0375"), Ok(37_500_000));
        assert_eq!(parse_decimal_nanos("3"), Ok(3_000_000_000));
        assert_eq!(parse_decimal_nanos(".5"), Ok(500_000_000));
        assert!(parse_decimal_nanos("-1").is_err());
        assert!(parse_decimal_nanos("1e3").is_err());
        assert!(parse_decimal_nanos("0.0000000001").is_err());
        assert!(parse_decimal_nanos(".").is_err());
        let v: Value = serde_json::from_str("0.075").unwrap();
        assert_eq!(price_nanos(&v), Ok(75_000_000));
    }

    #[test]
    fn dates_and_instants() {
        assert_eq!(
            parse_date("2024-08-06").unwrap().to_string(),
            "2024-08-06T00:00:00Z"
        );
        assert!(parse_date("2024-08-06T10:00:00+02:00").is_ok());
        assert!(parse_date("2024-13-01").is_err());
    }
}
