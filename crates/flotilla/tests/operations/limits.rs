//! Per-identity rate limits and trusted proxies.

use flotilla_testkit::{TestServer, options};
use serde_json::json;

use super::{ADMIN_PASSWORD, access_lines, basic, call};

const SEARCH: &str = "/api/2.0/mlflow/experiments/search?max_results=1";

#[test]
fn each_identity_has_its_own_buckets_and_a_429_in_its_protocols_shape() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .arg("--rate-limit-searches")
            .arg("0.2:3")
            .env("FLOTILLA_RATE_LIMIT_WRITES", "0.2:3"),
    );
    let admin = basic("admin", ADMIN_PASSWORD);
    let as_admin = [("Authorization", admin.as_str())];
    // Two writes of the admin's bucket of three go to set the others up.
    let bob = json!({ "username": "bob", "password": "bob-password-OPS1" });
    assert_eq!(call(&server, "POST", "/api/2.0/mlflow/users/create", &as_admin, Some(&bob)).status, 200);
    let t = call(&server, "POST", "/api/fleet/v1/tokens", &as_admin, Some(&json!({ "name": "t", "scope": "read" })));
    let token = format!("Bearer {}", t.json()["token"].as_str().unwrap());
    for _ in 0..3 {
        assert_eq!(call(&server, "GET", SEARCH, &as_admin, None).status, 200);
    }
    let refused = call(&server, "GET", SEARCH, &as_admin, None);
    assert_eq!(
        (refused.status, refused.error_code()),
        (429, "REQUEST_LIMIT_EXCEEDED".to_string()),
        "{}",
        refused.text()
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    let fleet = call(&server, "GET", "/api/fleet/v1/models", &as_admin, None);
    assert_eq!(fleet.status, 429, "fleet search shares the search bucket");
    // Reads that are not searches are not limited.
    assert_eq!(call(&server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", &as_admin, None).status, 200);
    // Another user and the admin's token each have their own buckets.
    let bob = basic("bob", "bob-password-OPS1");
    assert_eq!(call(&server, "GET", SEARCH, &[("Authorization", bob.as_str())], None).status, 200);
    assert_eq!(call(&server, "GET", SEARCH, &[("Authorization", token.as_str())], None).status, 200);

    // Writes: one left in the admin's bucket, then a 429; V2 answers in its own shape.
    let create = |name: &str| {
        call(&server, "POST", "/api/2.0/mlflow/experiments/create", &as_admin, Some(&json!({ "name": name })))
    };
    assert_eq!(create("third").status, 200);
    let r = create("fourth");
    assert_eq!((r.status, r.error_code()), (429, "REQUEST_LIMIT_EXCEEDED".to_string()), "{}", r.text());
    let v2 = call(&server, "POST", "/v2/repository/models/m/load", &as_admin, None);
    assert_eq!(v2.status, 429, "{}", v2.text());
    assert!(v2.json()["error"].as_str().unwrap().contains("Too many requests"), "{}", v2.text());
    assert!(v2.header("retry-after").is_some());
}

#[test]
fn forwarded_headers_count_only_from_a_trusted_proxy() {
    let xff = [("X-Forwarded-For", "6.6.6.6, 203.0.113.7"), ("X-Forwarded-Proto", "https")];
    let spoof_then = |trusted: bool| {
        let mut o = options!().env("FLOTILLA_LOG_FORMAT", "json").arg("--rate-limit-searches").arg("0.01:2");
        if trusted {
            o = o.arg("--trusted-proxies").arg("10.0.0.0/8,127.0.0.1");
        }
        let server = TestServer::start(o);
        // Two searches as "203.0.113.7", then one as another forwarded client.
        let statuses: Vec<u16> = [&xff[..], &xff[..], &[("X-Forwarded-For", "198.51.100.1")][..]]
            .iter()
            .map(|h| call(&server, "GET", SEARCH, h, None).status)
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let clients: Vec<String> = access_lines(&server)
            .iter()
            .filter(|l| l["route"] == "/api/2.0/mlflow/experiments/search")
            .map(|l| l["client"].as_str().unwrap().to_string())
            .collect();
        (statuses, clients)
    };
    let (statuses, clients) = spoof_then(true);
    assert_eq!(statuses, [200, 200, 200], "each forwarded client has its own bucket");
    assert_eq!(clients, ["203.0.113.7", "203.0.113.7", "198.51.100.1"], "the rightmost untrusted hop");
    let (statuses, clients) = spoof_then(false);
    assert_eq!(statuses, [200, 200, 429], "spoofed addresses share the peer's bucket");
    assert_eq!(clients, ["127.0.0.1"; 3], "X-Forwarded-For from an untrusted peer is ignored");
}

#[test]
fn a_forwarded_host_is_the_host_checked() {
    // A loopback server answers loopback names only (DNS rebinding defence).
    let rebinding = [("X-Forwarded-Host", "evil.example")];
    let trusting = TestServer::start(options!().arg("--trusted-proxies").arg("127.0.0.1"));
    assert_eq!(call(&trusting, "GET", "/health", &rebinding, None).status, 403, "a proxy's host is checked");
    let local = [("X-Forwarded-Host", "localhost:8443")];
    assert_eq!(call(&trusting, "GET", "/health", &local, None).status, 200);
    let untrusting = TestServer::start(options!());
    assert_eq!(call(&untrusting, "GET", "/health", &rebinding, None).status, 200, "ignored from anyone else");
}
