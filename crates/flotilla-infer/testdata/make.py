# Writes the small real model files the pickle and skops unit tests read
# (crates/flotilla-infer/src/{pickle,skops}/tests.rs), with the pinned libraries:
# .venvs/serving/bin/python crates/flotilla-infer/testdata/make.py, run in this folder.
import pickle, numpy as np, cloudpickle, collections
from sklearn.tree import DecisionTreeRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0); X = rng.normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)
tree = DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, X[:, 1])
open("tree_p5.pkl", "wb").write(cloudpickle.dumps(tree))
open("tree_p2.pkl", "wb").write(pickle.dumps(tree, protocol=2))
pipe = Pipeline([("s", StandardScaler()), ("l", LogisticRegression())]).fit(X, y)
open("pipe_p4.pkl", "wb").write(pickle.dumps(pipe, protocol=4))
data = {"f": np.array([[1.5, -2.0], [3.0, 4.25]]), "fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "s": np.array(["ab", "c"]), "o": np.array([1, "x"], dtype=object), "d": collections.OrderedDict(a=1), "n": np.float32(0.5), "big": 2**40, "neg": -3}
for p in (2, 4, 5):
    open(f"arrays_p{p}.pkl", "wb").write(pickle.dumps(data, protocol=p))
# The same tree as a skops archive (crates/flotilla-infer/src/skops/tests.rs).
import skops.io
skops.io.dump(tree, "tree.skops")
