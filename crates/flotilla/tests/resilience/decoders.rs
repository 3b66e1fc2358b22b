//! Oversized claims in every decoder a request reaches: a V2 infer request
//! whose shape claims far more elements than it carries (JSON and binary,
//! FP32 and BYTES), to a model that exists or not, with or without a JSON
//! content type. Each must be a 400 in V2's `{"error": ...}` shape, with the
//! process alive and its peak memory barely moved.

use serde_json::json;

use crate::model_files::register_lightgbm;
use flotilla_testkit::{Reply, TestServer, options};

const HUGE: i64 = 1_000_000_000_000;
/// Peak resident growth allowed for a refused request (the claims are
/// terabytes; the bodies a few bytes).
const SLACK_KIB: u64 = 16 * 1024;

/// What is sent: a label, the model, its content type, extra headers and the body.
type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<(&'a str, &'a str)>, &'a [u8]);

fn infer(server: &TestServer, model: &str, content_type: Option<&str>, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(ct) = content_type {
        all.push(("Content-Type", ct));
    }
    server.request("POST", &format!("/v2/models/{model}/infer"), &all, body)
}

#[test]
fn oversized_shape_claims_are_refused_without_allocating() {
    let mut server = TestServer::start(options!());
    register_lightgbm(&server, "served", "0/served/v1");
    let fp32 = json!({"inputs": [{"name": "a", "shape": [HUGE], "datatype": "FP32", "data": [1]}]}).to_string();
    let bytes = json!({"inputs": [{"name": "a", "shape": [HUGE], "datatype": "BYTES", "data": ["x"]}]}).to_string();
    let two_dims =
        json!({"inputs": [{"name": "a", "shape": [HUGE, 2], "datatype": "FP32", "data": [1, 2]}]}).to_string();
    let binary_head =
        json!({"inputs": [{"name": "a", "shape": [HUGE], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]})
            .to_string();
    let binary = [binary_head.as_bytes(), &4u32.to_le_bytes(), b"abcd"].concat();
    let header_length = binary_head.len().to_string();
    let length_past_end =
        json!({"inputs": [{"name": "a", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]})
            .to_string();
    let past_end = [length_past_end.as_bytes(), &u32::MAX.to_le_bytes(), b"abcd"].concat();
    let past_end_length = length_past_end.len().to_string();

    let cases: Vec<Case> = vec![
        ("JSON FP32", "served", Some("application/json"), vec![], fp32.as_bytes()),
        ("JSON BYTES", "served", Some("application/json"), vec![], bytes.as_bytes()),
        ("JSON FP32, two dimensions", "served", Some("application/json"), vec![], two_dims.as_bytes()),
        ("missing model", "no-such-model", Some("application/json"), vec![], fp32.as_bytes()),
        ("no content type", "no-such-model", None, vec![], fp32.as_bytes()),
        (
            "cross-origin text/plain",
            "served",
            Some("text/plain"),
            vec![("Origin", "http://evil.example")],
            fp32.as_bytes(),
        ),
        (
            "binary BYTES",
            "served",
            Some("application/octet-stream"),
            vec![("Inference-Header-Content-Length", header_length.as_str())],
            &binary,
        ),
        (
            "binary BYTES length past the end",
            "served",
            None,
            vec![("Inference-Header-Content-Length", past_end_length.as_str())],
            &past_end,
        ),
    ];
    for (what, model, content_type, headers, body) in cases {
        server.reset_peak_rss();
        let before = server.peak_rss_kib();
        let reply = infer(&server, model, content_type, &headers, body);
        server.assert_alive();
        let grew = server.peak_rss_kib().saturating_sub(before);
        eprintln!("{what}: peak RSS +{grew} KiB");
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        let message = reply.json()["error"].as_str().map(str::to_string);
        assert!(message.is_some(), "{what}: not V2's error shape: {}", reply.text());
        assert!(grew < SLACK_KIB, "{what}: peak RSS grew by {grew} KiB");
    }

    // A body past the route's limit is refused in V2's shape too.
    let reply = infer(&server, "served", None, &[], &vec![b' '; 3 << 20]);
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(reply.json()["error"].is_string(), "{}", reply.text());

    // The same server still serves, and a missing model is a plain 404.
    let ok = json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.9, 0.0]}]});
    let reply = infer(&server, "served", None, &[], ok.to_string().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = infer(&server, "no-such-model", None, &[], ok.to_string().as_bytes());
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert!(reply.json()["error"].is_string(), "{}", reply.text());
}

/// A JSON infer body of 1 MB (the route takes up to 2 MB) peaked at 35 MB
/// (a `serde_json::Value` per element in and out); read into compact leaves
/// and written straight from the tensors it peaks near 23 MB.
#[test]
fn a_large_json_infer_body_costs_a_bounded_multiple_of_its_size() {
    let mut server = TestServer::start(options!());
    register_lightgbm(&server, "served", "0/served/v1");
    let rows = 250_000;
    let data = vec!["0"; rows * 2].join(",");
    let body = format!(r#"{{"inputs":[{{"name":"input","shape":[{rows},2],"datatype":"FP32","data":[{data}]}}]}}"#);
    server.reset_peak_rss();
    let before = server.peak_rss_kib();
    let reply = infer(&server, "served", Some("application/json"), &[], body.as_bytes());
    let grew = server.peak_rss_kib().saturating_sub(before);
    server.assert_alive();
    eprintln!("{} KiB JSON infer body: status {}, peak RSS +{grew} KiB", body.len() / 1024, reply.status);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let limit = 30 * body.len() as u64 / 1024;
    assert!(grew < limit, "peak RSS grew by {grew} KiB for a {} KiB body (limit {limit} KiB)", body.len() / 1024);
}
