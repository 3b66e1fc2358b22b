//! Request counts and latency histograms by route class, for `/metrics`.
//!
//! A request is counted once its answer's body is done (by the access log's
//! line, `access_log.rs`) under its route class — the matched route template
//! folded into a small fixed set ([`RouteClass`]) — and its status class.
//! Nothing names a model, a version, a user or a path, and every series is
//! rendered from the start (zeros included), so the number of series is a
//! constant of the binary, whatever the fleet's size or the traffic.
//! Recording is a few relaxed atomic adds in a process-wide table: no lock on
//! the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;

/// What a route serves, for counting; the matched template decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// MLflow tracking reads (experiments, runs, metrics, logged models): GETs and searches.
    MlflowRead,
    /// MLflow tracking writes (creates, updates, log-batch, deletes).
    MlflowWrite,
    /// The MLflow model registry (registered models, versions, aliases).
    Registry,
    /// Artifact downloads and uploads (`mlflow-artifacts`, `mlflow/artifacts`).
    Artifacts,
    /// The fleet API (`/api/fleet/v1`), tokens aside.
    Fleet,
    /// V2 inference (`.../infer`).
    V2Infer,
    /// V2 metadata, repository and statistics.
    V2Meta,
    /// Datasets, lineage and profiles (`/api/data`).
    Data,
    /// Serving telemetry, drift, health and alerts (`/api/monitor`).
    Monitor,
    /// Users, tokens, permissions, login and logout.
    Auth,
    /// The web UI's pages and assets.
    Ui,
    /// Liveness and readiness probes, version and ping.
    Probe,
    /// `/metrics` and anything else routed.
    Other,
    /// No route matched (404 and 405 answers).
    Unmatched,
}

impl RouteClass {
    pub const ALL: [RouteClass; 14] = [
        Self::MlflowRead,
        Self::MlflowWrite,
        Self::Registry,
        Self::Artifacts,
        Self::Fleet,
        Self::V2Infer,
        Self::V2Meta,
        Self::Data,
        Self::Monitor,
        Self::Auth,
        Self::Ui,
        Self::Probe,
        Self::Other,
        Self::Unmatched,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::MlflowRead => "mlflow_read",
            Self::MlflowWrite => "mlflow_write",
            Self::Registry => "registry",
            Self::Artifacts => "artifacts",
            Self::Fleet => "fleet",
            Self::V2Infer => "v2_infer",
            Self::V2Meta => "v2_meta",
            Self::Data => "data",
            Self::Monitor => "monitor",
            Self::Auth => "auth",
            Self::Ui => "ui",
            Self::Probe => "probe",
            Self::Other => "other",
            Self::Unmatched => "unmatched",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::MlflowRead => 0,
            Self::MlflowWrite => 1,
            Self::Registry => 2,
            Self::Artifacts => 3,
            Self::Fleet => 4,
            Self::V2Infer => 5,
            Self::V2Meta => 6,
            Self::Data => 7,
            Self::Monitor => 8,
            Self::Auth => 9,
            Self::Ui => 10,
            Self::Probe => 11,
            Self::Other => 12,
            Self::Unmatched => 13,
        }
    }

    /// The class of a request that matched `template` (`None`: no route matched).
    pub fn of(method: &Method, template: Option<&str>) -> Self {
        let Some(template) = template else { return Self::Unmatched };
        let route = crate::permissions::unprefixed(template);
        let last = route.rsplit('/').next().unwrap_or("");
        let reads = *method == Method::GET
            || *method == Method::HEAD
            || ["search", "get", "list"].iter().any(|verb| last.starts_with(verb));
        if matches!(route, "/health" | "/version" | "/mlflow/ping" | "/mlflow/server-info")
            || route.starts_with("/v2/health")
        {
            Self::Probe
        } else if route.starts_with("/v2") {
            if last == "infer" { Self::V2Infer } else { Self::V2Meta }
        } else if route.starts_with("/mlflow/users")
            || route.contains("/permissions")
            || route.starts_with("/api/fleet/v1/tokens")
            || route.starts_with("/api/fleet/v1/grants")
            || matches!(route, "/login" | "/logout")
        {
            Self::Auth
        } else if route.starts_with("/mlflow/registered-models") || route.starts_with("/mlflow/model-versions") {
            Self::Registry
        } else if route.starts_with("/mlflow-artifacts") || route.starts_with("/mlflow/artifacts") {
            Self::Artifacts
        } else if route.starts_with("/mlflow/") {
            if reads { Self::MlflowRead } else { Self::MlflowWrite }
        } else if route.starts_with("/api/fleet") {
            Self::Fleet
        } else if route.starts_with("/api/data") {
            Self::Data
        } else if route.starts_with("/api/monitor") {
            Self::Monitor
        } else if route == "/metrics" || route.starts_with("/api/") {
            Self::Other
        } else {
            Self::Ui
        }
    }
}

/// Status classes counted: 1xx and 2xx together, then 3xx, 4xx, 5xx.
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

fn status_index(status: u16) -> usize {
    match status {
        0..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

/// Upper bounds of the latency buckets, in seconds (`+Inf` follows).
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const CLASSES: usize = RouteClass::ALL.len();

struct Table {
    requests: [[AtomicU64; STATUS_CLASSES.len()]; CLASSES],
    /// Per class, requests at or under each bound (not cumulative; rendering sums them).
    buckets: [[AtomicU64; BUCKETS.len() + 1]; CLASSES],
    sum_micros: [AtomicU64; CLASSES],
}

static TABLE: Table = Table {
    requests: [const { [const { AtomicU64::new(0) }; STATUS_CLASSES.len()] }; CLASSES],
    buckets: [const { [const { AtomicU64::new(0) }; BUCKETS.len() + 1] }; CLASSES],
    sum_micros: [const { AtomicU64::new(0) }; CLASSES],
};

/// Counts one answered request.
pub fn record(class: RouteClass, status: u16, took: Duration) {
    let c = class.index();
    TABLE.requests[c][status_index(status)].fetch_add(1, Ordering::Relaxed);
    let seconds = took.as_secs_f64();
    let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
    TABLE.buckets[c][bucket].fetch_add(1, Ordering::Relaxed);
    TABLE.sum_micros[c].fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The exposition text of the request counters and histograms (every series, zeros included).
pub fn render() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str(
        "# HELP flotilla_http_requests_total Requests answered, by route class and status class.\n\
         # TYPE flotilla_http_requests_total counter\n",
    );
    for class in RouteClass::ALL {
        for (s, status) in STATUS_CLASSES.iter().enumerate() {
            let n = TABLE.requests[class.index()][s].load(Ordering::Relaxed);
            let _ =
                writeln!(out, "flotilla_http_requests_total{{class=\"{}\",status=\"{status}\"}} {n}", class.label());
        }
    }
    out.push_str(
        "# HELP flotilla_http_request_duration_seconds Time from a request's arrival to the last byte of its \
         answer, by route class.\n# TYPE flotilla_http_request_duration_seconds histogram\n",
    );
    for class in RouteClass::ALL {
        let c = class.index();
        let label = class.label();
        let mut cumulative = 0u64;
        for (i, n) in TABLE.buckets[c].iter().enumerate() {
            cumulative += n.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "flotilla_http_request_duration_seconds_bucket{{class=\"{label}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = TABLE.sum_micros[c].load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "flotilla_http_request_duration_seconds_sum{{class=\"{label}\"}} {sum}");
        let _ = writeln!(out, "flotilla_http_request_duration_seconds_count{{class=\"{label}\"}} {cumulative}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fold_into_their_classes() {
        use RouteClass::*;
        let (get, post) = (Method::GET, Method::POST);
        for (method, template, class) in [
            (&get, Some("/api/2.0/mlflow/runs/get"), MlflowRead),
            (&post, Some("/ajax-api/2.0/mlflow/runs/search"), MlflowRead),
            (&post, Some("/api/2.0/mlflow/runs/log-batch"), MlflowWrite),
            (&post, Some("/api/2.0/mlflow/experiments/create"), MlflowWrite),
            (&post, Some("/api/2.0/mlflow/registered-models/create"), Registry),
            (&get, Some("/api/2.0/mlflow/model-versions/get"), Registry),
            (&post, Some("/api/2.0/mlflow/registered-models/permissions/create"), Auth),
            (&post, Some("/api/2.0/mlflow/users/create"), Auth),
            (&post, Some("/api/fleet/v1/tokens"), Auth),
            (&get, Some("/api/2.0/mlflow-artifacts/artifacts/{*path}"), Artifacts),
            (&get, Some("/api/fleet/v1/models"), Fleet),
            (&post, Some("/v2/models/{model}/infer"), V2Infer),
            (&post, Some("/v2/models/{model}/versions/{version}/infer"), V2Infer),
            (&get, Some("/v2/models/{model}"), V2Meta),
            (&get, Some("/v2/health/ready"), Probe),
            (&get, Some("/health"), Probe),
            (&get, Some("/api/data/v1/datasets"), Data),
            (&get, Some("/api/monitor/v1/health"), Monitor),
            (&get, Some("/models/{name}"), Ui),
            (&post, Some("/login"), Auth),
            (&get, Some("/metrics"), Other),
            (&get, None, Unmatched),
        ] {
            assert_eq!(RouteClass::of(method, template), class, "{method} {template:?}");
        }
    }

    #[test]
    fn buckets_are_cumulative_and_count_matches() {
        record(RouteClass::Probe, 200, Duration::from_micros(300));
        record(RouteClass::Probe, 503, Duration::from_millis(30));
        record(RouteClass::Probe, 200, Duration::from_secs(60));
        let text = render();
        let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}"));
        let value = |prefix: &str| line(prefix).rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        // Other tests of this process may count probes too: compare within this render.
        let at =
            |le: &str| value(&format!("flotilla_http_request_duration_seconds_bucket{{class=\"probe\",le=\"{le}\"}}"));
        assert!(at("0.0005") >= 1.0 && at("0.05") >= at("0.0005") + 1.0 && at("+Inf") >= at("0.05") + 1.0);
        assert_eq!(at("+Inf"), value("flotilla_http_request_duration_seconds_count{class=\"probe\"}"));
        assert!(value("flotilla_http_requests_total{class=\"probe\",status=\"5xx\"}") >= 1.0);
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(series, RouteClass::ALL.len() * (STATUS_CLASSES.len() + BUCKETS.len() + 3));
    }
}
