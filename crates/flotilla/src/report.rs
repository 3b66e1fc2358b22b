//! `flotilla report`: a fleet report (issue 16) for the whole fleet, a
//! family, a partition or a tag, over a period against a comparison
//! period, written as one self-contained HTML file (`--out`) and, with
//! `--csv DIR` / `--parquet DIR`, one file per section table. On a data
//! directory (or a PostgreSQL database, `--database`) the report is
//! computed here (as the local admin); with
//! `--server URL` it is fetched from `GET /api/reports/v1/report` as JSON
//! (as the caller sees it) and rendered by the same code.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use flotilla_app::report::{Report, export, report_query};
use flotilla_store::{PgStore, SqliteStore, Visible};
use hyper::Method;

use crate::fleet::remote;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The data directory whose store to use (as `flotilla server --data-dir`).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value = "./flotilla-data")]
    pub data_dir: PathBuf,
    /// The PostgreSQL database to read instead (as `flotilla server --database`).
    #[arg(long = "database", env = "FLOTILLA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Ask this running server instead, with the credentials of `flotilla fleet --server`.
    #[arg(long, env = "FLOTILLA_SERVER")]
    pub server: Option<String>,
    /// Only this family.
    #[arg(long)]
    pub family: Option<String>,
    /// Only this partition of the family, `key=value`.
    #[arg(long, requires = "family")]
    pub partition: Option<String>,
    /// Only models with this tag, `key=value`.
    #[arg(long, conflicts_with = "family")]
    pub tag: Option<String>,
    /// The period's start: `YYYY-MM-DD` (UTC) or ms since the epoch.
    #[arg(long, conflicts_with = "last")]
    pub from: Option<String>,
    /// The period's end (exclusive; default now).
    #[arg(long)]
    pub to: Option<String>,
    /// The period as a length ending at `--to` (or now): `7d`, `2w`, `24h`. Default 7d.
    #[arg(long)]
    pub last: Option<String>,
    /// The comparison period, `FROM..TO` (default: the period of the same length just before).
    #[arg(long)]
    pub compare_to: Option<String>,
    /// The key metric of the quality section (default: the first the champions carry).
    #[arg(long)]
    pub metric: Option<String>,
    /// Where to write the HTML report.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Also write each section's table as CSV into this directory.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write each section's table as Parquet into this directory.
    #[arg(long)]
    pub parquet: Option<PathBuf>,
    /// With --data-dir: what the store's readers memory-map at most, in
    /// bytes (default 0: nothing, the report reads through the page cache
    /// and its resident set stays small at 10⁶ models).
    #[arg(long, hide = true, default_value_t = 0)]
    pub mmap: u64,
}

impl ReportArgs {
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("family", &self.family),
            ("partition", &self.partition),
            ("tag", &self.tag),
            ("from", &self.from),
            ("to", &self.to),
            ("last", &self.last),
            ("compare_to", &self.compare_to),
            ("metric", &self.metric),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

fn compute(args: &ReportArgs) -> anyhow::Result<Report> {
    let query = args.query();
    if let Some(url) = &args.server {
        let answer = remote::Remote::new(url)?.json(
            Method::GET,
            &format!("/api/reports/v1/report?{query}&format=json"),
            None,
        )?;
        return serde_json::from_value(answer).context("reading the server's report");
    }
    let now = flotilla_app::monitor::alerts_delivery::now_ms();
    let req = report_query(&query, now).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let built = match args.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            let store = PgStore::connect(url).context("connecting to the PostgreSQL database (--database)")?;
            flotilla_app::report::build(&store, &req, Visible::everything(), now)
        }
        None => {
            let db = crate::config::database_path(&args.data_dir);
            anyhow::ensure!(db.exists(), "no store at {} (give --data-dir, --database or --server)", db.display());
            let store = SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
            // A report scans much of the store once: read it through the page cache
            // instead of mapping it, so the process's memory stays small at 10⁶ models.
            store.limit_reader_mmap(args.mmap).context("limiting the store's memory map")?;
            flotilla_app::report::build(&store, &req, Visible::everything(), now)
        }
    };
    built.map_err(|e| anyhow::anyhow!("{}", flotilla_app::error::from_store(e).message))
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let report = compute(&args)?;
    let html = flotilla_web::report_document(&report);
    std::fs::write(&args.out, &html).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {} ({} bytes)", args.out.display(), html.len());
    let err = |e: flotilla_core::Error| anyhow::anyhow!("{}", e.message);
    if let Some(dir) = &args.csv {
        for p in export::write_csv(&report, dir).map_err(err)? {
            println!("wrote {}", p.display());
        }
    }
    if let Some(dir) = &args.parquet {
        for p in export::write_parquet(&report, dir).map_err(err)? {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
