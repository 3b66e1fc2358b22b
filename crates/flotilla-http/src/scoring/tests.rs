//! The scoring protocol's readers: every body format, and the bad inputs
//! answered 400 (or 415) in MLflow's shape.

use super::frame::{Cell, Column, Frame, MAX_CELLS, check_size, from_csv, from_json};
use super::{ScoringTarget, reader};

fn num(values: &[f64]) -> Vec<Cell> {
    values.iter().map(|v| Cell::Num(*v)).collect()
}

fn named(name: &str, cells: Vec<Cell>) -> Column {
    Column { name: Some(name.into()), width: 1, cells }
}

#[test]
fn json_formats_read_as_frames() {
    let ab = |tabular| Frame {
        rows: 2,
        columns: vec![named("a", num(&[1.0, 3.0])), named("b", num(&[2.0, f64::NAN]))],
        tabular,
    };
    let cases: Vec<(&str, Frame)> = vec![
        (r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, null]]}}"#, ab(true)),
        (
            r#"{"dataframe_split": {"index": [0, 1], "columns": ["a", "b"], "data": [[1, 2.0], [3, null]]}, "params": {}}"#,
            ab(true),
        ),
        (r#"{"dataframe_records": [{"a": 1, "b": 2}, {"a": 3}]}"#, ab(true)),
        (r#"{"instances": [{"a": 1, "b": 2}, {"a": 3, "b": null}]}"#, ab(false)),
        (r#"{"inputs": {"a": [1, 3], "b": [2, null]}}"#, ab(false)),
        (
            r#"{"inputs": [[1, 2], [3, 4]]}"#,
            Frame {
                rows: 2,
                columns: vec![Column { name: None, width: 2, cells: num(&[1.0, 2.0, 3.0, 4.0]) }],
                tabular: false,
            },
        ),
        (
            r#"{"inputs": {"x": [[1, 2]]}}"#,
            Frame {
                rows: 1,
                columns: vec![Column { name: Some("x".into()), width: 2, cells: num(&[1.0, 2.0]) }],
                tabular: false,
            },
        ),
    ];
    for (body, want) in cases {
        let got = from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {}", e.message));
        // NaN != NaN: compare the debug text.
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{body}");
    }
    let text = from_json(br#"{"dataframe_split": {"columns": ["city"], "data": [["Oslo"]]}}"#).unwrap();
    assert_eq!(text.columns[0].cells, vec![Cell::Text("Oslo".into())]);
}

#[test]
fn bad_json_is_a_bad_request() {
    let cases: &[(&str, &str)] = &[
        ("[1, 2]", "Received a list"),
        (r#"{"data": [[1]]}"#, r#"Received dictionary with input fields: ["data"]"#),
        (r#"{"inputs": [[1]], "instances": [[1]]}"#, "exactly one of the input fields"),
        ("{nope", "Ensure that input is a valid JSON formatted string"),
        (
            r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}"#,
            "row 1 has 1 values; the input has 2 columns",
        ),
        (r#"{"inputs": [[1, 2], [3]]}"#, "row 1 has 1 values"),
        (r#"{"inputs": {"a": [1, 2], "b": [3]}}"#, "input 'b' has 1 rows; the others have 2"),
        (r#"{"dataframe_split": {"columns": ["a"], "data": [[[1]]]}}"#, "Ensure that input is a valid JSON"),
    ];
    for (body, fragment) in cases {
        let e = from_json(body.as_bytes()).unwrap_err();
        assert_eq!((e.status.as_u16(), e.error_code), (400, "BAD_REQUEST"), "{body}");
        assert!(e.message.contains(fragment), "{body}: {}", e.message);
    }
}

#[test]
fn csv_reads_as_pandas_reads_it() {
    let got = from_csv(b"a,b\n1,2\n3,\n", &|_| false).unwrap();
    assert_eq!(got.rows, 2);
    assert_eq!(got.columns[0].name.as_deref(), Some("a"));
    let b: Vec<f64> = got.columns[1].cells.iter().map(|c| c.number().unwrap()).collect();
    assert_eq!(b[0], 2.0);
    assert!(b[1].is_nan());
    // A text column keeps its text ("007" stays "007"); a numeric one reads numbers.
    let got = from_csv(b"zip,n\n007,7\n", &|c| c == "zip").unwrap();
    assert_eq!(got.columns[0].cells, vec![Cell::Text("007".into())]);
    assert_eq!(got.columns[1].cells, vec![Cell::Num(7.0)]);
    let cases: &[(&[u8], &str)] = &[
        (b"a,b\n1,2\n3,4,5\n", "Expected 2 fields in line 3, saw 3"),
        (b"a,b\n1\n", "Expected 2 fields in line 2, saw 1"),
        (b"", "No columns to parse"),
        (b"a,b\n1,\xff\n", "Failed to parse input as a Pandas DataFrame"),
    ];
    for (body, fragment) in cases {
        let e = from_csv(body, &|_| false).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.contains(fragment), "{:?}: {}", String::from_utf8_lossy(body), e.message);
    }
}

#[test]
fn too_many_cells_are_refused_before_they_are_kept() {
    assert!(check_size(MAX_CELLS, 1).is_ok());
    for (rows, width, fragment) in
        [(MAX_CELLS + 1, 1, "at most"), (MAX_CELLS / 2, 3, "at most"), (1, 5000, "5000 columns")]
    {
        let e = check_size(rows, width).unwrap_err();
        assert!(e.message.contains(fragment), "{rows} x {width}: {}", e.message);
    }
    let wide: Vec<String> = (0..5000).map(|i| format!("c{i}")).collect();
    let e = from_csv(format!("{}\n", wide.join(",")).as_bytes(), &|_| false).unwrap_err();
    assert!(e.message.contains("5000 columns"), "{}", e.message);
}

#[test]
fn content_types_as_the_scoring_server_takes_them() {
    let cases: &[(&str, Option<u16>)] = &[
        ("application/json", None),
        ("application/json; charset=utf-8", None),
        ("text/csv", None),
        ("text/csv; charset=UTF-8", None),
        ("application/json; charset=latin-1", Some(415)),
        ("application/json; format=pandas-split", Some(415)),
        ("application/x-www-form-urlencoded", Some(415)),
        ("", Some(415)),
    ];
    for (content_type, want) in cases {
        assert_eq!(reader(content_type).err().map(|e| e.status.as_u16()), *want, "{content_type}");
    }
}

#[test]
fn model_targets() {
    // text -> (model, version), or refused
    type Want<'a> = Option<(&'a str, Option<&'a str>)>;
    let cases: &[(&str, Want)] = &[
        ("churn", Some(("churn", None))),
        ("churn@champion", Some(("churn@champion", None))),
        ("churn/3", Some(("churn", Some("3")))),
        ("models:/churn/3", Some(("churn", Some("3")))),
        ("models:/churn@champion", Some(("churn@champion", None))),
        ("team/churn", Some(("team/churn", None))),
        ("", None),
    ];
    for (text, want) in cases {
        let got = ScoringTarget::parse(text).ok();
        let want = want.map(|(m, v)| ScoringTarget { model: m.into(), version: v.map(String::from) });
        assert_eq!(got, want, "{text}");
    }
}
