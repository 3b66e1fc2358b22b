//! Property tests: no text, random or a mutation of a valid model, makes
//! loading or predicting panic or loop.

use proptest::prelude::*;

use super::{TINY, load};
use crate::{InferError, Tensor};

/// Replacements that hit the checks: signs, overflows, NaN, structure.
const PIECES: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "-5",
    "99",
    "2147483648",
    "-2147483649",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "",
    " ",
    "\n",
    "=",
    "x",
    "Tree=1\n",
    "Tree=3\n",
    "3 4",
    "end of trees\n",
    "num_cat=2\n",
    "average_output\n",
];

/// Loads `text`; a failure must be `InvalidModel` or `Unsupported`, a model
/// must predict (or refuse the input) without panicking.
fn predict_some_rows(text: &str) {
    let model = match load(text) {
        Ok(model) => model,
        Err(InferError::InvalidModel(_) | InferError::Unsupported(_)) => return,
        Err(e @ (InferError::BadInput(_) | InferError::MissingFile(_))) => panic!("{e}"),
    };
    let width = usize::try_from(model.inputs()[0].shape[1]).unwrap();
    if width > 64 {
        return;
    }
    for x in [0.0, -1.0, 1.0, 2.5, 40.0, f64::NAN, f64::INFINITY, 1e-40] {
        let input = Tensor::f64("input", vec![1, width], vec![x; width]);
        let _ = model.predict(&[input]);
    }
    let _ = model.size_bytes();
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        predict_some_rows(&text);
        predict_some_rows(&format!("tree\n{text}"));
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in proptest::collection::vec(
        "(Tree=[0-3]|num_leaves=[0-5]|num_cat=[0-2]|split_feature=[0-9 -]{0,8}|threshold=[0-9 .-]{0,8}|decision_type=[0-9 ]{0,8}|left_child=[0-9 -]{0,8}|right_child=[0-9 -]{0,8}|leaf_value=[0-9 .-]{0,8}|cat_boundaries=[0-9 ]{0,6}|cat_threshold=[0-9 ]{0,6}|is_linear=[01]|leaf_const=[0-9 ]{0,6}|num_features=[0-9 ]{0,6}|leaf_features=[0-9 ]{0,6}|leaf_coeff=[0-9 ]{0,6})",
        0..40,
    )) {
        let text = format!("tree\nnum_class=1\nmax_feature_idx=3\n{}\nend of trees\n", lines.join("\n"));
        predict_some_rows(&text);
    }

    #[test]
    fn mutated_model_never_panics(
        edits in proptest::collection::vec((0..TINY.find("end of trees").unwrap(), 0usize..4, 0..PIECES.len()), 1..4)
    ) {
        let mut text = TINY.to_string();
        for (at, cut, piece) in edits {
            let at = at.min(text.len());
            let end = (at + cut).min(text.len());
            text.replace_range(at..end, PIECES[piece]);
        }
        predict_some_rows(&text);
    }
}
