//! Oversized and inconsistent claims in infer requests, each refused with a
//! 400 before anything is sized from it.

use bytes::Bytes;
use flotilla_infer::TensorData;

use super::{MAX_DIMS, MAX_ELEMENTS, MAX_INPUTS, decode_inputs, parse};

fn decode(json: &str, tail: &[u8]) -> Result<Vec<flotilla_infer::Tensor>, String> {
    let mut body = json.as_bytes().to_vec();
    body.extend_from_slice(tail);
    let body = Bytes::from(body);
    let header = (!tail.is_empty()).then_some(json.len());
    let (request, tail) = parse(&body, header).map_err(|e| e.message)?;
    decode_inputs(&request, &tail, body.len()).map_err(|e| {
        assert_eq!(e.status, 400, "{}", e.message);
        e.message
    })
}

fn bytes_elements(items: &[&[u8]]) -> Vec<u8> {
    items.iter().flat_map(|b| [(b.len() as u32).to_le_bytes().as_slice(), b].concat()).collect()
}

#[test]
fn oversized_claims_are_refused() {
    let huge = 1_000_000_000_000i64;
    let many_inputs = format!(
        r#"{{"inputs":[{}]}}"#,
        vec![r#"{"name":"a","shape":[1],"datatype":"FP32","data":[1]}"#; MAX_INPUTS + 1].join(",")
    );
    let deep_shape =
        format!(r#"{{"inputs":[{{"name":"a","shape":{:?},"datatype":"FP32","data":[1]}}]}}"#, vec![1; MAX_DIMS + 1]);
    let claim = |dt: &str, shape: &str, tail_size: u64| {
        format!(
            r#"{{"inputs":[{{"name":"a","shape":{shape},"datatype":"{dt}","parameters":{{"binary_data_size":{tail_size}}}}}]}}"#
        )
    };
    let two_strings = bytes_elements(&[b"ab", b"c"]);
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (format!(r#"{{"inputs":[{{"name":"a","shape":[{huge}],"datatype":"FP32","data":[1]}}]}}"#), vec![], "claims"),
        (
            format!(r#"{{"inputs":[{{"name":"a","shape":[{huge}],"datatype":"BYTES","data":["x"]}}]}}"#),
            vec![],
            "claims",
        ),
        (
            format!(r#"{{"inputs":[{{"name":"a","shape":[{huge},{huge}],"datatype":"FP64","data":[1]}}]}}"#),
            vec![],
            "claims",
        ),
        (format!(r#"{{"inputs":[{{"name":"a","shape":[{huge},0],"datatype":"FP64","data":[]}}]}}"#), vec![], "claims"),
        (r#"{"inputs":[{"name":"a","shape":[-1],"datatype":"FP32","data":[1]}]}"#.into(), vec![], "negative"),
        (
            r#"{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1]}]}"#.into(),
            vec![],
            "has 1 elements but shape [3] needs 3",
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2,3]}]}"#.into(),
            vec![],
            "has 3 elements but shape [2] needs 2",
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[[1],[2]]}]}"#.into(),
            vec![],
            "has 2 elements but shape [1] needs 1",
        ),
        (many_inputs, vec![], "257 inputs; at most 256"),
        (
            r#"{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[{"x":1}]}]}"#.into(),
            vec![],
            "must be a number",
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[1],"datatype":"UINT8","data":[-1]}]}"#.into(),
            vec![],
            "non-negative integer",
        ),
        (r#"{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[1.5]}]}"#.into(), vec![], "an integer"),
        (deep_shape, vec![], "dimensions"),
        (claim("BYTES", &format!("[{huge}]"), 8), bytes_elements(&[b"abcd"]), "claims"),
        (claim("BYTES", "[3]", 11), two_strings.clone(), "cannot hold 3"),
        (claim("BYTES", "[1]", 11), two_strings.clone(), "malformed BYTES"),
        (claim("BYTES", "[2]", 8), [u32::MAX.to_le_bytes(), *b"abcd"].concat(), "only 4 remain"),
        (claim("BYTES", "[1]", 6), vec![9, 0, 0, 0, 1, 2], "only 2 remain"),
        (claim("FP32", "[2]", 4), vec![0; 4], "4 bytes of binary data for 2"),
        (claim("FP64", &format!("[{}]", u64::MAX / 4), 8), vec![0; 8], "claims"),
        (claim("FP32", "[1]", 1 << 62), vec![0; 4], "runs past the end"),
        (claim("FP32", "[1]", u64::MAX), vec![0; 4], "runs past the end"),
    ];
    for (json, tail, fragment) in cases {
        let short: String = json.chars().take(160).collect();
        match decode(&json, &tail) {
            Err(message) => assert!(message.contains(fragment), "{short}: {message}"),
            Ok(t) => panic!("{short}: accepted as {t:?}"),
        }
    }
}

#[test]
fn total_elements_are_capped() {
    let a = MAX_ELEMENTS / 2 + 1;
    let tail = vec![0u8; 2 * a];
    let json = format!(
        r#"{{"inputs":[{{"name":"a","shape":[{a}],"datatype":"BOOL","parameters":{{"binary_data_size":{a}}}}},{{"name":"b","shape":[{a}],"datatype":"BOOL","parameters":{{"binary_data_size":{a}}}}}]}}"#
    );
    let message = decode(&json, &tail).unwrap_err();
    assert!(message.contains(&format!("at most {MAX_ELEMENTS} elements")), "{message}");
}

#[test]
fn exact_claims_decode() {
    let strings = bytes_elements(&[b"ab", b"", b"c"]);
    let cases: Vec<(String, Vec<u8>, TensorData)> = vec![
        (
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"UINT64","data":[18446744073709551615,0]}]}"#.into(),
            vec![],
            TensorData::Uint(vec![u64::MAX, 0]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"INT64","data":[-9223372036854775808,7]}]}"#.into(),
            vec![],
            TensorData::Int(vec![i64::MIN, 7]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[1,2],"datatype":"BOOL","data":[[true,false]]}]}"#.into(),
            vec![],
            TensorData::Bool(vec![true, false]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[3],"datatype":"FP64","data":[1,-2,Infinity]}]}"#.into(),
            vec![],
            TensorData::F64(vec![1.0, -2.0, f64::INFINITY]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[2,1],"datatype":"FP32","data":[[1],[2]]}]}"#.into(),
            vec![],
            TensorData::F32(vec![1.0, 2.0]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[0],"datatype":"FP32","data":[]}]}"#.into(),
            vec![],
            TensorData::F32(vec![]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"BYTES","data":["x",""]}]}"#.into(),
            vec![],
            TensorData::Bytes(vec![b"x".to_vec(), vec![]]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[3],"datatype":"BYTES","parameters":{"binary_data_size":15}}]}"#.into(),
            strings,
            TensorData::Bytes(vec![b"ab".to_vec(), vec![], b"c".to_vec()]),
        ),
        (
            r#"{"inputs":[{"name":"a","shape":[1,2],"datatype":"INT32","parameters":{"binary_data_size":8}}]}"#.into(),
            [7i32.to_le_bytes(), (-1i32).to_le_bytes()].concat(),
            TensorData::Int(vec![7, -1]),
        ),
    ];
    for (json, tail, want) in cases {
        let got = decode(&json, &tail).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(got[0].data, want, "{json}");
    }
}
