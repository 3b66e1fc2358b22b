//! The monitoring pages (`/monitor`, `/models/{name}/monitor`, `/alerts`)
//! over a real SQLite file through the whole server router: their empty
//! states (no versions, no traffic, no reference, no rules), user text
//! escaped, filters kept in links, and bad input as a 4xx page. The pages
//! with real telemetry are driven in Chromium (`tests/ui/monitor.mjs`).

use serde_json::json;

mod common;

use common::ui;

/// Markup a model name may hold (no slash), which every page must escape.
const XSS: &str = "<b onmouseover=x>&bold\"";

#[tokio::test]
async fn empty_states_say_what_is_missing() {
    let ui = ui();
    let name = format!("m{XSS}");
    let raw_markup = "<b onmouseover";
    ui.post_json("/api/2.0/mlflow/registered-models/create", json!({ "name": name })).await;
    let seg = percent_encode(&name);
    let page = ui.page(&format!("/models/{seg}/monitor")).await;
    assert!(page.contains("no versions yet"), "{page}");
    assert!(!page.contains(raw_markup), "the name is escaped");

    ui.post_json("/api/2.0/mlflow/model-versions/create", json!({ "name": name, "source": "mlflow-artifacts:/m/x" }))
        .await;
    let page = ui.page(&format!("/models/{seg}/monitor?grain=hour")).await;
    assert!(page.contains("No traffic in this period."), "{page}");
    assert!(page.contains("No training profile: set a baseline"), "{page}");
    assert!(page.contains("Monitoring "), "{page}");
    // The model page links here.
    let model = ui.page(&format!("/models/{seg}")).await;
    assert!(model.contains("class=\"monitor-link\""), "{model}");

    let health = ui.page("/monitor").await;
    assert!(health.contains("Fleet health") && health.contains("No model has been judged"), "{health}");
    assert!(health.contains("data drift") && health.contains("baseline"), "every check is a column");
    let alerts = ui.page("/alerts").await;
    assert!(alerts.contains("No alert rules") && alerts.contains("No deliveries yet."), "{alerts}");
}

#[tokio::test]
async fn the_health_matrix_lists_families_and_keeps_the_scope_in_links() {
    let ui = ui();
    ui.post_json("/api/fleet/v1/families", json!({ "name": "demand", "levels": ["region"] })).await;
    let page = ui.page("/monitor").await;
    assert!(page.contains("href=\"/monitor?family=demand&amp;check=data_drift#worst\""), "{page}");
    let page = ui.page("/monitor?family=demand&partition=region%3Dwest").await;
    assert!(page.contains("family demand, partition region=west"), "{page}");
    assert!(page.contains("Trends"), "{page}");
}

#[tokio::test]
async fn bad_input_is_a_4xx_page() {
    let ui = ui();
    ui.post_json("/api/2.0/mlflow/registered-models/create", json!({ "name": "m" })).await;
    ui.post_json("/api/2.0/mlflow/model-versions/create", json!({ "name": "m", "source": "mlflow-artifacts:/m/x" }))
        .await;
    let cases = [
        ("/models/nope/monitor", 404, "nope"),
        ("/models/m/monitor?version=7", 404, "7"),
        ("/models/m/monitor?version=x", 400, "x"),
        ("/models/m/monitor?grain=week", 400, "week"),
        ("/models/m/monitor?from=yesterday", 400, "from"),
        ("/models/m/monitor?from=2000&to=1000", 400, "after"),
        ("/monitor?partition=region%3Dwest", 400, "family"),
        ("/monitor?tag=nokeyvalue", 400, "tag"),
        ("/alerts?rule=x", 400, "'x'"),
        ("/alerts?rules_from=-1", 400, "rules_from"),
    ];
    for (uri, status, needle) in cases {
        let r = ui.get(uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
        assert!(r.header("content-type").starts_with("text/html"), "{uri}");
        assert!(r.text.contains(needle), "{uri} should name '{needle}': {}", r.text);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn health_from_the_store_is_counted_listed_and_trended() {
    use flotilla_store::health::{Check, CheckResult, HealthStore, HealthUpdate, Status};
    let ui = ui();
    for name in ["good", "drifted"] {
        ui.post_json("/api/2.0/mlflow/registered-models/create", json!({ "name": name })).await;
    }
    let checks = |drift: Status| {
        vec![
            CheckResult { check: Check::Traffic, status: Status::Ok, value: Some(10.0) },
            CheckResult { check: Check::DataDrift, status: drift, value: Some(0.4) },
        ]
    };
    let hour = 3_600_000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let this_hour = now / hour * hour;
    let updates = [
        HealthUpdate { model: "good".into(), checks: checks(Status::Ok) },
        HealthUpdate { model: "drifted".into(), checks: checks(Status::Ok) },
    ];
    ui.store.record_health(&updates, this_hour - 2 * hour).unwrap();
    ui.store.snapshot_health(this_hour - 2 * hour).unwrap();
    ui.store
        .record_health(&[HealthUpdate { model: "drifted".into(), checks: checks(Status::Fail) }], this_hour - hour)
        .unwrap();
    ui.store.snapshot_health(this_hour - hour).unwrap();

    let page = ui.page("/monitor").await;
    assert!(page.contains("1 fail"), "the fleet row counts the drifted model: {page}");
    let worst = page.split("class=\"nav-rows worst\"").nth(1).expect("a worst-models table");
    let first = worst.find("drifted").expect("drifted listed");
    assert!(worst.find(">good<").is_none_or(|g| g > first), "the worst first");
    // Trends: one point per hour, the table behind the plot.
    assert!(page.contains("models failing each check, per hour"), "{page}");
    let trend = page.split("class=\"trend-table\"").nth(1).expect("the trend table");
    assert_eq!(trend.split("</tbody>").next().unwrap().matches("<td class=\"nowrap\">").count(), 2, "{trend}");
}
