//! Bad inputs are errors that name the line, row group or column, never panics.

use std::io::Read;

use flotilla_profile::{ContentType, ErrorClass, ProfileError, Profiler, ProfilerConfig};

use crate::common::table;

fn csv(input: &str) -> Result<flotilla_profile::Profile, ProfileError> {
    Profiler::default().profile(input.as_bytes(), ContentType::Csv)
}

#[test]
fn an_unknown_content_type_is_unsupported_media() {
    let err = ContentType::from_mime("application/json").unwrap_err();
    assert!(matches!(err, ProfileError::UnsupportedContentType(_)));
    assert_eq!(err.class(), ErrorClass::UnsupportedMediaType);
    assert_eq!(ContentType::from_mime("text/csv; charset=utf-8").unwrap(), ContentType::Csv);
    assert_eq!(ContentType::from_mime("application/vnd.apache.parquet").unwrap(), ContentType::Parquet);
    assert_eq!(ContentType::from_mime("Application/Vnd.Apache.Arrow.Stream").unwrap(), ContentType::ArrowStream);
}

#[test]
fn a_ragged_csv_row_names_its_line() {
    let err = csv("a,b\n1,2\n3,4\n5\n").unwrap_err();
    assert!(matches!(err, ProfileError::RaggedCsvRow { line: 4, expected: 2, found: 1 }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadInput);
    assert!(err.to_string().contains("line 4"), "{err}");
}

#[test]
fn a_type_change_mid_file_names_line_and_column() {
    // The first batch establishes `price` as a number; line 5002 holds text.
    let mut input = String::from("id,price\n");
    for i in 0..5000 {
        input.push_str(&format!("{i},{}.5\n", i % 97));
    }
    input.push_str("5000,cheap\n");
    let small_batches = Profiler::new(ProfilerConfig { batch_rows: 1000, ..ProfilerConfig::default() });
    let err = small_batches.profile(input.as_bytes(), ContentType::Csv).unwrap_err();
    let ProfileError::TypeChanged { line, column, value, .. } = &err else {
        panic!("expected TypeChanged, got {err:?}");
    };
    assert_eq!((*line, column.as_str(), value.as_str()), (5002, "price", "cheap"));
    assert!(err.to_string().contains("line 5002, column \"price\""), "{err}");
    // Within the first batch, a mixed column is text, not an error.
    let p = csv("a\n1\nx\n").unwrap();
    assert_eq!(p.features[0].feature_type, flotilla_profile::FeatureType::String);
}

#[test]
fn too_many_columns_are_refused_before_any_row() {
    let header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    let input = format!("{}\n", header.join(","));
    let err = csv(&input).unwrap_err();
    assert!(matches!(err, ProfileError::TooManyColumns { found: 100_000, max: 10_000 }), "{err:?}");
    // The limit is configurable.
    let narrow = Profiler::new(ProfilerConfig { max_columns: 3, ..ProfilerConfig::default() });
    let err = narrow.profile(&b"a,b,c,d\n1,2,3,4\n"[..], ContentType::Csv).unwrap_err();
    assert!(matches!(err, ProfileError::TooManyColumns { found: 4, max: 3 }));
    // Parquet and Arrow too.
    let t = table(10, 1);
    for (bytes, ct) in [(t.parquet(0..10, 10), ContentType::Parquet), (t.ipc(0..10, 10), ContentType::ArrowStream)] {
        let err = narrow.profile(&bytes[..], ct).unwrap_err();
        assert!(matches!(err, ProfileError::TooManyColumns { found: 4, max: 3 }), "{err:?}");
    }
}

#[test]
fn a_truncated_parquet_file_is_a_parquet_error() {
    let t = table(5_000, 2);
    let bytes = t.parquet(0..5_000, 1_000);
    for cut in [0, 4, bytes.len() / 2, bytes.len() - 1] {
        let err = Profiler::default().profile(&bytes[..cut], ContentType::Parquet).unwrap_err();
        assert!(matches!(err, ProfileError::Parquet(_)), "cut {cut}: {err:?}");
        assert_eq!(err.class(), ErrorClass::BadInput);
    }
    // Garbage in the middle (the footer intact) fails too, without a panic.
    let mut broken = bytes.clone();
    for b in &mut broken[100..bytes.len() / 2] {
        *b = 0xff;
    }
    let err = Profiler::default().profile(&broken[..], ContentType::Parquet).unwrap_err();
    assert_eq!(err.class(), ErrorClass::BadInput, "{err:?}");
}

#[test]
fn a_truncated_arrow_stream_is_an_arrow_error() {
    let t = table(5_000, 2);
    let bytes = t.ipc(0..5_000, 1_000);
    for cut in [3, bytes.len() / 2] {
        let err = Profiler::default().profile(&bytes[..cut], ContentType::ArrowStream).unwrap_err();
        assert!(matches!(err, ProfileError::ArrowIpc(_)), "cut {cut}: {err:?}");
    }
    // An Arrow batch bigger than the memory budget stops at the budget.
    let tight = Profiler::new(ProfilerConfig { memory_budget: 4096, ..ProfilerConfig::default() });
    let err = tight.profile(&bytes[..], ContentType::ArrowStream).unwrap_err();
    assert!(matches!(err, ProfileError::ArrowBatchTooLarge { batch: 1, .. }), "{err:?}");
}

#[test]
fn a_parquet_chunk_over_the_budget_is_refused() {
    let t = table(20_000, 2);
    let tight = Profiler::new(ProfilerConfig { memory_budget: 1024, ..ProfilerConfig::default() });
    let err = tight.profile(&t.parquet(0..20_000, 20_000)[..], ContentType::Parquet).unwrap_err();
    assert!(matches!(err, ProfileError::ParquetChunkTooLarge { row_group: 0, .. }), "{err:?}");
}

#[test]
fn malformed_csv_is_named() {
    assert!(matches!(csv("").unwrap_err(), ProfileError::EmptyCsv));
    assert!(matches!(csv("a,a\n1,2\n").unwrap_err(), ProfileError::DuplicateColumn { .. }));
    let err = Profiler::default().profile(&b"a,b\n1,\xff\xfe\n"[..], ContentType::Csv).unwrap_err();
    assert!(matches!(err, ProfileError::MalformedCsv { line: 2, .. }), "{err:?}");
    // A boolean column given a number later.
    let err = Profiler::new(ProfilerConfig { batch_rows: 2, ..ProfilerConfig::default() })
        .profile(&b"ok\ntrue\nfalse\n7\n"[..], ContentType::Csv)
        .unwrap_err();
    assert!(matches!(err, ProfileError::TypeChanged { line: 4, .. }), "{err:?}");
}

/// An endless quoted field: the reader stops at the record limit instead of buffering it all.
#[test]
fn an_unterminated_quote_stops_at_the_record_limit() {
    let endless = b"a,b\n1,\"".chain(std::io::repeat(b'x').take(64 << 20));
    let limited = Profiler::new(ProfilerConfig { max_record_bytes: 1 << 20, ..ProfilerConfig::default() });
    let err = limited.profile(endless, ContentType::Csv).unwrap_err();
    assert!(matches!(err, ProfileError::CsvRecordTooLong { line: 2, max: 1_048_576 }), "{err:?}");
}
