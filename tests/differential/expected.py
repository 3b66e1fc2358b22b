"""Differences from MLflow 3.17.2 that flotilla keeps on purpose, each with its reason.

Each entry: `call` and `path` globs (and `scenario`, default any) matched against a difference
(compare.py), and the `reason`, which docs/compatibility/mlflow-differences.md explains at length.
The suite fails on a difference no entry lists and on an entry that matches no difference.
"""

STRICTER = "flotilla refuses a request MLflow accepts"
LENIENT = "flotilla answers a request MLflow refuses"


def _entries(scenario, call, paths, reason):
    return [{"scenario": scenario, "call": call, "path": p, "reason": reason} for p in paths]


_ERROR_VS_OK = ("status", "body.error_code", "body.error_class", "body.sqlstate")

EXPECTED = [
    # ---- experiments ------------------------------------------------------------------------
    *_entries("experiments", "update rename to existing", ["body.error_code", "body.error_class"],
              "MLflow leaks a SQL IntegrityError as BAD_REQUEST; flotilla answers RESOURCE_ALREADY_EXISTS, "
              "what experiments/create answers for the same clash"),
    *_entries("experiments", "search default", [*_ERROR_VS_OK, "body.experiments"],
              f"{LENIENT}: a REST search without max_results reaches MLflow's store as 0 and is refused; "
              "flotilla uses the documented default (1000). Every client sends max_results"),
    *_entries("experiments", "search filter attributes.name = *", [*_ERROR_VS_OK, "body.experiments"],
              f"{LENIENT}: the `attributes.` prefix works for experiment search as it does for run search"),
    *_entries("experiments", "create with artifact location", [*_ERROR_VS_OK, "body.experiment_id"],
              f"{STRICTER}: a client-chosen local artifact_location would let any client write anywhere "
              "the server can; flotilla keeps artifacts under its own root"),
    *_entries("experiments", "delete default", _ERROR_VS_OK,
              f"{STRICTER}: the default experiment '0' cannot be deleted (runs created without an "
              "experiment land there)"),
    *_entries("experiments", "restore default", _ERROR_VS_OK,
              "follows from 'delete default': flotilla's default experiment is still active, and "
              "restoring an active experiment is RESOURCE_DOES_NOT_EXIST on both servers"),
    # ---- runs -------------------------------------------------------------------------------
    *_entries("runs", "create no start time", ["body.run.info.start_time.<type>"],
              "MLflow stores start_time 0 (1970) for a REST create without one; flotilla stores the "
              "time of the request. Every client sends start_time"),
    *_entries("runs", "create no experiment", [*_ERROR_VS_OK, "body.run"],
              f"{LENIENT}: MLflow fails on a foreign-key error (BAD_REQUEST); flotilla creates the run in "
              "the default experiment '0', as MLflow's own fluent API does"),
    *_entries("runs", "update bad status", [*_ERROR_VS_OK, "body.run_info"],
              f"{STRICTER}: MLflow ignores an unknown status name and answers 200; flotilla names it"),
    *_entries("runs", "get divergent", ["body.run.inputs.dataset_inputs"],
              "follows from 'log inputs no digest': MLflow holds the dataset flotilla refused"),
    *_entries("runs", "log inputs no digest", _ERROR_VS_OK,
              f"{STRICTER}: a dataset's digest is its identity (two logs of one dataset are one input); "
              "every client computes one"),
    *_entries("runs", "create name too long", [*_ERROR_VS_OK, "body.run"],
              f"{STRICTER}: a run name over 8,000 characters is refused (MLflow truncates its "
              "mlflow.runName tag); crates/flotilla/tests/resilience/limits.rs holds it"),
    *_entries("runs", "get *", ["body.run.data.metrics[[]*[]].value.<type>"],
              "MLflow's SQL store clamps ±Infinity to ±1.797e308; flotilla keeps the value and sends "
              "\"Infinity\"/\"-Infinity\", which the client's protobuf parser reads back as ±inf"),
    *_entries("run search", "search bad view", [*_ERROR_VS_OK, "body.runs"],
              f"{STRICTER}: MLflow ignores an unknown run_view_type; flotilla names it"),
    # ---- registry ---------------------------------------------------------------------------
    *_entries("registered models", "search filter tags.team IS NULL", [*_ERROR_VS_OK, "body.<bytes>"],
              "MLflow fails with a 500 HTML page (which its client retries for minutes); flotilla "
              "answers 400 INVALID_PARAMETER_VALUE: a client mistake is never a 5xx"),
    *_entries("registered models", "search order creation_timestamp DESC", [*_ERROR_VS_OK, "body.registered_models"],
              f"{LENIENT}: creation_timestamp is an order key for versions in MLflow but not for models; "
              "flotilla takes it for both"),
    *_entries("versions", "create version no run", [*_ERROR_VS_OK, "body.model_version"],
              f"{LENIENT}: MLflow 3.x refuses a source inside a run's artifacts unless run_id names that "
              "run; flotilla registers it (sources are checked against its artifact root instead)"),
    *_entries("versions", "create version missing run", [*_ERROR_VS_OK, "body.model_version"],
              f"{LENIENT}: the same source check; flotilla keeps the run link even to a run it does not "
              "hold (imported versions whose run was deleted keep theirs too)"),
    *_entries("versions", "create version missing model", ["status", "body.error_code", "body.error_class"],
              "MLflow's source check fires first (400); flotilla answers the missing model, 404 "
              "RESOURCE_DOES_NOT_EXIST, as model-versions/get does"),
    *_entries("versions", "*", ["body.registered_model.latest_versions[[]*[]].aliases",
                                "body.model_versions[[]*[]].aliases"],
              "flotilla names a version's aliases wherever it sends the version; MLflow only in "
              "model-versions/get and get-by-alias. A field more, which the client reads when present"),
    # ---- logged models ----------------------------------------------------------------------
    *_entries("logged models", "create no name", ["body.model.info.name", "body.model.info.model_type",
                                                  "body.model.info.source_run_id"],
              "MLflow makes up a random name and sends empty model_type and source_run_id; flotilla "
              "names the model `model` and leaves empty fields out (the client's log_model always "
              "sends a name)"),
    *_entries("logged models", "finalize bad status", [*_ERROR_VS_OK, "body.model"],
              f"{STRICTER}: MLflow stores an unknown status as LOGGED_MODEL_STATUS_UNSPECIFIED; "
              "flotilla names the mistake"),
    *_entries("logged models", "set tags", ["body.model"],
              "flotilla answers the updated model, MLflow `{}`; a field more, which the client ignores"),
    *_entries("logged models", "run after log model", ["body.run.data.tags[[]*[]].value"],
              "the mlflow.log-model.history tag holds the model JSON the client sent, compact; MLflow "
              "re-serializes it through its Model class (Python spacing, `model_uuid: null` added). "
              "Readers parse it as JSON"),
    *_entries("logged models", "search ready", ["body.models"],
              "MLflow 3.17.2's SQL store matches no model on `status = 'LOGGED_MODEL_READY'` (it "
              "compares the name with its stored number); flotilla matches the finalized model"),
    *_entries("logged models", "search bad filter", _ERROR_VS_OK,
              "MLflow fails with 500 INTERNAL_ERROR (retried by its client); flotilla answers 400 "
              "INVALID_PARAMETER_VALUE: a client mistake is never a 5xx"),
    *_entries("logged models", "search no experiments", _ERROR_VS_OK,
              f"{LENIENT}: a search without experiment_ids searches every experiment the caller may "
              "read; MLflow requires them"),
    *_entries("logged models", "delete again", _ERROR_VS_OK,
              f"{STRICTER}: deleting a deleted logged model is RESOURCE_DOES_NOT_EXIST, as for runs and "
              "experiments; MLflow answers 200"),
    # ---- artifacts --------------------------------------------------------------------------
    *_entries("*", "upload *", ["body.<bytes>"],
              "MLflow answers an upload with an empty 200 body, flotilla with `{}`; the client reads "
              "only the status"),
    # ---- the wire -------------------------------------------------------------------------
    *_entries("wire", "api 3.0 prefix", ["status", "body.<bytes>", "body.experiment"],
              f"{LENIENT}: flotilla serves every endpoint under /api/2.0, /api/3.0 and /ajax-api/*; "
              "MLflow only under the version the endpoint first shipped in (an HTML 404 otherwise)"),
    *_entries("wire", "id as number in body", _ERROR_VS_OK,
              f"{LENIENT}: an id sent as a JSON number is read as its decimal text; MLflow's proto "
              "parser wants a string"),
    *_entries("wire", "both spellings", [*_ERROR_VS_OK, "body.run"],
              f"{LENIENT}: a body naming a field both ways (experiment_id and experimentId) is read by "
              "its snake_case name; MLflow refuses it"),
    *_entries("wire", "json array body", [*_ERROR_VS_OK, "body.<bytes>"],
              "MLflow fails with a 500 HTML page; flotilla answers 400 BAD_REQUEST: a client mistake "
              "is never a 5xx"),
    *_entries("wire", "repeated query key", [*_ERROR_VS_OK, "body.experiment"],
              f"{STRICTER}: a single-valued query parameter given twice is refused; MLflow takes the first"),
    *_entries("wire", "unknown endpoint", ["body.<bytes>", "body.error_code", "body.error_class", "body.sqlstate"],
              "the same 404, with an MLflow-shaped JSON body (ENDPOINT_NOT_FOUND) instead of an HTML page"),
    *_entries("wire", "wrong method", ["body.<bytes>", "body.error_code", "body.error_class", "body.sqlstate"],
              "the same 405, with an MLflow-shaped JSON body (BAD_REQUEST) instead of an HTML page"),
    *_entries("wire", "get on post endpoint", ["body.<bytes>", "body.error_code", "body.error_class", "body.sqlstate"],
              "the same 405, with an MLflow-shaped JSON body (BAD_REQUEST) instead of an HTML page"),
    *_entries("wire", "server info", ["body.multipart_uploads_enabled", "body.presigned_upload_*",
                                      "body.features_enabled.gateway", "body.flotilla_version", "body.server"],
              "server-info describes flotilla: multipart uploads on, no presigned URLs, no AI gateway, "
              "and its name and version"),
    # ---- metrics ----------------------------------------------------------------------------
    *_entries("metrics", "history*", ["body.metrics.<order>"],
              "MLflow orders a metric's history by (timestamp, step, value); flotilla by (step, "
              "timestamp), the order of its index, which keyset paging over millions of points needs. "
              "Equal when timestamps grow with steps, as logged by every client"),
    *_entries("metrics", "history max 2", ["body.metrics[[]*[]].*"],
              "the same order difference, seen on the first page"),
    *_entries("metrics", "history missing run", _ERROR_VS_OK,
              f"{STRICTER}: MLflow answers an empty history for a run that does not exist; flotilla "
              "answers RESOURCE_DOES_NOT_EXIST, as runs/get does"),
    *_entries("metrics", "bulk interval*", [*_ERROR_VS_OK, "body.metrics"],
              "get-history-bulk-interval is not served: only MLflow's own UI charts call it, and "
              "flotilla serves its own UI"),
]
