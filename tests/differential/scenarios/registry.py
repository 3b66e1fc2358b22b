"""Model registry: registered models, versions, stages, aliases and tags, as raw REST calls."""

PROMPT_CLAUSE = "tags.`mlflow.prompt.is_prompt` != 'true'"


def registered_models(c):
    names = ["diff-model-a", "diff-model-b", "diff-mödel-ü-🚀", "diff-model-c"]
    for i, n in enumerate(names):
        c.post(f"create {n}", "/registered-models/create",
               {"name": n, "tags": [{"key": "team", "value": f"t{i % 2}"}], "description": f"model {i}"})
    c.post("create prompt", "/registered-models/create",
           {"name": "diff-prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    c.post("create duplicate", "/registered-models/create", {"name": names[0]})
    c.post("create no name", "/registered-models/create", {})
    c.post("create slash name", "/registered-models/create", {"name": "a/b"})
    c.post("create colon name", "/registered-models/create", {"name": "a:b"})
    c.get("get a", "/registered-models/get", {"name": names[0]})
    c.get("get unicode", "/registered-models/get", {"name": names[2]})
    c.get("get missing", "/registered-models/get", {"name": "nope"})
    c.get("get no name", "/registered-models/get")
    c.patch("update description", "/registered-models/update", {"name": names[0], "description": "new"})
    c.patch("update missing", "/registered-models/update", {"name": "nope", "description": "x"})
    c.patch("update no description", "/registered-models/update", {"name": names[0]})
    c.post("set tag", "/registered-models/set-tag", {"name": names[0], "key": "k", "value": "v"})
    c.post("set tag missing model", "/registered-models/set-tag", {"name": "nope", "key": "k", "value": "v"})
    c.post("set tag no key", "/registered-models/set-tag", {"name": names[0], "value": "v"})
    c.delete("delete tag", "/registered-models/delete-tag", {"name": names[0], "key": "k"})
    c.delete("delete tag again", "/registered-models/delete-tag", {"name": names[0], "key": "k"})
    c.post("rename", "/registered-models/rename", {"name": names[3], "new_name": "diff-model-d"})
    c.post("rename to existing", "/registered-models/rename", {"name": "diff-model-d", "new_name": names[0]})
    c.post("rename missing", "/registered-models/rename", {"name": "nope", "new_name": "x"})
    c.post("rename no new name", "/registered-models/rename", {"name": "diff-model-d"})
    c.post("rename to unicode", "/registered-models/rename", {"name": "diff-model-d", "new_name": "diff-model-ð"})
    c.get("get unicode renamed", "/registered-models/get", {"name": "diff-model-ð"})
    c.post("rename back", "/registered-models/rename", {"name": "diff-model-ð", "new_name": "diff-model-d"})
    c.post("set tag long value", "/registered-models/set-tag", {"name": names[0], "key": "long", "value": "v" * 100001})
    c.post("set tag key too long", "/registered-models/set-tag", {"name": names[0], "key": "k" * 251, "value": "v"})
    c.get("get renamed", "/registered-models/get", {"name": "diff-model-d"})
    c.get("get old name", "/registered-models/get", {"name": names[3]})
    c.get("search default", "/registered-models/search")
    c.get("search prompt clause", "/registered-models/search", {"filter": PROMPT_CLAUSE, "max_results": 100})
    filters = [
        "name = 'diff-model-a'", "name LIKE 'diff-model-%'", "name ILIKE 'DIFF-MODEL-_'", "name != 'diff-model-a'",
        "tags.team = 't1'", "tag.team = 't0'", f"name LIKE 'diff-%' AND {PROMPT_CLAUSE}",
        "name IN ('diff-model-a', 'diff-model-b')", "name NOT IN ('diff-model-a')",
        "name = 'diff-mödel-ü-🚀'", "creation_timestamp > 0", "bogus = 1", "name = 'a' OR name = 'b'",
        "tags.team IS NULL", "description = 'model 1'",
    ]
    for f in filters:
        c.get(f"search filter {f}", "/registered-models/search", {"filter": f, "max_results": 100})
    for o in ["name", "name DESC", "creation_timestamp DESC", "last_updated_timestamp", "timestamp DESC",
              "bogus", "tags.team"]:
        c.get(f"search order {o}", "/registered-models/search", {"order_by": o, "max_results": 100})
    token = None
    for page in range(5):
        r = c.get(f"search page {page}", "/registered-models/search",
                  {"max_results": 2, "order_by": "name", **({"page_token": token} if token else {})})
        token = (r.data or {}).get("next_page_token")
        if not token:
            break
    c.get("search max_results 1000", "/registered-models/search", {"max_results": 1000})
    c.get("search max_results 1001", "/registered-models/search", {"max_results": 1001})
    c.get("search bad token", "/registered-models/search", {"page_token": "zzz"})
    c.delete("delete b", "/registered-models/delete", {"name": names[1]})
    c.get("get deleted", "/registered-models/get", {"name": names[1]})
    c.delete("delete again", "/registered-models/delete", {"name": names[1]})
    c.post("create deleted name again", "/registered-models/create", {"name": names[1]})


def versions(c):
    r = c.post("create experiment", "/experiments/create", {"name": "diff-registry"})
    exp = c.remember((r.data or {}).get("experiment_id"), "exp")
    r = c.post("create run", "/runs/create", {"experiment_id": exp, "run_name": "src", "start_time": 1})
    run = c.remember(((r.data or {}).get("run") or {}).get("info", {}).get("run_id"), "run")
    source = f"mlflow-artifacts:/{exp}/{run}/artifacts/model"
    c.post("create model", "/registered-models/create", {"name": "diff-versions"})
    for i in range(1, 4):
        c.post(f"create version {i}", "/model-versions/create",
               {"name": "diff-versions", "source": source, "run_id": run, "description": f"v{i}",
                "tags": [{"key": "n", "value": str(i)}]})
    # where the servers may disagree, on a model of its own so later answers still compare
    c.post("create model x", "/registered-models/create", {"name": "diff-versions-x"})
    c.post("create version no run", "/model-versions/create", {"name": "diff-versions-x", "source": source})
    c.post("create version missing model", "/model-versions/create", {"name": "nope", "source": source})
    c.post("create version no source", "/model-versions/create", {"name": "diff-versions-x"})
    c.post("create version bad source", "/model-versions/create", {"name": "diff-versions-x", "source": "/etc/passwd"})
    c.post("create version missing run", "/model-versions/create",
           {"name": "diff-versions-x", "source": source, "run_id": "0" * 32})
    c.get("get version 1", "/model-versions/get", {"name": "diff-versions", "version": "1"})
    c.get("get version missing", "/model-versions/get", {"name": "diff-versions", "version": "99"})
    c.get("get version not number", "/model-versions/get", {"name": "diff-versions", "version": "one"})
    c.get("get version no version", "/model-versions/get", {"name": "diff-versions"})
    c.patch("update version", "/model-versions/update", {"name": "diff-versions", "version": "1", "description": "d"})
    c.patch("update version missing", "/model-versions/update", {"name": "diff-versions", "version": "99", "description": "d"})
    c.post("transition 1 Staging", "/model-versions/transition-stage",
           {"name": "diff-versions", "version": "1", "stage": "Staging", "archive_existing_versions": False})
    c.post("transition 2 Production", "/model-versions/transition-stage",
           {"name": "diff-versions", "version": "2", "stage": "production", "archive_existing_versions": False})
    c.post("transition 3 Production archive", "/model-versions/transition-stage",
           {"name": "diff-versions", "version": "3", "stage": "Production", "archive_existing_versions": True})
    c.post("transition bad stage", "/model-versions/transition-stage",
           {"name": "diff-versions", "version": "1", "stage": "Live", "archive_existing_versions": False})
    c.post("transition no archive flag", "/model-versions/transition-stage",
           {"name": "diff-versions", "version": "1", "stage": "None"})
    c.get("get model with latest", "/registered-models/get", {"name": "diff-versions"})
    c.post("latest versions", "/registered-models/get-latest-versions", {"name": "diff-versions"})
    c.post("latest versions Production", "/registered-models/get-latest-versions",
           {"name": "diff-versions", "stages": ["Production"]})
    c.get("latest versions GET", "/registered-models/get-latest-versions",
          [("name", "diff-versions"), ("stages", "Production"), ("stages", "Staging")])
    c.post("latest versions missing", "/registered-models/get-latest-versions", {"name": "nope"})
    c.post("set version tag", "/model-versions/set-tag", {"name": "diff-versions", "version": "2", "key": "k", "value": "v"})
    c.delete("delete version tag", "/model-versions/delete-tag", {"name": "diff-versions", "version": "2", "key": "k"})
    c.delete("delete version tag again", "/model-versions/delete-tag",
             {"name": "diff-versions", "version": "2", "key": "k"})
    c.post("set version tag missing version", "/model-versions/set-tag",
           {"name": "diff-versions", "version": "99", "key": "k", "value": "v"})
    c.post("set version tag missing model", "/model-versions/set-tag",
           {"name": "nope", "version": "1", "key": "k", "value": "v"})
    c.get("search versions tag !=", "/model-versions/search", {"filter": "name = 'diff-versions' AND tags.n != '2'"})
    c.post("set alias", "/registered-models/alias", {"name": "diff-versions", "alias": "champion", "version": "2"})
    c.post("set alias 2", "/registered-models/alias", {"name": "diff-versions", "alias": "challenger", "version": "3"})
    c.post("move alias", "/registered-models/alias", {"name": "diff-versions", "alias": "challenger", "version": "1"})
    c.post("set alias missing version", "/registered-models/alias",
           {"name": "diff-versions", "alias": "x", "version": "99"})
    c.post("set alias bad name", "/registered-models/alias", {"name": "diff-versions", "alias": "v1", "version": "1"})
    c.post("set alias latest", "/registered-models/alias", {"name": "diff-versions", "alias": "latest", "version": "1"})
    c.get("get by alias", "/registered-models/alias", {"name": "diff-versions", "alias": "champion"})
    c.get("get by alias missing", "/registered-models/alias", {"name": "diff-versions", "alias": "nope"})
    c.get("get model with aliases", "/registered-models/get", {"name": "diff-versions"})
    c.get("get version with aliases", "/model-versions/get", {"name": "diff-versions", "version": "1"})
    c.delete("delete alias", "/registered-models/alias", {"name": "diff-versions", "alias": "champion"})
    c.delete("delete alias again", "/registered-models/alias", {"name": "diff-versions", "alias": "champion"})
    c.get("download uri", "/model-versions/get-download-uri", {"name": "diff-versions", "version": "1"})
    c.get("download uri missing", "/model-versions/get-download-uri", {"name": "diff-versions", "version": "99"})
    c.get("search versions by name", "/model-versions/search", {"filter": "name = 'diff-versions'"})
    c.get("search versions by run", "/model-versions/search", {"filter": f"run_id = '{run}'"})
    c.get("search versions by run IN", "/model-versions/search", {"filter": f"run_id IN ('{run}', 'x')"})
    filters = ["name = 'diff-versions' AND version_number > 1", "name LIKE 'diff-versions'", "tags.n = '2'", "current_stage = 'Production'",
               "source_path = 'x'", "name = 'diff-versions' AND version_number <= 2", "bogus = 1"]
    for f in filters:
        c.get(f"search versions filter {f}", "/model-versions/search", {"filter": f})
    for o in ["version_number DESC", "version_number", "creation_timestamp DESC", "name", "bogus"]:
        c.get(f"search versions order {o}", "/model-versions/search", {"filter": "name = 'diff-versions'", "order_by": o})
    token = None
    for page in range(4):
        r = c.get(f"search versions page {page}", "/model-versions/search",
                  {"max_results": 2, "order_by": "version_number", "filter": "name = 'diff-versions'", **({"page_token": token} if token else {})})
        token = (r.data or {}).get("next_page_token")
        if not token:
            break
    c.get("search versions max_results 200001", "/model-versions/search", {"max_results": 200001})
    c.post("delete run", "/runs/delete", {"run_id": run})
    c.get("version of deleted run", "/model-versions/get", {"name": "diff-versions", "version": "1"})
    c.delete("delete version 3", "/model-versions/delete", {"name": "diff-versions", "version": "3"})
    c.get("get deleted version", "/model-versions/get", {"name": "diff-versions", "version": "3"})
    c.delete("delete version again", "/model-versions/delete", {"name": "diff-versions", "version": "3"})
    c.post("create version after delete", "/model-versions/create",
           {"name": "diff-versions", "source": source, "run_id": run})
    c.delete("delete model", "/registered-models/delete", {"name": "diff-versions"})
    c.get("search versions after model delete", "/model-versions/search", {"filter": "name = 'diff-versions'"})


SCENARIOS = [
    ("registered models", registered_models),
    ("versions", versions),
]
