//! `flotilla-bench monitor-backends`: the monitor and report reads on
//! PostgreSQL against SQLite, in one run on the same data (no server). Loads
//! one fleet through the store API into a SQLite file and into a fresh
//! PostgreSQL database: families of region/store members with a champion
//! each (trained on shared datasets, some superseded), every model's health
//! on four checks, and a week of day windows for a quarter of the models;
//! then times each read (median and p99 over `--reps`) and the load steps,
//! and prints a markdown table with the PostgreSQL/SQLite ratio.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flotilla_core::VersionNumber;
use flotilla_store::datasets::NewDatasetInput;
use flotilla_store::fleet::{BulkVersion, ChangeContext, ModelAddress, NewFamily};
use flotilla_store::health::{Check, CheckResult, HealthScope, HealthUpdate, Status, WorstQuery};
use flotilla_store::monitor::{CacheCounts, ErrorCounts, Grain, Retention, StatsMerge, WindowDelta};
use flotilla_store::report::ReportFilter;
use flotilla_store::{PgStore, SqliteStore, Store, Visible};

const FAMILIES: [&str; 8] = ["demand-forecast", "churn", "pricing", "fraud", "eta", "inventory", "ranking", "anomaly"];
const DAY_MS: i64 = 86_400_000;
/// Models per write call (bulk registration, health, windows).
const BATCH: usize = 1_000;

#[derive(clap::Args, Debug)]
pub struct MonitorBackendsArgs {
    /// Store-level models, spread over eight families.
    #[arg(long, default_value_t = 20_000)]
    models: usize,
    /// Timed calls per read.
    #[arg(long, default_value_t = 30)]
    reps: usize,
    /// The PostgreSQL server (libpq conninfo without dbname) [default: FLOTILLA_TEST_POSTGRES].
    #[arg(long, env = "FLOTILLA_TEST_POSTGRES")]
    postgres: String,
}

/// Stats blobs are opaque to the store: appended, as the suite's.
struct Concat;

impl StatsMerge for Concat {
    fn merge(&self, _grain: Grain, stored: Option<&[u8]>, delta: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = stored.unwrap_or_default().to_vec();
        out.extend_from_slice(delta);
        Ok(out)
    }
}

/// A deterministic spread of `i` over `0..n` (splitmix64).
fn spread(i: u64, salt: u64, n: u64) -> u64 {
    let mut z = i.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % n
}

fn family_of(i: usize) -> &'static str {
    FAMILIES[i % FAMILIES.len()]
}

fn dataset(name: &str, digest: &str) -> NewDatasetInput {
    NewDatasetInput {
        name: name.into(),
        digest: digest.into(),
        source_type: "s3".into(),
        source: format!("s3://data/{name}/{digest}"),
        schema: None,
        context: "training".into(),
    }
}

/// What loading took, step by step, and the models' names (as registered, by index).
struct Load {
    steps: Vec<(&'static str, Duration)>,
    names: Vec<String>,
}

fn timed<T>(steps: &mut Vec<(&'static str, Duration)>, what: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let out = f()?;
    steps.push((what, started.elapsed()));
    Ok(out)
}

fn load(store: &dyn Store, models: usize, now: i64) -> Result<Load> {
    let ctx = ChangeContext::claimed("bench", "monitor-backends");
    let mut steps = Vec::new();
    let names = timed(&mut steps, "register (bulk, 1,000 a call)", || {
        let mut names = Vec::with_capacity(models);
        for name in FAMILIES {
            let levels = vec!["region".into(), "store".into()];
            store.create_family(&NewFamily { name: name.into(), levels, description: None })?;
        }
        for chunk in (0..models).collect::<Vec<_>>().chunks(BATCH) {
            let versions: Vec<BulkVersion> = chunk
                .iter()
                .map(|&i| {
                    // Training data shared by a family, one of four digests; the last is newest.
                    let digest = format!("d{}", spread(i as u64, 2, 4));
                    BulkVersion {
                        model: ModelAddress::Partition {
                            family: family_of(i).into(),
                            partition: flotilla_core::fleet::parse_path(&format!(
                                "region=r{}/store=s{i}",
                                spread(i as u64, 1, 20)
                            ))
                            .expect("a partition path"),
                        },
                        source: "mlflow-artifacts:/bench/m".into(),
                        run_id: None,
                        description: None,
                        tags: vec![],
                        metrics: vec![("rmse".into(), spread(i as u64, 3, 1000) as f64 / 1000.0)],
                        aliases: vec!["champion".into()],
                        datasets: vec![dataset(&format!("{}-train", family_of(i)), &digest)],
                    }
                })
                .collect();
            names.extend(store.register_versions(&versions, &ctx)?.into_iter().map(|r| r.model));
        }
        Ok(names)
    })?;
    timed(&mut steps, "record health (4 checks, 1,000 models a call)", || {
        for chunk in (0..models).collect::<Vec<_>>().chunks(BATCH) {
            let updates: Vec<HealthUpdate> = chunk
                .iter()
                .map(|&i| {
                    let status = |salt| match spread(i as u64, salt, 20) {
                        0 => Status::Fail,
                        1 | 2 => Status::Warn,
                        3 => Status::Unknown,
                        _ => Status::Ok,
                    };
                    let value = |salt| Some(spread(i as u64, salt, 1000) as f64 / 100.0);
                    HealthUpdate {
                        model: names[i].clone(),
                        checks: vec![
                            CheckResult { check: Check::Traffic, status: status(10), value: value(11) },
                            CheckResult { check: Check::ErrorRate, status: status(12), value: value(13) },
                            CheckResult { check: Check::LatencyP99, status: status(14), value: value(15) },
                            CheckResult { check: Check::DataDrift, status: status(16), value: value(17) },
                        ],
                    }
                })
                .collect();
            store.record_health(&updates, now)?;
        }
        store.snapshot_health(now / 3_600_000 * 3_600_000 - 3_600_000)?;
        Ok(())
    })?;
    timed(&mut steps, "day windows (7 days, a quarter of the models)", || {
        let v1 = VersionNumber::new(1).expect("version 1");
        let served: Vec<usize> = (0..models).filter(|i| i % 4 == 0).collect();
        for chunk in served.chunks(BATCH) {
            for day in 1..=7 {
                let deltas: Vec<WindowDelta> = chunk
                    .iter()
                    .map(|&i| {
                        let requests = 1 + spread(i as u64, day, 500);
                        WindowDelta {
                            model: names[i].clone(),
                            version: v1,
                            start_ms: (now / DAY_MS - day as i64) * DAY_MS,
                            length_ms: 60_000,
                            requests,
                            rows: requests * 2,
                            errors: ErrorCounts { server: spread(i as u64, day + 20, 3), ..ErrorCounts::default() },
                            cache: CacheCounts { hits: requests - 1, misses: 1, model_bytes: 1 << 20 },
                            fingerprint: None,
                            stats: vec![1],
                            columns: None,
                        }
                    })
                    .collect();
                store.merge_windows(&deltas, &Retention::default(), now, &Concat)?;
            }
        }
        Ok(())
    })?;
    Ok(Load { steps, names })
}

/// One timed read: its label and the call.
type Read<'a> = (&'static str, Box<dyn Fn(&dyn Store) -> Result<()> + 'a>);

fn reads<'a>(now: i64, one_model: &'a str) -> Vec<Read<'a>> {
    let fleet = ReportFilter::default();
    let family = ReportFilter { family: Some(FAMILIES[0].into()), ..ReportFilter::default() };
    let region = ReportFilter {
        family: Some(FAMILIES[0].into()),
        partition: Some(("region".into(), "r3".into())),
        ..ReportFilter::default()
    };
    let week = (now - 7 * DAY_MS, now);
    let (f1, f2, f3, f4, f5, f6) = (fleet.clone(), family.clone(), fleet.clone(), fleet.clone(), fleet.clone(), region);
    let report = |q: &'static str| {
        move |s: &dyn Store| -> Result<()> {
            let req = flotilla_app::report::report_query(q, now).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            flotilla_app::report::build(s, &req, Visible::everything(), now)?;
            Ok(())
        }
    };
    vec![
        (
            "health counts, fleet",
            Box::new(|s: &dyn Store| Ok(s.health_counts(&HealthScope::Fleet, &Visible::everything()).map(drop)?)),
        ),
        (
            "health counts, family",
            Box::new(|s: &dyn Store| {
                Ok(s.health_counts(&HealthScope::Family(FAMILIES[0].into()), &Visible::everything()).map(drop)?)
            }),
        ),
        (
            "worst models, fleet, first 100",
            Box::new(|s: &dyn Store| Ok(s.worst_models(&WorstQuery::default()).map(drop)?)),
        ),
        (
            "worst models, family, first 100",
            Box::new(|s: &dyn Store| {
                let q = WorstQuery { scope: Some(HealthScope::Family(FAMILIES[0].into())), ..WorstQuery::default() };
                Ok(s.worst_models(&q).map(drop)?)
            }),
        ),
        ("one model's health", Box::new(move |s: &dyn Store| Ok(s.model_health(one_model).map(drop)?))),
        ("report: staleness, fleet", Box::new(move |s: &dyn Store| Ok(s.staleness(&f1, now).map(drop)?))),
        ("report: staleness, family", Box::new(move |s: &dyn Store| Ok(s.staleness(&f2, now).map(drop)?))),
        (
            "report: oldest champions, fleet",
            Box::new(move |s: &dyn Store| Ok(s.oldest_champions(&f3, now, 20).map(drop)?)),
        ),
        ("report: serving, fleet, 7 d", Box::new(move |s: &dyn Store| Ok(s.serving(&f4, week.0, week.1).map(drop)?))),
        ("report: drifted models, fleet", Box::new(move |s: &dyn Store| Ok(s.drifted_models(&f5, 20).map(drop)?))),
        ("report: staleness, a region", Box::new(move |s: &dyn Store| Ok(s.staleness(&f6, now).map(drop)?))),
        ("whole report, fleet, 7 d", Box::new(report("last=7d"))),
        ("whole report, family, 7 d", Box::new(report("family=demand-forecast&last=7d"))),
    ]
}

fn quantile(times: &[Duration], q: f64) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t.get(((t.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn measure(store: &dyn Store, read: &Read<'_>, reps: usize) -> Result<(Duration, Duration)> {
    (read.1)(store).with_context(|| format!("{} (warm-up)", read.0))?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        (read.1)(store).with_context(|| read.0)?;
        times.push(started.elapsed());
    }
    Ok((quantile(&times, 0.5), quantile(&times, 0.99)))
}

pub fn run(args: &MonitorBackendsArgs) -> Result<()> {
    let now = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64) / DAY_MS
        * DAY_MS
        + DAY_MS / 2;
    let dir = tempfile::tempdir()?;
    let sqlite = SqliteStore::open(&dir.path().join("flotilla.db"))?;
    let db = format!("flotilla_bench_{:x}", std::process::id());
    let mut admin = postgres::Client::connect(&format!("{} dbname=postgres", args.postgres), postgres::NoTls)?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;
    admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
    let pg = PgStore::connect(&format!("{} dbname={db}", args.postgres))?;
    let stores: [(&str, &dyn Store); 2] = [("SQLite", &sqlite), ("PostgreSQL", &pg)];
    let mut loads = Vec::new();
    for (name, store) in stores {
        eprintln!("loading {} models into {name}", args.models);
        loads.push(load(store, args.models, now)?);
    }
    // The planner's statistics after a bulk load, as autovacuum would gather them in a while.
    let started = Instant::now();
    postgres::Client::connect(&format!("{} dbname={db}", args.postgres), postgres::NoTls)?.batch_execute("ANALYZE")?;
    eprintln!("ANALYZE on PostgreSQL: {:.1} s", started.elapsed().as_secs_f64());
    // Each read alternates between the backends, so both see the same machine load.
    let one = loads[0].names[7].clone();
    let mut rows = Vec::new();
    for read in reads(now, &one) {
        let s = measure(&sqlite, &read, args.reps)?;
        let p = measure(&pg, &read, args.reps)?;
        rows.push((read.0, s, p));
    }
    println!("| {} models | SQLite median (p99) ms | PostgreSQL median (p99) ms | PG / SQLite |", args.models);
    println!("|---|---|---|---|");
    for (what, (sm, s99), (pm, p99)) in &rows {
        let ratio = pm.as_secs_f64() / sm.as_secs_f64().max(1e-9);
        println!("| {what} | {} ({}) | {} ({}) | {ratio:.1}× |", ms(*sm), ms(*s99), ms(*pm), ms(*p99));
    }
    println!();
    println!("| load step | SQLite s | PostgreSQL s |");
    println!("|---|---|---|");
    for (i, (what, s)) in loads[0].steps.iter().enumerate() {
        println!("| {what} | {:.1} | {:.1} |", s.as_secs_f64(), loads[1].steps[i].1.as_secs_f64());
    }
    drop(pg);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
    Ok(())
}
