//! Load and crash: keep-alive clients sending mixed reads and writes under `--auth basic`
//! with a token (every answer a 2xx, every connection kept, memory bounded), and kill -9
//! during mixed ingest (every acknowledged write present after a restart, the database
//! intact, no orphaned file). Short here; `flotilla-bench load` and `flotilla-bench crash`
//! run them in full (1,000 clients for 60 s, 50 trials) against a release build, and
//! `FLOTILLA_LOAD_CLIENTS`, `FLOTILLA_LOAD_SECONDS` and `FLOTILLA_CRASH_TRIALS` lengthen
//! these.

use std::time::Duration;

use flotilla_testkit::crash::{self, CrashPlan};
use flotilla_testkit::load::{self, LoadPlan, Mix, Op};
use flotilla_testkit::{Client, encode_query};
use flotilla_testkit::{TestServer, basic, options};

const ADMIN_PASSWORD: &str = "admin-password-1";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

#[test]
fn keep_alive_clients_with_mixed_reads_and_writes_get_only_2xx_in_bounded_memory() {
    let server =
        TestServer::start(options!().env("FLOTILLA_AUTH", "basic").env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD));
    let plan = LoadPlan {
        clients: env_or("FLOTILLA_LOAD_CLIENTS", 200) as usize,
        duration: Duration::from_secs(env_or("FLOTILLA_LOAD_SECONDS", 5)),
        models: 20,
        mix: Mix::Mixed,
    };
    let report = runtime().block_on(async {
        let token = load::create_token(server.addr, &basic("admin", ADMIN_PASSWORD)).await.expect("a token");
        load::run(server.addr, server.pid(), Some(&format!("Bearer {token}")), &plan).await.expect("the load run")
    });
    eprintln!("{}", report.markdown());
    assert_eq!(report.errors, 0, "{:?}", report.first_errors);
    assert_eq!(report.connects, plan.clients, "every client kept its one keep-alive connection");
    // Every client got through half its cycle at least, on a busy machine: the mix was sent.
    assert!(report.ok() >= plan.clients * 5, "only {} requests answered", report.ok());
    for &op in plan.mix.cycle() {
        assert!(!report.latencies_of(op).is_empty(), "no answer to {}", op.name());
    }
    let grew = report.peak_rss_kib.saturating_sub(report.rss_before_kib);
    assert!(grew < 256 * 1024, "peak RSS grew by {grew} KiB under load");
}

/// Group commit under 64 concurrent writers (creates, 100-point log-batches, version creates
/// and alias moves, auth off): every answer a 2xx, and exactly the acknowledged creates exist.
#[test]
fn concurrent_writers_share_commits_and_every_acknowledged_create_exists() {
    let server = TestServer::start(options!());
    let plan = LoadPlan { clients: 64, duration: Duration::from_secs(3), models: 8, mix: Mix::Writes };
    let runtime = runtime();
    let report = runtime.block_on(load::run(server.addr, server.pid(), None, &plan)).expect("the load run");
    eprintln!("{}", report.markdown());
    assert_eq!(report.errors, 0, "{:?}", report.first_errors);
    for &op in plan.mix.cycle() {
        assert!(!report.latencies_of(op).is_empty(), "no answer to {}", op.name());
    }
    let acknowledged = report.latencies_of(Op::CreateModel).len();
    let stored = runtime.block_on(async {
        let mut c = Client::new(server.addr, None);
        let filter = encode_query("name LIKE '%-client-%'");
        let (mut count, mut token) = (0, String::new());
        loop {
            let path = format!(
                "/api/2.0/mlflow/registered-models/search?max_results=1000&filter={filter}&page_token={}",
                encode_query(&token)
            );
            let answer = c.get(&path).await.expect("a search page");
            assert!(answer.ok(), "{} {}", answer.status, answer.text());
            let page = answer.json();
            count += page["registered_models"].as_array().map_or(0, Vec::len);
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_owned(),
                _ => break count,
            }
        }
    });
    assert_eq!(stored, acknowledged, "creates stored against creates acknowledged");
}

#[test]
fn kill_9_during_mixed_ingest_loses_no_acknowledged_write() {
    let work = tempfile::tempdir().expect("a work directory");
    let plan = CrashPlan {
        trials: env_or("FLOTILLA_CRASH_TRIALS", 3) as usize,
        writers: 8,
        kill_after: (Duration::from_millis(300), Duration::from_millis(1500)),
        seed: env_or("FLOTILLA_CRASH_SEED", 13),
    };
    let report = runtime()
        .block_on(crash::run(&options!(), work.path(), &plan, |line| eprintln!("{line}")))
        .expect("the crash trials");
    eprintln!("{}", report.summary());
    assert!(report.failures.is_empty(), "{}", report.summary());
    // The trials wrote something of every kind, so the checks had something to find.
    for (what, n) in [
        ("metric points", report.metric_points),
        ("versions", report.versions),
        ("alias moves", report.alias_moves),
        ("artifacts", report.artifacts),
    ] {
        assert!(n > 0, "no acknowledged {what}");
    }
}
