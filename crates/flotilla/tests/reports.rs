//! Fleet reports on a real server process (`--auth basic`): the report's
//! totals equal the fleet API's answers for the same scope (facets, model
//! listings, the alias log), for an admin and for a user who reads one
//! family; the HTML is self-contained; the CLI writes the same report from
//! the data directory and through `--server`, with CSV and Parquet tables;
//! bad input (unknown family, empty period, a period in the future, a
//! family the caller cannot read) is a 4xx with a clear message. The API's
//! `format=html` redirects to the UI's document.

use std::process::{Command, Output};

use flotilla_testkit::report::rows as table;
use flotilla_testkit::{Backend, Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const STORES: usize = 6;

fn admin(server: &TestServer) -> Client<'_> {
    Client::basic(server, "admin", ADMIN_PASSWORD)
}

/// Two families (`demand` with six stores, `fraud` with three), each store
/// two versions with an rmse; the second version is champion, the first
/// challenger in half of the stores.
fn fleet(server: &TestServer) {
    let a = admin(server);
    for (family, stores) in [("demand", STORES), ("fraud", 3)] {
        a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": family, "levels": ["store"] })));
        for round in 0..2 {
            let versions: Vec<Value> = (0..stores)
                .map(|i| {
                    let aliases: Vec<&str> = match (round, i % 2) {
                        (0, 0) => vec!["challenger"],
                        (0, _) => vec![],
                        _ => vec!["champion"],
                    };
                    json!({ "family": family, "partition": format!("store=s{i:02}"), "source": "mlflow-artifacts:/m",
                            "metrics": [["rmse", 0.1 + i as f64 / 100.0 + round as f64 / 10.0]], "aliases": aliases })
                })
                .collect();
            a.ok("POST", "/api/fleet/v1/versions/bulk", Some(json!({ "versions": versions })));
        }
    }
}

fn section<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["sections"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no {id}"))
}

fn headline(report: &Value, label: &str) -> i64 {
    let h = report["summary"].as_array().unwrap().iter().find(|h| h["label"] == label).unwrap();
    h["now"].as_i64().unwrap()
}

fn family_models(report: &Value) -> Vec<(String, i64)> {
    table(report, "inventory_families")
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect()
}

flotilla_testkit::on_each_backend!(report_totals_match_the_fleet_api_and_bad_input_is_refused);

fn report_totals_match_the_fleet_api_and_bad_input_is_refused(backend: &Backend) {
    let server = TestServer::start(
        backend.options(
            options!()
                .env("FLOTILLA_AUTH", "basic")
                .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("FLOTILLA_DEFAULT_PERMISSION", "NO_PERMISSIONS"),
        ),
    );
    fleet(&server);
    let a = admin(&server);

    // The whole fleet, as the admin: totals against the facets and listings.
    let report = a.get("/api/reports/v1/report?last=7d&format=json");
    let facets = a.get("/api/fleet/v1/facets");
    assert_eq!(headline(&report, "models in scope"), facets["total"].as_i64().unwrap());
    assert_eq!(headline(&report, "models registered"), facets["total"].as_i64().unwrap());
    let mut by_family: Vec<(String, i64)> = facets["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["value"].as_str().unwrap().to_string(), f["count"].as_i64().unwrap()))
        .collect();
    by_family.sort();
    let mut got = family_models(&report);
    got.sort();
    assert_eq!(got, by_family);
    assert_eq!(got, [("demand".to_string(), STORES as i64 + 1), ("fraud".to_string(), 4)]);
    // Versions and champions per family, against the fleet API's listings.
    let demand = table(&report, "inventory_families").iter().find(|r| r[0] == "demand").unwrap().clone();
    assert_eq!(demand[2], (2 * STORES) as i64, "versions: {demand:?}");
    let champions = a.get("/api/fleet/v1/models?family=demand&alias=champion&max_results=100");
    assert_eq!(demand[3], champions["models"].as_array().unwrap().len() as i64);
    // Alias moves: one per aliased version registered, as in the audit log.
    let log = a.get("/api/fleet/v1/audit?max_results=1000");
    let logged = log["events"].as_array().map_or(0, Vec::len) as i64;
    assert!(logged > 0);
    assert_eq!(headline(&report, "alias moves"), logged, "{}\n{log}", json!(table(&report, "promotions")));
    // Quality: champions and challengers of both families, from every member.
    let quality = table(&report, "quality");
    let demand_champion = quality.iter().find(|r| r[0] == "demand" && r[1] == "champion").unwrap();
    assert_eq!(demand_champion[2], STORES as i64);
    assert_eq!(demand_champion[3], "all");
    assert!(section(&report, "health")["tables"][0]["rows"].as_array().unwrap().len() >= 8);

    // The HTML document: self-contained, every section, a table behind each plot.
    let r = a.call("GET", "/api/reports/v1/report?family=demand&last=7d&format=html", None);
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).unwrap().1.clone();
    assert_eq!(location, "/reports/document?family=demand&last=7d&format=html");
    let html = a.page(&location);
    for id in ["summary", "inventory", "promotions", "quality", "health"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    assert!(html.contains("<svg") && html.contains("aria-label=") && html.contains("@media print"));
    assert!(!html.contains("<script") && !html.contains("src=\"") && !html.contains("href=\"/static"));
    assert!(html.len() < 2 << 20);
    // The UI page: the form, the report, a link that reproduces it.
    let page = a.page("/reports?family=demand&last=7d");
    assert!(page.contains("Link to this report") && page.contains("href=\"/reports?family=demand&amp;last=7d\""));

    // A user who reads only `fraud`: the fleet report holds only it, as their facets do.
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "bob", "password": PASSWORD })));
    let grant = json!({ "username": "bob", "resource_type": "family", "resource_id": "fraud", "permission": "READ" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    let bob = Client::basic(&server, "bob", PASSWORD);
    let theirs = bob.get("/api/reports/v1/report?last=7d&format=json");
    assert_eq!(headline(&theirs, "models in scope"), bob.get("/api/fleet/v1/facets")["total"].as_i64().unwrap());
    assert_eq!(family_models(&theirs), [("fraud".to_string(), 4)]);
    assert!(section(&theirs, "promotions")["text"][0].as_str().unwrap().contains("Not shown"));
    assert_eq!(bob.status("GET", "/api/reports/v1/report?family=demand&format=json", None), 403);
    assert_eq!(bob.status("GET", "/reports/document?family=demand", None), 403);
    assert_eq!(Client::anonymous(&server).status("GET", "/api/reports/v1/report", None), 401);

    // Bad input: a 4xx in the API's error shape with a clear message.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for (query, status, says) in [
        ("family=nope".to_string(), 404, "nope"),
        ("from=2025-01-08&to=2025-01-08".to_string(), 400, "empty"),
        ("from=2025-01-08&to=2025-01-01".to_string(), 400, "empty"),
        (format!("from={}", now + 86_400_000), 400, "future"),
        ("last=7x".to_string(), 400, "last"),
        ("partition=store=s01".to_string(), 400, "family"),
        ("format=pdf".to_string(), 400, "format"),
    ] {
        let r = a.call("GET", &format!("/api/reports/v1/report?{query}"), None);
        assert_eq!(r.status, status, "{query}: {}", r.text());
        let body = r.json();
        assert!(body["error_code"].is_string(), "{query}: {body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{query}: {body}");
    }
    assert_eq!(a.status("GET", "/reports?family=nope", None), 404);

    // The CLI, on the data directory and through the server: the same totals.
    let out = tempfile::tempdir().unwrap();
    for (through, dir) in [(false, out.path().join("local")), (true, out.path().join("remote"))] {
        let html = dir.join("report.html");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.arg("report").args(["--last", "7d", "--out"]).arg(&html).arg("--csv").arg(dir.join("csv"));
        cmd.arg("--parquet").arg(dir.join("parquet"));
        cmd.env_remove("FLOTILLA_SERVER").env_remove("FLOTILLA_DATA_DIR").env_remove("FLOTILLA_DATABASE_URL");
        std::fs::create_dir_all(&dir).unwrap();
        if through {
            cmd.args(["--server", &format!("http://{}", server.host())]);
            cmd.env("MLFLOW_TRACKING_USERNAME", "admin").env("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD);
        } else if let Some(url) = backend.database_url() {
            cmd.arg("--database").arg(url);
        } else {
            cmd.arg("--data-dir").arg(server.data_dir());
        }
        let o: Output = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read_to_string(&html).unwrap().contains("id=\"inventory\""));
        let csv = std::fs::read_to_string(dir.join("csv/inventory_families.csv")).unwrap();
        let total: i64 = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap()).sum();
        assert_eq!(total, facets["total"].as_i64().unwrap(), "{csv}");
        assert!(dir.join("parquet/quality.parquet").metadata().unwrap().len() > 100);
    }
    // The CLI's bad input: a clear message and a failure.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(["report", "--family", "nope"]);
    match backend.database_url() {
        Some(url) => cmd.arg("--database").arg(url),
        None => cmd.arg("--data-dir").arg(server.data_dir()),
    };
    let o = cmd.arg("--out").arg(out.path().join("x.html")).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    assert!(!out.path().join("x.html").exists());
}
