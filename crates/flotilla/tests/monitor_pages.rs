//! The monitoring pages on a real server process with `--auth basic`: a
//! model's monitoring page needs READ on it, and the health and alerts pages
//! list only what the caller reads (a rule on a model the user may not read
//! is not shown; one on a readable model is).

use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use serde_json::json;

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";

fn rule(name: &str, model: &str) -> serde_json::Value {
    json!({ "name": name, "scope": "model", "model": model, "check": "error_rate",
            "webhook_url": "http://127.0.0.1:9/hook", "secret": "s3cret" })
}

flotilla_testkit::on_each_backend!(pages_show_only_what_the_caller_reads);

fn pages_show_only_what_the_caller_reads(backend: &Backend) {
    let server = TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS"),
        ),
    );
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    for name in ["seen", "hidden"] {
        a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
        a.ok("POST", "/api/monitor/v1/alerts/rules", Some(rule(&format!("rule-of-{name}"), name)));
    }
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "vera", "password": PASSWORD })));
    let grant =
        json!({ "username": "vera", "resource_type": "registered_model", "resource_id": "seen", "permission": "READ" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    let vera = Client::basic(&server, "vera", PASSWORD);

    assert_eq!(vera.status("GET", "/models/seen/monitor", None), 200);
    assert_eq!(vera.status("GET", "/models/hidden/monitor", None), 403);
    assert_eq!(a.status("GET", "/models/hidden/monitor", None), 200);
    assert_ne!(Client::anonymous(&server).status("GET", "/alerts", None), 200, "a stranger is sent to sign in");

    let alerts = vera.call("GET", "/alerts", None);
    assert_eq!(alerts.status, 200);
    let text = alerts.text();
    assert!(text.contains("rule-of-seen") && !text.contains("rule-of-hidden"), "{text}");
    let admin_view = a.call("GET", "/alerts", None).text();
    assert!(admin_view.contains("rule-of-seen") && admin_view.contains("rule-of-hidden"));

    let health = vera.call("GET", "/monitor", None);
    assert_eq!(health.status, 200);
    assert!(health.text().contains("Trends need READ"), "vera reads not the whole fleet: {}", health.text());
    assert!(a.call("GET", "/monitor", None).text().contains("No history yet"));
}
