"""MLflow 3.x logged models and the artifact proxy (`mlflow-artifacts`), as raw REST calls."""

from recorder import ARTIFACTS


def _ids(c, experiment):
    r = c.post("create experiment", "/experiments/create", {"name": experiment})
    exp = c.remember((r.data or {}).get("experiment_id"), "exp")
    r = c.post("create run", "/runs/create", {"experiment_id": exp, "run_name": "trainer", "start_time": 1})
    run = c.remember(((r.data or {}).get("run") or {}).get("info", {}).get("run_id"), "run")
    return exp, run


def logged_models(c):
    exp, run = _ids(c, "diff-logged-models")
    models = []
    for i in range(3):
        r = c.post(f"create model {i}", "/logged-models",
                   {"experiment_id": exp, "name": f"model-{i}", "source_run_id": run, "model_type": "sklearn",
                    "params": [{"key": "alpha", "value": str(i)}], "tags": [{"key": "k", "value": f"v{i}"}]})
        models.append(c.remember(((r.data or {}).get("model") or {}).get("info", {}).get("model_id"), f"model{i}"))
    m0 = models[0]
    c.post("create no experiment", "/logged-models", {"name": "x"})
    c.post("create missing experiment", "/logged-models", {"experiment_id": "987654", "name": "x"})
    c.get("get", f"/logged-models/{m0}")
    c.get("get missing", "/logged-models/m-00000000000000000000000000000000")
    c.patch("finalize", f"/logged-models/{m0}", {"model_id": m0, "status": "LOGGED_MODEL_READY"})
    c.patch("finalize failed", f"/logged-models/{models[1]}", {"model_id": models[1], "status": "LOGGED_MODEL_UPLOAD_FAILED"})
    c.patch("set tags", f"/logged-models/{m0}/tags", {"tags": [{"key": "a", "value": "1"}, {"key": "k", "value": "w"}]})
    c.delete("delete tag", f"/logged-models/{m0}/tags/a")
    c.delete("delete tag missing", f"/logged-models/{m0}/tags/zzz")
    c.post("log params", f"/logged-models/{m0}/params", {"model_id": m0, "params": [{"key": "beta", "value": "2"}]})
    c.get("get after changes", f"/logged-models/{m0}")
    c.post("run outputs", "/runs/outputs", {"run_id": run, "models": [{"model_id": m0, "step": 3}]})
    c.get("run with outputs", "/runs/get", {"run_id": run})
    root = f"{ARTIFACTS}/artifacts/{exp}/models/{m0}/artifacts"
    c.put("upload model file", f"{root}/MLmodel", b"artifact_path: model\n")
    c.put("upload model nested", f"{root}/data/model.json", b"{}")
    c.get("list model artifacts", f"/logged-models/{m0}/artifacts/directories")
    c.get("list model artifacts dir", f"/logged-models/{m0}/artifacts/directories",
          {"artifact_directory_path": "data"})
    c.get("list model artifacts missing", "/logged-models/m-00000000000000000000000000000000/artifacts/directories")
    model = '{"artifact_path": "model", "flavors": {"python_function": {}}, "run_id": "%s"%s}'
    c.post("log model 2.x", "/runs/log-model",
           {"run_id": run, "model_json": model % (run, ', "utc_time_created": "2026-01-01 00:00:00.000000"')})
    c.post("log model 2.x missing fields", "/runs/log-model", {"run_id": run, "model_json": model % (run, "")})
    c.post("log model 2.x bad json", "/runs/log-model", {"run_id": run, "model_json": "{nope"})
    c.get("run after log model", "/runs/get", {"run_id": run})
    c.post("search", "/logged-models/search", {"experiment_ids": [exp]})
    c.post("search ready", "/logged-models/search",
           {"experiment_ids": [exp], "filter": "status = 'LOGGED_MODEL_READY'"})
    c.post("search by param", "/logged-models/search", {"experiment_ids": [exp], "filter": "params.alpha = '1'"})
    c.post("search by name", "/logged-models/search", {"experiment_ids": [exp], "filter": "name LIKE 'model-%'"})
    c.post("search order name", "/logged-models/search",
           {"experiment_ids": [exp], "order_by": [{"field_name": "name", "ascending": True}]})
    c.post("search order name desc", "/logged-models/search",
           {"experiment_ids": [exp], "order_by": [{"field_name": "name", "ascending": False}]})
    token = None
    for page in range(4):
        r = c.post(f"search page {page}", "/logged-models/search",
                   {"experiment_ids": [exp], "max_results": 2, "order_by": [{"field_name": "name", "ascending": True}],
                    **({"page_token": token} if token else {})})
        token = (r.data or {}).get("next_page_token")
        if not token:
            break
    c.post("search bad filter", "/logged-models/search", {"experiment_ids": [exp], "filter": "bogus = 1"})
    c.post("search no experiments", "/logged-models/search", {})
    c.delete("delete", f"/logged-models/{models[2]}")
    c.get("get deleted", f"/logged-models/{models[2]}")
    c.post("search after delete", "/logged-models/search", {"experiment_ids": [exp]})
    c.delete("delete again", f"/logged-models/{models[2]}")
    # Last, as they may leave the two servers with different models.
    c.patch("finalize bad status", f"/logged-models/{models[1]}", {"model_id": models[1], "status": "DONE"})
    r = c.post("create no name", "/logged-models", {"experiment_id": exp})
    c.remember(((r.data or {}).get("model") or {}).get("info", {}).get("model_id"), "unnamed")


def artifacts(c):
    exp, run = _ids(c, "diff-artifacts")
    root = f"{exp}/{run}/artifacts"
    c.put("upload text", f"{ARTIFACTS}/artifacts/{root}/notes.txt", b"hello\n")
    c.put("upload nested", f"{ARTIFACTS}/artifacts/{root}/model/MLmodel", b"flavors: {}\n")
    c.put("upload unicode name", f"{ARTIFACTS}/artifacts/{root}/données-🚀.txt", "é".encode())
    c.put("upload empty", f"{ARTIFACTS}/artifacts/{root}/empty.bin", b"")
    c.put("upload traversal", f"{ARTIFACTS}/artifacts/{root}/../../../escape.txt", b"x")
    c.get("download text", f"{ARTIFACTS}/artifacts/{root}/notes.txt")
    c.get("download unicode", f"{ARTIFACTS}/artifacts/{root}/données-🚀.txt")
    c.get("download empty", f"{ARTIFACTS}/artifacts/{root}/empty.bin")
    c.get("download missing", f"{ARTIFACTS}/artifacts/{root}/nope.txt")
    c.get("proxy list root", f"{ARTIFACTS}/artifacts", {"path": root})
    c.get("proxy list dir", f"{ARTIFACTS}/artifacts", {"path": f"{root}/model"})
    c.get("proxy list missing", f"{ARTIFACTS}/artifacts", {"path": f"{root}/nothing"})
    c.get("run list", "/artifacts/list", {"run_id": run})
    c.get("run list dir", "/artifacts/list", {"run_id": run, "path": "model"})
    c.get("run list file", "/artifacts/list", {"run_id": run, "path": "notes.txt"})
    c.get("run list missing run", "/artifacts/list", {"run_id": "0" * 32})
    c.get("run list traversal", "/artifacts/list", {"run_id": run, "path": "../.."})
    c.delete("delete file", f"{ARTIFACTS}/artifacts/{root}/notes.txt")
    c.get("download deleted", f"{ARTIFACTS}/artifacts/{root}/notes.txt")
    c.get("run list after delete", "/artifacts/list", {"run_id": run})


SCENARIOS = [
    ("logged models", logged_models),
    ("artifacts", artifacts),
]
