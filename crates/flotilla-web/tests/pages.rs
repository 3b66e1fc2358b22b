//! The web UI over a real SQLite file and artifact directory, driven
//! request by request through the whole server router: every page renders
//! from data made through the MLflow and fleet APIs, user text is escaped,
//! forms need their CSRF token, artifacts download as attachments, and bad
//! input is a 4xx page.

use serde_json::{Value, json};

mod common;

use common::{Ui, ui};

const XSS: &str = "<script>alert(1)</script>";

/// A family `demand` (region/store) with three stores in two regions, each
/// with two versions and a champion; a tag holding markup; an experiment
/// whose run has a metric history, a dataset and artifacts.
async fn fleet(ui: &Ui) -> String {
    ui.post_json("/api/fleet/v1/families", json!({ "name": "demand", "levels": ["region", "store"] })).await;
    let mut versions = Vec::new();
    for (path, rmse) in
        [("region=west/store=0001", 2.0), ("region=west/store=0002", 4.0), ("region=east/store=0003", 3.0)]
    {
        for (i, factor) in [1.2, 1.0].into_iter().enumerate() {
            let mut v = json!({ "family": "demand", "partition": path, "source": "mlflow-artifacts:/m/x",
                                 "metrics": [["val_rmse", rmse * factor], ["mape", 0.1 * factor]] });
            if i == 1 {
                v["aliases"] = json!(["champion"]);
            }
            versions.push(v);
        }
    }
    versions.push(
        json!({ "family": "demand", "partition": "", "source": "mlflow-artifacts:/m/x", "aliases": ["champion"] }),
    );
    ui.post_json("/api/fleet/v1/versions/bulk", json!({ "versions": versions })).await;
    ui.post_json(
        "/api/2.0/mlflow/registered-models/set-tag",
        json!({ "name": "demand.store=0001", "key": "owner", "value": XSS }),
    )
    .await;

    let exp = ui.post_json("/api/2.0/mlflow/experiments/create", json!({ "name": format!("exp {XSS}") })).await;
    let exp_id = exp.json()["experiment_id"].as_str().unwrap().to_string();
    let run =
        ui.post_json("/api/2.0/mlflow/runs/create", json!({ "experiment_id": exp_id, "run_name": "train" })).await;
    let run_id = run.json()["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let metrics: Vec<Value> = (0..40)
        .map(|s| json!({ "key": "loss", "value": 1.0 / (s as f64 + 1.0), "timestamp": 1000 + s, "step": s }))
        .collect();
    ui.post_json(
        "/api/2.0/mlflow/runs/log-batch",
        json!({ "run_id": run_id, "metrics": metrics, "params": [{ "key": "alpha", "value": XSS }] }),
    )
    .await;
    ui.post_json(
        "/api/2.0/mlflow/runs/log-inputs",
        json!({ "run_id": run_id, "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "training" }],
            "dataset": { "name": "sales-2026", "digest": "abc123", "source_type": "local", "source": "{}" } }] }),
    )
    .await;
    let artifact_uri = run.json()["run"]["info"]["artifact_uri"].as_str().unwrap().to_string();
    let root = artifact_uri.trim_start_matches("mlflow-artifacts:/");
    for (file, body) in [("report/page.html", format!("<html>{XSS}</html>")), ("model/MLmodel", "flavors: {}\n".into())]
    {
        let r = ui.send("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{root}/{file}"), &[], body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // The champion of store=0001 registered from the run, so its data shows on the model page.
    let v = ui
        .post_json(
            "/api/2.0/mlflow/model-versions/create",
            json!({ "name": "demand.store=0001", "source": "mlflow-artifacts:/m/x", "run_id": run_id }),
        )
        .await;
    let version = v.json()["model_version"]["version"].as_str().unwrap().to_string();
    ui.post_json(
        "/api/2.0/mlflow/registered-models/alias",
        json!({ "name": "demand.store=0001", "alias": "challenger", "version": version }),
    )
    .await;
    run_id
}

#[tokio::test]
async fn every_page_renders_from_real_data_with_user_text_escaped() {
    let ui = ui();
    let run_id = fleet(&ui).await;

    let home = ui.page("/").await;
    assert!(home.contains("demand") && home.contains("champion"), "{home}");
    assert!(home.contains("Recent alias changes"));

    let search = ui.page("/models?family=demand&order_by=-champion:val_rmse").await;
    // Sorted by the champion's metric, worst first, with the values shown.
    let (s2, s3, s1) =
        (search.find("store=0002").unwrap(), search.find("store=0003").unwrap(), search.find("store=0001").unwrap());
    assert!(s2 < s3 && s3 < s1, "{search}");
    assert!(search.contains(">4<") && search.contains(">3<"), "metric column: {search}");
    assert!(search.contains("models match"));
    let fragment = ui.page("/models?contains=0003&fragment=results").await;
    assert!(fragment.contains("demand.store=0003") && !fragment.contains("store=0002"));
    assert!(!fragment.contains("<html"), "a fragment is not a whole page");

    let family = ui.page("/families/demand").await;
    assert!(family.contains("region=west") && family.contains("region=east"), "top level lists regions");
    assert!(!family.contains("demand.store=0001"), "stores are one level down");
    let west = ui.page("/families/demand?path=region%3Dwest&order_by=-champion:val_rmse").await;
    assert!(west.contains("demand.store=0002") && !west.contains("demand.store=0003"));
    assert!(west.find("store=0002").unwrap() < west.find("store=0001").unwrap());
    assert!(west.contains("class=\"chart histogram\""), "distribution plot");
    assert!(west.contains("served by"));

    let model = ui.page("/models/demand.store%3D0001").await;
    assert!(model.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !model.contains(XSS), "tag escaped");
    assert!(model.contains("sales-2026"), "datasets of the aliased versions' runs");
    assert!(model.contains(&format!("/runs/{run_id}")), "version links to its run");
    assert!(model.contains("Versions over time") && model.contains("line-chart"));
    assert!(model.contains("name=\"csrf\""), "alias form carries the token");

    let compare = ui.page("/models/demand.store%3D0001/compare?v=1&v=2").await;
    assert!(compare.contains("val_rmse") && compare.contains("2.4") && compare.contains("class=\"chart bars\""));

    assert!(ui.page("/families").await.contains("region › store"));
    let experiments = ui.page("/experiments").await;
    assert!(experiments.contains("exp &lt;script&gt;") && !experiments.contains(XSS));
    let run = ui.page(&format!("/runs/{run_id}")).await;
    assert!(run.contains("data-metric=\"loss\"") && run.contains("<polyline"), "metric history plotted");
    assert!(run.contains("report/") && run.contains("sales-2026") && !run.contains(XSS));
    let report = ui.page(&format!("/runs/{run_id}?path=report")).await;
    assert!(report.contains(&format!("/runs/{run_id}/artifacts/report/page.html")));
    let audit = ui.page("/audit?model=demand.store%3D0001").await;
    assert!(audit.contains("challenger") && audit.contains("bulk"));
}

#[tokio::test]
async fn artifacts_download_as_attachments_inside_the_run_only() {
    let ui = ui();
    let run_id = fleet(&ui).await;
    let r = ui.get(&format!("/runs/{run_id}/artifacts/report/page.html")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, format!("<html>{XSS}</html>"));
    assert_eq!(r.header("content-type"), "application/octet-stream");
    assert_eq!(r.header("content-disposition"), "attachment; filename=\"page.html\"");
    assert!(r.header("content-security-policy").starts_with("sandbox"));
    for bad in ["..%2F..%2Fetc%2Fpasswd", "report/..%2F..%2F..%2Fx", "%2Fetc%2Fpasswd", "report%5C..%5Cx"] {
        let r = ui.get(&format!("/runs/{run_id}/artifacts/{bad}")).await;
        assert!((400..500).contains(&r.status), "{bad}: {}", r.status);
    }
    assert_eq!(ui.get(&format!("/runs/{run_id}/artifacts/missing.txt")).await.status, 404);
}

/// The value of the page's hidden `csrf` field.
fn form_token(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn alias_forms_need_the_session_token() {
    let ui = ui();
    fleet(&ui).await;
    let first = ui.get("/models/demand.store%3D0002").await;
    let cookie = first.header("set-cookie").split(';').next().unwrap().to_string();
    let nonce = cookie.split('=').nth(1).unwrap().to_string();
    let token = form_token(&first.text);
    assert_ne!(token, nonce, "the form's token is derived from the cookie, not a copy of it");
    let uri = "/models/demand.store%3D0002/aliases";
    let form = |t: &str| format!("csrf={t}&alias=champion&version=1&reason=rollback+test");
    let ct = ("content-type", "application/x-www-form-urlencoded");

    let no_cookie = ui.send("POST", uri, &[ct], form(&token)).await;
    assert_eq!(no_cookie.status, 403);
    let wrong = ui.send("POST", uri, &[ct, ("cookie", &cookie)], form("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(wrong.status, 403);
    let foreign = ui
        .send(
            "POST",
            uri,
            &[ct, ("cookie", &cookie), ("host", "127.0.0.1"), ("origin", "http://evil.example")],
            form(&token),
        )
        .await;
    assert_eq!(foreign.status, 403);
    // Origin `null` (a sandboxed frame, a data: page) is not this host either.
    let opaque = ui.send("POST", uri, &[ct, ("cookie", &cookie), ("origin", "null")], form(&token)).await;
    assert_eq!(opaque.status, 403);
    // An attacker who plants a cookie of their choosing and submits the same
    // value (the classic double-submit bypass) is refused: only the server's
    // key makes a token for a nonce.
    let planted = "flotilla_csrf=0123456789abcdef0123456789abcdef";
    let r = ui.send("POST", uri, &[ct, ("cookie", planted)], form("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(r.status, 403);
    let champion = ui.get("/api/2.0/mlflow/registered-models/alias?name=demand.store%3D0002&alias=champion").await;
    assert_eq!(champion.json()["model_version"]["version"], "2", "refused forms changed nothing");

    let ok = ui.send("POST", uri, &[ct, ("cookie", &cookie)], form(&token)).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.header("location"), "/models/demand.store=0002");
    let champion = ui.get("/api/2.0/mlflow/registered-models/alias?name=demand.store%3D0002&alias=champion").await;
    assert_eq!(champion.json()["model_version"]["version"], "1");
    let audit = ui.page("/audit?model=demand.store%3D0002").await;
    assert!(audit.contains("web") && audit.contains("rollback test"), "the change is audited with who and why");

    // A batch rolled back from the audit page puts the alias back.
    let batch =
        ui.get("/api/fleet/v1/audit?model=demand.store%3D0002").await.json()["events"][0]["batch_id"].as_i64().unwrap();
    let r = ui
        .send(
            "POST",
            &format!("/audit/batches/{batch}/rollback"),
            &[ct, ("cookie", &cookie)],
            format!("csrf={token}&reason=undo"),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let champion = ui.get("/api/2.0/mlflow/registered-models/alias?name=demand.store%3D0002&alias=champion").await;
    assert_eq!(champion.json()["model_version"]["version"], "2");
}

#[tokio::test]
async fn bad_input_is_a_4xx_page_naming_the_culprit() {
    let ui = ui();
    fleet(&ui).await;
    let cases = [
        ("/models?colour=red", 400, "colour"),
        ("/models?metric=rmse", 400, "metric filter"),
        ("/models?order_by=size", 400, "size"),
        ("/models?page_token=garbage", 400, "token"),
        ("/families/nope", 404, "nope"),
        ("/families/demand?path=a%20b", 400, "a b"),
        ("/families/demand?path=colour%3Dred", 400, "colour"),
        ("/models/nope", 404, "nope"),
        ("/models/demand.store%3D0001/compare", 400, "at least one version"),
        ("/models/demand.store%3D0001/compare?v=x", 400, "'x'"),
        ("/runs/0123456789abcdef0123456789abcdef", 404, "0123456789abcdef"),
        ("/audit?batch=x", 400, "'x'"),
        ("/experiments/999999", 404, "999999"),
    ];
    for (uri, status, needle) in cases {
        let r = ui.get(uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
        assert!(r.header("content-type").starts_with("text/html"), "{uri}");
        assert!(r.text.contains(needle), "{uri} should name '{needle}': {}", r.text);
    }
}

#[tokio::test]
async fn forms_submitted_without_javascript_ignore_empty_fields() {
    let ui = ui();
    fleet(&ui).await;
    let page = ui.page("/models?contains=0003&family=&partition=&alias=&metric=&order_by=name").await;
    assert!(page.contains("demand.store=0003") && !page.contains("demand.store=0002"));
    // The pager and facet links carry only the filters in use.
    assert!(!page.contains("metric=&amp;"));
}
