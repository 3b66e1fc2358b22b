//! Scheduled reports on a real server process (`--auth basic`): a
//! `--report 'daily: family=demand webhook=…'` rule with the period
//! injected (`--report-every 1s`) makes a report, whose HTML is in the
//! artifact store and served at its link, and a local receiver gets the
//! link signed (HMAC-SHA256, as alert deliveries are); rules made through
//! `/api/reports/v1/schedules` make their first report at once. Who may
//! make, see and delete rules and their reports is checked, and bad input
//! is a 4xx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const SECRET: &str = "report-secret";

type Received = (Vec<(String, String)>, String);

/// A tiny HTTP/1.1 receiver answering 200 to everything, recording headers and bodies.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len: usize =
                headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push((headers, String::from_utf8_lossy(&body).into()));
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (base, got)
}

fn until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signed(headers: &[(String, String)], body: &str) -> bool {
    let Some((_, sig)) = headers.iter().find(|(k, _)| k == "x-flotilla-signature") else { return false };
    let (Some(t), Some(v1)) =
        (sig.split(',').find_map(|p| p.strip_prefix("t=")), sig.split(',').find_map(|p| p.strip_prefix("v1=")))
    else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    hex == v1
}

flotilla_testkit::on_each_backend!(a_scheduled_report_is_stored_listed_and_its_link_sent);

fn a_scheduled_report_is_stored_listed_and_its_link_sent(backend: &Backend) {
    let (hook, got) = receiver();
    let server = TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS")
                .env("FLOTILLA_REPORT_WEBHOOK_SECRET", SECRET)
                .arg("--report")
                .arg(format!("daily: family=demand webhook={hook}/reports"))
                .arg("--report-every")
                .arg("1s"),
        ),
    );
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "demand", "levels": ["store"] })));
    let versions: Vec<Value> = (0..3)
        .map(|i| {
            json!({ "family": "demand", "partition": format!("store=s{i}"), "source": "mlflow-artifacts:/m",
                         "metrics": [["rmse", 0.1]], "aliases": ["champion"] })
        })
        .collect();
    a.ok("POST", "/api/fleet/v1/versions/bulk", Some(json!({ "versions": versions })));

    // The rule fires within seconds; the webhook gets the link, signed.
    let (headers, body) = until("a signed report webhook", Duration::from_secs(20), || {
        got.lock().unwrap().iter().find(|(_, b)| b.contains("\"report\"") && !b.contains("failed")).cloned()
    });
    assert!(signed(&headers, &body), "bad signature: {headers:?}");
    let note: Value = serde_json::from_str(&body).unwrap();
    let link = note["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("http://{}/reports/scheduled/", server.host())), "{note}");
    assert_eq!(note["query"], "family=demand");

    // The file is in the artifact store, and its link serves it, sandboxed.
    let path = note["artifact_path"].as_str().unwrap();
    assert!(path.starts_with("reports/schedule-"), "{note}");
    let file = server.data_dir().join("artifacts").join(path);
    let stored = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(stored.contains("id=\"inventory\"") && stored.contains("family demand"));
    assert_eq!(note["bytes"].as_u64(), Some(stored.len() as u64));
    let local = link.split_once(&server.host()).unwrap().1;
    let r = a.call("GET", local, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), stored);
    let csp = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-security-policy")).unwrap();
    assert!(csp.1.contains("sandbox"), "{csp:?}");

    // Listed in the API (with the webhook's answer) and on the reports page.
    let run = until("the webhook's answer recorded", Duration::from_secs(10), || {
        let runs = a.get("/api/reports/v1/runs");
        runs["runs"].as_array().unwrap().iter().find(|r| r["notified"] == "delivered 200").cloned()
    });
    assert_eq!(run["family"], "demand");
    let schedules = a.get("/api/reports/v1/schedules");
    let flag = &schedules["schedules"][0];
    assert_eq!((flag["origin"].as_str(), flag["every"].as_str()), (Some("flag"), Some("daily")), "{schedules}");
    assert!(flag.get("secret").is_none(), "the secret is never shown");
    let page = a.page("/reports");
    assert!(page.contains("Scheduled reports") && page.contains(local), "{page}");

    // Who may: READ on the family sees its reports; nothing else sees none.
    for user in ["bob", "carol"] {
        a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": user, "password": PASSWORD })));
    }
    let grant = json!({ "username": "bob", "resource_type": "family", "resource_id": "demand", "permission": "READ" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    let (bob, carol) = (Client::basic(&server, "bob", PASSWORD), Client::basic(&server, "carol", PASSWORD));
    assert!(!bob.get("/api/reports/v1/runs")["runs"].as_array().unwrap().is_empty());
    assert_eq!(bob.call("GET", local, None).status, 200);
    assert!(carol.get("/api/reports/v1/runs")["runs"].as_array().unwrap().is_empty());
    assert!(carol.get("/api/reports/v1/schedules")["schedules"].as_array().unwrap().is_empty());
    assert_eq!(carol.call("GET", local, None).status, 403);
    assert!(!carol.page("/reports").contains(local));
    assert_eq!(Client::anonymous(&server).status("GET", "/api/reports/v1/runs", None), 401);
    let id = flag["id"].as_i64().unwrap();
    assert_eq!(carol.status("GET", &format!("/api/reports/v1/schedules/{id}"), None), 403);
    assert_eq!(bob.status("DELETE", &format!("/api/reports/v1/schedules/{id}"), None), 403);
    // Making a rule needs MANAGE on the family; fleet rules are an admin's.
    let rule = |name: &str, family: &str| json!({ "name": name, "every": "weekly", "family": family });
    assert_eq!(bob.status("POST", "/api/reports/v1/schedules", Some(rule("b", "demand"))), 403);
    assert_eq!(bob.status("POST", "/api/reports/v1/schedules", Some(rule("b", ""))), 403);

    // An admin's fleet rule through the API: its first report is made at once.
    let made = a.ok("POST", "/api/reports/v1/schedules", Some(rule("fleet weekly", "")));
    let fleet_id = made["schedule"]["id"].as_i64().unwrap();
    let fleet_run = until("the API rule's first report", Duration::from_secs(20), || {
        let runs = a.get(&format!("/api/reports/v1/runs?schedule={fleet_id}"));
        runs["runs"].as_array().unwrap().first().cloned()
    });
    assert!(fleet_run["error"].is_null(), "{fleet_run}");
    assert_eq!(
        bob.call("GET", fleet_run["link"].as_str().unwrap(), None).status,
        403,
        "the fleet's report is an admin's"
    );
    assert_eq!(a.call("GET", fleet_run["link"].as_str().unwrap(), None).status, 200);

    // Bad input: 4xx with a clear message, nothing kept.
    for (body, status, says) in [
        (json!({ "name": "x", "every": "hourly" }), 400, "daily"),
        (json!({ "name": "x", "every": "weekly", "family": "nope" }), 404, "nope"),
        (json!({ "name": "x", "every": "weekly", "partition": "store=s1" }), 400, "family"),
        (json!({ "name": "x", "every": "weekly", "webhook_url": "ftp://h", "secret": "s" }), 400, "webhook_url"),
        (json!({ "name": "x", "every": "weekly", "webhook_url": "http://h" }), 400, "secret"),
        (json!({ "name": "x", "every": "weekly", "colour": "red" }), 400, "colour"),
        (json!({ "name": "fleet weekly", "every": "weekly" }), 400, "already exists"),
    ] {
        let r = a.call("POST", "/api/reports/v1/schedules", Some(body.clone()));
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.text().contains(says), "{body}: {}", r.text());
    }
    assert_eq!(a.status("GET", "/api/reports/v1/schedules/abc", None), 400);
    assert_eq!(a.status("GET", "/api/reports/v1/schedules/999", None), 404);
    assert_eq!(a.status("GET", "/reports/scheduled/999", None), 404);
    assert_eq!(a.status("GET", "/api/reports/v1/runs?colour=red", None), 400);
    assert_eq!(a.get("/api/reports/v1/schedules")["schedules"].as_array().unwrap().len(), 2);
    a.ok("DELETE", &format!("/api/reports/v1/schedules/{fleet_id}"), None);
    assert_eq!(a.status("GET", &format!("/api/reports/v1/schedules/{fleet_id}"), None), 404);
    // Its reports stay listed and readable.
    assert_eq!(a.call("GET", fleet_run["link"].as_str().unwrap(), None).status, 200);
}
