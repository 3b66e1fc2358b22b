//! `/metrics` on a real server process: as many series for a fleet of
//! 100,000 models as for one of 100, after traffic touching many models
//! (found and not), and text that parses as Prometheus' exposition format
//! (HELP and TYPE before each family's samples, cumulative `_bucket`
//! series ending at `+Inf` equal to `_count`, a `_sum`).

use std::collections::{BTreeMap, HashMap, HashSet};

use flotilla_testkit::{Requester as Client, TestServer, options};
use serde_json::json;

const ADMIN_PASSWORD: &str = "admin-password-1";

/// A server on a generated fleet of `models` models.
fn fleet(models: u64, basic: bool) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["fleet", "generate", "--versions", "1", "--models", &models.to_string(), "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("flotilla fleet generate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut options = options!();
    if basic {
        options = options.env("FLOTILLA_AUTH", "basic").env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD);
    }
    TestServer::start_in(dir, options)
}

/// Requests in most route classes, naming up to 300 of the fleet's models and as many unknown ones.
fn traffic(server: &TestServer, c: &Client<'_>) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    while names.len() < 300 {
        let mut path = "/api/2.0/mlflow/registered-models/search?max_results=100".to_string();
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={}", flotilla_testkit::encode_query(t)));
        }
        let page = c.get(&path);
        names.extend(
            page["registered_models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()),
        );
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let unknown: Vec<String> = (0..names.len()).map(|i| format!("no-such-model-{i}")).collect();
    for name in names.iter().chain(&unknown) {
        let q = flotilla_testkit::encode_query(name);
        c.status("GET", &format!("/api/2.0/mlflow/registered-models/get?name={q}"), None);
        c.status("GET", &format!("/v2/models/{name}"), None);
        c.status("POST", &format!("/v2/models/{name}/infer"), Some(json!({ "inputs": [] })));
        c.status("GET", &format!("/api/fleet/v1/models/{name}"), None);
        c.status("GET", &format!("/models/{name}"), None);
    }
    c.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "e" })));
    c.status("GET", "/api/2.0/mlflow/runs/get?run_id=nope", None);
    c.status("GET", "/no/such/route", None);
    c.status("GET", "/health", None);
    c.status("GET", "/api/data/v1/datasets", None);
    assert_eq!(server.get("/health").status, 200);
    names
}

/// One sample: its metric name, labels and value.
type Sample = (String, BTreeMap<String, String>, f64);

/// One histogram's series for a label set: (bound, cumulative count) buckets, `_count`, whether `_sum` came.
#[derive(Default)]
struct Histogram {
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: bool,
}

/// Checks the exposition text and returns its samples by family.
fn parse(text: &str) -> BTreeMap<String, Vec<Sample>> {
    let mut kinds: HashMap<String, String> = HashMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut families: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name_ok(name) && helped.insert(name.to_string()), "HELP twice or bad: {line}");
            assert!(!families.contains_key(name), "HELP after samples: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(kinds.insert(name.to_string(), kind.to_string()).is_none(), "TYPE twice: {line}");
            assert!(!families.contains_key(name), "TYPE after samples: {line}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "stray line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"))),
            None => (series, ""),
        };
        assert!(name_ok(name), "{line}");
        let mut map = BTreeMap::new();
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            assert!(name_ok(k) && v.starts_with('"') && v.ends_with('"') && v.len() >= 2, "{line}");
            assert!(map.insert(k.to_string(), v[1..v.len() - 1].to_string()).is_none(), "{line}");
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| kinds.get(*f).is_some_and(|k| k == "histogram")))
            .unwrap_or(name);
        assert!(kinds.contains_key(family) && helped.contains(family), "no HELP/TYPE before {line}");
        families.entry(family.to_string()).or_default().push((name.to_string(), map, value));
    }
    for (family, samples) in &families {
        if kinds[family] != "histogram" {
            continue;
        }
        // Per label set without `le`: increasing bounds, cumulative counts, +Inf = _count, a _sum.
        let mut sets: BTreeMap<Vec<(String, String)>, Histogram> = BTreeMap::new();
        for (name, labels, value) in samples {
            let key: Vec<_> = labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            let set = sets.entry(key).or_default();
            if name.ends_with("_bucket") {
                let le = &labels["le"];
                set.buckets.push((if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, *value));
            } else if name.ends_with("_count") {
                set.count = Some(*value);
            } else {
                set.sum = true;
            }
        }
        for (labels, Histogram { buckets, count, sum }) in sets {
            assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{family} {labels:?}");
            assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY), "{family} {labels:?}");
            assert_eq!(buckets.last().map(|b| b.1), count, "{family} {labels:?}: +Inf is the count");
            assert!(sum, "{family} {labels:?}: no _sum");
        }
    }
    families
}

fn series(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit_once(' ').unwrap().0.to_string()).collect()
}

fn value(text: &str, series: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series}"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

#[test]
fn the_series_count_does_not_depend_on_the_fleet() {
    let mut seen: Vec<Vec<String>> = Vec::new();
    for models in [100, 100_000] {
        let server = fleet(models, false);
        let c = Client::anonymous(&server);
        let names = traffic(&server, &c);
        let text = server.get("/metrics").text();
        let values: HashSet<String> =
            parse(&text).into_values().flatten().flat_map(|(_, labels, _)| labels.into_values()).collect();
        for name in names.iter().map(String::as_str).chain(["no-such-model-0"]) {
            assert!(!values.contains(name), "{name} is a label value in /metrics");
        }
        // Route and status classes, bucket bounds, health checks and states.
        assert!(values.len() < 60, "label values from a small fixed set: {values:?}");
        assert_eq!(text.lines().filter(|l| l.starts_with("flotilla_health_models{")).count(), 32);
        assert!(value(&text, "flotilla_http_requests_total{class=\"registry\",status=\"2xx\"}") >= names.len() as f64);
        assert!(value(&text, "flotilla_http_requests_total{class=\"registry\",status=\"4xx\"}") >= names.len() as f64);
        let infer = value(&text, "flotilla_http_request_duration_seconds_count{class=\"v2_infer\"}");
        assert!(infer >= 2.0 * names.len() as f64, "{infer}");
        assert!(value(&text, "flotilla_http_requests_total{class=\"unmatched\",status=\"4xx\"}") >= 1.0);
        seen.push(series(&text));
    }
    assert_eq!(seen[0], seen[1], "the same series at 100 and 100,000 models");
}

#[test]
fn metrics_parse_with_auth_on_and_are_for_admins() {
    let server = fleet(50, true);
    let admin = Client::basic(&server, "admin", ADMIN_PASSWORD);
    admin.ok(
        "POST",
        "/api/2.0/mlflow/users/create",
        Some(json!({ "username": "bob", "password": "user-password-12" })),
    );
    let bob = Client::basic(&server, "bob", "user-password-12");
    traffic(&server, &bob);
    assert_eq!(bob.status("GET", "/metrics", None), 403);
    let text = admin.page("/metrics");
    let families = parse(&text);
    assert!(families.contains_key("flotilla_auth_cache_hits_total"), "{text}");
    assert!(value(&text, "flotilla_http_requests_total{class=\"auth\",status=\"2xx\"}") >= 1.0);
}
