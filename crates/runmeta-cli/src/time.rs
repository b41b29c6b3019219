//! Time windows and filters from the command line.

use jiff::{SignedDuration, Timestamp};

use runmeta_core::run::RunStatus;
use runmeta_store::RunFilter;

use crate::cli::FilterArgs;
use crate::Failure;

/// Parses `90s`, `30m`, `24h`, `7d`, `2w` (also `1h30m`).
pub fn parse_duration(text: &str) -> Result<SignedDuration, Failure> {
    let bad = || {
        Failure::usage(format!(
            "invalid duration `{text}`: expected a number and a unit (s, m, h, d, w), like 24h or 7d"
        ))
    };
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        any = true;
    }
    if !digits.is_empty() || !any || total == 0 {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(total))
}

/// Parses an RFC 3339 instant, a time in a named zone (`2026-03-01T12:00:00[Europe/Paris]`),
/// or a date alone (`2026-03-01`) as its midnight UTC. A date with a time but no offset is
/// an error: which instant it means depends on a zone it does not name.
pub fn parse_time(text: &str) -> Result<Timestamp, Failure> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(z) = text.parse::<jiff::Zoned>() {
        return Ok(z.timestamp());
    }
    // `civil::Date` also reads a date and time, dropping the time: only a bare date here.
    let bare_date = text.len() == 10 && !text.contains(['T', 't', ' ']);
    if let (true, Ok(d)) = (bare_date, text.parse::<jiff::civil::Date>()) {
        if let Ok(t) = d.to_zoned(jiff::tz::TimeZone::UTC) {
            return Ok(t.timestamp());
        }
    }
    if text.parse::<jiff::civil::DateTime>().is_ok() {
        return Err(Failure::usage(format!(
            "time `{text}` has no UTC offset: add `Z` or `±HH:MM` (2026-03-01T12:00:00Z), or a zone (2026-03-01T12:00:00[Europe/Paris])"
        )));
    }
    Err(Failure::usage(format!(
        "invalid time `{text}`: expected RFC 3339 (2026-03-01T12:00:00Z) or a date (2026-03-01)"
    )))
}

/// The filter the arguments describe, with `now` as the end of `--since` windows.
pub fn filter(args: &FilterArgs, now: Timestamp) -> Result<RunFilter, Failure> {
    let mut f = RunFilter::default();
    if let Some(since) = &args.since {
        let d = parse_duration(since)?;
        f.from = Some(now.checked_sub(d).unwrap_or(Timestamp::MIN));
        f.to = Some(now);
    }
    if let Some(from) = &args.from {
        f.from = Some(parse_time(from)?);
        f.to = Some(now);
    }
    if let Some(to) = &args.to {
        f.to = Some(parse_time(to)?);
    }
    if let (Some(from), Some(to)) = (f.from, f.to) {
        if from >= to {
            return Err(Failure::usage(format!(
                "the window is empty: --from {from} is not before --to {to}"
            )));
        }
    }
    f.agent.clone_from(&args.agent);
    f.session.clone_from(&args.session);
    f.team.clone_from(&args.team);
    f.release.clone_from(&args.release);
    f.status = args.status.as_deref().and_then(RunStatus::from_wire);
    for pair in &args.labels {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Failure::usage(format!(
                "invalid --label `{pair}`: expected KEY=VALUE"
            )));
        };
        f.labels.push((k.trim().to_owned(), v.to_owned()));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_sums() {
        assert_eq!(
            parse_duration("24h").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5_400);
        for bad in [
            "",
            "24",
            "h",
            "-1h",
            "1y",
            "0s",
            "99999999999999999999w",
            "1h 30",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_take_rfc3339_or_dates() {
        assert_eq!(
            parse_time("2026-03-01").unwrap(),
            "2026-03-01T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_time("2026-03-01T12:00:00+02:00").is_ok());
        assert!(parse_time("yesterday").is_err());
        // A time without an offset is not cut to its date's midnight.
        for no_offset in [
            "2025-03-01T03:00:00",
            "2025-03-01T09:30",
            "2025-03-01 09:30:00",
        ] {
            let err = parse_time(no_offset).unwrap_err().message;
            assert!(err.contains("no UTC offset"), "{no_offset}: {err}");
        }
        assert_eq!(
            parse_time("2025-03-01T09:30:00+01:00[Europe/Paris]").unwrap(),
            "2025-03-01T08:30:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn filters_check_the_window_and_labels() {
        let now: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
        let mut args = FilterArgs {
            since: Some("24h".into()),
            from: None,
            to: None,
            agent: None,
            session: None,
            team: None,
            release: None,
            status: Some("error".into()),
            labels: vec!["priority=high".into(), "note=a=b".into()],
        };
        let f = filter(&args, now).unwrap();
        assert_eq!(f.from, Some("2026-03-01T00:00:00Z".parse().unwrap()));
        assert_eq!(f.status, Some(RunStatus::Error));
        assert_eq!(f.labels[1], ("note".to_owned(), "a=b".to_owned()));
        args.labels = vec!["nokey".into()];
        assert!(filter(&args, now).is_err());
        args.labels.clear();
        args.since = None;
        args.from = Some("2026-03-05".into());
        assert!(filter(&args, now).is_err()); // from after now
    }
}
