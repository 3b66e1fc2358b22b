//! Drift against a traffic baseline on a real server process (issue 15,
//! point 3: "a baseline set explicitly … a past window of traffic"):
//! predictions posted to version 1 over a past day and to version 2 since,
//! all binned against the training profile found through lineage; once the
//! model's baseline is version 1's day, the drift read judges version 2
//! against that traffic (and names it), so traffic like the baseline's holds
//! and shifted traffic drifts, though both drift against the training
//! profile; the monitoring page and the health job's window pass judge
//! with it too; a baseline
//! range with no traffic is no reference, with the reason.

use std::time::{Duration, Instant};

use flotilla_testkit::{Requester as Client, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `demand` with versions 1 and 2, both made by a run trained on
/// `train@d1`, whose profile is `f0` and `prediction` uniform on [0, 1).
fn setup() -> TestServer {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_MONITOR", "on")
            .arg("--monitor-window")
            .arg("1s"),
    );
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    let exp = a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "e" })))["experiment_id"].clone();
    let run =
        a.ok("POST", "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp })))["run"]["info"]["run_id"]
            .clone();
    let input = json!({ "run_id": run, "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "training" }],
        "dataset": { "name": "train", "digest": "d1", "source_type": "local", "source": "{}" } }] });
    a.ok("POST", "/api/2.0/mlflow/runs/log-inputs", Some(input));
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "demand" })));
    for _ in 0..2 {
        let version = json!({ "name": "demand", "source": "mlflow-artifacts:/demand", "run_id": run });
        a.ok("POST", "/api/2.0/mlflow/model-versions/create", Some(version));
    }
    let mut csv = String::from("f0,prediction\n");
    for i in 0..2000 {
        let u = (f64::from(i) + 0.5) / 2000.0;
        csv.push_str(&format!("{u},{u}\n"));
    }
    a.post_ok("/api/data/v1/datasets/train/d1/profile", "text/csv", csv.as_bytes());
    server
}

/// Posts 600 predictions to `version`: `f0` uniform on [shift, shift + 1),
/// `prediction` on [0, 1), timestamps spread over `[from, from + span)`.
/// The values are shuffled over the timestamps (a stride coprime with 600),
/// so a window holding only part of the span still sees the whole spread.
fn post(a: &Client<'_>, version: u32, shift: f64, from: i64, span: i64) {
    let body: String = (0..600)
        .map(|i| {
            let u = (f64::from((i * 7) % 600) + 0.5) / 600.0;
            let ts = from + span * i64::from(i) / 600;
            format!("{}\n", json!({ "f0": shift + u, "prediction": u, "timestamp": ts }))
        })
        .collect();
    let path = format!("/api/monitor/v1/models/demand/versions/{version}/predictions");
    a.post_ok(&path, "application/x-ndjson", body.as_bytes());
}

fn drift(a: &Client<'_>, from: i64, to: i64) -> Value {
    a.get(&format!("/api/monitor/v1/models/demand/drift?version=2&from={from}&to={to}"))
}

fn feature(d: &Value, name: &str) -> Value {
    d["features"]
        .as_array()
        .unwrap()
        .iter()
        .chain(d["prediction_drift"].as_array().unwrap())
        .find(|f| f["feature"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn drift_against_a_past_range_of_traffic() {
    let server = setup();
    let a = Client::basic(&server, "admin", ADMIN_PASSWORD);
    // On a second, as the base windows are, so the ranges hold whole windows.
    let now = now_ms() / 1000 * 1000;
    // Version 1's traffic two days ago (a whole day: read as one day window),
    // already off the training data by 0.5.
    let base_from = (now / DAY - 2) * DAY;
    let base_to = base_from + DAY;
    post(&a, 1, 0.5, base_from + HOUR, 12 * HOUR);
    // Version 2: like version 1's two to three hours ago, shifted by 0.5 more in the last hour.
    let (like_from, like_to) = (now - 3 * HOUR, now - 2 * HOUR);
    let (shifted_from, shifted_to) = (now - HOUR, now);
    post(&a, 2, 0.5, like_from, HOUR - 1000);
    post(&a, 2, 1.0, shifted_from, HOUR - 60_000);

    // Against the training profile, both of version 2's ranges drift.
    for (from, to) in [(like_from, like_to), (shifted_from, shifted_to)] {
        let d = drift(&a, from, to);
        assert_eq!((d["reference"]["kind"].as_str(), d["rows"].as_u64()), (Some("training"), Some(600)), "{d}");
        assert_eq!(feature(&d, "f0")["verdict"], "drift", "{d}");
        assert_eq!(feature(&d, "f0")["method"], "wasserstein", "2,000 training rows: {d}");
    }

    // A baseline range without traffic is no reference, and says why.
    let empty = json!({ "kind": "traffic", "version": 2, "from": base_from, "to": base_to });
    a.ok("PUT", "/api/monitor/v1/models/demand/baseline", Some(empty));
    let d = drift(&a, like_from, like_to);
    assert_eq!(d["verdict"], "no_reference", "{d}");
    assert!(d["reason"].as_str().unwrap().contains("traffic baseline"), "{d}");

    // Version 1's day is the baseline: what looks like it holds, the shift drifts.
    let baseline = json!({ "kind": "traffic", "version": 1, "from": base_from, "to": base_to });
    a.ok("PUT", "/api/monitor/v1/models/demand/baseline", Some(baseline));
    let d = drift(&a, like_from, like_to);
    let reference = &d["reference"];
    assert_eq!(reference["kind"], "traffic", "{d}");
    assert_eq!((reference["version"].as_u64(), reference["from"].as_i64()), (Some(1), Some(base_from)), "{d}");
    assert_eq!((reference["rows"].as_u64(), reference["windows"].as_u64()), (Some(600), Some(1)), "one day: {d}");
    assert_eq!(reference["binned_by"]["digest"], "d1", "{d}");
    let f0 = feature(&d, "f0");
    assert_eq!(
        (f0["verdict"].as_str(), f0["method"].as_str()),
        (Some("no_drift"), Some("ks")),
        "600 baseline rows: {d}"
    );
    assert_eq!(f0["reference_count"], 600);
    assert_eq!(d["verdict"], "no_drift", "{d}");
    assert_eq!(feature(&d, "prediction")["verdict"], "no_drift", "{d}");

    // The monitoring page says so, and draws the baseline in the reference's place.
    let page =
        a.page(&format!("/models/demand/monitor?version=2&from={like_from}&to={like_to}&grain=minute&feature=f0"));
    assert!(page.contains("traffic baseline (version 1"), "{page}");
    assert!(page.contains("f0: baseline vs current distribution"), "{page}");

    let d = drift(&a, shifted_from, shifted_to);
    assert_eq!(d["reference"]["kind"], "traffic");
    let f0 = feature(&d, "f0");
    assert_eq!(f0["verdict"], "drift", "{d}");
    assert!(f0["statistic"].as_f64().unwrap() > 0.45, "half the values moved past the baseline's: {d}");
    assert_eq!((d["verdict"].as_str(), d["prediction_verdict"].as_str()), (Some("drift"), Some("no_drift")), "{d}");

    // The window pass judges a closing window against the baseline traffic:
    // traffic like the baseline's is ok (against the training profile it fails).
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        // One instant: the 600 rows land in one base window.
        post(&a, 2, 0.5, now_ms() - 200, 0);
        std::thread::sleep(Duration::from_millis(1500));
        let h = a.get("/api/monitor/v1/models/demand/health");
        if let Some(s) = h["checks"]["data_drift"]["status"].as_str() {
            break s.to_string();
        }
        assert!(Instant::now() < deadline, "no drift check in the model's health: {h}");
    };
    assert_eq!(status, "ok");
}
