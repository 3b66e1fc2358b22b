//! The workload run identically against every server: registry writes, log-batch, runs/get,
//! registered-model search and runs search, each with its own untimed setup.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::driver::{OpStats, drive};
use crate::http::{Http, Req, Target, encode_query};

/// How much of each operation to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub models: usize,
    pub clients: usize,
    pub runs: usize,
    pub log_batch_reps: usize,
    pub get_reps: usize,
    pub search_reps: usize,
    pub runs_search_reps: usize,
    pub runs_search_1000_reps: usize,
    /// Time cap of each timed operation after the registry writes.
    pub op_cap: Duration,
    /// Time cap of the concurrent loaders (model creation, run creation).
    pub setup_cap: Duration,
}

/// Everything one server measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub create: OpStats,
    pub rm_search: OpStats,
    pub log_batch: OpStats,
    pub runs_get: OpStats,
    pub runs_setup: OpStats,
    pub runs_search_100: OpStats,
    pub runs_search_1000: OpStats,
    /// Answers that were 2xx but not what MLflow would answer (wrong page size, ...).
    pub notes: Vec<String>,
}

const API: &str = "/api/2.0/mlflow";
/// The clause every 2.22+/3.x client appends to `search_registered_models`.
pub const PROMPT_FILTER: &str = "tag.`mlflow.prompt.is_prompt` != 'true'";
const WARMUP: usize = 3;
/// Shape of each log-batch: keys x steps = 1,000 metrics.
pub const BATCH_KEYS: i64 = 100;
pub const BATCH_STEPS: i64 = 10;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The value of metric `m` for run `i`: a permutation of 0.000..0.999 over each 1,000 runs.
fn metric_m(i: usize) -> f64 {
    ((i * 7919) % 1000) as f64 / 1000.0
}

/// How many of `runs` runs match `metrics.m > 0.5`.
fn expected_matches(runs: usize) -> usize {
    (0..runs).filter(|&i| metric_m(i) > 0.5).count()
}

async fn create_experiment(http: &Http, name: &str) -> Result<String, String> {
    let answer = http.json(&Req::post(format!("{API}/experiments/create"), &json!({"name": name}))).await?;
    answer["experiment_id"].as_str().map(str::to_owned).ok_or_else(|| format!("no experiment_id in {answer}"))
}

async fn create_run(http: &Http, experiment_id: &str, name: &str) -> Result<String, String> {
    let body = json!({"experiment_id": experiment_id, "run_name": name, "start_time": now_ms(), "tags": []});
    let answer = http.json(&Req::post(format!("{API}/runs/create"), &body)).await?;
    answer["run"]["info"]["run_id"].as_str().map(str::to_owned).ok_or_else(|| format!("no run_id in {answer}"))
}

/// Runs a single-client timed loop of the same request after a few untimed warm-ups.
async fn single_client(
    base: &Target,
    reps: usize,
    cap: Duration,
    make: impl Fn(usize) -> Req + Send + Sync + 'static,
) -> OpStats {
    let warm = Http::new(base);
    for i in 0..WARMUP {
        let _ = warm.send(&make(usize::MAX - i)).await;
    }
    drive(base, 1, reps, cap, move |http, i| {
        let req = make(i);
        async move { http.timed(&req).await }
    })
    .await
}

/// Runs the whole workload against the server at `base`.
pub async fn run(base: &Target, plan: &Plan) -> Result<Results, String> {
    let mut out = Results::default();
    let http = Http::new(base);

    eprintln!("bench:   creating {} registered models with {} clients", plan.models, plan.clients);
    out.create = drive(base, plan.clients, plan.models, plan.setup_cap, |http, i| {
        let req = Req::post(format!("{API}/registered-models/create"), &json!({"name": format!("bench-model-{i:07}")}));
        async move { http.timed(&req).await }
    })
    .await;
    eprintln!("bench:   create: {}", out.create.summary());

    let search_path = format!("{API}/registered-models/search?max_results=100&filter={}", encode_query(PROMPT_FILTER));
    check_rm_search(&http, &search_path, plan.models.min(out.create.ok()), &mut out.notes).await;
    let path = search_path.clone();
    out.rm_search = single_client(base, plan.search_reps, plan.op_cap, move |_| Req::get(path.clone())).await;
    eprintln!("bench:   registered-models/search: {}", out.rm_search.summary());

    let exp = create_experiment(&http, "bench-log-batch").await?;
    let run_id = create_run(&http, &exp, "log-batch").await?;
    let base_ts = now_ms();
    let path = format!("{API}/runs/log-batch");
    let id = run_id.clone();
    out.log_batch = single_client(base, plan.log_batch_reps, plan.op_cap, move |i| {
        // Batch i carries steps i*10 .. i*10+9 of 100 keys (training logs 100 metrics per
        // step and flushes every 10 steps). Of the shapes tried against MLflow (1,000 keys x 1
        // step, 100 x 10, 10 x 100, 1 x 1,000) this one was among its fastest, so the ratio is
        // not flattered. Warm-ups use indexes near usize::MAX; keep every step distinct.
        let first = (i % 100_000_000) as i64 * BATCH_STEPS;
        let metrics: Vec<Value> = (0..BATCH_KEYS)
            .flat_map(|k| (0..BATCH_STEPS).map(move |s| (k, first + s)))
            .map(|(k, step)| {
                json!({"key": format!("metric_{k:03}"), "value": k as f64 * 0.001 + step as f64,
                       "timestamp": base_ts + step, "step": step})
            })
            .collect();
        Req::post(path.clone(), &json!({"run_id": id, "metrics": metrics, "params": [], "tags": []}))
    })
    .await;
    eprintln!("bench:   log-batch: {}", out.log_batch.summary());

    let get_run = create_run(&http, &exp, "runs-get").await?;
    let params: Vec<Value> =
        (0..10).map(|k| json!({"key": format!("param_{k}"), "value": format!("value-{k}")})).collect();
    let metrics: Vec<Value> = (0..10)
        .map(|k| json!({"key": format!("metric_{k}"), "value": k as f64 / 10.0, "timestamp": now_ms(), "step": 0}))
        .collect();
    let tags: Vec<Value> = (0..5).map(|k| json!({"key": format!("tag_{k}"), "value": format!("t{k}")})).collect();
    http.json(&Req::post(
        format!("{API}/runs/log-batch"),
        &json!({"run_id": get_run, "metrics": metrics, "params": params, "tags": tags}),
    ))
    .await?;
    let path = format!("{API}/runs/get?run_id={get_run}&run_uuid={get_run}");
    out.runs_get = single_client(base, plan.get_reps, plan.op_cap, move |_| Req::get(path.clone())).await;
    eprintln!("bench:   runs/get: {}", out.runs_get.summary());

    let search_exp = create_experiment(&http, "bench-runs-search").await?;
    eprintln!("bench:   creating {} runs with metric m, {} clients", plan.runs, plan.clients);
    let exp_id = search_exp.clone();
    out.runs_setup = drive(base, plan.clients, plan.runs, plan.setup_cap, move |http, i| {
        let exp_id = exp_id.clone();
        async move {
            let start = std::time::Instant::now();
            let run = create_run(&http, &exp_id, &format!("run-{i:05}")).await?;
            let body = json!({
                "run_id": run, "run_uuid": run, "key": "m", "value": metric_m(i), "timestamp": now_ms(), "step": 0
            });
            http.timed(&Req::post(format!("{API}/runs/log-metric"), &body)).await?;
            Ok(start.elapsed())
        }
    })
    .await;
    eprintln!("bench:   run setup: {}", out.runs_setup.summary());
    let matches = expected_matches(plan.runs);
    // A run whose setup failed may or may not have matched the filter.
    let slack = out.runs_setup.errors;
    for (max, reps) in [(100usize, plan.runs_search_reps), (1000, plan.runs_search_1000_reps)] {
        let body = json!({
            "experiment_ids": [search_exp], "filter": "metrics.m > 0.5", "run_view_type": "ACTIVE_ONLY",
            "max_results": max, "order_by": []
        });
        let req = Req::post(format!("{API}/runs/search"), &body);
        check_runs_search(&http, &req, matches.min(max), slack, &mut out.notes).await;
        let stats = single_client(base, reps, plan.op_cap, move |_| req.clone()).await;
        eprintln!("bench:   runs/search max_results {max}: {}", stats.summary());
        if max == 100 {
            out.runs_search_100 = stats;
        } else {
            out.runs_search_1000 = stats;
        }
    }
    Ok(out)
}

async fn check_rm_search(http: &Http, path: &str, models: usize, notes: &mut Vec<String>) {
    match http.json(&Req::get(path)).await {
        Ok(answer) => {
            let got = answer["registered_models"].as_array().map_or(0, Vec::len);
            let want = models.min(100);
            if got != want {
                notes.push(format!("registered-models/search returned {got} models, expected {want}"));
            }
            if models > 100 && answer["next_page_token"].as_str().is_none_or(str::is_empty) {
                notes.push("registered-models/search gave no next_page_token".to_owned());
            }
        }
        Err(e) => notes.push(format!("registered-models/search failed: {e}")),
    }
}

async fn check_runs_search(http: &Http, req: &Req, want: usize, slack: usize, notes: &mut Vec<String>) {
    match http.json(req).await {
        Ok(answer) => {
            let runs = answer["runs"].as_array().map(Vec::as_slice).unwrap_or_default();
            if runs.len().abs_diff(want) > slack {
                notes.push(format!("runs/search returned {} runs, expected {want}", runs.len()));
            }
            let bad = runs.iter().filter(|r| {
                let ms = r["data"]["metrics"].as_array().map(Vec::as_slice).unwrap_or_default();
                !ms.iter().any(|m| m["key"] == "m" && m["value"].as_f64().is_some_and(|v| v > 0.5))
            });
            let bad = bad.count();
            if bad > 0 {
                notes.push(format!("runs/search returned {bad} runs without m > 0.5"));
            }
        }
        Err(e) => notes.push(format!("runs/search failed: {e}")),
    }
}
