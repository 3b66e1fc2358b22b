//! The skops reader on a real archive (`testdata/tree.skops`, written by
//! `testdata/make.py`), on archives rewritten to be hostile or broken, and
//! on random and mutated bytes.

use std::io::{Cursor, Read, Write};

use proptest::prelude::*;

use super::read;
use crate::InferError;

const TREE: &[u8] = include_bytes!("../../testdata/tree.skops");

/// The archive's members, by name.
fn members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut out = Vec::new();
            file.read_to_end(&mut out).unwrap();
            (file.name().to_string(), out)
        })
        .collect()
}

/// A stored zip of `members`.
fn archive(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The real archive with `schema.json` edited by `edit`.
fn with_schema(edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut all = members(TREE);
    for (name, bytes) in &mut all {
        if name == "schema.json" {
            *bytes = edit(String::from_utf8(bytes.clone()).unwrap()).into_bytes();
        }
    }
    archive(&all)
}

#[test]
fn a_real_tree_reads_like_its_pickle() {
    let from_skops = read(TREE).unwrap();
    let from_pickle = crate::pickle::read(include_bytes!("../../testdata/tree_p5.pkl")).unwrap();
    let (a, b) = (from_skops.as_object().unwrap(), from_pickle.as_object().unwrap());
    assert_eq!(a.class, b.class);
    let tree = |o: &crate::pyvalue::Object| o.need("tree_").unwrap().as_object().unwrap().state.clone();
    let (ta, tb) = (tree(a), tree(b));
    for field in ["left_child", "right_child", "feature"] {
        let nodes = |t: &crate::pyvalue::Value| t.get("nodes").unwrap().as_array().unwrap().field_i64(field).unwrap();
        assert_eq!(nodes(&ta), nodes(&tb), "{field}");
    }
    assert_eq!(ta.get("values").unwrap().to_f64s().unwrap(), tb.get("values").unwrap().to_f64s().unwrap());
    // The model built from either answers the same.
    let model = crate::sklearn::load_value(&from_skops).unwrap();
    let input = crate::Tensor::f64("input", vec![2, 3], vec![0.1, -0.5, 2.0, -1.0, 0.3, 0.0]);
    let want = crate::sklearn::load_value(&from_pickle).unwrap().predict(std::slice::from_ref(&input)).unwrap();
    assert_eq!(model.predict(&[input]).unwrap(), want);
}

#[test]
fn hostile_and_broken_archives_are_refused() {
    let numbers = members(TREE).into_iter().filter(|(n, _)| n.ends_with(".npy")).collect::<Vec<_>>();
    let (first_npy, first_bytes) = numbers[0].clone();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            with_schema(|s| {
                s.replacen("\"DecisionTreeRegressor\"", "\"system\"", 1).replacen(
                    "\"sklearn.tree._classes\"",
                    "\"os\"",
                    1,
                )
            }),
            "refuses global os.system",
        ),
        (with_schema(|s| s.replacen("\"ObjectNode\"", "\"FunctionNode\"", 1)), "skops node FunctionNode"),
        (with_schema(|s| s.replacen("\"protocol\": 2", "\"protocol\": 9", 1)), "skops protocol Some(9)"),
        (with_schema(|s| s[..s.len() / 2].to_string()), "schema.json"),
        (with_schema(|s| s.replace(".npy\"", ".missing\"")), "member"),
        (
            archive(&[
                ("schema.json".into(), members(TREE).into_iter().find(|(n, _)| n == "schema.json").unwrap().1),
                (first_npy.clone(), first_bytes[..first_bytes.len() - 1].to_vec()),
            ]),
            "skops array",
        ),
        (archive(&[("other.json".into(), b"{}".to_vec())]), "member schema.json"),
        (b"PK\x03\x04 not really".to_vec(), "not a zip archive"),
        (Vec::new(), "not a zip archive"),
    ];
    for (bytes, want) in cases {
        let e = match read(&bytes).and_then(|v| crate::sklearn::load_value(&v).map(|_| ())) {
            Ok(()) => panic!("read a broken archive (want {want})"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(want), "want '{want}': {e}");
    }
}

fn no_panic(bytes: &[u8]) {
    match read(bytes) {
        Ok(v) => {
            let _ = crate::sklearn::load_value(&v);
        }
        Err(InferError::InvalidModel(_) | InferError::Unsupported(_)) => {}
        Err(e) => panic!("{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_and_truncated_archives_never_panic(cut in 0usize..13_000, at in 0usize..13_000, byte in any::<u8>()) {
        no_panic(&TREE[..cut.min(TREE.len())]);
        let mut mutated = TREE.to_vec();
        let i = at % mutated.len();
        mutated[i] = byte;
        no_panic(&mutated);
    }

    #[test]
    fn mutated_schemas_never_panic(at in 0usize..11_000, byte in 32u8..127) {
        let bytes = with_schema(|s| {
            let mut b = s.into_bytes();
            let i = at % b.len();
            b[i] = byte;
            String::from_utf8_lossy(&b).into_owned()
        });
        no_panic(&bytes);
    }
}
