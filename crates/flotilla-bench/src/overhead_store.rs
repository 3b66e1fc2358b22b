//! `flotilla-bench create-cost`: where a create's time goes in the store,
//! without HTTP. Registered models are created one at a time on a fresh
//! store, in batches that alternate four variants: no audit context and no
//! owner; the audit row a request's write appends; that plus the creator's
//! MANAGE grant and its grant-log entry (a create with `--auth basic`); and
//! that plus reading the grant log back after each create, as the server
//! did before the write handed its entries over. Medians of the per-batch
//! mean, and each variant's cost against the one before.

use std::time::Instant;

use anyhow::Result;
use flotilla_store::audit::AuditContext;
use flotilla_store::sqlite::SqliteStore;
use flotilla_store::{AuthStore, RegistryStore};

/// `flotilla-bench create-cost`.
#[derive(clap::Args, Debug)]
pub struct CreateCostArgs {
    /// Batches of each variant.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Creates per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    Bare,
    Audited,
    Owned,
    ReadBack,
}

impl Variant {
    const ALL: [Variant; 4] = [Variant::Bare, Variant::Audited, Variant::Owned, Variant::ReadBack];

    fn label(self) -> &'static str {
        match self {
            Variant::Bare => "create, no audit context, no owner",
            Variant::Audited => "+ the audit row (a request's write)",
            Variant::Owned => "+ creator MANAGE grant and grant-log entry",
            Variant::ReadBack => "+ reading the grant log back after the write",
        }
    }
}

fn context() -> AuditContext {
    AuditContext {
        actor: "bench-user".into(),
        method: "password".into(),
        token_id: None,
        client: Some("127.0.0.1".into()),
        request_id: Some("bench".into()),
        operation: "POST /api/2.0/mlflow/registered-models/create".into(),
    }
}

/// Seconds per create of one batch of `variant`.
fn batch(store: &SqliteStore, owner: i64, variant: Variant, round: usize, n: usize) -> Result<f64> {
    let ctx = context();
    let mut seen = store.auth_generations()?.grants;
    let started = Instant::now();
    for i in 0..n {
        let name = format!("cost-{variant:?}-{round}-{i}");
        match variant {
            Variant::Bare => {
                store.create_registered_model_owned(&name, &[], None, None)?;
            }
            Variant::Audited => {
                ctx.run(|| store.create_registered_model_owned(&name, &[], None, None))?;
            }
            Variant::Owned => {
                ctx.run(|| store.create_registered_model_owned(&name, &[], None, Some(owner)))?;
            }
            Variant::ReadBack => {
                ctx.run(|| store.create_registered_model_owned(&name, &[], None, Some(owner)))?;
                let changes = store.grant_changes(seen, 10_000)?.unwrap_or_default();
                seen = changes.last().map_or(seen, |c| c.seq);
            }
        }
        flotilla_store::auth::take_written_grants();
    }
    Ok(started.elapsed().as_secs_f64() / n as f64)
}

pub fn run(args: &CreateCostArgs) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("flotilla-create-cost-").tempdir()?;
    let store = SqliteStore::open(&dir.path().join("flotilla.db"))?;
    let owner = store.create_user("bench-user", "not-a-real-hash", false)?.id;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
    for round in 0..args.rounds {
        for k in 0..Variant::ALL.len() {
            let v = (round + k) % Variant::ALL.len();
            times[v].push(batch(&store, owner, Variant::ALL[v], round, args.batch)?);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    println!(
        "## Store cost of a create ({} rounds of {} creates per variant, one thread, load average {})\n\n\
         | variant | per create | against the row above |\n|---|---|---|",
        args.rounds,
        args.batch,
        flotilla_testkit::procfs::load_average()
    );
    for (i, v) in Variant::ALL.iter().enumerate() {
        let against =
            if i == 0 { "–".to_string() } else { format!("{:+.1} %", (medians[i] / medians[i - 1] - 1.0) * 100.0) };
        println!("| {} | {:.1} µs | {against} |", v.label(), medians[i] * 1e6);
    }
    Ok(())
}
