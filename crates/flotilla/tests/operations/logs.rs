//! The access log (text and JSON) and the secrets no log line may hold.

use flotilla_testkit::{TestServer, options};
use serde_json::{Value, json};

use super::{ADMIN_PASSWORD, access_lines, basic, call};

fn with<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Every secret a client might send, in headers, query strings and bodies;
/// returns them for the check.
fn send_secrets(server: &TestServer) -> Vec<String> {
    let admin = basic("admin", ADMIN_PASSWORD);
    let auth = |a: &str| vec![("Authorization", a.to_string())];
    let token_body = json!({ "name": "ops", "scope": "write" });
    let t = call(server, "POST", "/api/fleet/v1/tokens", &with(&auth(&admin)), Some(&token_body));
    assert_eq!(t.status, 200, "{}", t.text());
    let token = t.json()["token"].as_str().unwrap().to_string();
    let fake = "flt_FAKEID12_fakesecretOPS2fakesecretOPS2fakesecret".to_string();
    let user = json!({ "username": "carol", "password": "carol-password-OPS3" });
    let r = call(server, "POST", "/api/2.0/mlflow/users/create", &with(&auth(&admin)), Some(&user));
    assert_eq!(r.status, 200, "{}", r.text());
    let change = json!({ "username": "carol", "password": "carol-password-OPS4" });
    let carol = basic("carol", "carol-password-OPS3");
    let r = call(server, "PATCH", "/api/2.0/mlflow/users/update-password", &with(&auth(&carol)), Some(&change));
    assert_eq!(r.status, 200, "{}", r.text());
    let get = "/api/2.0/mlflow/experiments/get?experiment_id=0";
    for (path, headers, status) in [
        (get.to_string(), auth(&admin), 200),
        (get.to_string(), auth(&format!("Bearer {token}")), 200),
        (get.to_string(), auth(&basic("admin", &token)), 200),
        (get.to_string(), auth(&basic("admin", "wrong-password-OPS5")), 401),
        (get.to_string(), auth(&format!("Bearer {fake}")), 401),
        (get.to_string(), vec![("Authorization", admin.clone()), ("x-request-id", token.clone())], 200),
        (get.to_string(), vec![("Authorization", admin.clone()), ("Cookie", "session=OPS6cookie".into())], 200),
        (format!("{get}&password=query-password-OPS7&token={fake}"), auth(&admin), 200),
        ("/api/2.0/mlflow/users/get?username=carol&password=query-password-OPS7".to_string(), auth(&admin), 200),
    ] {
        let r = call(server, "GET", &path, &with(&headers), None);
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
    vec![
        ADMIN_PASSWORD.into(),
        admin[6..].to_string(),
        token.clone(),
        token[13..].to_string(),
        fake[13..].to_string(),
        "carol-password-OPS3".into(),
        "carol-password-OPS4".into(),
        "wrong-password-OPS5".into(),
        "OPS6cookie".into(),
        "query-password-OPS7".into(),
    ]
}

fn secret_server(format: &str) -> TestServer {
    // Debug logging: the check covers every level a deployment might use.
    TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_LOG", "debug")
            .env("FLOTILLA_LOG_FORMAT", format),
    )
}

#[test]
fn no_secret_reaches_the_log_in_either_format() {
    for format in ["text", "json"] {
        let server = secret_server(format);
        let secrets = send_secrets(&server);
        let log = server.log_text();
        assert!(log.contains("flotilla is listening"), "{format}");
        for secret in &secrets {
            assert!(!log.contains(secret.as_str()), "{format}: the log contains a secret: {secret}");
        }
        if format == "json" {
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            }
        } else {
            assert!(log.contains("method=GET route=/api/2.0/mlflow/experiments/get status=200"), "{log}");
        }
    }
}

#[test]
fn one_access_line_per_request_with_its_route_template() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_LOG_FORMAT", "json"),
    );
    let admin = basic("admin", ADMIN_PASSWORD);
    let a = [("Authorization", admin.as_str()), ("x-request-id", "ops-req-1")];
    let token = call(&server, "POST", "/api/fleet/v1/tokens", &a, Some(&json!({ "name": "t", "scope": "read" })));
    let id = token.json()["id"].as_str().map(String::from).unwrap_or_else(|| {
        let t = token.json()["token"].as_str().unwrap().to_string();
        t[4..12].to_string()
    });
    let revoke = call(&server, "DELETE", &format!("/api/fleet/v1/tokens/{id}"), &a, None);
    assert_eq!(revoke.status, 200, "{}", revoke.text());
    let refused = call(&server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", &[], None);
    assert_eq!(refused.status, 401);
    let unknown = call(&server, "GET", "/no/such/route/12345", &[("Authorization", admin.as_str())], None);
    assert_eq!(unknown.status, 404);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let lines = access_lines(&server);
    let find = |method: &str, route: &str| {
        lines
            .iter()
            .find(|l| l["method"] == method && l["route"] == route)
            .unwrap_or_else(|| panic!("no access line for {method} {route}: {lines:#?}"))
            .clone()
    };
    // (method, route template) -> (status, user)
    for (method, route, status, user) in [
        ("POST", "/api/fleet/v1/tokens", 200, "admin"),
        ("DELETE", "/api/fleet/v1/tokens/{id}", 200, "admin"),
        ("GET", "/api/2.0/mlflow/experiments/get", 401, "-"),
        ("GET", "-", 404, "admin"),
    ] {
        let line = find(method, route);
        assert_eq!((line["status"].as_u64(), line["user"].as_str()), (Some(status), Some(user)), "{line}");
        assert_eq!(line["client"], "127.0.0.1", "{line}");
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(line["bytes"].as_u64().unwrap() > 0, "{line}");
    }
    assert_eq!(find("DELETE", "/api/fleet/v1/tokens/{id}")["request_id"], "ops-req-1");
    assert_eq!(find("POST", "/api/fleet/v1/tokens")["bytes"].as_u64(), Some(token.body.len() as u64));
    let log = server.log_text();
    assert!(!log.contains("12345") && !log.contains(&format!("tokens/{id}")), "raw paths are never logged");
    // /health is logged too, one line per request: the probes at start-up.
    assert!(lines.iter().any(|l| l["route"] == "/health"));
}
