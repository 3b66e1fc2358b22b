//! Makes a synthetic MLflow 3.17.2 SQLite store for the import benchmark
//! (docs/benchmarks/import.md): `cargo run --release -p flotilla-import
//! --example mlflow_source -- DIR RUNS POINTS MODELS VERSIONS ARTIFACT_MB`
//! writes `DIR/mlflow.db` (tables from MLflow's own DDL, rows as MLflow
//! writes them: runs with params, tags and metric history, registered models
//! with versions registered from runs and an alias each) and `DIR/art/`
//! (one model file per run-with-a-version, ARTIFACT_MB in all).

use std::path::PathBuf;

use rusqlite::{Connection, params};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, runs, points, models, versions, mb] = args.as_slice() else {
        eprintln!("usage: mlflow_source DIR RUNS POINTS MODELS VERSIONS ARTIFACT_MB");
        std::process::exit(2);
    };
    let parse = |s: &String| s.parse::<usize>().expect("a count");
    let (runs, points, models, versions, mb) = (parse(runs), parse(points), parse(models), parse(versions), parse(mb));
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the directory");
    let conn = Connection::open(dir.join("mlflow.db")).expect("the database");
    conn.execute_batch(include_str!("../tests/fixtures/mlflow-3.17.2.sql")).expect("MLflow's schema");
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         INSERT INTO alembic_version VALUES ('dc11669786a5');
         INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 1, 1, 'default');
         INSERT INTO experiments VALUES (1, 'bench', 'mlflow-artifacts:/1', 'active', 1, 1, 'default');",
    )
    .expect("the experiments");
    let tx = conn.unchecked_transaction().expect("a transaction");
    let run_id = |r: usize| format!("{r:032x}");
    let per_run = points / runs.max(1);
    for r in 0..runs {
        let id = run_id(r);
        tx.prepare_cached(
            "INSERT INTO runs VALUES (?1, ?2, 'LOCAL', 'train.py', '', 'bench', 'FINISHED', ?3, ?4, NULL, 'active',
                                      'mlflow-artifacts:/1/' || ?1 || '/artifacts', 1, NULL)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                format!("run-{r}"),
                1_700_000_000_000_i64 + r as i64,
                1_700_000_100_000_i64 + r as i64
            ])
        })
        .expect("a run");
        for (table, key, value) in
            [("params", "lr", "0.1"), ("params", "depth", "6"), ("tags", "mlflow.runName", "run")]
        {
            tx.prepare_cached(&format!("INSERT INTO {table} VALUES (?, ?, ?)"))
                .and_then(|mut s| s.execute(params![key, value, id]))
                .expect("a param or tag");
        }
        let mut metric = tx.prepare_cached("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)").expect("metrics");
        for p in 0..per_run {
            let key = ["loss", "val_loss", "acc", "auc"][p % 4];
            metric
                .execute(params![key, 1.0 / (p + 1) as f64, 1_700_000_000_000_i64 + p as i64, id, (p / 4) as i64])
                .expect("a point");
        }
    }
    let mut bytes_left = mb * 1024 * 1024;
    let files = models * versions;
    let file_size = bytes_left / files.max(1);
    for m in 0..models {
        let name = format!("model-{m:05}");
        tx.execute("INSERT INTO registered_models VALUES (?, 1, 2, '', 'default')", [&name]).expect("a model");
        for v in 1..=versions {
            let run = run_id((m * versions + v) % runs.max(1));
            let source = format!("mlflow-artifacts:/1/{run}/artifacts/model-{m}-{v}");
            tx.execute(
                "INSERT INTO model_versions VALUES (?, ?, 3, 4, '', 'bench', 'None', ?, ?, 'READY', NULL, '', NULL, 'default')",
                params![name, v as i64, source, run],
            )
            .expect("a version");
            let file = dir.join(format!("art/1/{run}/artifacts/model-{m}-{v}/model.bin"));
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("the artifact directory");
            let size = file_size.min(bytes_left);
            bytes_left -= size;
            std::fs::write(&file, vec![(m % 251) as u8; size]).expect("an artifact");
        }
        tx.execute(
            "INSERT INTO registered_model_aliases VALUES ('champion', ?, ?, 'default')",
            params![versions as i64, name],
        )
        .expect("an alias");
    }
    tx.commit().expect("the commit");
    println!(
        "{runs} runs, {} points, {models} models x {versions} versions, {mb} MiB of artifacts in {}",
        per_run * runs,
        dir.display()
    );
}
