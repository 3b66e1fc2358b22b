//! `flotilla data ...`: datasets and lineage (list, show, downstream,
//! upstream, stale) and profiles (`profile FILE`: made here with the
//! server's own profiler, only the profile sent), on a data directory's
//! store (or a PostgreSQL database's, `--database`) or, with `--server URL`, through a running server's data API. Both modes give the same JSON (on a
//! data directory, `flotilla_app::data::answer` makes it exactly as the
//! server does, as the local admin); without `--json`, a table.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use flotilla_app::data::{self, DataRoute, profile};
use flotilla_store::Readable;
use hyper::Method;
use serde_json::Value;

use crate::fleet::{remote, table};
use crate::local_store::StoreLocation;

#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Go through this running server's data API (e.g. `http://127.0.0.1:5000`)
    /// instead of opening the data directory's store, with the credentials of
    /// `flotilla fleet --server` (MLFLOW_TRACKING_USERNAME and _PASSWORD, or _TOKEN).
    #[arg(long, env = "FLOTILLA_SERVER", global = true)]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: DataCommand,
}

#[derive(Args, Debug)]
pub struct Paging {
    /// Rows per page (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// The token printed after the previous page.
    #[arg(long)]
    page_token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List datasets by name and digest.
    Datasets {
        /// Exactly this name.
        #[arg(long)]
        name: Option<String>,
        /// Names starting with this.
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        page: Paging,
    },
    /// One dataset: its source, schema and counts.
    Show { name: String, digest: String },
    /// What a dataset trained: model versions (the aliased ones marked), or runs with --runs.
    Downstream {
        name: String,
        digest: String,
        /// Runs (with their logged models) instead of model versions.
        #[arg(long)]
        runs: bool,
        /// Only versions an alias points at now.
        #[arg(long)]
        aliased: bool,
        #[command(flatten)]
        page: Paging,
    },
    /// What trained a version: `--model M --version V` (or `--alias A`), or the
    /// version serving `--family F --partition P`.
    Upstream {
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        family: Option<String>,
        /// `region=west/store=0042`.
        #[arg(long)]
        partition: Option<String>,
    },
    /// Profile a CSV, Parquet or Arrow IPC stream file here and keep the
    /// profile on a dataset (only the profile is sent to a server).
    Profile {
        file: PathBuf,
        /// The dataset's name (it must have been logged: `mlflow.log_input`
        /// or the fleet bulk API).
        #[arg(long)]
        dataset: String,
        /// Its digest; by default the newest digest of the name.
        #[arg(long)]
        digest: Option<String>,
    },
    /// Aliased versions trained on a dataset whose name has a newer digest.
    Stale {
        /// Only links in this context (default training; `*` for any).
        #[arg(long)]
        context: Option<String>,
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        page: Paging,
    },
}

fn add(params: &mut Vec<(String, String)>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        params.push((key.to_string(), v.to_string()));
    }
}

fn paging(params: &mut Vec<(String, String)>, page: &Paging) {
    params.push(("max_results".into(), page.limit.to_string()));
    add(params, "page_token", page.page_token.as_deref());
}

/// A data route, its API path and query parameters.
type Request = (DataRoute, String, Vec<(String, String)>);

/// The route, its API path and query parameters (`None` for `profile`).
fn request(command: &DataCommand) -> Option<Request> {
    let mut p = Vec::new();
    let (route, path) = match command {
        DataCommand::Profile { .. } => return None,
        DataCommand::Datasets { name, prefix, page } => {
            add(&mut p, "name", name.as_deref());
            add(&mut p, "prefix", prefix.as_deref());
            paging(&mut p, page);
            (DataRoute::Datasets, "/datasets".to_string())
        }
        DataCommand::Show { name, digest } => {
            let path = format!("/datasets/{}/{}", segment(name), segment(digest));
            (DataRoute::Dataset { name: name.clone(), digest: digest.clone() }, path)
        }
        DataCommand::Downstream { name, digest, runs, aliased, page } => {
            add(&mut p, "dataset", Some(name));
            add(&mut p, "digest", Some(digest));
            if *runs {
                add(&mut p, "of", Some("runs"));
            }
            if *aliased {
                add(&mut p, "aliased", Some("true"));
            }
            paging(&mut p, page);
            (DataRoute::Downstream, "/lineage/downstream".to_string())
        }
        DataCommand::Upstream { model, version, alias, family, partition } => {
            for (k, v) in
                [("model", model), ("version", version), ("alias", alias), ("family", family), ("partition", partition)]
            {
                add(&mut p, k, v.as_deref());
            }
            (DataRoute::Upstream, "/lineage/upstream".to_string())
        }
        DataCommand::Stale { context, alias, page } => {
            add(&mut p, "context", context.as_deref());
            add(&mut p, "alias", alias.as_deref());
            paging(&mut p, page);
            (DataRoute::Stale, "/lineage/stale".to_string())
        }
    };
    Some((route, path, p))
}

/// A path segment, percent-encoded.
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

pub fn run(args: DataArgs) -> anyhow::Result<()> {
    let answer = match request(&args.command) {
        Some((route, path, params)) => answer(&args, route, path, &params)?,
        None => profile(&args)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    print!("{}", render(&args.command, &answer));
    Ok(())
}

/// A lineage or dataset route's answer, from the server or the data directory.
fn answer(args: &DataArgs, route: DataRoute, path: String, params: &[(String, String)]) -> anyhow::Result<Value> {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    Ok(match &args.server {
        Some(url) => {
            let server = remote::Remote::new(url)?;
            let sep = if query.is_empty() { "" } else { "?" };
            server.json(Method::GET, &format!("/api/data/v1{path}{sep}{query}"), None)?
        }
        None => {
            let store = args.store.open("give --data-dir, --database or --server")?;
            // Whoever can open the store could read all of it: the local admin.
            data::answer(store.as_ref(), &route, &query, Readable::everything())?
        }
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other @ (Value::Bool(_) | Value::Number(_) | Value::Object(_)) => other.to_string(),
    }
}

fn rows(items: &Value, keys: &[&str]) -> Vec<Vec<String>> {
    let none = Vec::new();
    items.as_array().unwrap_or(&none).iter().map(|i| keys.iter().map(|k| text(&i[*k])).collect()).collect()
}

fn next_page(answer: &Value) -> String {
    answer["next_page_token"].as_str().map(|t| format!("next page: --page-token {t}\n")).unwrap_or_default()
}

fn render(command: &DataCommand, a: &Value) -> String {
    let mut out = String::new();
    match command {
        DataCommand::Profile { .. } => {
            out += &format!(
                "{} @ {}: {} rows, {} bytes of profile\n",
                text(&a["name"]),
                text(&a["digest"]),
                text(&a["summary"]["rows"]),
                text(&a["profile_bytes"])
            );
            out += &table::render(
                &["FEATURE", "TYPE", "ROWS", "NULLS"],
                &rows(&a["summary"]["features"], &["name", "type", "rows", "nulls"]),
            );
        }
        DataCommand::Datasets { .. } => {
            let keys = ["name", "digest", "source_type", "run_count", "version_count", "superseded"];
            out += &table::render(
                &["NAME", "DIGEST", "SOURCE_TYPE", "RUNS", "VERSIONS", "SUPERSEDED"],
                &rows(&a["datasets"], &keys),
            );
            out += &next_page(a);
        }
        DataCommand::Show { .. } => {
            let d = &a["dataset"];
            for key in [
                "name",
                "digest",
                "source_type",
                "source",
                "schema",
                "creation_time",
                "run_count",
                "version_count",
                "superseded",
            ] {
                out += &format!("{key}: {}\n", text(&d[key]));
            }
        }
        DataCommand::Downstream { runs, .. } => {
            let d = &a["dataset"];
            out += &format!(
                "{}@{}: {} versions, {} runs{}\n",
                text(&d["name"]),
                text(&d["digest"]),
                a["total_versions"],
                a["total_runs"],
                if a["totals_capped"] == true { " (at least)" } else { "" }
            );
            for f in a["families"].as_array().into_iter().flatten() {
                out += &format!("  family {}: {} versions\n", text(&f["family"]), f["versions"]);
            }
            if *runs {
                let keys = ["run_id", "experiment_id", "run_name", "context", "logged_models"];
                out += &table::render(
                    &["RUN", "EXPERIMENT", "NAME", "CONTEXT", "LOGGED_MODELS"],
                    &rows(&a["runs"], &keys),
                );
            } else {
                let keys = ["model", "version", "family", "context", "aliases", "run_id"];
                out += &table::render(
                    &["MODEL", "VERSION", "FAMILY", "CONTEXT", "ALIASES", "RUN"],
                    &rows(&a["versions"], &keys),
                );
            }
            out += &next_page(a);
        }
        DataCommand::Upstream { .. } => {
            out += &format!("{} version {}", text(&a["model"]), a["version"]);
            if a["resolved"]["fallback"] == true {
                out += &format!(" (serving partition '{}', fallen back)", text(&a["resolved"]["partition"]));
            }
            if let Some(run) = a["run"]["run_id"].as_str() {
                out += &format!(", run {run}");
            }
            out += "\n";
            let keys = ["name", "digest", "context", "superseded", "source"];
            out +=
                &table::render(&["DATASET", "DIGEST", "CONTEXT", "SUPERSEDED", "SOURCE"], &rows(&a["datasets"], &keys));
        }
        DataCommand::Stale { .. } => {
            let keys = ["model", "version", "alias", "dataset", "digest", "newest_digest", "context"];
            out += &table::render(
                &["MODEL", "VERSION", "ALIAS", "DATASET", "DIGEST", "NEWEST", "CONTEXT"],
                &rows(&a["versions"], &keys),
            );
            out += &next_page(a);
        }
    }
    out
}

/// `flotilla data profile FILE --dataset NAME [--digest D]`: the kept profile's summary.
fn profile(args: &DataArgs) -> anyhow::Result<Value> {
    let DataCommand::Profile { file, dataset, digest } = &args.command else { return Ok(Value::Null) };
    let content_type = flotilla_profile::ContentType::from_path(file)?;
    let opened = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let made = flotilla_profile::Profiler::default()
        .profile_file(opened, content_type)
        .with_context(|| format!("profiling {}", file.display()))?;
    let list_query = format!("name={}&max_results=1000", segment(dataset));
    Ok(match &args.server {
        Some(url) => {
            let server = remote::Remote::new(url)?;
            let digest = match digest {
                Some(d) => d.clone(),
                None => newest_digest(
                    &server.json(Method::GET, &format!("/api/data/v1/datasets?{list_query}"), None)?,
                    dataset,
                )?,
            };
            let path = format!("/api/data/v1/datasets/{}/{}/profile", segment(dataset), segment(&digest));
            server.upload(&path, profile::PROFILE_MEDIA_TYPE, made.to_bytes())?
        }
        None => {
            let store = args.store.open("give --data-dir, --database or --server")?;
            let digest = match digest {
                Some(d) => d.clone(),
                None => newest_digest(
                    &data::answer(store.as_ref(), &DataRoute::Datasets, &list_query, Readable::everything())?,
                    dataset,
                )?,
            };
            profile::keep(store.as_ref(), dataset, &digest, &made)?
        }
    })
}

/// The newest digest among a dataset list's rows of `name`.
fn newest_digest(list: &Value, name: &str) -> anyhow::Result<String> {
    let none = Vec::new();
    list["datasets"]
        .as_array()
        .unwrap_or(&none)
        .iter()
        .filter(|d| d["name"] == name)
        .max_by_key(|d| d["creation_time"].as_i64().unwrap_or(0))
        .and_then(|d| d["digest"].as_str().map(str::to_string))
        .ok_or_else(|| {
            anyhow::anyhow!("no dataset named {name:?}: log it first (mlflow.log_input or the fleet bulk API)")
        })
}
