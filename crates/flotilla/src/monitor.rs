//! `flotilla monitor ...`: fleet health (`health`), a model's drift
//! (`drift`), alert rules and deliveries (`alerts rules|deliveries`), on a
//! data directory's or PostgreSQL database's store (through `flotilla_app::monitor`, as the local
//! admin) or, with `--server URL`, through a running server's monitoring
//! API: the same JSON either way; without `--json`, a table.

use clap::{Args, Subcommand};
use flotilla_app::monitor::{alerts, drift_read, health};
use flotilla_store::alerts::DeliveryQuery;
use flotilla_store::{Store, Visible};
use hyper::Method;
use serde_json::{Value, json};

use crate::fleet::{remote, table};
use crate::local_store::StoreLocation;

#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Go through this running server's monitoring API instead of the data
    /// directory, with the credentials of `flotilla fleet --server`.
    #[arg(long, env = "FLOTILLA_SERVER", global = true)]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: MonitorCommand,
}

#[derive(Subcommand, Debug)]
pub enum MonitorCommand {
    /// Health counts per check and status, and the worst models: the fleet's,
    /// a family's (and a partition `key=value` of it), or a tag's `key=value`.
    Health {
        #[arg(long)]
        family: Option<String>,
        #[arg(long)]
        partition: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// Worst models listed (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// A model's drift against its reference over a range (ms since the epoch; the last day by default).
    Drift {
        model: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
    },
    /// Alert rules, or their delivery attempts.
    Alerts {
        #[command(subcommand)]
        what: AlertsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    Rules,
    Deliveries {
        /// Only this rule's.
        #[arg(long)]
        rule: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

fn query(params: &[(&str, Option<String>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The API path of a command (with its query string).
fn path(command: &MonitorCommand) -> String {
    match command {
        MonitorCommand::Health { family, partition, tag, limit } => format!(
            "/api/monitor/v1/health?{}",
            query(&[
                ("family", family.clone()),
                ("partition", partition.clone()),
                ("tag", tag.clone()),
                ("max_results", Some(limit.to_string())),
            ])
        ),
        MonitorCommand::Drift { model, version, from, to } => format!(
            "/api/monitor/v1/models/{}/drift?{}",
            segment(model),
            query(&[
                ("version", version.clone()),
                ("from", from.map(|v| v.to_string())),
                ("to", to.map(|v| v.to_string()))
            ])
        ),
        MonitorCommand::Alerts { what: AlertsCommand::Rules } => "/api/monitor/v1/alerts/rules".into(),
        MonitorCommand::Alerts { what: AlertsCommand::Deliveries { rule, limit } } => format!(
            "/api/monitor/v1/alerts/deliveries?{}",
            query(&[("rule", rule.map(|r| r.to_string())), ("max_results", Some(limit.to_string()))])
        ),
    }
}

/// The answer on a data directory: what the server answers an admin.
fn local(store: &dyn Store, command: &MonitorCommand) -> anyhow::Result<Value> {
    let raw = path(command);
    let raw = raw.split_once('?').map_or("", |(_, q)| q);
    Ok(match command {
        MonitorCommand::Health { .. } => {
            let (scope, page) = health::health_query(raw)?;
            health::health_answer(store, scope, page, Visible::everything())?
        }
        MonitorCommand::Drift { model, .. } => {
            let ask = drift_read::drift_query(raw, flotilla_app::monitor::telemetry::now_ms())?;
            drift_read::answer(store, model, &ask)?
        }
        MonitorCommand::Alerts { what: AlertsCommand::Rules } => {
            json!({ "rules": store.list_rules()?.iter().map(alerts::rule_json).collect::<Vec<_>>() })
        }
        MonitorCommand::Alerts { what: AlertsCommand::Deliveries { rule, limit } } => {
            let q = DeliveryQuery {
                rule_id: *rule,
                page: flotilla_store::PageRequest { max_results: Some(*limit), page_token: None },
                ..DeliveryQuery::default()
            };
            let page = store.deliveries(&q)?;
            json!({ "deliveries": page.items.iter().map(alerts::delivery_json).collect::<Vec<_>>(),
                    "next_page_token": page.next_page_token })
        }
    })
}

pub fn run(args: MonitorArgs) -> anyhow::Result<()> {
    let answer = match &args.server {
        Some(url) => remote::Remote::new(url)?.json(Method::GET, &path(&args.command), None)?,
        None => {
            let store = args.store.open("give --data-dir, --database or --server")?;
            local(store.as_ref(), &args.command)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", render(&args.command, &answer));
    }
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |f| if f.fract() == 0.0 { n.to_string() } else { format!("{f:.4}") }),
        other @ (Value::Bool(_) | Value::Array(_) | Value::Object(_)) => other.to_string(),
    }
}

fn render(command: &MonitorCommand, a: &Value) -> String {
    match command {
        MonitorCommand::Health { .. } => {
            let statuses = ["ok", "warn", "fail", "unknown"];
            let rows: Vec<Vec<String>> = a["counts"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(check, c)| {
                            std::iter::once(check.clone()).chain(statuses.iter().map(|st| s(&c[*st]))).collect()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut out = table::render(&["check", "ok", "warn", "fail", "unknown"], &rows);
            let worst: Vec<Vec<String>> = a["worst"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .map(|m| {
                            let failing: Vec<String> = m["checks"]
                                .as_object()
                                .map(|c| {
                                    c.iter()
                                        .filter(|(_, v)| v["status"] == "fail" || v["status"] == "warn")
                                        .map(|(k, v)| format!("{k}={}", s(&v["status"])))
                                        .collect()
                                })
                                .unwrap_or_default();
                            vec![s(&m["model"]), s(&m["family"]), s(&m["score"]), failing.join(" ")]
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push('\n');
            out.push_str(&table::render(&["worst model", "family", "score", "checks"], &worst));
            out
        }
        MonitorCommand::Drift { .. } => {
            let mut out = format!(
                "{} v{}: {} (reference: {})\n",
                s(&a["model"]),
                s(&a["version"]),
                s(&a["verdict"]),
                a["reference"].as_object().map_or("none".into(), |r| format!(
                    "{} {}@{}",
                    s(&r["kind"]),
                    s(&r["dataset"]),
                    s(&r["digest"])
                ))
            );
            let rows: Vec<Vec<String>> = a["features"]
                .as_array()
                .into_iter()
                .chain(a["prediction_drift"].as_array())
                .flatten()
                .map(|f| vec![s(&f["feature"]), s(&f["method"]), s(&f["score"]), s(&f["threshold"]), s(&f["verdict"])])
                .collect();
            out.push_str(&table::render(&["feature", "method", "score", "threshold", "verdict"], &rows));
            out
        }
        MonitorCommand::Alerts { what: AlertsCommand::Rules } => {
            let rows: Vec<Vec<String>> = a["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let scope = [&r["family"], &r["partition"], &r["model"]]
                        .iter()
                        .map(|v| s(v))
                        .filter(|v| !v.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    vec![
                        s(&r["id"]),
                        s(&r["name"]),
                        format!("{} {scope}", s(&r["scope"])),
                        s(&r["check"]),
                        s(&r["status"]),
                        s(&r["windows"]),
                        s(&r["webhook_url"]),
                    ]
                })
                .collect();
            table::render(&["id", "name", "scope", "check", "status", "windows", "webhook"], &rows)
        }
        MonitorCommand::Alerts { what: AlertsCommand::Deliveries { .. } } => {
            let rows: Vec<Vec<String>> = a["deliveries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    vec![
                        s(&d["id"]),
                        s(&d["rule_id"]),
                        s(&d["model"]),
                        s(&d["kind"]),
                        s(&d["attempt"]),
                        s(&d["outcome"]),
                        s(&d["status_code"]),
                        s(&d["error"]),
                    ]
                })
                .collect();
            table::render(&["id", "rule", "model", "kind", "attempt", "outcome", "status", "error"], &rows)
        }
    }
}
