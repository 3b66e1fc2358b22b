//! CSV: records buffered a batch at a time, column types inferred from the first batch that
//! holds a column's values, then held to: a later value of another type is an error naming it.

use std::collections::HashSet;
use std::io::Read;

use csv::{ByteRecord, ReaderBuilder};

use crate::feature::{FeatureProfile, FeatureType};
use crate::profiler::{BoundedReader, is_past_limit};
use crate::{Profile, ProfileError, ProfilerConfig};

pub(crate) fn profile_csv(config: &ProfilerConfig, reader: impl Read) -> Result<Profile, ProfileError> {
    let (reader, bounds) = BoundedReader::new(reader, config.max_record_bytes);
    let mut csv = ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
    let headers = csv.byte_headers().map_err(|e| csv_error(e, 1, config))?.clone();
    if headers.is_empty() {
        return Err(ProfileError::EmptyCsv);
    }
    if headers.len() > config.max_columns {
        return Err(ProfileError::TooManyColumns { found: headers.len(), max: config.max_columns });
    }
    let mut names = Vec::with_capacity(headers.len());
    let mut seen = HashSet::with_capacity(headers.len());
    for field in headers.iter() {
        let name = std::str::from_utf8(field)
            .map_err(|_| ProfileError::MalformedCsv { line: 1, message: "the header is not UTF-8".into() })?
            .to_owned();
        if !seen.insert(name.clone()) {
            return Err(ProfileError::DuplicateColumn { column: name });
        }
        names.push(name);
    }
    bounds.mark();

    let mut profile = Profile::with_columns(names.into_iter().map(|n| (n, FeatureType::Null)));
    let mut batch: Vec<ByteRecord> = Vec::new();
    let mut scratch = Vec::new();
    loop {
        // Fill the batch, reusing the records' buffers.
        let mut filled = 0;
        let mut bytes = 0;
        while filled < config.batch_rows && bytes < config.batch_bytes {
            if filled == batch.len() {
                batch.push(ByteRecord::new());
            }
            let record = &mut batch[filled];
            let line = csv.position().line();
            let more = csv.read_byte_record(record).map_err(|e| csv_error(e, line, config))?;
            if !more {
                break;
            }
            bounds.mark();
            if record.len() != profile.features.len() {
                if record.len() == 1 && record.get(0) == Some(b"") {
                    continue; // a blank line
                }
                return Err(ProfileError::RaggedCsvRow {
                    line: record.position().map_or(line, |p| p.line()),
                    expected: profile.features.len(),
                    found: record.len(),
                });
            }
            bytes += record.as_slice().len();
            filled += 1;
        }
        if filled == 0 {
            break;
        }
        let records = &batch[..filled];
        for (column, feature) in profile.features.iter_mut().enumerate() {
            update_column(feature, column, records, &mut scratch)?;
        }
        profile.rows += filled as u64;
        // A batch that once held a giant record does not keep its memory for the rest.
        if bytes > config.batch_bytes {
            batch.clear();
            batch.shrink_to_fit();
        }
    }
    Ok(profile)
}

#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "csv's ErrorKind is non-exhaustive: every kind but I/O is a malformed record"
)]
fn csv_error(e: csv::Error, line: u64, config: &ProfilerConfig) -> ProfileError {
    let line = e.position().map_or(line, |p| p.line());
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) if is_past_limit(&io) => {
            ProfileError::CsvRecordTooLong { line, max: config.max_record_bytes }
        }
        csv::ErrorKind::Io(io) => ProfileError::Io(io),
        _ => ProfileError::MalformedCsv { line, message },
    }
}

fn field(record: &ByteRecord, column: usize) -> &[u8] {
    record.get(column).unwrap_or(b"")
}

/// The type a column's non-empty values in this batch share.
fn infer(column: usize, records: &[ByteRecord]) -> FeatureType {
    let mut t = FeatureType::Null;
    for record in records {
        let value = field(record, column);
        if value.is_empty() {
            continue;
        }
        let Ok(s) = std::str::from_utf8(value) else {
            return FeatureType::String;
        };
        t = match t {
            FeatureType::Null | FeatureType::Integer if s.parse::<i64>().is_ok() => FeatureType::Integer,
            FeatureType::Null | FeatureType::Integer | FeatureType::Float if s.parse::<f64>().is_ok() => {
                FeatureType::Float
            }
            FeatureType::Null | FeatureType::Boolean if parse_bool(s).is_some() => FeatureType::Boolean,
            FeatureType::Null
            | FeatureType::Integer
            | FeatureType::Float
            | FeatureType::Boolean
            | FeatureType::String
            | FeatureType::Other => return FeatureType::String,
        };
    }
    t
}

fn parse_bool(s: &str) -> Option<&'static str> {
    if s.eq_ignore_ascii_case("true") {
        Some("true")
    } else if s.eq_ignore_ascii_case("false") {
        Some("false")
    } else {
        None
    }
}

fn update_column(
    feature: &mut FeatureProfile,
    column: usize,
    records: &[ByteRecord],
    scratch: &mut Vec<f64>,
) -> Result<(), ProfileError> {
    if feature.feature_type == FeatureType::Null {
        let t = infer(column, records);
        feature.set_type(t);
    }
    let mut nulls = 0;
    scratch.clear();
    for record in records {
        let value = field(record, column);
        if value.is_empty() {
            nulls += 1;
            continue;
        }
        let type_changed = |expected: FeatureType| ProfileError::TypeChanged {
            line: record.position().map_or(0, |p| p.line()),
            column: feature.name.clone(),
            expected,
            value: String::from_utf8_lossy(&value[..value.len().min(64)]).into_owned(),
        };
        match feature.feature_type {
            FeatureType::Integer | FeatureType::Float => {
                let parsed = std::str::from_utf8(value).ok().and_then(|s| s.parse::<f64>().ok());
                let Some(v) = parsed else {
                    return Err(type_changed(feature.feature_type));
                };
                if feature.feature_type == FeatureType::Integer && v.fract() != 0.0 {
                    feature.set_type(FeatureType::Float);
                }
                scratch.push(v);
            }
            FeatureType::Boolean => {
                let Some(b) = std::str::from_utf8(value).ok().and_then(parse_bool) else {
                    return Err(type_changed(FeatureType::Boolean));
                };
                feature.update_category(b, 1);
            }
            FeatureType::String => {
                let s = std::str::from_utf8(value).map_err(|_| ProfileError::MalformedCsv {
                    line: record.position().map_or(0, |p| p.line()),
                    message: format!("column {:?}: the value is not UTF-8", feature.name),
                })?;
                feature.update_category(s, 1);
            }
            FeatureType::Null | FeatureType::Other => {}
        }
    }
    feature.update_nulls(nulls);
    match feature.feature_type {
        FeatureType::Integer | FeatureType::Float => feature.update_numbers(scratch),
        FeatureType::Null | FeatureType::Other => {
            feature.update_unsketched((records.len() as u64).saturating_sub(nulls));
        }
        FeatureType::Boolean | FeatureType::String => {}
    }
    Ok(())
}
