//! After a kill and a restart: every acknowledged write read back through the API, what was
//! in flight found whole or absent, the database's own integrity check, and no file in the
//! data directory that is not the database, its WAL and shared memory, or a stored artifact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ledger::{ALIAS, API, ARTIFACTS, Artifact, Ledger, Point};
use crate::client::{Client, encode_query};

/// The files a data directory may hold besides artifacts.
const DATABASE_FILES: [&str; 3] = ["flotilla.db", "flotilla.db-wal", "flotilla.db-shm"];

/// Checks everything in `ledger` against the server (artifacts from `ledger.checked_artifacts`
/// on, or all of them if `all_artifacts`); each problem is one line of the result. Resolves
/// what was in flight (an alias's target becomes what the server holds).
pub(super) async fn acknowledged_writes(
    c: &mut Client,
    ledger: &mut Ledger,
    all_artifacts: bool,
) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for run in &ledger.runs {
        let answer = c.get(&format!("{API}/runs/get?run_id={run}")).await?;
        if !answer.ok() {
            problems.push(format!("run {run}: {} {}", answer.status, answer.text()));
        }
    }
    let mut stored: BTreeMap<(String, String), BTreeMap<i64, f64>> = BTreeMap::new();
    let mut keys: BTreeSet<(String, String)> = ledger.metrics.keys().cloned().collect();
    keys.extend(ledger.pending_batches.iter().flatten().map(|(run, key, _, _)| (run.clone(), key.clone())));
    for (run, key) in keys {
        let history = metric_history(c, &run, &key).await?;
        stored.insert((run, key), history);
    }
    for ((run, key), points) in &ledger.metrics {
        let have = &stored[&(run.clone(), key.clone())];
        let missing = points.iter().filter(|(step, value)| have.get(step) != Some(value)).count();
        if missing > 0 {
            problems.push(format!("run {run} metric {key}: {missing} of {} acknowledged points missing", points.len()));
        }
    }
    for batch in &ledger.pending_batches {
        let present = batch.iter().filter(|p| stored_point(&stored, p)).count();
        if present != 0 && present != batch.len() {
            problems
                .push(format!("a log-batch in flight at a kill is half stored: {present} of {} points", batch.len()));
        }
    }
    for (model, versions) in &ledger.versions {
        let have = model_versions(c, model).await?;
        let missing: Vec<_> = versions.difference(&have).collect();
        if !missing.is_empty() {
            problems.push(format!("model {model}: acknowledged versions missing: {missing:?}"));
        }
    }
    for (model, state) in &mut ledger.aliases {
        let got = alias_target(c, model).await?;
        let allowed = [state.acked, state.pending];
        if !allowed.contains(&got) || (got.is_none() && state.acked.is_some()) {
            problems.push(format!(
                "model {model}: alias {ALIAS} is {got:?}, acknowledged {:?}, in flight {:?}",
                state.acked, state.pending
            ));
        }
        state.acked = got;
        state.pending = None;
    }
    let from = if all_artifacts { 0 } else { ledger.checked_artifacts };
    for a in &ledger.artifacts[from..] {
        match download(c, a).await? {
            Some(true) => {}
            Some(false) => problems.push(format!("artifact {}: bytes differ from the acknowledged upload", a.path)),
            None => problems.push(format!("artifact {}: acknowledged upload missing", a.path)),
        }
    }
    for a in &ledger.pending_artifacts {
        if download(c, a).await? == Some(false) {
            problems.push(format!("artifact {} in flight at a kill is torn", a.path));
        }
    }
    ledger.checked_artifacts = ledger.artifacts.len();
    Ok(problems)
}

fn stored_point(stored: &BTreeMap<(String, String), BTreeMap<i64, f64>>, (run, key, step, value): &Point) -> bool {
    stored.get(&(run.clone(), key.clone())).and_then(|h| h.get(step)) == Some(value)
}

async fn json_ok(c: &mut Client, path: &str) -> Result<Value, String> {
    let answer = c.get(path).await?;
    if !answer.ok() {
        return Err(format!("GET {path}: {} {}", answer.status, answer.text()));
    }
    Ok(answer.json())
}

async fn metric_history(c: &mut Client, run: &str, key: &str) -> Result<BTreeMap<i64, f64>, String> {
    let mut out = BTreeMap::new();
    let mut token = String::new();
    loop {
        let path =
            format!("{API}/metrics/get-history?run_id={run}&metric_key={key}&max_results=25000&page_token={token}");
        let page = json_ok(c, &path).await?;
        for m in page["metrics"].as_array().into_iter().flatten() {
            if let (Some(step), Some(value)) = (m["step"].as_i64(), m["value"].as_f64()) {
                out.insert(step, value);
            }
        }
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = encode_query(t),
            Some(_) | None => return Ok(out),
        }
    }
}

async fn model_versions(c: &mut Client, model: &str) -> Result<BTreeSet<u64>, String> {
    let filter = encode_query(&format!("name='{model}'"));
    let mut out = BTreeSet::new();
    let mut token = String::new();
    loop {
        let path = format!("{API}/model-versions/search?filter={filter}&max_results=10000&page_token={token}");
        let page = json_ok(c, &path).await?;
        for v in page["model_versions"].as_array().into_iter().flatten() {
            if let Some(n) = v["version"].as_str().and_then(|s| s.parse().ok()) {
                out.insert(n);
            }
        }
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = encode_query(t),
            Some(_) | None => return Ok(out),
        }
    }
}

async fn alias_target(c: &mut Client, model: &str) -> Result<Option<u64>, String> {
    let answer = json_ok(c, &format!("{API}/registered-models/get?name={}", encode_query(model))).await?;
    let aliases = answer["registered_model"]["aliases"].as_array().cloned().unwrap_or_default();
    Ok(aliases
        .iter()
        .find(|a| a["alias"] == ALIAS)
        .and_then(|a| a["version"].as_str().and_then(|v| v.parse().ok()).or_else(|| a["version"].as_u64())))
}

/// `Some(same bytes?)` if the artifact is there, `None` if it is not.
async fn download(c: &mut Client, a: &Artifact) -> Result<Option<bool>, String> {
    let answer = c.get(&format!("{ARTIFACTS}/{}", a.path)).await?;
    match answer.status {
        200 => Ok(Some(answer.body.as_ref() == a.bytes().as_slice())),
        404 => Ok(None),
        other => Err(format!("GET artifact {}: {other} {}", a.path, answer.text())),
    }
}

/// `PRAGMA integrity_check` on a read-only connection (beside the running server: WAL readers
/// see one consistent snapshot).
pub(super) fn integrity(db: &Path) -> Result<String, String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("opening {}: {e}", db.display()))?;
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| format!("integrity_check: {e}"))?;
    Ok(rows.join("; "))
}

/// Files under `data` that are neither the database's nor an artifact the trials wrote
/// (acknowledged or in flight): staged uploads, journals, anything else.
pub(super) fn orphans(data: &Path, ledger: &Ledger) -> Vec<PathBuf> {
    let artifacts = data.join("artifacts");
    let known: BTreeSet<PathBuf> =
        ledger.artifacts.iter().chain(&ledger.pending_artifacts).map(|a| artifacts.join(&a.path)).collect();
    let mut out = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if !(known.contains(&path)
                || (dir == data && DATABASE_FILES.iter().any(|f| entry.file_name() == *f)))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Staged uploads in the artifact store's staging directory.
pub(super) fn staged(data: &Path) -> usize {
    std::fs::read_dir(data.join("artifacts/.tmp")).map_or(0, |d| d.count())
}
