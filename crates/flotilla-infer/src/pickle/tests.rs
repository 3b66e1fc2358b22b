//! The reader on real pickles (`testdata/`, written by `testdata/make.py`
//! with the pinned numpy and scikit-learn), on hand-made hostile ones, and
//! on random and mutated bytes.

use proptest::prelude::*;

use super::{Limits, read, read_with};
use crate::InferError;
use crate::pyvalue::{ArrayData, Value};

const TREE_P5: &[u8] = include_bytes!("../../testdata/tree_p5.pkl");
const TREE_P2: &[u8] = include_bytes!("../../testdata/tree_p2.pkl");
const PIPE_P4: &[u8] = include_bytes!("../../testdata/pipe_p4.pkl");
const ARRAYS: [&[u8]; 3] = [
    include_bytes!("../../testdata/arrays_p2.pkl"),
    include_bytes!("../../testdata/arrays_p4.pkl"),
    include_bytes!("../../testdata/arrays_p5.pkl"),
];

fn refusal(bytes: &[u8]) -> String {
    match read(bytes) {
        Ok(v) => panic!("read {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn arrays_read_the_same_in_every_protocol() {
    for bytes in ARRAYS {
        let v = read(bytes).unwrap();
        let f = v.get("f").unwrap().as_array().unwrap();
        assert_eq!((f.shape.as_slice(), f.to_f64().unwrap()), (&[2, 2][..], vec![1.5, -2.0, 3.0, 4.25]));
        let fortran = v.get("fortran").unwrap().as_array().unwrap();
        assert_eq!(fortran.to_i64().unwrap(), [0, 1, 2, 3, 4, 5], "Fortran order is turned into C order");
        let s = v.get("s").unwrap().as_array().unwrap();
        assert_eq!(s.data, ArrayData::Str(vec!["ab".into(), "c".into()]));
        let o = v.get("o").unwrap().as_array().unwrap();
        assert_eq!(o.data, ArrayData::Object(vec![Value::Int(1), Value::Str("x".into())]));
        assert_eq!(v.get("d"), Some(&Value::Dict(vec![(Value::Str("a".into()), Value::Int(1))])));
        assert_eq!(v.get("n"), Some(&Value::Float(0.5)));
        assert_eq!(v.get("big"), Some(&Value::Int(1 << 40)));
        assert_eq!(v.get("neg"), Some(&Value::Int(-3)));
    }
}

#[test]
fn a_tree_reads_with_its_structured_nodes() {
    for bytes in [TREE_P5, TREE_P2] {
        let model = read(bytes).unwrap();
        let model = model.as_object().unwrap();
        assert_eq!(model.class, "sklearn.tree._classes.DecisionTreeRegressor");
        let tree = model.need("tree_").unwrap().as_object().unwrap();
        assert_eq!(tree.class, "sklearn.tree._tree.Tree");
        let nodes = tree.state.get("nodes").unwrap().as_array().unwrap();
        assert_eq!(nodes.len(), 7);
        assert_eq!(nodes.field_i64("left_child").unwrap()[..2], [1, 2]);
        assert_eq!(nodes.field_i64("missing_go_to_left").unwrap().len(), 7);
        let values = tree.state.get("values").unwrap().as_array().unwrap();
        assert_eq!(values.shape, [7, 1, 1]);
    }
    let pipe = read(PIPE_P4).unwrap();
    let steps = pipe.as_object().unwrap().need("steps").unwrap().as_list().unwrap();
    assert_eq!(steps.len(), 2);
}

/// Hand-made pickles: the globals a hostile file names, each refused by name.
#[test]
fn hostile_globals_are_refused_by_name() {
    let cases: &[(&[u8], &str)] = &[
        // GLOBAL 'os system', ('touch /tmp/x',), REDUCE
        (b"\x80\x02cos\nsystem\nX\x0c\x00\x00\x00touch /tmp/x\x85R.", "refuses global os.system"),
        (b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.", "refuses global builtins.eval"),
        (b"\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93.", "refuses global subprocess.Popen"),
        (b"\x80\x02cposix\nsystem\n.", "refuses global posix.system"),
        // A hostile global nested in a pipeline's steps.
        (
            b"\x80\x04\x8c\x10sklearn.pipeline\x8c\x08Pipeline\x93)\x81}\x8c\x05steps](\x8c\x01a\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R\x86esb.",
            "refuses global os.system",
        ),
        (b"\x80\x04\x8c\x05numpy\x8c\x04load\x93.", "refuses global numpy.load"),
    ];
    for (bytes, want) in cases {
        let e = refusal(bytes);
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn malformed_pickles_are_refused() {
    let bad_array = b"\x80\x05\x8c\x13numpy._core.numeric\x8c\x0b_frombuffer\x93(\x96\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x8c\x05numpy\x8c\x05dtype\x93\x8c\x02f8\x89\x88\x87RK\x02\x85\x8c\x01CtR.";
    let cases: &[(&[u8], &str)] = &[
        (b"", "ends before STOP"),
        (b"\x80\x04", "ends before STOP"),
        (b"\x80\x04N", "ends before STOP"),
        (b"\x80\x04X\xff\xff\xff\x7fabc.", "declares 2147483647 bytes"),
        (b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xffabc.", "remain"),
        (b"\x80\x04h\x05.", "never stored"),
        (b"\x80\x04t.", "no MARK"),
        (b".", "empty stack"),
        (b"\x80\x04NNb.", "BUILD on a value"),
        (b"\x80\x04NNa.", "APPEND"),
        (b"\x80\x04\x80\x09.", "protocol 9"),
        (b"\x80\x04\x00.", "opcode 0x00"),
        (b"\x80\x04P0\n.", "opcode 0x50"),
        (b"\x80\x05\x97.", "out-of-band"),
        // A list that contains itself: the depth limit stops it.
        (b"\x80\x04]\x94h\x00a.", "nest deeper"),
        // _frombuffer of 8 bytes declared as two f8.
        (bad_array, "needs 16 bytes, the file holds 8"),
    ];
    for (bytes, want) in cases {
        let e = refusal(bytes);
        assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn sharing_is_budgeted() {
    // x = 0; then 40 times x = (x, x): 2^40 values once unshared.
    let mut doubling = b"\x80\x04K\x00".to_vec();
    for i in 0..40u8 {
        doubling.extend_from_slice(&[0x94, b'h', i, 0x86]);
    }
    doubling.push(b'.');
    let limits = Limits { max_values: 1 << 20, ..Limits::default() };
    let e = read_with(&doubling, &limits).unwrap_err().to_string();
    assert!(e.contains("values once shared"), "{e}");
    let small = Limits { max_bytes: 10, ..Limits::default() };
    assert!(read_with(TREE_P5, &small).unwrap_err().to_string().contains("at most 10"));
}

/// Reads `bytes`; a value that builds a model must predict (or refuse the
/// rows) without panicking.
fn no_panic(bytes: &[u8]) {
    let value = match read(bytes) {
        Ok(value) => value,
        Err(InferError::InvalidModel(_) | InferError::Unsupported(_)) => return,
        Err(e) => panic!("{e}"),
    };
    let Ok(model) = crate::sklearn::load_value(&value) else { return };
    let width = usize::try_from(model.inputs()[0].shape[1]).unwrap_or(0).min(64);
    for x in [0.0, -1.0, 2.5, f64::NAN, f64::INFINITY] {
        let _ = model.predict(&[crate::Tensor::f64("input", vec![2, width], vec![x; 2 * width])]);
    }
    let _ = model.size_bytes();
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        no_panic(&bytes);
    }

    #[test]
    fn truncated_and_mutated_real_pickles_never_panic(cut in 0usize..2000, at in 0usize..2000, byte in any::<u8>()) {
        for real in [TREE_P5, TREE_P2, PIPE_P4, ARRAYS[2]] {
            no_panic(&real[..cut.min(real.len())]);
            let mut mutated = real.to_vec();
            let i = at % mutated.len();
            mutated[i] = byte;
            no_panic(&mutated);
        }
    }
}
