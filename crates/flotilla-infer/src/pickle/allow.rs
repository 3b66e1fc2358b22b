//! The globals a model pickle may name. A pickle's GLOBAL opcode names a
//! Python callable that unpickling would call; here no call ever happens,
//! but a name off this list is refused at once, naming it, so a file that
//! would run `os.system` (or anything not a model's data) is never read on.

use crate::InferError;

/// What an allow-listed global becomes when the pickle "calls" it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalKind {
    /// A class whose instance is kept as an [`crate::pyvalue::Object`].
    Class,
    /// `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` and a BUILD
    /// with `(version, shape, dtype, fortran, data)`.
    Reconstruct,
    /// `numpy.ndarray`, only ever an argument of `_reconstruct`.
    NdArray,
    /// `numpy.core.numeric._frombuffer(buffer, dtype, shape, order)`.
    FromBuffer,
    /// `numpy.dtype(name, align, copy)` and a BUILD with its state.
    DType,
    /// `numpy.core.multiarray.scalar(dtype, bytes)`: one number.
    Scalar,
    /// `collections.OrderedDict` and `defaultdict`: a dict.
    DictLike,
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 carries bytes.
    Latin1Bytes,
}

/// numpy's helpers, under both the `numpy.core` (numpy 1) and `numpy._core`
/// (numpy 2) module names.
const NUMPY: &[(&str, &str, GlobalKind)] = &[
    ("multiarray", "_reconstruct", GlobalKind::Reconstruct),
    ("multiarray", "scalar", GlobalKind::Scalar),
    ("numeric", "_frombuffer", GlobalKind::FromBuffer),
];

/// scikit-learn classes the estimators in `crate::sklearn` read, and the
/// helper classes their fitted state holds.
const CLASSES: &[&str] = &[
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.utils._bunch.Bunch",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    "lightgbm.compat._LGBMLabelEncoder",
    "sklearn.preprocessing._label.LabelEncoder",
    "builtins.slice",
    // Scalar types, named (never called) by estimators' `dtype` parameters.
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.uint8",
    "numpy.bool_",
    "numpy.object_",
];

/// Modules whose classes are all state holders fitted estimators carry
/// (loss and link objects, random generators), kept as opaque objects.
const CLASS_MODULES: &[&str] = &[
    "sklearn._loss._loss",
    "sklearn._loss.loss",
    "sklearn._loss.link",
    "sklearn.linear_model._sgd_fast",
    "numpy.random._pickle",
    "numpy.random.bit_generator",
    "numpy.random._pcg64",
    "numpy.random._mt19937",
    "numpy.random._philox",
    "numpy.random._sfc64",
];

/// Classifies `module.name`, or refuses it naming it.
pub fn check(module: &str, name: &str) -> Result<GlobalKind, InferError> {
    let numpy_helper = module
        .strip_prefix("numpy.core.")
        .or_else(|| module.strip_prefix("numpy._core."))
        .and_then(|sub| NUMPY.iter().find(|(m, n, _)| *m == sub && *n == name))
        .map(|(_, _, kind)| *kind);
    let kind = match (module, name) {
        _ if numpy_helper.is_some() => numpy_helper,
        ("numpy", "ndarray") => Some(GlobalKind::NdArray),
        ("numpy", "dtype") => Some(GlobalKind::DType),
        ("collections", "OrderedDict" | "defaultdict") => Some(GlobalKind::DictLike),
        ("_codecs", "encode") => Some(GlobalKind::Latin1Bytes),
        _ if name.contains('.') => None,
        _ if CLASS_MODULES.contains(&module) && !name.is_empty() => Some(GlobalKind::Class),
        _ => CLASSES
            .iter()
            .any(|c| c.strip_prefix(module).and_then(|rest| rest.strip_prefix('.')) == Some(name))
            .then_some(GlobalKind::Class),
    };
    kind.ok_or_else(|| {
        InferError::Unsupported(format!(
            "the model pickle refuses global {module}.{name}: only scikit-learn, LightGBM and numpy classes flotilla can run are read (nothing is executed)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_exactly() {
        let cases: &[(&str, &str, Option<GlobalKind>)] = &[
            ("numpy._core.multiarray", "_reconstruct", Some(GlobalKind::Reconstruct)),
            ("numpy.core.multiarray", "_reconstruct", Some(GlobalKind::Reconstruct)),
            ("numpy.core.numeric", "_frombuffer", Some(GlobalKind::FromBuffer)),
            ("numpy", "dtype", Some(GlobalKind::DType)),
            ("sklearn.tree._tree", "Tree", Some(GlobalKind::Class)),
            ("sklearn.tree", "_tree.Tree", None),
            ("sklearn.tree._tre", "e.Tree", None),
            ("os", "system", None),
            ("posix", "system", None),
            ("builtins", "eval", None),
            ("builtins", "getattr", None),
            ("subprocess", "Popen", None),
            ("numpy.core.multiarray", "system", None),
            ("numpy", "load", None),
            ("sklearn._loss._loss", "__pyx_unpickle_CyHalfMultinomialLoss", Some(GlobalKind::Class)),
            ("numpy.random._pickle", "__generator_ctor", Some(GlobalKind::Class)),
            ("numpy.random", "_pickle.__generator_ctor", None),
        ];
        for (module, name, want) in cases {
            assert_eq!(check(module, name).ok(), *want, "{module}.{name}");
        }
        let refused = check("os", "system").unwrap_err().to_string();
        assert!(refused.contains("refuses global os.system"), "{refused}");
    }
}
