//! What every route needs, declared once per (method, route template), with
//! the MLflow prefixes (`/api/{2,3}.0`, `/ajax-api/{2,3}.0`) taken off so one
//! declaration covers every copy of a route. A route missing here is refused
//! to every non-admin (fail closed), and `tests::every_route_is_declared`
//! walks the routers' sources so none goes missing.

use axum::http::Method;
use flotilla_app::auth::Permission::{self, Edit, Manage, Read, Use};

/// Where a request names the resource it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locate {
    /// A request field (query string on GET, JSON body otherwise), read by
    /// the same reader the handler uses.
    Field(&'static str),
    /// A path parameter of the route template.
    Path(&'static str),
    /// The run named by `run_id` (or `run_uuid`): its experiment.
    Run,
    /// The run named by a path parameter: its experiment.
    RunPath(&'static str),
    /// The logged model named by a path parameter: its experiment.
    LoggedModelPath(&'static str),
    /// The proxied artifact path `{*path}` (or the `path` field): its leading
    /// experiment id.
    ArtifactPath,
}

/// What a route needs of a non-admin caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: the probes.
    Open,
    /// Any authenticated caller.
    Authenticated,
    /// An admin.
    Admin,
    /// Any authenticated caller; the handler's application function decides
    /// (users, tokens, grants: who may is `flotilla_app::auth`'s).
    Delegated,
    /// Any authenticated caller; the answer holds only what they may read.
    Filtered,
    Experiment(Permission, Locate),
    Model(Permission, Locate),
    Family(Permission, Locate),
    /// A change to many models (bulk, promotion, rollback): EDIT on every
    /// model it touches, checked by the handler once it knows them.
    Fleet,
    /// READ on what a new model version is made from: its `run_id`'s
    /// experiment and whatever its `source` URI names (`source.rs`).
    Source,
}

const PREFIXES: &[&str] = &["/api/2.0", "/api/3.0", "/ajax-api/2.0", "/ajax-api/3.0"];

/// The template without its MLflow prefix.
pub(crate) fn unprefixed(template: &str) -> &str {
    PREFIXES
        .iter()
        .find_map(|p| template.strip_prefix(p).filter(|rest| rest.starts_with("/mlflow")))
        .unwrap_or(template)
}

/// The declaration of a route, `None` for an undeclared one.
pub(crate) fn need(method: &Method, template: &str) -> Option<Need> {
    use Locate::*;
    use Need::*;
    let m = method.as_str();
    let exp = |p, l| Some(Experiment(p, l));
    let model = |p, l| Some(Model(p, l));
    Some(match (m, unprefixed(template)) {
        ("GET", "/health" | "/v2/health/live" | "/v2/health/ready" | "/mlflow/server-info") => Open,
        ("GET" | "POST", "/mlflow/ping") | ("GET", "/version" | "/v2" | "/v2/" | "/api/fleet/v1/openapi.json") => {
            Authenticated
        }
        ("GET", "/metrics") => Admin,
        // The UI's assets.
        ("GET", "/static/app.css" | "/static/app.js" | "/favicon.ico" | "/static/icon.svg") => Authenticated,

        // Users, tokens and grants: the application decides who may.
        (_, path) if path.starts_with("/mlflow/users/") || path.starts_with("/api/fleet/v1/tokens") => Delegated,
        (_, path)
            if path.ends_with("/permissions/create")
                || path.ends_with("/permissions/get")
                || path.ends_with("/permissions/update")
                || path.ends_with("/permissions/delete") =>
        {
            Delegated
        }

        // Experiments.
        ("POST", "/mlflow/experiments/create") => Authenticated,
        ("GET", "/mlflow/experiments/get") => return exp(Read, Field("experiment_id")),
        ("GET", "/mlflow/experiments/get-by-name") => return exp(Read, Field("name")),
        ("GET" | "POST", "/mlflow/experiments/search") | ("GET", "/mlflow/experiments/list") => Filtered,
        // Summaries of the readable experiments among those asked for.
        ("POST", "/mlflow/experiments/search-datasets") => Filtered,
        ("POST", "/mlflow/experiments/delete" | "/mlflow/experiments/restore") => {
            return exp(Manage, Field("experiment_id"));
        }
        ("POST", "/mlflow/experiments/update" | "/mlflow/experiments/set-experiment-tag")
        | ("POST", "/mlflow/experiments/delete-experiment-tag") => return exp(Edit, Field("experiment_id")),

        // Runs inherit their experiment's permission.
        ("POST", "/mlflow/runs/create") => return exp(Edit, Field("experiment_id")),
        ("GET", "/mlflow/runs/get" | "/mlflow/metrics/get-history" | "/mlflow/artifacts/list") => {
            return exp(Read, Run);
        }
        ("POST", "/mlflow/runs/delete" | "/mlflow/runs/restore") => return exp(Manage, Run),
        (
            "POST",
            "/mlflow/runs/update"
            | "/mlflow/runs/log-metric"
            | "/mlflow/runs/log-parameter"
            | "/mlflow/runs/set-tag"
            | "/mlflow/runs/delete-tag"
            | "/mlflow/runs/log-batch"
            | "/mlflow/runs/log-inputs"
            | "/mlflow/runs/outputs"
            | "/mlflow/runs/log-model",
        ) => return exp(Edit, Run),
        ("GET" | "POST", "/mlflow/runs/search") => Filtered,

        // Logged models inherit their experiment's permission.
        ("POST", "/mlflow/logged-models") => return exp(Edit, Field("experiment_id")),
        ("POST", "/mlflow/logged-models/search") => Filtered,
        ("GET", "/mlflow/logged-models/{model_id}" | "/mlflow/logged-models/{model_id}/artifacts/directories") => {
            return exp(Read, LoggedModelPath("model_id"));
        }
        ("PATCH", "/mlflow/logged-models/{model_id}" | "/mlflow/logged-models/{model_id}/tags")
        | ("POST", "/mlflow/logged-models/{model_id}/params") => return exp(Edit, LoggedModelPath("model_id")),
        ("DELETE", "/mlflow/logged-models/{model_id}" | "/mlflow/logged-models/{model_id}/tags/{tag_key}") => {
            return exp(Manage, LoggedModelPath("model_id"));
        }

        // Registered models; versions, aliases and tags inherit the model's.
        ("POST", "/mlflow/registered-models/create") => Authenticated,
        ("GET", "/mlflow/registered-models/get" | "/mlflow/registered-models/alias")
        | ("GET" | "POST", "/mlflow/registered-models/get-latest-versions")
        | ("GET", "/mlflow/model-versions/get" | "/mlflow/model-versions/get-download-uri") => {
            return model(Read, Field("name"));
        }
        ("POST", "/mlflow/registered-models/rename" | "/mlflow/registered-models/set-tag")
        | ("PATCH", "/mlflow/registered-models/update" | "/mlflow/model-versions/update")
        | ("DELETE", "/mlflow/registered-models/delete-tag")
        | ("POST", "/mlflow/registered-models/alias")
        | ("POST", "/mlflow/model-versions/create" | "/mlflow/model-versions/transition-stage")
        | ("POST", "/mlflow/model-versions/set-tag") => return model(Edit, Field("name")),
        ("DELETE", "/mlflow/registered-models/delete" | "/mlflow/registered-models/alias")
        | ("DELETE", "/mlflow/model-versions/delete" | "/mlflow/model-versions/delete-tag") => {
            return model(Manage, Field("name"));
        }
        ("GET", "/mlflow/registered-models/search" | "/mlflow/model-versions/search") => Filtered,

        // The artifact proxy: the experiment is the path's first segment.
        ("GET", "/mlflow-artifacts/artifacts" | "/mlflow-artifacts/artifacts/") => Experiment(Read, ArtifactPath),
        ("GET", "/mlflow-artifacts/artifacts/{*path}") => Experiment(Read, ArtifactPath),
        ("PUT", "/mlflow-artifacts/artifacts/{*path}") => Experiment(Edit, ArtifactPath),
        ("DELETE", "/mlflow-artifacts/artifacts/{*path}") => Experiment(Manage, ArtifactPath),
        // Multipart upload: starting, completing and aborting one is a write of the file.
        ("POST", "/mlflow-artifacts/mpu/create/{*path}" | "/mlflow-artifacts/mpu/complete/{*path}") => {
            Experiment(Edit, ArtifactPath)
        }
        ("POST", "/mlflow-artifacts/mpu/abort/{*path}") => Experiment(Edit, ArtifactPath),
        // A part goes to the URL `create` handed out, without credentials (as to a presigned
        // S3 URL): the unguessable upload id it names is the capability.
        ("PUT", "/mlflow-artifacts/mpu/part/{upload_id}/{part_number}") => Open,

        // V2: inference needs USE on the served model; reading about it, READ.
        ("GET", "/v2/models/{model}" | "/v2/models/{model}/ready")
        | ("GET", "/v2/models/{model}/versions/{version}" | "/v2/models/{model}/versions/{version}/ready") => {
            Model(Read, Path("model"))
        }
        ("POST", "/v2/models/{model}/infer" | "/v2/models/{model}/versions/{version}/infer") => {
            Model(Use, Path("model"))
        }
        ("GET", "/v2/models/{model}/stats" | "/v2/models/{model}/versions/{version}/stats") => {
            Model(Read, Path("model"))
        }
        // MLflow's scoring protocol: per model, USE as for V2 inference; the
        // bound model of `flotilla serve --model` is checked by its handler
        // (the route names no model); its `/ping` is a probe.
        ("POST", "/invocations/models/{model}" | "/invocations/models/{model}/versions/{version}") => {
            Model(Use, Path("model"))
        }
        ("POST", "/invocations") => Delegated,
        ("GET", "/ping") => Open,

        // The monitoring API: a model's telemetry is read with READ on it.
        ("GET", "/api/monitor/v1/models/{name}/telemetry") => Model(Read, Path("name")),
        // Predictions and labels from elsewhere are written with EDIT on it.
        (
            "POST",
            "/api/monitor/v1/models/{name}/versions/{version}/predictions"
            | "/api/monitor/v1/models/{name}/versions/{version}/labels",
        ) => Model(Edit, Path("name")),
        (
            "POST",
            "/v2/repository/index" | "/v2/repository/models/{model}/load" | "/v2/repository/models/{model}/unload",
        ) => Admin,

        // The fleet API.
        ("GET", "/api/fleet/v1/models" | "/api/fleet/v1/versions" | "/api/fleet/v1/facets") => Filtered,
        ("GET", "/api/fleet/v1/families") => Filtered,
        // Any authenticated caller, as MLflow's creates; the application
        // refuses a veto and the adoption of a model the caller may not manage.
        ("POST", "/api/fleet/v1/families") => Delegated,
        ("GET", "/api/fleet/v1/families/{name}") => Family(Read, Path("name")),
        ("GET", "/api/fleet/v1/resolve") => Family(Read, Field("family")),
        ("POST", "/api/fleet/v1/versions/bulk" | "/api/fleet/v1/aliases/bulk" | "/api/fleet/v1/promotions")
        | ("POST", "/api/fleet/v1/batches/{batch}/rollback") => Fleet,
        ("GET", "/api/fleet/v1/audit") => Admin,
        // Non-admins read their own actions only (the handler narrows it).
        ("GET", "/api/fleet/v1/audit/events") => Authenticated,

        // The data API: every answer holds only readable runs (their
        // experiment) and versions (their model); upstream refuses a model
        // the caller may not read.
        (
            "GET",
            "/api/data/v1/datasets"
            | "/api/data/v1/datasets/{name}/{digest}"
            | "/api/data/v1/lineage/downstream"
            | "/api/data/v1/lineage/upstream"
            | "/api/data/v1/lineage/stale",
        ) => Filtered,
        // A profile is read by whoever reads the dataset (the handler asks
        // the store as `datasets/{name}/{digest}` does); written with EDIT on
        // an experiment whose runs used it (`flotilla_app::data::profile`).
        ("GET", "/api/data/v1/datasets/{name}/{digest}/profile") => Filtered,
        ("POST", "/api/data/v1/datasets/{name}/{digest}/profile") => Delegated,

        // Monitoring: health answers hold only the models the caller reads (a
        // family's history needs READ on it); drift settings are the family's,
        // baselines and drift the model's; alert rules need MANAGE on their
        // scope (an admin for the fleet's) and list only the readable ones,
        // decided by `flotilla_app::monitor::alerts`.
        ("GET", "/api/monitor/v1/health" | "/api/monitor/v1/health/history") => Filtered,
        ("GET", "/api/monitor/v1/models/{name}/health" | "/api/monitor/v1/models/{name}/drift")
        | ("GET", "/api/monitor/v1/models/{name}/baseline") => Model(Read, Path("name")),
        ("PUT", "/api/monitor/v1/models/{name}/baseline") => Model(Edit, Path("name")),
        ("GET", "/api/monitor/v1/families/{family}/drift-config") => Family(Read, Path("family")),
        ("PUT", "/api/monitor/v1/families/{family}/drift-config") => Family(Manage, Path("family")),
        ("GET", "/api/monitor/v1/alerts/rules" | "/api/monitor/v1/alerts/deliveries") => Filtered,
        ("POST", "/api/monitor/v1/alerts/rules") => Delegated,
        ("GET" | "PUT" | "DELETE", "/api/monitor/v1/alerts/rules/{id}") => Delegated,

        // The UI's pages.
        ("GET", "/" | "/models" | "/families" | "/experiments") => Filtered,
        ("GET", "/models/{name}" | "/models/{name}/compare" | "/models/{name}/monitor") => Model(Read, Path("name")),
        // Health and alerts pages: counted and listed over what the caller reads.
        ("GET", "/monitor" | "/alerts") => Filtered,
        ("POST", "/models/{name}/aliases") => Model(Edit, Path("name")),
        ("GET", "/families/{name}") => Family(Read, Path("name")),
        ("GET", "/experiments/{id}") => Experiment(Read, Path("id")),
        // Datasets: what the data API answers, filtered to what the caller reads.
        ("GET", "/datasets" | "/datasets/{name}/{digest}") => Filtered,
        ("GET", "/runs/{id}" | "/runs/{id}/artifacts/{*path}") => Experiment(Read, RunPath("id")),
        ("GET", "/audit" | "/audit/events") => Admin,
        // Fleet reports hold what the caller reads; a family scope also
        // needs READ on the family (checked by the handler).
        ("GET", "/reports" | "/reports/document" | "/api/reports/v1/report") => Filtered,
        // Scheduled reports: rules and made reports listed over what the
        // caller reads; making, reading or deleting one is decided by
        // `flotilla_app::report::schedule` (MANAGE / READ on the scope's family).
        ("GET", "/api/reports/v1/schedules" | "/api/reports/v1/runs") => Filtered,
        ("POST", "/api/reports/v1/schedules") => Delegated,
        ("GET" | "DELETE", "/api/reports/v1/schedules/{id}") => Delegated,
        ("GET", "/reports/scheduled/{id}") => Delegated,
        // Signing in needs no caller; signing out, the session's.
        ("GET" | "POST", "/login") => Open,
        ("POST", "/logout") => Authenticated,
        ("POST", "/audit/batches/{id}/rollback") => Admin,

        _ => return None,
    })
}

/// A second requirement some routes have on another resource they read.
pub(crate) fn also(method: &Method, template: &str) -> Option<Need> {
    match (method.as_str(), unprefixed(template)) {
        // A version serves what its run and source hold: READ on them.
        ("POST", "/mlflow/model-versions/create") => Some(Need::Source),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.route("<template>", <method>(...)...)` of a router source,
    /// with the prefixes its router nests it under.
    fn routes_of(source: &str) -> Vec<(Method, String)> {
        let mut out = Vec::new();
        for line in source.lines() {
            let Some(at) = line.find(".route(\"") else { continue };
            let rest = &line[at + 8..];
            let Some(end) = rest.find('"') else { continue };
            let template = &rest[..end];
            let handlers = &rest[end..];
            for (name, method) in [
                ("get(", Method::GET),
                ("post(", Method::POST),
                ("put(", Method::PUT),
                ("patch(", Method::PATCH),
                ("delete(", Method::DELETE),
            ] {
                let called = handlers.match_indices(name).any(|(i, _)| {
                    let before = handlers[..i].chars().last();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if called {
                    out.push((method, template.to_string()));
                }
            }
            if handlers.contains("server_info") {
                out.push((Method::GET, template.to_string()));
            }
        }
        out
    }

    #[test]
    fn every_route_is_declared() {
        // Every source file of the two crates that declare routes, so a new
        // router file cannot be missed.
        fn sources_in(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources_in(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = Vec::new();
        sources_in(&crates.join("flotilla-http/src"), &mut sources);
        sources_in(&crates.join("flotilla-web/src"), &mut sources);
        let routes: Vec<_> = sources.iter().flat_map(|s| routes_of(s)).collect();
        assert!(routes.len() > 100, "the walk found only {} routes", routes.len());
        let missing: Vec<_> = routes.iter().filter(|(m, t)| need(m, t).is_none()).collect::<Vec<_>>();
        assert!(missing.is_empty(), "routes without a declared permission: {missing:?}");
    }

    #[test]
    fn undeclared_routes_and_methods_are_refused() {
        assert_eq!(need(&Method::DELETE, "/api/2.0/mlflow/experiments/get"), None);
        assert_eq!(need(&Method::GET, "/api/2.0/mlflow/new-thing"), None);
        assert_eq!(
            need(&Method::GET, "/ajax-api/3.0/mlflow/experiments/get"),
            Some(Need::Experiment(Read, Locate::Field("experiment_id")))
        );
    }
}
