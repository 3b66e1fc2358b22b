//! `flotilla-bench profile`: flotilla-profile against whylogs 1.6.4 `why.log(df)` on the same
//! frame (1,000,000 rows × 20 columns: 15 numeric, 5 categorical), side by side in one run.
//!
//! The bench-profile venv's Python (`scripts/bench-profile.sh` creates it) generates the frame,
//! writes it as Parquet to a temp dir and times whylogs on the in-memory frame; then flotilla
//! profiles the Parquet file (reading and decoding it counted against flotilla). Printed: wall
//! and CPU times and their ratios (CPU time is the fairer one on a busy machine), the profiles' bytes, and each tool's worst quantile rank error
//! against the exact quantiles of the data.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_schema::DataType;
use datasketches::common::SearchCriteria;
use flotilla_profile::{ContentType, Profiler, ProfilerConfig};
use flotilla_testkit::procfs::cpu_seconds;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

const SCRIPT: &str = include_str!("profile_bench.py");

/// `flotilla-bench profile`.
#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// Rows of the frame.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// The venv with whylogs 1.6.4, pandas and pyarrow [default: .venvs/bench-profile].
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Keep the generated Parquet file in this directory instead of a temp dir.
    #[arg(long)]
    keep_in: Option<PathBuf>,
    /// Also write the table as markdown to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Threads flotilla profiles columns on [default: the profiler's, up to 4].
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(root: &Path, args: &ProfileArgs) -> Result<()> {
    let venv = args.venv.clone().unwrap_or_else(|| root.join(".venvs/bench-profile"));
    let python = venv.join("bin/python");
    if !python.is_file() {
        bail!("no venv at {} (run scripts/bench-profile.sh, or pass --venv)", venv.display());
    }
    let tmp = tempfile::tempdir()?;
    let dir = args.keep_in.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let parquet = dir.join("profile-bench.parquet");
    let script = tmp.path().join("profile_bench.py");
    std::fs::write(&script, SCRIPT)?;

    eprintln!("bench: generating {} rows and timing whylogs", args.rows);
    let output = Command::new(&python)
        .arg(&script)
        .arg(&parquet)
        .arg(args.rows.to_string())
        .output()
        .context("running the whylogs side")?;
    if !output.status.success() {
        bail!("the whylogs side failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().context("no output from the whylogs side")?;
    let why: Value = serde_json::from_str(line).context("reading the whylogs side's JSON")?;
    let whylogs_s = why["whylogs_s"].as_f64().context("whylogs_s")?;
    let whylogs_cpu_s = why["whylogs_cpu_s"].as_f64().context("whylogs_cpu_s")?;
    let whylogs_bytes = why["whylogs_bytes"].as_u64().context("whylogs_bytes")?;
    let ranks: Vec<f64> = why["ranks"].as_array().context("ranks")?.iter().filter_map(Value::as_f64).collect();

    eprintln!("bench: profiling {} with flotilla-profile", parquet.display());
    let threads = args.threads.unwrap_or(ProfilerConfig::default().threads);
    let config = ProfilerConfig { threads, ..ProfilerConfig::default() };
    let (started, cpu_before) = (Instant::now(), cpu_seconds(std::process::id()).context("reading /proc/self/stat")?);
    let file = std::fs::File::open(&parquet)?;
    let profile = Profiler::new(config).profile_file(file, ContentType::Parquet)?;
    let flotilla_s = started.elapsed().as_secs_f64();
    let flotilla_cpu_s = cpu_seconds(std::process::id()).context("reading /proc/self/stat")? - cpu_before;
    let flotilla_bytes = profile.to_bytes().len() as u64;
    if profile.rows != args.rows as u64 {
        bail!("flotilla profiled {} rows of {}", profile.rows, args.rows);
    }

    eprintln!("bench: exact quantiles");
    let exact = read_numeric_sorted(&parquet)?;
    let (mut ours_worst, mut theirs_worst) = (0.0f64, 0.0f64);
    for (name, sorted) in &exact {
        let kll = &profile.feature(name).and_then(|f| f.numeric()).context("numeric feature")?.kll;
        let theirs = why["whylogs_quantiles"][name].as_array().context("whylogs quantiles")?;
        for (i, &rank) in ranks.iter().enumerate() {
            let ours = *kll.quantile(rank, SearchCriteria::Inclusive)?.context("an empty sketch")?;
            ours_worst = ours_worst.max(rank_error(sorted, ours, rank));
            if let Some(q) = theirs.get(i).and_then(Value::as_f64) {
                theirs_worst = theirs_worst.max(rank_error(sorted, q, rank));
            }
        }
    }

    let rows_per_s = |s: f64| format!("{:.0}", args.rows as f64 / s);
    let table = format!(
        "| {} rows × 20 columns (15 numeric, 5 categorical), Parquet | whylogs 1.6.4 `why.log(df)` | flotilla-profile | ratio |\n\
         |---|---:|---:|---:|\n\
         | wall time (s) | {whylogs_s:.3} | {flotilla_s:.3} | **{:.1}× faster** |\n\
         | CPU time (s, all threads) | {whylogs_cpu_s:.3} | {flotilla_cpu_s:.3} | **{:.1}× less** |\n\
         | rows/s | {} | {} | |\n\
         | profile bytes | {whylogs_bytes} | {flotilla_bytes} | {:.2}× |\n\
         | worst quantile rank error ({} columns × {} ranks, vs exact) | {:.4} | {:.4} | |\n",
        args.rows,
        whylogs_s / flotilla_s,
        whylogs_cpu_s / flotilla_cpu_s,
        rows_per_s(whylogs_s),
        rows_per_s(flotilla_s),
        flotilla_bytes as f64 / whylogs_bytes as f64,
        exact.len(),
        ranks.len(),
        theirs_worst,
        ours_worst,
    );
    println!("{table}");
    println!(
        "whylogs timed on the in-memory frame; flotilla on the Parquet file, read and decoded \
         included, on {threads} thread(s). Frame generated in {:.1} s. Load average: {}.",
        why["generate_s"].as_f64().unwrap_or(0.0),
        flotilla_testkit::procfs::load_average()
    );
    if let Some(out) = &args.out {
        std::fs::write(out, &table)?;
    }
    Ok(())
}

/// How far `q` is from having normalized rank `rank` in `sorted` (0 when a tie spans it).
fn rank_error(sorted: &[f64], q: f64, rank: f64) -> f64 {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|v| *v < q) as f64 / n;
    let at_or_below = sorted.partition_point(|v| *v <= q) as f64 / n;
    (below - rank).max(rank - at_or_below).max(0.0)
}

/// Every numeric column's values (NaN and nulls left out), sorted.
fn read_numeric_sorted(path: &Path) -> Result<Vec<(String, Vec<f64>)>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?;
    let schema = builder.schema().clone();
    let mut columns: Vec<(usize, String, Vec<f64>)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.data_type(), DataType::Float64 | DataType::Int64))
        .map(|(i, f)| (i, f.name().clone(), Vec::new()))
        .collect();
    for batch in builder.build()? {
        let batch = batch?;
        for (i, _, values) in &mut columns {
            let array = batch.column(*i);
            if let Some(a) = array.as_primitive_opt::<Float64Type>() {
                values.extend(a.iter().flatten().filter(|v| !v.is_nan()));
            } else if let Some(a) = array.as_primitive_opt::<Int64Type>() {
                values.extend(a.iter().flatten().map(|v| v as f64));
            }
        }
    }
    Ok(columns
        .into_iter()
        .map(|(_, name, mut values)| {
            values.sort_by(f64::total_cmp);
            (name, values)
        })
        .collect())
}
