//! Starting flotilla, or its peer, as a real process for tests and benches: on a port no other
//! process can take (`--port 0`, the bound port read from the start-up log) or on a chosen free
//! port, waiting until `/health` answers, and stopping it on drop (SIGTERM, then SIGKILL after a
//! grace; the whole process group for a peer that forks workers). `TestServer` adds a temporary
//! data directory and raw HTTP/1.1 for integration tests; `Process` and `Launch` are the
//! mechanics, used directly by the bench.
//!
//! `load` and `crash` are the load run (keep-alive clients, mixed reads and writes) and the
//! kill -9 trials, run short by the integration tests and in full by `flotilla-bench`;
//! `Client` is their HTTP/1.1 client, one keep-alive connection that reports every failure.
//!
//! `TempS3` is moto's S3 server with a bucket, for the S3 artifact store's tests. `Backend`
//! runs a test server on SQLite or PostgreSQL, so one test body runs on both.
//!
//! A dev-dependency only: no production crate depends on this one
//! (`scripts/check-invariants.sh`).

mod backend;
mod client;
pub mod crash;
pub mod fixtures;
pub mod load;
pub mod nginx;
pub mod postgres;
mod process;
pub mod procfs;
mod reply;
pub mod report;
mod requester;
mod s3;
mod server;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

pub use backend::Backend;
pub use client::{Answer, Client, basic, encode_query};
pub use process::{Launch, Port, Process, free_port};
pub use reply::Reply;
pub use requester::Requester;
pub use s3::{TempS3, moto_server};
pub use server::{Options, TestServer};

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("creating the log {}: {source}", path.display())]
    Log { path: PathBuf, source: std::io::Error },
    #[error("starting {name} ({}): {source}", program.display())]
    Spawn { name: String, program: PathBuf, source: std::io::Error },
    #[error("{name} exited before healthy ({status}); log:\n{log}")]
    Exited { name: String, status: ExitStatus, log: String },
    #[error("{name} not healthy after {limit:?}; log:\n{log}")]
    NotHealthy { name: String, limit: Duration, log: String },
    #[error("binding a free port: {0}")]
    FreePort(std::io::Error),
}
