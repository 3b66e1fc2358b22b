//! The fleet API and partitioned serving over a real store: families,
//! bulk registration into partitions, V2 requests routed by partition with
//! fallback, search, facets, promotion with dry run, rollback, the audit log,
//! the OpenAPI document, and bad input answered with 4xx errors.

mod common;

use serde_json::{Value, json};

use common::{MLMODEL, Server, lightgbm_model, server};

async fn upload(s: &Server, dir: &str, value: f64) -> String {
    for (file, body) in [("MLmodel", MLMODEL.to_string()), ("model.lgb", lightgbm_model(value, value))] {
        let r = s.send("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}"), None, body).await;
        assert_eq!(r.status.as_u16(), 200);
    }
    format!("mlflow-artifacts:/{dir}")
}

async fn infer(s: &Server, model: &str, parameters: Value) -> (u16, Value) {
    let body = json!({
        "parameters": parameters,
        "inputs": [{ "name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.1, 0.2] }],
    });
    let r = s.send("POST", &format!("/v2/models/{model}/infer"), None, body.to_string()).await;
    (r.status.as_u16(), r.json())
}

/// A family `demand` (region/store) with models for the default (1.0),
/// store=1 (10.0) and region=east (5.0); store=2 exists without a model.
async fn demand_family(s: &Server) {
    let r = s.post("/api/fleet/v1/families", json!({ "name": "demand", "levels": ["region", "store"] })).await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
    let default = upload(s, "m/default", 1.0).await;
    let store1 = upload(s, "m/store1", 10.0).await;
    let east = upload(s, "m/east", 5.0).await;
    let versions = json!({ "versions": [
        { "family": "demand", "partition": "", "source": default, "metrics": [["rmse", 3.0]], "aliases": ["champion"] },
        { "family": "demand", "partition": "region=west/store=1", "source": store1, "metrics": [["rmse", 2.0]], "aliases": ["champion"] },
        { "family": "demand", "partition": [{ "key": "region", "value": "east" }], "source": east, "metrics": [["rmse", 2.5]] },
        { "family": "demand", "partition": "region=east/store=2", "source": east, "metrics": [["rmse", 9.0]] },
    ]});
    let r = s.post("/api/fleet/v1/versions/bulk", versions).await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["registered"].as_array().unwrap().len(), 4);
    // store=2's only version goes away through the plain MLflow API: it now falls back.
    let r = s
        .send(
            "DELETE",
            "/api/2.0/mlflow/model-versions/delete",
            Some("application/json"),
            json!({ "name": "demand.store=2", "version": "1" }).to_string(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
}

#[tokio::test]
async fn partitioned_requests_route_and_fall_back() {
    let s = server();
    demand_family(&s).await;
    let (status, body) = infer(&s, "demand", json!({ "partition": "store=1" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["model_name"].as_str(), body["model_version"].as_str()), (Some("demand.store=1"), Some("1")));
    assert_eq!(body["outputs"][0]["data"][0].as_f64(), Some(10.0));
    assert_eq!(body["parameters"]["fallback"], json!(false));
    // store=2 has no version: its region answers.
    let (status, body) = infer(&s, "demand", json!({ "partition": { "region": "east", "store": 2 } })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_name"].as_str(), Some("demand.region=east"));
    assert_eq!(body["parameters"], json!({ "partition": "region=east", "fallback": true }));
    assert_eq!(body["outputs"][0]["data"][0].as_f64(), Some(5.0));
    // region=west has no version of its own: the family default answers.
    let (_, body) = infer(&s, "demand", json!({ "partition": "region=west" })).await;
    assert_eq!((body["model_name"].as_str(), body["outputs"][0]["data"][0].as_f64()), (Some("demand"), Some(1.0)));
    // Without a partition the family name is an ordinary model: the default.
    let (_, body) = infer(&s, "demand", json!({})).await;
    assert_eq!(body["model_name"].as_str(), Some("demand"));
    // A store with no model of its own yet (a new store) is served by its
    // nearest ancestor that has one, and the answer says so.
    for (partition, model, answered) in [
        ("region=east/store=0007", "demand.region=east", "region=east"),
        ("region=west/store=0007", "demand", ""),
        ("region=north/store=0001", "demand", ""),
        ("store=99", "demand", ""),
    ] {
        let (status, body) = infer(&s, "demand", json!({ "partition": partition })).await;
        assert_eq!(status, 200, "{partition}: {body}");
        assert_eq!(body["model_name"].as_str(), Some(model), "{partition}");
        assert_eq!(body["parameters"], json!({ "partition": answered, "fallback": true }), "{partition}");
    }
    // Bad partitions are named, with 4xx: levels the family does not have are
    // not found, malformed or contradictory paths are client mistakes.
    for (partition, want, fragment) in [
        (json!("shelf=1"), 404, "shelf"),
        (json!("region=west/shelf=1"), 404, "not one of its levels"),
        (json!("region=west/store=2"), 400, "not under"),
        (json!("nonsense"), 400, "key=value"),
        (json!(42), 400, "partition"),
        (json!({ "store": [1] }), 400, "store"),
    ] {
        let (status, body) = infer(&s, "demand", json!({ "partition": partition })).await;
        assert_eq!(status, want, "{partition}: {body}");
        assert!(body["error"].as_str().unwrap_or_default().contains(fragment), "{partition}: {body}");
    }
    let (status, _) = infer(&s, "nofamily", json!({ "partition": "store=1" })).await;
    assert_eq!(status, 404);
    let r = s.send("POST", "/v2/models/demand/versions/1/infer", None,
        json!({ "parameters": { "partition": "store=1" }, "inputs": [{ "name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.1, 0.2] }] }).to_string()).await;
    assert_eq!(r.status.as_u16(), 400, "a version and a partition together");
    // The resolve endpoint answers the same question without running a model.
    let r = s.get("/api/fleet/v1/resolve?family=demand&partition=store%3D2").await;
    assert_eq!(r.json()["target"]["model"].as_str(), Some("demand.region=east"));
}

#[tokio::test]
async fn search_facets_and_families() {
    let s = server();
    demand_family(&s).await;
    let names = |v: &Value| {
        v["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let r = s.get("/api/fleet/v1/models?family=demand&partition=region%3Deast").await;
    assert_eq!(names(&r.json()), ["demand.region=east", "demand.store=2"]);
    let r = s.get("/api/fleet/v1/models?metric=champion%3Armse%3C2.5&order_by=-champion%3Armse").await;
    assert_eq!(names(&r.json()), ["demand.store=1"]);
    let r = s.get("/api/fleet/v1/models?contains=STORE&max_results=1").await;
    let first = r.json();
    assert_eq!(names(&first), ["demand.store=1"]);
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let r = s.get(&format!("/api/fleet/v1/models?contains=STORE&max_results=1&page_token={token}")).await;
    assert_eq!(names(&r.json()), ["demand.store=2"]);
    let r = s.get("/api/fleet/v1/facets?facet_tag=flotilla.family").await;
    let f = r.json();
    assert_eq!(f["total"], json!(5));
    assert_eq!(f["families"], json!([{ "value": "demand", "count": 5 }]));
    assert_eq!(f["aliases"], json!([{ "value": "champion", "count": 2 }]));
    assert_eq!(f["tags"][0]["values"][0], json!({ "value": "demand", "count": 5 }));
    let r = s.get("/api/fleet/v1/families").await;
    assert_eq!(r.json()["families"][0]["levels"], json!(["region", "store"]));
    assert_eq!(s.get("/api/fleet/v1/families/demand").await.json()["family"]["models"], json!(5));
    // Plain MLflow clients see the members as registered models with their tags.
    let r = s.get("/api/2.0/mlflow/registered-models/get?name=demand.store%3D1").await;
    assert_eq!(r.status.as_u16(), 200);
    // Bad searches are 400s naming the culprit, 404 for an unknown family.
    for (query, want, fragment) in [
        ("colour=red", 400, "colour"),
        ("metric=rmse", 400, "rmse"),
        ("order_by=size", 400, "size"),
        ("max_results=0", 400, "max_results"),
        ("max_results=5000", 400, "max_results"),
        ("page_token=zzz", 400, "page token"),
        ("family=demand&partition=shelf%3D1", 400, "shelf"),
        ("family=nope", 404, "nope"),
    ] {
        let r = s.get(&format!("/api/fleet/v1/models?{query}")).await;
        assert_eq!(r.status.as_u16(), want, "{query}");
        assert!(r.json()["message"].as_str().unwrap_or_default().contains(fragment), "{query}: {:?}", r.json());
    }
    let r = s.post("/api/fleet/v1/families", json!({ "name": "bad name", "levels": ["x"] })).await;
    assert_eq!(r.status.as_u16(), 400);
    let r = s.post("/api/fleet/v1/families", json!({ "name": "demand", "levels": ["x"] })).await;
    assert_eq!(r.json()["error_code"], json!("RESOURCE_ALREADY_EXISTS"));
}

#[tokio::test]
async fn promotion_rollback_and_audit() {
    let s = server();
    demand_family(&s).await;
    let src = upload(&s, "m/better", 11.0).await;
    let r = s
        .post(
            "/api/fleet/v1/versions/bulk",
            json!({ "versions": [
                { "model": "demand.store=1", "source": src, "metrics": [["rmse", 1.5]] },
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    let rule = json!({ "family": "demand", "metric": "rmse", "factor": 0.98, "promote_unaliased": false });
    let plan = s.post("/api/fleet/v1/promotions", json!({ "rule": rule, "dry_run": true })).await.json();
    assert_eq!(
        plan["report"]["moves"],
        json!([{ "model": "demand.store=1", "alias": "champion", "from": 1, "to": 2, "from_metric": 2.0, "to_metric": 1.5 }])
    );
    assert_eq!(plan["report"]["batch_id"], Value::Null);
    assert_eq!(
        infer(&s, "demand", json!({ "partition": "store=1" })).await.1["model_version"],
        json!("1"),
        "dry run changed nothing"
    );

    let r = s
        .send(
            "POST",
            "/api/fleet/v1/promotions",
            Some("application/json"),
            json!({ "rule": rule, "reason": "weekly retrain" }).to_string(),
        )
        .await;
    let batch = r.json()["report"]["batch_id"].as_i64().unwrap();
    // The move takes effect on the next request.
    assert_eq!(infer(&s, "demand", json!({ "partition": "store=1" })).await.1["model_version"], json!("2"));
    let audit = s.get(&format!("/api/fleet/v1/audit?batch={batch}")).await.json();
    assert_eq!(audit["events"][0]["reason"], json!("weekly retrain"));
    assert_eq!(audit["events"][0]["actor_verified"], json!(false), "no authentication: the actor is a claim");
    assert_eq!((audit["events"][0]["from"].as_i64(), audit["events"][0]["to"].as_i64()), (Some(1), Some(2)));

    let r = s.post(&format!("/api/fleet/v1/batches/{batch}/rollback"), json!({ "reason": "bad week" })).await;
    assert_eq!(r.status.as_u16(), 200, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(infer(&s, "demand", json!({ "partition": "store=1" })).await.1["model_version"], json!("1"));
    let again = s.post(&format!("/api/fleet/v1/batches/{batch}/rollback"), json!({})).await;
    assert_eq!((again.status.as_u16(), again.json()["error_code"].as_str()), (400, Some("INVALID_STATE")));

    // Bulk alias changes: all or nothing, conflicts named.
    let r = s
        .post(
            "/api/fleet/v1/aliases/bulk",
            json!({ "changes": [
                { "model": "demand.store=1", "alias": "challenger", "version": 2 },
                { "model": "demand.store=1", "alias": "challenger", "version": 1 },
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.json()["message"].as_str().unwrap().contains("twice"));
    let r = s
        .post(
            "/api/fleet/v1/aliases/bulk",
            json!({ "changes": [
                { "model": "demand.store=1", "alias": "challenger", "version": 2 },
                { "model": "ghost", "alias": "challenger", "version": 1 },
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.json()["message"].as_str().unwrap().contains("item 1"));
    assert_eq!(s.get("/api/fleet/v1/models?alias=challenger").await.json()["models"], json!([]), "nothing applied");

    // Malformed rules and bodies are 400s.
    for body in [
        json!({ "rule": { "family": "demand" } }),
        json!({ "rule": { "family": "demand", "metric": "rmse", "op": "~" } }),
        json!({ "rule": { "family": "demand", "metric": "rmse", "factor": 0 } }),
        json!({ "rule": { "family": "demand", "metric": "rmse", "partition": "shelf=1" } }),
        json!({ "rule": "promote everything" }),
    ] {
        let r = s.post("/api/fleet/v1/promotions", body.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", String::from_utf8_lossy(&r.bytes));
    }
    let r = s.send("POST", "/api/fleet/v1/promotions", Some("text/plain"), json!({ "rule": rule }).to_string()).await;
    assert_eq!(r.status.as_u16(), 400, "JSON only (CSRF)");
    let r = s.post("/api/fleet/v1/batches/abc/rollback", json!({})).await;
    assert_eq!(r.status.as_u16(), 400);
    let r = s
        .post(
            "/api/fleet/v1/versions/bulk",
            json!({ "versions": [{ "model": "demand", "source": "file:///etc/passwd" }] }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    let r = s.post("/api/fleet/v1/versions/bulk", json!({ "versions": [] })).await;
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let s = server();
    let r = s.get("/api/fleet/v1/openapi.json").await;
    assert_eq!(r.status.as_u16(), 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    for path in [
        "/api/fleet/v1/models",
        "/api/fleet/v1/versions",
        "/api/fleet/v1/facets",
        "/api/fleet/v1/promotions",
        "/api/fleet/v1/batches/{batch}/rollback",
        "/api/fleet/v1/audit",
        "/api/fleet/v1/audit/events",
        "/api/fleet/v1/versions/bulk",
        "/api/fleet/v1/aliases/bulk",
        "/api/fleet/v1/families",
        "/api/data/v1/datasets",
        "/api/data/v1/datasets/{name}/{digest}",
        "/api/data/v1/lineage/downstream",
        "/api/data/v1/lineage/upstream",
        "/api/data/v1/lineage/stale",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}
