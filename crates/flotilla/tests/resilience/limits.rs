//! What a request may carry: every list, filter, sort and token is capped
//! where the request is understood, so each limit answers 200 at its edge and
//! a 400 naming it just past it (never a 500 from SQLite), a small request
//! never costs a large amount of memory, names are held to MLflow's limits,
//! prefixes are literal, and a delete racing uploads ends cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use flotilla_testkit::{Reply, TestServer, options};

const API: &str = "/api/2.0/mlflow";
/// The grammar's limits, as `flotilla_core::filter` names them.
const MAX_FILTER_CLAUSES: usize = 100;
const MAX_FILTER_VALUES: usize = 1000;
const MAX_ORDER_BY: usize = 10;
const MAX_LIKE_PATTERN: usize = 50_000;
/// `flotilla_core::fleet::MAX_FLEET_FILTERS`.
const MAX_FLEET_FILTERS: usize = 32;
/// Growth of the peak resident set a single hostile request may cause.
const MEMORY_BOUND_KIB: u64 = 64 * 1024;

fn ands(clause: &str, n: usize) -> String {
    vec![clause; n].join(" AND ")
}

fn in_list(field: &str, n: usize) -> String {
    format!("{field} IN ({})", vec!["'x'"; n].join(","))
}

/// Asserts a refusal: 400, MLflow's error code, and the limit in the message.
fn assert_refused(reply: &Reply, limit: usize, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {}", short(&reply.text()));
    assert!(reply.text().contains(&limit.to_string()), "{what}: the message names {limit}: {}", short(&reply.text()));
}

fn short(s: &str) -> &str {
    &s[..s.len().min(300)]
}

/// One search endpoint: where it is, and the body of a search with `filter` and `order_by`.
struct Search {
    name: &'static str,
    path: &'static str,
    clause: &'static str,
    list_field: Option<&'static str>,
    order: &'static str,
}

const SEARCHES: &[Search] = &[
    Search {
        name: "runs",
        path: "/runs/search",
        clause: "metrics.a > 1",
        list_field: Some("attributes.run_id"),
        order: "metrics.a",
    },
    Search { name: "experiments", path: "/experiments/search", clause: "name = 'x'", list_field: None, order: "name" },
    Search {
        name: "registered models",
        path: "/registered-models/search",
        clause: "name = 'x'",
        list_field: None,
        order: "name",
    },
    Search {
        name: "model versions",
        path: "/model-versions/search",
        clause: "name = 'x'",
        list_field: Some("run_id"),
        order: "name",
    },
];

/// Runs and experiments are searched with a POSTed body, the registry with
/// query parameters, as MLflow's clients do.
fn search(server: &TestServer, s: &Search, filter: &str, order_by: &[&str]) -> Reply {
    match s.name {
        "runs" | "experiments" => {
            let body = json!({ "experiment_ids": ["0"], "filter": filter, "order_by": order_by });
            let body = if s.name == "runs" { body } else { json!({ "filter": filter, "order_by": order_by }) };
            server.post_json(&format!("{API}{}", s.path), &body)
        }
        _ => {
            let mut query = format!("filter={}", percent(filter));
            for o in order_by {
                query.push_str(&format!("&order_by={}", percent(o)));
            }
            server.get(&format!("{API}{}?{query}", s.path))
        }
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

#[test]
fn filters_sorts_and_fleet_queries_answer_200_at_each_limit_and_400_past_it() {
    let server = TestServer::start(options!());
    // A row for each LIKE to be evaluated on (SQLite checks the pattern per row).
    let tag = json!([{"key": "k", "value": "v"}]);
    let run = server.post_json(&format!("{API}/runs/create"), &json!({"experiment_id": "0", "tags": tag}));
    let experiment = server.post_json(&format!("{API}/experiments/create"), &json!({"name": "e", "tags": tag}));
    assert_eq!((run.status, experiment.status), (200, 200), "{} {}", run.text(), experiment.text());
    for s in SEARCHES {
        // (at the limit, just past it, the issue's reproduction) for each kind of limit.
        let clauses = [ands(s.clause, MAX_FILTER_CLAUSES), ands(s.clause, MAX_FILTER_CLAUSES + 1), ands(s.clause, 988)];
        assert_eq!(search(&server, s, &clauses[0], &[]).status, 200, "{}: {MAX_FILTER_CLAUSES} clauses", s.name);
        assert_refused(&search(&server, s, &clauses[1], &[]), MAX_FILTER_CLAUSES, s.name);
        assert_refused(&search(&server, s, &clauses[2], &[]), MAX_FILTER_CLAUSES, s.name);
        if let Some(field) = s.list_field {
            let at = in_list(field, MAX_FILTER_VALUES);
            assert_eq!(search(&server, s, &at, &[]).status, 200, "{}: IN of {MAX_FILTER_VALUES}", s.name);
            assert_refused(&search(&server, s, &in_list(field, MAX_FILTER_VALUES + 1), &[]), MAX_FILTER_VALUES, s.name);
            // 40,000 values is the issue's reproduction; a GET's URI holds fewer.
            let huge = if s.name == "runs" { 40_000 } else { 2_000 };
            assert_refused(&search(&server, s, &in_list(field, huge), &[]), MAX_FILTER_VALUES, s.name);
        }
        if matches!(s.name, "runs" | "experiments") {
            // SQLite refuses a LIKE pattern over 50,000 bytes; a GET's URI cannot carry one.
            let like = |n: usize| format!("tags.k LIKE '{}'", "%".repeat(n));
            assert_eq!(search(&server, s, &like(MAX_LIKE_PATTERN), &[]).status, 200, "{}: LIKE", s.name);
            assert_refused(&search(&server, s, &like(MAX_LIKE_PATTERN + 1), &[]), MAX_LIKE_PATTERN, s.name);
        }
        let orders = vec![s.order; MAX_ORDER_BY + 1];
        assert_eq!(search(&server, s, "", &orders[..MAX_ORDER_BY]).status, 200, "{}: {MAX_ORDER_BY} order_by", s.name);
        assert_refused(&search(&server, s, "", &orders), MAX_ORDER_BY, s.name);
    }
    // The largest search accepted stays within SQLite's limits (bound variables,
    // expression depth): every clause, every value, every sort key, a full token.
    let clauses = format!(
        "{} AND {}",
        ands(SEARCHES[0].clause, MAX_FILTER_CLAUSES - 1),
        in_list("attributes.run_id", MAX_FILTER_VALUES - (MAX_FILTER_CLAUSES - 1))
    );
    let orders: Vec<String> = (0..MAX_ORDER_BY).map(|i| format!("tags.t{i} DESC")).collect();
    let token = base64_url(&serde_json::to_vec(&vec![json!(0); 2 * MAX_ORDER_BY + 2]).unwrap());
    let body = json!({"experiment_ids": vec!["0"; 1000], "filter": clauses, "order_by": orders, "page_token": token});
    let largest = server.post_json(&format!("{API}/runs/search"), &body);
    assert_eq!(largest.status, 200, "the largest accepted search: {}", short(&largest.text()));
    // A NUL inside a quoted key reached the SQL text of the sort.
    let nul = search(&server, &SEARCHES[0], "", &["tags.`a\0b`"]);
    assert_eq!(nul.status, 400, "{}", nul.text());
    assert_eq!(nul.error_code(), "INVALID_PARAMETER_VALUE");
    let logged = |order_by: usize| {
        let order: Vec<Value> = (0..order_by).map(|_| json!({"field_name": "name"})).collect();
        server.post_json(&format!("{API}/logged-models/search"), &json!({"experiment_ids": ["0"], "order_by": order}))
    };
    assert_eq!(logged(MAX_ORDER_BY).status, 200, "{}", logged(MAX_ORDER_BY).text());
    assert_refused(&logged(MAX_ORDER_BY + 1), MAX_ORDER_BY, "logged models");

    // The fleet API and the UI's search page read the same parameters.
    let repeat = |item: &str, n: usize| vec![item; n].join("&");
    // (path, one filter, the issue's count); short items, so the URI stays under 64 KiB.
    let fleet: &[(&str, &str, usize)] = &[
        ("/api/fleet/v1/models", "tag=a=b", 5_000),
        ("/api/fleet/v1/models", "metric=c:m%3C1", 2_000),
        ("/api/fleet/v1/versions", "tag=a=b", 5_000),
        ("/api/fleet/v1/versions", "metric=m%3C1", 2_000),
        ("/models", "tag=a=b", 5_000),
        ("/models", "metric=c:m%3C1", 2_000),
    ];
    for path in ["/api/fleet/v1/models", "/models"] {
        // A NUL ended FTS5's query text early: "unterminated string", a 500.
        let nul = server.get(&format!("{path}?contains=%00abc"));
        assert_eq!(nul.status, 400, "{path}: {}", short(&nul.text()));
    }
    for &(path, item, issue) in fleet {
        let at = server.get(&format!("{path}?{}", repeat(item, MAX_FLEET_FILTERS)));
        assert_eq!(at.status, 200, "{path} {item} x{MAX_FLEET_FILTERS}: {}", short(&at.text()));
        for n in [MAX_FLEET_FILTERS + 1, issue] {
            let past = server.get(&format!("{path}?{}", repeat(item, n)));
            assert_refused(&past, MAX_FLEET_FILTERS, &format!("{path} {item} x{n}"));
        }
    }
}

#[test]
fn small_requests_keep_peak_memory_bounded() {
    let server = TestServer::start(options!());
    let baseline = server.rss_kib();
    let mut cases: Vec<(&str, String, Vec<u8>)> = Vec::new();
    // 1,500 order_by entries and a forged token of 3,002 values (the issue: 1.9 GB, then a 500).
    let token_values = vec![json!(0); 3_002];
    let token = base64_url(&serde_json::to_vec(&token_values).unwrap());
    let orders: Vec<&str> = vec!["tags.t"; 1_500];
    let body = json!({"experiment_ids": ["0"], "order_by": orders, "page_token": token}).to_string();
    cases.push(("order_by x1500 + forged token", format!("{API}/runs/search"), body.into_bytes()));
    // A 23 MB JSON string holding a JSON array (the issue: 463 MB).
    let inner = format!("[{}]", vec!["1"; 11_000_000].join(","));
    cases.push(("double-encoded 23 MB", format!("{API}/runs/search"), serde_json::to_vec(&inner).unwrap()));
    // Twenty megabytes of empty metrics: three bytes each, a large struct each once read.
    let empties = format!(r#"{{"run_id":"r","metrics":[{}]}}"#, vec!["{}"; 6_000_000].join(","));
    cases.push(("log-batch of 6M empty metrics", format!("{API}/runs/log-batch"), empties.into_bytes()));
    // A repeated string field (experiment ids) of four-byte items.
    let ids = format!(r#"{{"experiment_ids":[{}]}}"#, vec![r#""0""#; 5_000_000].join(","));
    cases.push(("5M experiment ids", format!("{API}/runs/search"), ids.into_bytes()));

    let mut failures = Vec::new();
    for (what, path, body) in &cases {
        server.reset_peak_rss();
        let before = server.peak_rss_kib();
        let started = Instant::now();
        let reply = server.request("POST", path, &[("Content-Type", "application/json")], body);
        let grown = server.peak_rss_kib().saturating_sub(before);
        eprintln!(
            "{what}: {} bytes -> {} in {:?}, peak RSS +{} KiB (baseline {baseline} KiB)",
            body.len(),
            reply.status,
            started.elapsed(),
            grown
        );
        if reply.status != 400 || grown >= MEMORY_BOUND_KIB {
            failures.push(format!("{what}: {} after peak RSS +{grown} KiB: {}", reply.status, short(&reply.text())));
        }
    }
    assert!(failures.is_empty(), "each answered 400 within {MEMORY_BOUND_KIB} KiB of growth: {failures:#?}");
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn names_and_request_lists_are_held_to_mlflows_limits() {
    let server = TestServer::start(options!());
    let post = |path: &str, body: Value| server.post_json(&format!("{API}{path}"), &body);
    let created = post("/runs/create", json!({"experiment_id": "0", "run_name": "n".repeat(8_000)}));
    assert_eq!(created.status, 200, "{}", short(&created.text()));
    let run_id = created.json()["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for size in [8_001, 100_000, 10_000_000] {
        let long = "n".repeat(size);
        assert_refused(&post("/runs/create", json!({"experiment_id": "0", "run_name": long})), 8000, "runs/create");
        assert_refused(&post("/runs/update", json!({"run_id": run_id, "run_name": long})), 8000, "runs/update");
    }
    let stored = server.get(&format!("{API}/runs/get?run_id={run_id}")).json();
    assert_eq!(
        stored["run"]["info"]["run_name"].as_str().map(str::len),
        Some(8_000),
        "the refused update wrote nothing"
    );

    let tags = |n: usize| (0..n).map(|i| json!({"key": format!("k{i}"), "value": "v"})).collect::<Vec<_>>();
    let lists: &[(&str, &str, usize)] = &[
        ("/runs/create", "tags", 1000),
        ("/experiments/create", "tags", 1000),
        ("/registered-models/create", "tags", 1000),
    ];
    for (i, (path, field, limit)) in lists.iter().enumerate() {
        let mut body = json!({"experiment_id": "0", "name": format!("n{i}")});
        body[*field] = json!(tags(*limit));
        assert_eq!(post(path, body.clone()).status, 200, "{path} with {limit} {field}");
        body["name"] = json!(format!("m{i}"));
        body[*field] = json!(tags(limit + 1));
        assert_refused(&post(path, body), *limit, path);
    }
    let input = |value: usize| {
        let dataset = json!({"name": "d", "digest": "abc", "source_type": "local", "source": "s"});
        let tags = json!([{"key": "mlflow.data.context", "value": "v".repeat(value)}]);
        post("/runs/log-inputs", json!({"run_id": run_id, "datasets": [{"dataset": dataset, "tags": tags}]}))
    };
    assert_eq!(input(500).status, 200, "{}", input(500).text());
    assert_refused(&input(501), 500, "dataset input tag");
    let logged = post("/logged-models", json!({"experiment_id": "0", "name": "x".repeat(501)}));
    assert_refused(&logged, 500, "logged model name");
}

#[test]
fn the_repository_index_takes_a_name_prefix_literally() {
    let server = TestServer::start(options!());
    let post = |path: &str, body: Value| server.post_json(&format!("{API}{path}"), &body);
    let run = post("/runs/create", json!({"experiment_id": "0"})).json();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for name in ["a_b", "axb", "a%c", "abc", "a\\b"] {
        assert_eq!(post("/registered-models/create", json!({"name": name})).status, 200, "{name}");
        let version = post(
            "/model-versions/create",
            json!({"name": name, "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        );
        assert_eq!(version.status, 200, "{name}: {}", version.text());
    }
    for (prefix, expected) in [
        ("a_", vec!["a_b"]),
        ("a%", vec!["a%c"]),
        ("a\\", vec!["a\\b"]),
        ("a", vec!["a%c", "a\\b", "a_b", "abc", "axb"]),
    ] {
        let reply = server.post_json("/v2/repository/index", &json!({"name_prefix": prefix}));
        assert_eq!(reply.status, 200, "{prefix}: {}", reply.text());
        let mut names: Vec<String> =
            reply.json().as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, expected, "name_prefix {prefix:?}");
    }
}

#[test]
fn uploads_racing_a_delete_of_their_directory_end_in_2xx_or_4xx() {
    let server = Arc::new(TestServer::start(options!()));
    let stop = Arc::new(AtomicBool::new(false));
    let artifact = |p: &str| format!("/api/2.0/mlflow-artifacts/artifacts/{p}");
    let mut workers = Vec::new();
    for w in 0..4 {
        let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
        let path = artifact(&format!("dd/sub/w{w}"));
        workers.push(std::thread::spawn(move || {
            let mut statuses = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = server.request("PUT", &format!("{path}/f{i}"), &[], &[b'x'; 4096]);
                statuses.push((r.status, r.text()));
                i += 1;
            }
            statuses
        }));
    }
    let deleter = {
        let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
        let path = artifact("dd");
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = server.request("DELETE", &path, &[], b"");
                statuses.push((r.status, r.text()));
            }
            statuses
        })
    };
    std::thread::sleep(Duration::from_millis(2_500));
    stop.store(true, Ordering::Relaxed);
    let mut all = deleter.join().unwrap();
    let deletes = all.len();
    for w in workers {
        all.extend(w.join().unwrap());
    }
    let failures: Vec<_> = all.iter().filter(|(s, _)| !(200..500).contains(s)).collect();
    eprintln!("{} requests ({deletes} deletes), {} outside 2xx/4xx", all.len(), failures.len());
    let log = server.log_text();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).take(5).collect();
    assert!(failures.is_empty(), "{} of {} answered 5xx: {errors:#?}", failures.len(), all.len());
    assert!(all.iter().filter(|(s, _)| *s == 200).count() > 10, "the race ran: {:?}", &all[..all.len().min(5)]);
    // What is left is a consistent tree: listed without error, nothing half-removed.
    let listed = server.get("/api/2.0/mlflow-artifacts/artifacts?path=dd");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let trash = std::fs::read_dir(server.data_dir().join("artifacts").join(".tmp"))
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("trash-")).count())
        .unwrap_or(0);
    assert_eq!(trash, 0, "deleted trees are removed from the staging directory");
}
