//! Malformed files: each answers `InvalidModel` (or `Unsupported`) naming the
//! line and field at fault.

use super::{TINY, load, tiny_with};
use crate::InferError;

/// (file text, the error kind, fragments the message must contain).
fn cases() -> Vec<(String, &'static str, &'static [&'static str])> {
    let t = tiny_with;
    vec![
        (String::new(), "invalid", &["empty"]),
        ("\n\n  \n".into(), "invalid", &["empty"]),
        ("hello\nworld".into(), "invalid", &["line 1", "expected 'tree'", "hello"]),
        ("\u{0}\u{1}binary".into(), "invalid", &["expected 'tree'"]),
        (TINY[..TINY.find("end of trees").unwrap()].into(), "invalid", &["truncated"]),
        (TINY[..TINY.find("Tree=1").unwrap()].into(), "invalid", &["truncated"]),
        (t("num_class=1\n", ""), "invalid", &["no 'num_class='"]),
        (t("max_feature_idx=3", "max_feature_idx=x"), "invalid", &["line 6", "max_feature_idx", "'x'"]),
        (t("max_feature_idx=3", "max_feature_idx=-1"), "invalid", &["max_feature_idx=-1"]),
        (t("num_class=1", "num_class=0"), "invalid", &["num_class=0"]),
        (t("num_tree_per_iteration=1", "num_tree_per_iteration=3"), "invalid", &["num_tree_per_iteration=3"]),
        (t("version=v4", "version=v9"), "unsupported", &["v9"]),
        (t("objective=regression", "objective=telepathy"), "unsupported", &["telepathy", "line 7"]),
        (t("objective=regression", "objective=binary sigmoid:-1"), "invalid", &["sigmoid"]),
        (t("objective=regression", "objective=binary sigmoid:x"), "invalid", &["sigmoid:x"]),
        (t("objective=regression", "objective=multiclass num_class:3"), "invalid", &["num_class:3"]),
        (t("Tree=1", "Tree=5"), "invalid", &["Tree=5 where Tree=1"]),
        (t("Tree=1", "Tree=x"), "invalid", &["Tree=x"]),
        (t("num_leaves=4", "num_leaves=5"), "invalid", &["Tree=0 leaf_value", "expected 5 values, found 4"]),
        (t("num_leaves=4", "num_leaves=0"), "invalid", &["Tree=0 num_leaves", "0"]),
        (t("num_leaves=4\n", ""), "invalid", &["line 12", "Tree=0 has no 'num_leaves='"]),
        (t("leaf_value=1 2 3 4\n", ""), "invalid", &["no 'leaf_value='"]),
        (t("threshold=1.5 0.5 -1", "threshold=1.5 abc -1"), "invalid", &["line 17", "Tree=0 threshold[1]: 'abc'"]),
        (t("threshold=1.5 0.5 -1", "threshold=1.5 0.5"), "invalid", &["threshold: expected 3 values, found 2"]),
        (t("split_feature=0 1 2", "split_feature=0 9 2"), "invalid", &["split_feature: [1]=9 is not below 4"]),
        (t("split_feature=0 1 2", "split_feature=0 -1 2"), "invalid", &["split_feature: [1]=-1"]),
        (
            t("left_child=1 -1 -3", "left_child=0 -1 -3"),
            "invalid",
            &["line 19", "left_child: [0]=0 must be a node in 1..3"],
        ),
        (t("left_child=1 -1 -3", "left_child=1 1 -3"), "invalid", &["[1]=1 must be a node"]),
        (t("right_child=2 -2 -4", "right_child=3 -2 -4"), "invalid", &["right_child: [0]=3"]),
        (t("right_child=2 -2 -4", "right_child=2 -2 -9"), "invalid", &["[2]=-9 names leaf 8 of 4"]),
        (t("decision_type=10 4 2", "decision_type=10 12 2"), "invalid", &["decision_type: [1]=12 has missing type 3"]),
        (t("decision_type=10 4 2", "decision_type=10 4 300"), "invalid", &["[2]=300 is not a byte"]),
        (t("threshold=0\n", "threshold=1\n"), "invalid", &["Tree=1 threshold: [0]=1 is not a category set"]),
        (t("threshold=0\n", "threshold=0.5\n"), "invalid", &["[0]=0.5"]),
        (t("cat_boundaries=0 2", "cat_boundaries=0 3"), "invalid", &["Tree=1 cat_boundaries: [1]=3"]),
        (t("cat_boundaries=0 2", "cat_boundaries=1 2"), "invalid", &["cat_boundaries: [0]=1"]),
        (t("cat_boundaries=0 2\n", ""), "invalid", &["Tree=1 has no 'cat_boundaries='"]),
        (t("cat_threshold=10 2", "cat_threshold=10 -2"), "invalid", &["Tree=1 cat_threshold[1]: '-2'"]),
        (t("num_cat=1", "num_cat=-1"), "invalid", &["num_cat: -1"]),
        (t("is_linear=0\nshrinkage=1\n", "is_linear=2\n"), "invalid", &["is_linear: 2"]),
        (t("is_linear=0\nshrinkage=1\n", "is_linear=1\n"), "invalid", &["no 'leaf_const='"]),
        (
            t(
                "is_linear=0\nshrinkage=1\n",
                "is_linear=1\nleaf_const=0 0 0 0\nnum_features=1 0 0 0\nleaf_features=7\nleaf_coeff=1\n",
            ),
            "invalid",
            &["leaf_features: [0]=7"],
        ),
        (t("shrinkage=0.1", "shrinkage=0.1\nshrinkage=0.1"), "invalid", &["Tree=1 shrinkage given twice"]),
        (t("num_cat=1", "num_cat=1\nsome text"), "invalid", &["unexpected 'some text' in Tree=1"]),
        (t("Tree=0", "end of trees\nTree=0"), "invalid", &["0 trees"]),
    ]
}

#[test]
fn malformed_files_are_named() {
    for (text, kind, fragments) in cases() {
        let err = match load(&text) {
            Ok(_) => panic!("loaded: {fragments:?}"),
            Err(e) => e,
        };
        let (got_kind, message) = match &err {
            InferError::InvalidModel(m) => ("invalid", m),
            InferError::Unsupported(m) => ("unsupported", m),
            InferError::BadInput(m) | InferError::MissingFile(m) => ("other", m),
        };
        assert_eq!(got_kind, kind, "{message}");
        for f in fragments {
            assert!(message.contains(f), "{message:?} lacks {f:?}");
        }
    }
}

#[test]
fn tolerated_variations() {
    let cases = [
        ("CRLF line endings", TINY.replace('\n', "\r\n")),
        ("no trailer", TINY[..TINY.find("end of trees").unwrap() + 13].to_string()),
        (
            "pandas trailer with categories",
            TINY.replace("pandas_categorical:null", "pandas_categorical:[[\"a\", \"b\"]]"),
        ),
        ("unknown keys", tiny_with("shrinkage=1\n", "shrinkage=1\nsome_future_key=1 2 3\n")),
        (
            "no version, no num_tree_per_iteration",
            tiny_with("version=v4\nnum_class=1\nnum_tree_per_iteration=1\n", "num_class=1\n"),
        ),
        ("v3", tiny_with("version=v4", "version=v3")),
    ];
    for (what, text) in cases {
        assert!(load(&text).is_ok(), "{what}: {:?}", load(&text).err());
    }
    let mut bytes = TINY.as_bytes().to_vec();
    let at = TINY.find("=a b").unwrap() + 1;
    bytes[at] = 0xff;
    assert!(super::super::load(&bytes).is_ok(), "non-UTF-8 bytes in a name");
}
