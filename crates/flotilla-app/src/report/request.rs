//! The report's query: `family=`, `partition=key=value` (with a family),
//! `tag=key=value`; `from=`/`to=` (dates `YYYY-MM-DD`, UTC, `to` exclusive;
//! or ms since the epoch) or `last=7d`; `compare_to=FROM..TO` (default: the
//! period of the same length just before; `none` for no comparison);
//! `metric=` (the key metric; default the first the champions carry);
//! `format=json|html` (the API's default JSON).

use flotilla_core::Error;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
/// The longest period one report covers.
pub const MAX_PERIOD_DAYS: i64 = 400;

/// What a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportScope {
    Fleet,
    Family { family: String },
    Partition { family: String, key: String, value: String },
    Tag { key: String, value: String },
}

impl ReportScope {
    pub fn family(&self) -> Option<&str> {
        match self {
            ReportScope::Family { family } | ReportScope::Partition { family, .. } => Some(family),
            ReportScope::Fleet | ReportScope::Tag { .. } => None,
        }
    }

    /// The scope as words, for titles.
    pub fn describe(&self) -> String {
        match self {
            ReportScope::Fleet => "the whole fleet".into(),
            ReportScope::Family { family } => format!("family {family}"),
            ReportScope::Partition { family, key, value } => format!("family {family}, partition {key}={value}"),
            ReportScope::Tag { key, value } => format!("models tagged {key}={value}"),
        }
    }

    /// The scope as query parameters (a link that reproduces it).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            ReportScope::Fleet => Vec::new(),
            ReportScope::Family { family } => vec![("family", family.clone())],
            ReportScope::Partition { family, key, value } => {
                vec![("family", family.clone()), ("partition", format!("{key}={value}"))]
            }
            ReportScope::Tag { key, value } => vec![("tag", format!("{key}={value}"))],
        }
    }
}

/// `[from, to)`, ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

impl Period {
    /// The period of the same length just before.
    pub fn before(self) -> Period {
        Period { from: self.from - (self.to - self.from), to: self.from }
    }

    pub fn describe(self) -> String {
        format!("{} to {}", date(self.from), date(self.to))
    }
}

/// The response format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

/// A report request, understood.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    pub scope: ReportScope,
    pub period: Period,
    pub compare: Period,
    pub metric: Option<String>,
    pub format: Format,
}

/// `YYYY-MM-DD` (UTC midnight) from ms since the epoch.
pub fn date(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Ms since the epoch of a `YYYY-MM-DD` date or a plain ms number.
pub fn parse_time(name: &str, v: &str) -> Result<i64, Error> {
    let bad = || Error::invalid(format!("'{name}' must be a date YYYY-MM-DD or ms since the epoch, got '{v}'"));
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    let mut parts = v.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let (y, m, d): (i64, i64, i64) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Howard Hinnant's days_from_civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let ms = (era * 146_097 + doe - 719_468) * DAY_MS;
    if date(ms) != format!("{y:04}-{m:02}-{d:02}") {
        return Err(bad());
    }
    Ok(ms)
}

/// `7d`, `2w`, `24h` as ms.
fn parse_last(v: &str) -> Result<i64, Error> {
    let bad = || Error::invalid(format!("'last' must be like 7d, 2w or 24h, got '{v}'"));
    let (n, unit) = v.split_at(v.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit = match unit {
        "h" => 3_600_000,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    if n <= 0 || n > MAX_PERIOD_DAYS * 24 {
        return Err(bad());
    }
    Ok(n * unit)
}

fn key_value(v: &str, name: &str) -> Result<(String, String), Error> {
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() && !val.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(Error::invalid(format!("'{name}' must be key=value, got '{v}'"))),
    }
}

/// A period must be non-empty, not in the future, and at most [`MAX_PERIOD_DAYS`] long.
pub fn check_period(p: Period, now: i64, what: &str) -> Result<(), Error> {
    if p.from > now {
        return Err(Error::invalid(format!(
            "the {what} starts in the future ({}); nothing can be reported for it yet",
            date(p.from)
        )));
    }
    if p.from >= p.to {
        return Err(Error::invalid(format!(
            "the {what} is empty: 'from' ({}) must be before 'to' ({})",
            date(p.from),
            date(p.to)
        )));
    }
    if p.to - p.from > MAX_PERIOD_DAYS * DAY_MS {
        return Err(Error::invalid(format!("the {what} is longer than {MAX_PERIOD_DAYS} days")));
    }
    Ok(())
}

/// Understands a report's query string at time `now` (ms). A period ending
/// after `now` is cut just after `now` (the report says so by its period):
/// `to` is exclusive, so what happened at `now` itself is in.
pub fn report_query(raw: &str, now: i64) -> Result<ReportRequest, Error> {
    const KNOWN: &[&str] = &["family", "partition", "tag", "from", "to", "last", "compare_to", "metric", "format"];
    let (mut family, mut partition, mut tag, mut from, mut to, mut last, mut compare, mut metric) =
        (None, None, None, None, None, None, None, None);
    let mut format = Format::Json;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.trim().to_string();
        if v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "family" => family = Some(v),
            "partition" => partition = Some(key_value(&v, "partition")?),
            "tag" => tag = Some(key_value(&v, "tag")?),
            "from" => from = Some(parse_time("from", &v)?),
            "to" => to = Some(parse_time("to", &v)?),
            "last" => last = Some(parse_last(&v)?),
            "compare_to" => compare = Some(v),
            "metric" => metric = Some(v),
            "format" => {
                format = match v.as_str() {
                    "html" => Format::Html,
                    "json" => Format::Json,
                    other => return Err(Error::invalid(format!("'format' must be html or json, got '{other}'"))),
                }
            }
            other => return Err(Error::invalid(format!("unknown parameter '{other}'; known: {}", KNOWN.join(", ")))),
        }
    }
    let scope = match (family, partition, tag) {
        (None, None, None) => ReportScope::Fleet,
        (Some(family), None, None) => ReportScope::Family { family },
        (Some(family), Some((key, value)), None) => ReportScope::Partition { family, key, value },
        (None, None, Some((key, value))) => ReportScope::Tag { key, value },
        (None, Some(_), _) => return Err(Error::invalid("'partition' needs 'family'")),
        (Some(_), _, Some(_)) => return Err(Error::invalid("give one scope: 'family' (with 'partition'), or 'tag'")),
    };
    let period = match (from, to, last) {
        (_, _, Some(_)) if from.is_some() => return Err(Error::invalid("give 'from'/'to' or 'last', not both")),
        (None, to, Some(len)) => {
            let to = to.unwrap_or(now + 1);
            Period { from: to - len, to }
        }
        (Some(from), to, None) => Period { from, to: to.unwrap_or(now + 1) },
        (None, Some(_), None) => return Err(Error::invalid("'to' needs 'from' (or give 'last')")),
        (None, None, None) => Period { from: now + 1 - 7 * DAY_MS, to: now + 1 },
        (Some(_), _, Some(_)) => return Err(Error::invalid("give 'from'/'to' or 'last', not both")),
    };
    check_period(period, now, "period")?;
    let period = Period { from: period.from, to: period.to.min(now + 1) };
    let compare = match compare.as_deref() {
        None | Some("previous") => period.before(),
        Some(text) => {
            let (f, t) = text
                .split_once("..")
                .ok_or_else(|| Error::invalid(format!("'compare_to' must be FROM..TO or 'previous', got '{text}'")))?;
            let p = Period { from: parse_time("compare_to", f)?, to: parse_time("compare_to", t)? };
            check_period(p, now, "comparison period")?;
            p
        }
    };
    Ok(ReportRequest { scope, period, compare, metric, format })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    #[test]
    fn dates_round_trip_and_bad_periods_are_refused() {
        assert_eq!(parse_time("from", "1970-01-01").unwrap(), 0);
        assert_eq!(date(parse_time("from", "2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_time("from", "2023-02-29").is_err());
        let r = report_query("family=demand&last=7d", NOW).unwrap();
        assert_eq!(r.scope, ReportScope::Family { family: "demand".into() });
        assert_eq!(r.period.to - r.period.from, 7 * DAY_MS);
        assert_eq!(r.compare, r.period.before());
        let empty = report_query("from=2025-01-02&to=2025-01-02", NOW).unwrap_err();
        assert!(empty.to_string().contains("empty"), "{empty}");
        let future = report_query(&format!("from={}", NOW + DAY_MS), NOW).unwrap_err();
        assert!(future.to_string().contains("future"), "{future}");
        assert!(report_query("partition=a=b", NOW).is_err());
        assert!(report_query("colour=red", NOW).is_err());
        assert!(report_query("last=7x", NOW).is_err());
    }
}
