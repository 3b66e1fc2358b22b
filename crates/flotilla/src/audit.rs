//! `flotilla audit`: the audit trail of every change (who, how, from where,
//! under which request id, what, before and after), newest first, filtered,
//! read from a data directory's store (or a PostgreSQL database's,
//! `--database`) or, with `--server URL`, through a
//! running server's `/api/fleet/v1/audit/events`. (`flotilla fleet audit`
//! stays the log of alias moves.)

use clap::Args;
use flotilla_app::fleet_api::audit::{AuditEvent, AuditEvents};
use flotilla_store::PageRequest;
use flotilla_store::audit::AuditEventQuery;

use crate::fleet::{ServerArgs, remote, table};
use crate::local_store::StoreLocation;

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    store: StoreLocation,
    /// Only changes by this user.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (`registered_model.create`), or a prefix ending in `*` (`run.*`).
    #[arg(long)]
    action: Option<String>,
    /// Only changes to this kind of resource (`registered_model`, `run`, `artifact`, ...).
    #[arg(long)]
    resource_kind: Option<String>,
    /// Only changes to this resource (a model's name, a run's id, an artifact's path).
    #[arg(long)]
    resource_id: Option<String>,
    /// Only the changes of this request (its `x-request-id`).
    #[arg(long)]
    request_id: Option<String>,
    /// From this time on (milliseconds since the epoch).
    #[arg(long)]
    since: Option<i64>,
    /// Before this time (milliseconds since the epoch).
    #[arg(long)]
    until: Option<i64>,
    /// Rows per page.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// The token printed after the previous page.
    #[arg(long)]
    page_token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    on: ServerArgs,
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let query = AuditEventQuery {
        actor: args.actor,
        action: args.action,
        resource_kind: args.resource_kind,
        resource_id: args.resource_id,
        request_id: args.request_id,
        since: args.since,
        until: args.until,
        page: PageRequest { max_results: Some(args.limit), page_token: args.page_token },
    };
    let answer = match &args.on.server {
        Some(url) => remote::Remote::new(url)?.audit_events(&query)?,
        None => {
            let page = args.store.open("run `flotilla server` first")?.audit_events(&query)?;
            AuditEvents {
                events: page.items.into_iter().map(Into::into).collect(),
                next_page_token: page.next_page_token,
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = answer.events.iter().map(row).collect();
    print!(
        "{}",
        table::render(
            &["ID", "TIME_MS", "ACTOR", "METHOD", "CLIENT", "REQUEST_ID", "ACTION", "RESOURCE", "CHANGE"],
            &rows
        )
    );
    if let Some(token) = answer.next_page_token {
        println!("next page: --page-token {token}");
    }
    Ok(())
}

fn row(e: &AuditEvent) -> Vec<String> {
    let doc = |d: &Option<serde_json::Value>| d.as_ref().map_or_else(|| "-".to_string(), |v| v.to_string());
    let change = match (&e.before, &e.after) {
        (None, None) if e.count > 1 => format!("{} items", e.count),
        (None, None) => String::new(),
        _ => format!("{} -> {}", doc(&e.before), doc(&e.after)),
    };
    let method = match &e.token_id {
        Some(t) => format!("{} {t}", e.method),
        None => e.method.clone(),
    };
    vec![
        e.id.to_string(),
        e.time.to_string(),
        e.actor.clone(),
        method,
        e.client.clone().unwrap_or_default(),
        e.request_id.clone().unwrap_or_default(),
        e.action.clone(),
        format!("{}:{}", e.resource_kind, e.resource_id),
        change,
    ]
}
