//! Hostile model files: an `MLmodel` of deeply nested or merely large YAML,
//! and a model file larger than the model-memory budget. Loading them must
//! not stall other requests (`/health` stays fast), a failed load is
//! remembered rather than parsed again per request, and a file too large for
//! the budget is refused without being read.

use std::time::{Duration, Instant};

use serde_json::json;

use flotilla_testkit::{Reply, TestServer, options};

/// `x0 <= 0.5 ? 1 : 2` over two features, as LightGBM writes it.
pub const LIGHTGBM_MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=regression\nfeature_names=f0 f1\nfeature_infos=[0:1] [0:1]\ntree_sizes=300\n\n\
Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\n\
left_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=1 1\n\
internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";

pub const MLMODEL: &str = "flavors:\n  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";

/// Uploads `files` under the artifact directory `dir` and registers them as
/// a new version of `name`.
pub fn register(server: &TestServer, name: &str, dir: &str, files: &[(&str, &[u8])]) {
    for (file, body) in files {
        let reply = server.request("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}"), &[], body);
        assert_eq!(reply.status, 200, "upload {file}: {}", reply.text());
    }
    server.post_json("/api/2.0/mlflow/registered-models/create", &json!({ "name": name }));
    let reply = server.post_json(
        "/api/2.0/mlflow/model-versions/create",
        &json!({ "name": name, "source": format!("mlflow-artifacts:/{dir}") }),
    );
    assert_eq!(reply.status, 200, "register {name}: {}", reply.text());
}

/// Registers the two-feature LightGBM model as `name`.
pub fn register_lightgbm(server: &TestServer, name: &str, dir: &str) {
    register(server, name, dir, &[("MLmodel", MLMODEL.as_bytes()), ("model.lgb", LIGHTGBM_MODEL.as_bytes())]);
}

fn infer_one_row(server: &TestServer, model: &str) -> Reply {
    let body = json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.9, 0.0]}]});
    server.request("POST", &format!("/v2/models/{model}/infer"), &[], body.to_string().as_bytes())
}

/// A counter from `/metrics`.
fn metric(server: &TestServer, name: &str) -> f64 {
    let text = server.get("/metrics").text();
    let line = text.lines().find(|l| l.starts_with(name) && !l.starts_with('#'));
    line.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} in {text}"))
}

const HEALTH_LIMIT: Duration = Duration::from_millis(50);

#[test]
fn hostile_mlmodel_files_keep_the_server_responsive() {
    let mut server = TestServer::start(options!());
    // 100,000 nested flow sequences (200 KB) took seconds to parse on an
    // async worker; two at once stalled every other request.
    let deep = format!("flavors: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    // Merely large: 2 MiB of one scalar, refused by size before it is read.
    let large = format!("flavors:\n  lightgbm:\n    data: model.lgb\nnote: '{}'\n", "a".repeat(2 << 20));
    let model = LIGHTGBM_MODEL.as_bytes();
    register(&server, "deep", "0/deep/v1", &[("MLmodel", deep.as_bytes()), ("model.lgb", model)]);
    register(&server, "large", "0/large/v1", &[("MLmodel", large.as_bytes()), ("model.lgb", model)]);
    register_lightgbm(&server, "good", "0/good/v1");

    // Hostile loads run in a loop on other connections while /health is timed.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut worst = Duration::ZERO;
    let mut answers = Vec::new();
    std::thread::scope(|scope| {
        // One client per hostile model, plus one more: enough to occupy
        // every async worker if parsing ran there.
        let hammers: Vec<_> = ["deep", "large", "deep"]
            .into_iter()
            .map(|name| {
                let (server, stop) = (&server, &stop);
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let started = Instant::now();
                        let reply = infer_one_row(server, name);
                        seen.push((name, reply.status, reply.text(), started.elapsed()));
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..40 {
            worst = worst.max(server.health_latency());
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        answers = hammers.into_iter().flat_map(|h| h.join().expect("hostile requests")).collect();
    });
    server.assert_alive();
    eprintln!("hostile MLmodel: {} requests, worst /health {worst:?}", answers.len());
    assert!(worst < HEALTH_LIMIT, "/health took {worst:?} while hostile models were loaded");
    assert!(answers.len() >= 4, "only {} hostile requests answered", answers.len());
    for (name, status, text, _) in &answers {
        assert_eq!(*status, 400, "{name}: {text}");
        assert!(text.contains("\"error\"") && text.contains("MLmodel"), "{name}: {text}");
    }
    // Each failed load ran once; every later request was answered from memory.
    assert_eq!(metric(&server, "flotilla_model_load_failures_total"), 2.0);
    let mut times: Vec<Duration> = answers.iter().map(|(_, _, _, t)| *t).collect();
    times.sort();
    let repeat = times[times.len() / 2];
    assert!(repeat < HEALTH_LIMIT, "a remembered failure took {repeat:?} (median)");
    assert_eq!(infer_one_row(&server, "good").status, 200);

    // Fixing the files ends the remembered failure at once.
    let fixed = server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/deep/v1/MLmodel", &[], MLMODEL.as_bytes());
    assert_eq!(fixed.status, 200);
    let reply = infer_one_row(&server, "deep");
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn a_model_file_over_the_budget_is_refused_unread() {
    let mut server = TestServer::start(options!().arg("--model-memory").arg("8MiB"));
    register(&server, "huge", "0/huge/v1", &[("MLmodel", MLMODEL.as_bytes())]);
    // 64 MiB, sparse: the test costs no disk, the server would pay in memory.
    let file = server.data_dir().join("artifacts/0/huge/v1/model.lgb");
    std::fs::File::create(&file).and_then(|f| f.set_len(64 << 20)).expect("sparse model file");

    server.reset_peak_rss();
    let before = server.peak_rss_kib();
    let started = Instant::now();
    let reply = infer_one_row(&server, "huge");
    let took = started.elapsed();
    let grew = server.peak_rss_kib().saturating_sub(before);
    server.assert_alive();
    eprintln!("64 MiB model file over an 8 MiB budget: peak RSS +{grew} KiB, answered in {took:?}");
    assert_eq!(reply.status, 507, "{}", reply.text());
    assert!(reply.json()["error"].as_str().is_some_and(|e| e.contains("budget")), "{}", reply.text());
    assert!(grew < 8 * 1024, "peak RSS grew by {grew} KiB for a refused 64 MiB file");
    assert!(took < Duration::from_secs(1), "refusing took {took:?}");
}
