//! `flotilla fleet ...`: search, list, promote (with dry run), roll back,
//! read the audit log and generate synthetic fleets, working directly on a
//! data directory's store or, with `--server URL`, through a running
//! server's fleet API (all but `generate`; see [`remote`]). Output is a
//! table, or JSON with `--json`, the same in both modes.

mod generate;
pub(crate) mod remote;
pub(crate) mod table;
mod telemetry;

use std::sync::Arc;

use clap::{Args, Subcommand};
use flotilla_app::{fleet_api, fleet_query};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{MetricOp, PartitionValue, parse_path};
use flotilla_store::fleet::{AuditQuery, ChangeContext, PromotionRule};
use flotilla_store::{PageRequest, Store};

use crate::local_store::StoreLocation;
use serde::Serialize;

#[derive(Args, Debug)]
pub struct FleetArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// Where a command works: on the data directory's store, or through a running server.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Go through this running server's fleet API (e.g. `http://127.0.0.1:5000`)
    /// instead of opening the data directory's store. A server with `--auth
    /// basic` takes MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or
    /// MLFLOW_TRACKING_TOKEN, as the mlflow client does.
    #[arg(long, env = "FLOTILLA_SERVER")]
    pub(crate) server: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum FleetCommand {
    /// Search models (or, with --versions, model versions) across the fleet (filters are ANDed).
    Search(SearchArgs),
    /// List the families with their levels and model counts.
    Families(ServerArgs),
    /// Point an alias at better versions across a family, by rule.
    Promote(PromoteArgs),
    /// Put every alias a batch moved back where it was.
    Rollback {
        /// The batch id a promotion or bulk change reported.
        batch: i64,
        #[arg(long, default_value = "")]
        reason: String,
        /// Recorded in the audit log as who made the change.
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
        #[command(flatten)]
        on: ServerArgs,
    },
    /// The audit log of alias changes, newest first.
    Audit {
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        batch: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        on: ServerArgs,
    },
    /// Fill the store with a synthetic fleet for benchmarks and demos.
    Generate(generate::GenerateArgs),
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[arg(long)]
    family: Option<String>,
    /// Names starting with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Names containing this (case-insensitive).
    #[arg(long)]
    contains: Option<String>,
    /// A partition, e.g. `region=west` (repeatable).
    #[arg(long, value_parser = PartitionValue::parse)]
    partition: Vec<PartitionValue>,
    /// A tag, `key=value` (repeatable).
    #[arg(long)]
    tag: Vec<String>,
    /// Models having this alias (repeatable).
    #[arg(long)]
    alias: Vec<String>,
    /// Models without this alias (repeatable).
    #[arg(long)]
    no_alias: Vec<String>,
    /// A metric of an aliased version, e.g. `champion:val_rmse<3.2`; with
    /// --versions, of the version itself, e.g. `val_rmse<3.2` (repeatable).
    #[arg(long)]
    metric: Vec<String>,
    /// `name`, `created`, `updated` or `alias:metric`; with --versions
    /// `version`, `created` or `metric:<key>`; `-` first for descending.
    #[arg(long)]
    order_by: Option<String>,
    /// List model versions instead of models (aliases and metrics are the version's own).
    #[arg(long)]
    versions: bool,
    /// With --versions: a model-version tag, `key=value` (repeatable).
    #[arg(long)]
    version_tag: Vec<String>,
    /// Rows per page.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// The token printed after the previous page.
    #[arg(long)]
    page_token: Option<String>,
    #[command(flatten)]
    on: ServerArgs,
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    #[arg(long)]
    family: String,
    /// The metric the rule compares, e.g. `val_rmse`.
    #[arg(long)]
    metric: String,
    #[arg(long, default_value = "champion")]
    alias: String,
    /// The candidate's metric must be OP factor × the current one's: `<=`, `<`, `>=`, `>`.
    #[arg(long, default_value = "<=", value_parser = parse_op)]
    op: MetricOp,
    #[arg(long, default_value_t = 1.0)]
    factor: f64,
    /// Only members under this partition, e.g. `region=west`.
    #[arg(long)]
    partition: Option<String>,
    /// Leave models without the alias alone (by default they get their newest version with the metric).
    #[arg(long)]
    only_aliased: bool,
    /// List what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, default_value = "")]
    reason: String,
    /// Recorded in the audit log as who made the change.
    #[arg(long, env = "USER", default_value = "cli")]
    actor: String,
    #[command(flatten)]
    on: ServerArgs,
}

fn parse_op(s: &str) -> Result<MetricOp, String> {
    match s {
        "<" => Ok(MetricOp::Lt),
        "<=" => Ok(MetricOp::Le),
        ">" => Ok(MetricOp::Gt),
        ">=" => Ok(MetricOp::Ge),
        "=" => Ok(MetricOp::Eq),
        other => Err(format!("'{other}' is not one of <, <=, >, >=, =")),
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn version(v: Option<VersionNumber>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// What a command works on.
enum Source {
    Store(Arc<dyn Store>),
    Server(Box<remote::Remote>),
}

pub fn run(args: FleetArgs) -> anyhow::Result<()> {
    let location = args.store.clone();
    let open = move || location.open("run `flotilla server` or `flotilla fleet generate` first");
    let source = |on: &ServerArgs| -> anyhow::Result<Source> {
        match &on.server {
            Some(url) => Ok(Source::Server(Box::new(remote::Remote::new(url)?))),
            None => Ok(Source::Store(open()?)),
        }
    };
    match args.command {
        FleetCommand::Generate(g) => generate::run(&args.store, &g, args.json),
        FleetCommand::Search(s) => search(&source(&s.on)?, s, args.json),
        FleetCommand::Families(on) => {
            let families = match source(&on)? {
                Source::Store(store) => {
                    // The local admin sees every family.
                    let page = PageRequest { max_results: Some(1000), page_token: None };
                    store.list_families(&page, &flotilla_store::Visible::everything())?.items
                }
                Source::Server(server) => server.families()?,
            };
            if args.json {
                return print_json(&families);
            }
            let rows: Vec<Vec<String>> =
                families.iter().map(|f| vec![f.name.clone(), f.levels.join("/"), f.models.to_string()]).collect();
            print!("{}", table::render(&["FAMILY", "LEVELS", "MODELS"], &rows));
            Ok(())
        }
        FleetCommand::Promote(p) => {
            let rule = PromotionRule {
                family: p.family,
                alias: p.alias,
                metric: p.metric,
                op: p.op,
                factor: p.factor,
                promote_unaliased: !p.only_aliased,
                partition: p.partition.as_deref().map(parse_path).transpose()?.unwrap_or_default(),
            };
            let report = match source(&p.on)? {
                Source::Store(store) => store.promote(&rule, p.dry_run, &ChangeContext::claimed(p.actor, p.reason))?,
                Source::Server(server) => server.promote(&rule, p.dry_run, &p.actor, &p.reason)?,
            };
            if args.json {
                return print_json(&fleet_api::AliasReport::from(report));
            }
            print_moves(&report.moves);
            let verb = if report.dry_run { "would move" } else { "moved" };
            let batch = report
                .batch_id
                .map(|b| format!(" (batch {b}; undo with `flotilla fleet rollback {b}`)"))
                .unwrap_or_default();
            println!("{verb} {} of {} models{batch}", report.moves.len(), report.examined);
            Ok(())
        }
        FleetCommand::Rollback { batch, reason, actor, on } => {
            let report = match source(&on)? {
                Source::Store(store) => store.rollback(batch, &ChangeContext::claimed(actor, reason))?,
                Source::Server(server) => server.rollback(batch, &actor, &reason)?,
            };
            if args.json {
                return print_json(&fleet_api::AliasReport::from(report));
            }
            print_moves(&report.moves);
            println!(
                "rolled back {} alias moves of batch {batch} (as batch {})",
                report.moves.len(),
                report.batch_id.map_or_else(|| "-".to_string(), |b| b.to_string())
            );
            Ok(())
        }
        FleetCommand::Audit { model, batch, limit, on } => {
            let events = match source(&on)? {
                Source::Store(store) => {
                    store
                        .audit_log(&AuditQuery {
                            model,
                            batch_id: batch,
                            page: PageRequest { max_results: Some(limit), page_token: None },
                        })?
                        .items
                }
                Source::Server(server) => server.audit(model.as_deref(), batch, limit)?,
            };
            if args.json {
                return print_json(&events.into_iter().map(fleet_api::AliasEvent::from).collect::<Vec<_>>());
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.batch_id.to_string(),
                        e.time.to_string(),
                        if e.actor_verified { e.actor.clone() } else { format!("{} (unverified)", e.actor) },
                        e.kind.clone(),
                        format!("{}@{}", e.model, e.alias),
                        version(e.from),
                        version(e.to),
                        e.reason.clone(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["BATCH", "TIME_MS", "ACTOR", "KIND", "ALIAS", "FROM", "TO", "REASON"], &rows));
            Ok(())
        }
    }
}

fn print_moves(moves: &[flotilla_store::fleet::AliasMove]) {
    let metric = |m: Option<f64>| m.map_or_else(String::new, |m| format!("{m:.4}"));
    let rows: Vec<Vec<String>> = moves
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                m.alias.clone(),
                version(m.from),
                version(m.to),
                metric(m.from_metric),
                metric(m.to_metric),
            ]
        })
        .collect();
    print!("{}", table::render(&["MODEL", "ALIAS", "FROM", "TO", "FROM_METRIC", "TO_METRIC"], &rows));
}

/// Query parameters as the query string a server receives.
fn query_string(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

/// A search's filters as the fleet API's query parameters (what `--server`
/// sends; the server parses them with `flotilla_app::fleet_query`).
fn api_params(s: &SearchArgs, default_order: &str) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut add = |key: &str, value: &str| params.push((key.to_string(), value.to_string()));
    for (key, value) in [("family", &s.family), ("prefix", &s.prefix), ("contains", &s.contains)] {
        if let Some(value) = value {
            add(key, value);
        }
    }
    for p in &s.partition {
        add("partition", &format!("{}={}", p.key, p.value));
    }
    for (key, values) in [
        ("tag", &s.tag),
        ("version_tag", &s.version_tag),
        ("alias", &s.alias),
        ("no_alias", &s.no_alias),
        ("metric", &s.metric),
    ] {
        values.iter().for_each(|v| add(key, v));
    }
    add("order_by", s.order_by.as_deref().unwrap_or(default_order));
    add("max_results", &s.limit.to_string());
    if let Some(token) = &s.page_token {
        add("page_token", token);
    }
    params
}

fn search(source: &Source, s: SearchArgs, json: bool) -> anyhow::Result<()> {
    if s.versions {
        return search_versions(source, s, json);
    }
    anyhow::ensure!(s.version_tag.is_empty(), "--version-tag needs --versions");
    let params = api_params(&s, "name");
    // One parser for a search, whichever side runs it: the server's.
    let query = fleet_query::parse(&query_string(&params), &[])?;
    let page = match source {
        Source::Store(store) => store.search_fleet(&query)?,
        Source::Server(server) => server.search_models(&params)?,
    };
    if json {
        return print_json(&serde_json::json!({ "models": page.items, "next_page_token": page.next_page_token }));
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.family.clone().unwrap_or_default(),
                flotilla_core::fleet::path_string(&m.partition),
                version(m.latest_version),
                m.aliases.iter().map(|a| format!("{}={}", a.alias, a.version)).collect::<Vec<_>>().join(","),
            ]
        })
        .collect();
    print!("{}", table::render(&["NAME", "FAMILY", "PARTITION", "LATEST", "ALIASES"], &rows));
    if let Some(token) = page.next_page_token {
        println!("more: --page-token {token}");
    }
    Ok(())
}

fn search_versions(source: &Source, s: SearchArgs, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        s.contains.is_none() && s.no_alias.is_empty(),
        "--contains and --no-alias search models, not versions"
    );
    let params = api_params(&s, "version");
    let query = fleet_query::parse_versions(&query_string(&params))?;
    let page = match source {
        Source::Store(store) => store.search_versions(&query)?,
        Source::Server(server) => server.search_versions(&params)?,
    };
    if json {
        return print_json(&serde_json::json!({ "versions": page.items, "next_page_token": page.next_page_token }));
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|v| {
            vec![
                v.model.clone(),
                v.version.to_string(),
                v.current_stage.clone(),
                v.aliases.join(","),
                v.metrics.iter().map(|(k, x)| format!("{k}={x:.4}")).collect::<Vec<_>>().join(","),
            ]
        })
        .collect();
    print!("{}", table::render(&["MODEL", "VERSION", "STAGE", "ALIASES", "METRICS"], &rows));
    if let Some(token) = page.next_page_token {
        println!("more: --page-token {token}");
    }
    Ok(())
}
