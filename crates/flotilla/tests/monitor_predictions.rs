//! Predictions and labels from elsewhere on a real server (`--auth basic`):
//! JSON lines and Parquet land in the windows their timestamps fall in,
//! labels join by id into performance per window (regression and
//! classification), and every bad input is a 4xx that keeps nothing.

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use flotilla_testkit::{Reply, Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn post(server: &TestServer, c: &Client<'_>, path: &str, media: &str, body: &[u8]) -> Reply {
    let mut headers = vec![("Content-Type", media)];
    if let Some(a) = c.auth.as_deref() {
        headers.push(("Authorization", a));
    }
    server.request("POST", path, &headers, body)
}

fn lines(rows: &[Value]) -> Vec<u8> {
    rows.iter().map(|r| format!("{r}\n")).collect::<String>().into_bytes()
}

fn parquet(ids: &[&str], f0: &[f64], prediction: &[f64], timestamp: &[i64]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("f0", DataType::Float64, true),
        Field::new("prediction", DataType::Float64, false),
        Field::new("timestamp", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(Float64Array::from(f0.to_vec())),
            Arc::new(Float64Array::from(prediction.to_vec())),
            Arc::new(Int64Array::from(timestamp.to_vec())),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn setup() -> TestServer {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", "READ"),
    );
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    for name in ["price", "churn"] {
        a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name })));
        a.ok(
            "POST",
            "/api/2.0/mlflow/model-versions/create",
            Some(json!({ "name": name, "source": format!("mlflow-artifacts:/{name}") })),
        );
    }
    server
}

fn hour_windows(c: &Client<'_>, model: &str) -> Vec<Value> {
    let from = now_ms() - 3 * 24 * HOUR;
    c.get(&format!("/api/monitor/v1/models/{model}/telemetry?version=1&grain=hour&from={from}"))["windows"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn regression_predictions_in_json_lines_and_parquet_join_their_labels() {
    let server = setup();
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    let path = "/api/monitor/v1/models/price/versions/1/predictions";
    let now = now_ms();
    let old = now - 50 * HOUR; // past the base windows' 2 days: its hour and day only
    let rows = [
        json!({ "id": "a", "f0": 1.0, "f1": 2.0, "prediction": 10.0 }),
        json!({ "id": "b", "f0": 3.0, "f1": "NaN", "prediction": 20.0, "timestamp": now - 1000 }),
        json!({ "f0": null, "f1": 4.0, "prediction": 30.0 }),
        json!({ "id": "c", "features": { "f0": 5.0, "f1": 6.0 }, "prediction": 40.0, "timestamp": old }),
    ];
    let r = post(&server, &a, path, "application/x-ndjson", &lines(&rows));
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!((answer["rows"].as_u64(), answer["kept_for_labels"].as_u64()), (Some(4), Some(3)), "{answer}");
    assert_eq!((answer["nans"].as_u64(), answer["nulls"].as_u64()), (Some(1), Some(1)), "{answer}");

    // Parquet: features by name, ids and timestamps as columns.
    let pq = parquet(&["d", "e"], &[7.0, f64::NAN], &[50.0, 60.0], &[now, now]);
    let r = post(&server, &a, path, "application/vnd.apache.parquet", &pq);
    assert_eq!(r.status, 400, "f1 missing from the Parquet rows: {}", r.text());
    assert!(r.text().contains("row 1"), "{}", r.text());

    let hours = hour_windows(&a, "price");
    assert_eq!(hours.len(), 2, "the old row's hour and now's: {hours:?}");
    assert_eq!(hours.iter().map(|w| w["rows"].as_u64().unwrap()).sum::<u64>(), 4);
    let recent = hours.last().unwrap();
    let names: Vec<&str> = recent["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["f0", "f1", "prediction"]);
    assert_eq!(recent["features"][2]["mean"], 20.0);

    // Labels: three known ids, one unknown, one label twice (claimed once).
    let labels = [
        json!({ "id": "a", "label": 12.0 }),
        json!({ "id": "b", "label": 16.0 }),
        json!({ "id": "c", "label": 40.0 }),
        json!({ "id": "zz", "label": 1.0 }),
    ];
    let labels_path = "/api/monitor/v1/models/price/versions/1/labels";
    let r = post(&server, &a, labels_path, "application/x-ndjson", &lines(&labels));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!((j["joined"].as_u64(), j["unknown_ids"].as_u64()), (Some(3), Some(1)), "{j}");
    assert_eq!(j["unknown_sample"], json!(["zz"]));
    let again =
        post(&server, &a, labels_path, "application/json", json!([{ "id": "a", "label": 0.0 }]).to_string().as_bytes());
    assert_eq!(again.json()["unknown_ids"], 1, "a label joins once");

    let hours = hour_windows(&a, "price");
    let recent = &hours.last().unwrap()["performance"];
    // errors 2 and 4: RMSE √10, MAE 3.
    assert!((recent["rmse"].as_f64().unwrap() - 10f64.sqrt()).abs() < 1e-9, "{recent}");
    assert!((recent["mae"].as_f64().unwrap() - 3.0).abs() < 1e-9, "{recent}");
    assert_eq!(hours[0]["performance"]["mae"], 0.0, "the old window's own label");

    // A Parquet post with the version's columns.
    let schema_ok = {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f0", DataType::Float64, true),
            Field::new("f1", DataType::Float64, true),
            Field::new("prediction", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Float64Array::from(vec![1.0, 2.0])),
                Arc::new(Float64Array::from(vec![f64::INFINITY, 2.0])),
                Arc::new(Float64Array::from(vec![5.0, 6.0])),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    };
    let r = post(&server, &a, path, "application/vnd.apache.parquet", &schema_ok);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["rows"].as_u64(), r.json()["nans"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn classification_labels_give_accuracy_log_loss_and_auc() {
    let server = setup();
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    let scores = [(0.9, 1), (0.8, 1), (0.3, 0), (0.6, 0), (0.2, 0), (0.7, 1)];
    let rows: Vec<Value> =
        scores.iter().enumerate().map(|(i, (s, _))| json!({ "id": i, "x": i, "prediction": s })).collect();
    let r =
        post(&server, &a, "/api/monitor/v1/models/churn/versions/1/predictions", "application/x-ndjson", &lines(&rows));
    assert_eq!(r.status, 200, "{}", r.text());
    let labels: Vec<Value> =
        scores.iter().enumerate().map(|(i, (_, y))| json!({ "id": i.to_string(), "label": y })).collect();
    let r = post(
        &server,
        &a,
        "/api/monitor/v1/models/churn/versions/1/labels?task=classification",
        "application/x-ndjson",
        &lines(&labels),
    );
    assert_eq!(r.json()["joined"], 6, "{}", r.text());
    let hours = hour_windows(&a, "churn");
    let p = &hours[0]["performance"];
    assert!((p["accuracy"].as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-9, "{p}");
    // Positives 0.9, 0.8, 0.7 against negatives 0.3, 0.6, 0.2: every pair ordered.
    assert_eq!(p["roc_auc"], 1.0, "{p}");
    let expected: f64 =
        scores.iter().map(|(s, y)| if *y == 1 { -f64::ln(*s) } else { -f64::ln(1.0 - s) }).sum::<f64>() / 6.0;
    assert!((p["log_loss"].as_f64().unwrap() - expected).abs() < 1e-9, "{p}");
}

#[test]
fn bad_input_is_answered_and_keeps_nothing() {
    let server = setup();
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    a.ok("POST", "/api/2.0/mlflow/users/create", Some(json!({ "username": "rea", "password": PASSWORD })));
    let reader = Client::basic(&server, "rea", PASSWORD);
    let ok_row = lines(&[json!({ "f0": 1.0, "prediction": 1.0 })]);
    let p = |model: &str, v: &str| format!("/api/monitor/v1/models/{model}/versions/{v}/predictions");
    let future = now_ms() + 24 * HOUR;
    for (path, media, body, status, says) in [
        (p("nobody", "1"), "application/x-ndjson", ok_row.clone(), 404, "nobody"),
        (p("price", "9"), "application/x-ndjson", ok_row.clone(), 404, "version=9"),
        (p("price", "x"), "application/x-ndjson", ok_row.clone(), 400, "x"),
        (p("price", "1"), "text/csv", ok_row.clone(), 415, "text/csv"),
        (p("price", "1"), "application/x-ndjson", b"{\"f0\": 1}\n".to_vec(), 400, "no prediction"),
        (p("price", "1"), "application/x-ndjson", b"[1,2]\n".to_vec(), 400, "row 1"),
        (p("price", "1"), "application/x-ndjson", b"{oops\n".to_vec(), 400, "line 1"),
        (
            p("price", "1"),
            "application/x-ndjson",
            lines(&[json!({ "f0": 1.0, "prediction": 1.0 }), json!({ "f0": 1.0, "f1": 2.0, "prediction": 1.0 })]),
            400,
            "row 2 has 2 features",
        ),
        (
            p("price", "1"),
            "application/x-ndjson",
            lines(&[json!({ "f0": 1.0, "prediction": 1.0, "timestamp": future })]),
            400,
            "future",
        ),
        (p("price", "1"), "application/vnd.apache.parquet", b"PAR1 not really".to_vec(), 400, "Parquet"),
    ] {
        let r = post(&server, &a, &path, media, &body);
        assert_eq!(r.status, status, "{path} {media}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {}", r.text());
        assert!(r.json()["error_code"].is_string(), "MLflow's error shape: {}", r.text());
    }
    assert!(hour_windows(&a, "price").is_empty(), "nothing kept");
    // EDIT on the model to write; READ is not enough.
    let r = post(&server, &reader, &p("price", "1"), "application/x-ndjson", &ok_row);
    assert_eq!(r.status, 403, "{}", r.text());
    let labels = "/api/monitor/v1/models/price/versions/1/labels";
    assert_eq!(post(&server, &reader, labels, "application/json", b"[]").status, 403);
    let grant =
        json!({ "username": "rea", "resource_type": "registered_model", "resource_id": "price", "permission": "EDIT" });
    a.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(grant));
    assert_eq!(post(&server, &reader, &p("price", "1"), "application/x-ndjson", &ok_row).status, 200);
    // Bad labels.
    for (body, status) in [(&b"[{\"label\": 1}]"[..], 400), (b"{bad", 400), (b"[]", 200)] {
        let r = post(&server, &reader, labels, "application/json", body);
        assert_eq!(r.status, status, "{}", r.text());
    }
    let r = post(&server, &a, &format!("{labels}?task=ranking"), "application/json", b"[]");
    assert_eq!(r.status, 400, "{}", r.text());
}
