//! Version search through the fleet API: filters, sorts and keyset pages
//! over HTTP, and bad parameters answered with a 4xx naming the culprit.

mod common;

use serde_json::{Value, json};

use common::{Server, server};

/// Family `demand` (region/store): store=1 with v1 (rmse 3, champion) and
/// v2 (rmse 2); store=2 in region east with v1 (rmse 9, champion, tagged).
async fn demand(s: &Server) {
    let r = s.post("/api/fleet/v1/families", json!({ "name": "demand", "levels": ["region", "store"] })).await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
    let versions = json!({ "versions": [
        { "family": "demand", "partition": "region=west/store=1", "source": "mlflow-artifacts:/m/1", "metrics": [["rmse", 3.0]], "aliases": ["champion"] },
        { "family": "demand", "partition": "region=west/store=1", "source": "mlflow-artifacts:/m/1b", "metrics": [["rmse", 2.0]] },
        { "family": "demand", "partition": "region=east/store=2", "source": "mlflow-artifacts:/m/2", "metrics": [["rmse", 9.0]],
          "aliases": ["champion"], "tags": [{ "key": "validated", "value": "yes" }] },
    ]});
    let r = s.post("/api/fleet/v1/versions/bulk", versions).await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
}

fn listed(body: &Value) -> Vec<String> {
    body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{}/{}", v["model"].as_str().unwrap(), v["version"]))
        .collect()
}

#[tokio::test]
async fn versions_filter_sort_and_page() {
    let s = server();
    demand(&s).await;
    let table = [
        ("", vec!["demand.store=1/1", "demand.store=1/2", "demand.store=2/1"]),
        ("family=demand&partition=region%3Deast", vec!["demand.store=2/1"]),
        ("prefix=demand.store%3D1", vec!["demand.store=1/1", "demand.store=1/2"]),
        ("alias=champion&metric=rmse%3C5", vec!["demand.store=1/1"]),
        ("version_tag=validated%3Dyes", vec!["demand.store=2/1"]),
        (
            "metric=rmse%3E%3D2&order_by=-metric%3Armse",
            vec!["demand.store=2/1", "demand.store=1/1", "demand.store=1/2"],
        ),
        ("created_after=0&order_by=-version", vec!["demand.store=2/1", "demand.store=1/2", "demand.store=1/1"]),
        ("created_before=1", vec![]),
    ];
    for (query, want) in table {
        let r = s.get(&format!("/api/fleet/v1/versions?{query}")).await;
        assert_eq!(r.status.as_u16(), 200, "{query}: {}", String::from_utf8_lossy(&r.bytes));
        assert_eq!(listed(&r.json()), want, "{query}");
    }
    // Keyset pages with an opaque token, newest first.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let r = s.get(&format!("/api/fleet/v1/versions?order_by=-created&max_results=1&page_token={token}")).await;
        let body = r.json();
        seen.extend(listed(&body));
        match body["next_page_token"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    let v = &s.get("/api/fleet/v1/versions?prefix=demand.store%3D2").await.json()["versions"][0];
    assert_eq!((v["family"].as_str(), v["partition"].as_str()), (Some("demand"), Some("region=east/store=2")));
    assert_eq!((v["aliases"].clone(), v["metrics"].clone()), (json!(["champion"]), json!([["rmse", 9.0]])));
}

#[tokio::test]
async fn bad_version_searches_name_the_culprit() {
    let s = server();
    demand(&s).await;
    for (query, status, culprit) in [
        ("colour=red", 400, "colour"),
        ("contains=store", 400, "contains"),
        ("metric=rmse", 400, "rmse"),
        ("metric=champion%3Armse%3C1", 400, "champion:rmse"),
        ("order_by=size", 400, "size"),
        ("tag=owner", 400, "owner"),
        ("max_results=0", 400, "max_results"),
        ("max_results=ten", 400, "max_results"),
        ("created_after=yesterday", 400, "created_after"),
        ("page_token=garbage", 400, "garbage"),
        ("alias=not%20an%20alias", 400, "alias"),
        ("family=nope", 404, "nope"),
        ("family=demand&partition=shelf%3D1", 400, "shelf"),
    ] {
        let r = s.get(&format!("/api/fleet/v1/versions?{query}")).await;
        assert_eq!(r.status.as_u16(), status, "{query}: {}", String::from_utf8_lossy(&r.bytes));
        let message = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(culprit), "{query}: {message}");
    }
}
