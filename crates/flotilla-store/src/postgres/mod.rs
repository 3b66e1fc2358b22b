//! The PostgreSQL backend: a pool of synchronous connections (the `postgres`
//! crate), the schema of SQLite's migrations translated (`migrations/`,
//! same numbers), and one file per area trait as in `sqlite/`.
//!
//! Ported areas (pass their behaviour-suite cases, `tests/postgres.rs`):
//! experiments, runs (with `search_runs`), logged models, the registry
//! (models, versions, tags, aliases, stages, both searches), auth (users,
//! tokens, grants, the grant log), UI sessions, the audit trail, families,
//! fleet search and facets, version search, insights, dataset profiles,
//! bulk registration and alias changes, promotion (dry run, apply,
//! rollback, the alias audit log), datasets and lineage, gc, serving
//! telemetry (windows and kept predictions; version facts by the trait's
//! default, one version at a time), drift settings and baselines, fleet
//! health (records, roll-ups, history), alerts, and reports (sections,
//! schedules, the reports made). Every area trait is implemented; what
//! differs from SQLite is said in each area's file (the report sections
//! read the champions and day windows where SQLite keeps counters).
//!
//! Architecture invariants, as on SQLite: each public call runs in exactly
//! one transaction. Writes run SERIALIZABLE, so area code may read, decide
//! and write as it does under SQLite's single writer; a serialization
//! failure or deadlock rolls back and retries the whole closure (hence
//! `FnMut`), and a unique violation is retried once (the retry sees the row a
//! concurrent writer committed and answers as SQLite would, e.g.
//! `AlreadyExists`). Reads run in a REPEATABLE READ READ ONLY transaction (one
//! snapshot). A write's audit row ([`crate::audit`]) and grant-log entries
//! are written in its transaction exactly as SQLite's `write` does.
//! A request budget becomes the transaction's `statement_timeout`.
//!
//! The registry generation serving caches by is the database's, not the
//! process's: migration 22's triggers notify every committed registry change
//! and `listener.rs` bumps this process's counter for each, so an alias moved
//! through one replica is seen by all of them.

mod alert_eval;
mod alerts;
mod alias_plan;
mod aliases;
mod audit;
mod auth;
mod bulk;
mod datasets;
mod experiments;
mod facets;
mod families;
mod fleet_rows;
mod fleet_search;
mod fleet_sql;
mod gc;
mod grant_log;
mod health;
mod health_write;
mod import;
mod insights;
mod leader;
pub use leader::Leadership;
mod lineage;
mod listener;
pub use listener::APPLICATION_NAME as LISTENER_APPLICATION_NAME;
mod logged_models;
mod metrics;
pub mod migrations;
mod monitor;
mod profiles;
mod promotion;
mod registry;
mod registry_search;
mod report;
mod report_sections;
mod rows;
mod runs;
mod search_runs;
mod session;
mod sql;
mod tx;
mod version_search;
mod visible;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flotilla_core::ErrorKind;
use postgres::IsolationLevel;
use postgres::error::SqlState;

pub use self::tx::Tx;
use crate::error::{StoreError, StoreResult};
use crate::schema::{SchemaStatus, Upgrade};

/// The client settings for `url`, with flotilla's defaults where it names none.
fn client_config(url: &str) -> StoreResult<postgres::Config> {
    let mut config = postgres::Config::from_str(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.keepalives(true);
    if config.get_application_name().is_none() {
        config.application_name("flotilla");
    }
    Ok(config)
}

/// Connections kept open at most.
const POOL_SIZE: u32 = 16;
/// How long a call waits for a pooled connection (or a new one) before failing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of a write that keeps meeting serialization failures (the ones
/// after [`OPTIMISTIC_ATTEMPTS`] run alone, so they rarely need many).
const WRITE_ATTEMPTS: u32 = 12;
/// Attempts a write makes beside other writers (holding [`WRITE_LOCK`]
/// shared); after them it takes the lock exclusively and runs alone.
const OPTIMISTIC_ATTEMPTS: u32 = 2;
/// The longest pause between two attempts, in milliseconds.
const MAX_RETRY_PAUSE_MS: u64 = 200;
/// The advisory lock every write holds ("flotwrit" in ASCII): shared for the
/// transaction normally, exclusive for the session by a write that collided.
const WRITE_LOCK: i64 = 0x666c_6f74_7772_6974;

pub struct PgStore {
    /// Always `Some` until dropped (see the `Drop` impl).
    pool: Option<r2d2::Pool<tx::Manager>>,
    /// Bumped after every committed registry write of this process (see
    /// `write_registry`) and, through `listener`, of any process.
    registry_generation: Arc<AtomicU64>,
    /// Hears other processes' registry changes; `None` if it could not start.
    listener: Option<listener::Listener>,
}

impl PgStore {
    /// Connects to `url` (`postgresql://user@host:port/db`, or libpq's
    /// `key=value` form) and migrates as opening for use may (`crate::schema`:
    /// a new database is created, one a single migration behind upgraded,
    /// an older one refused).
    pub fn connect(url: &str) -> StoreResult<Self> {
        let config = client_config(url)?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(tx::Manager::new(config.clone()))?;
        let registry_generation = Arc::new(AtomicU64::new(1));
        let mut store =
            Self { pool: Some(pool), registry_generation: Arc::clone(&registry_generation), listener: None };
        {
            let mut conn = store.conn()?;
            migrations::apply(&mut conn.client, Upgrade::OneStep)?;
        }
        // After the migrations: the triggers that notify exist from here on.
        store.listener = Some(
            listener::Listener::start(config, registry_generation)
                .map_err(|e| flotilla_core::Error::internal(format!("starting the registry listener: {e}")))?,
        );
        Ok(store)
    }

    /// The schema of the database at `url`, changing nothing (`flotilla db status`).
    pub fn schema_status(url: &str) -> StoreResult<SchemaStatus> {
        migrations::status(&mut client_config(url)?.connect(postgres::NoTls)?)
    }

    /// Applies pending migrations (all, or up to and including `to`) to the
    /// database at `url` (`flotilla db upgrade`); the status before.
    pub fn upgrade(url: &str, to: Option<u32>) -> StoreResult<SchemaStatus> {
        migrations::apply(&mut client_config(url)?.connect(postgres::NoTls)?, Upgrade::UpTo(to))
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> StoreResult<u32> {
        let mut conn = self.conn()?;
        migrations::current(&mut conn.client)
    }

    /// Runs `f` in a read transaction (one consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let conn = &mut *conn;
        let inner =
            conn.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let mut tx = Tx::new(inner, &mut conn.cache);
        tx.limit_to_budget()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A registry write: like [`Self::write`], then bumps the registry generation.
    pub(crate) fn write_registry<T>(&self, f: impl FnMut(&mut Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let out = self.write(f)?;
        self.registry_generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// Runs `f` in one SERIALIZABLE write transaction; any error rolls
    /// everything back. A serialization failure runs `f` again on a fresh
    /// transaction. Under an audit context the transaction also appends its
    /// audit row, so the change and its record commit together.
    ///
    /// Writes that keep colliding (every model creation updates the same
    /// registry-wide facet counter, so replicas creating models at once
    /// always do) stop racing after [`OPTIMISTIC_ATTEMPTS`]: such a write
    /// takes [`WRITE_LOCK`] exclusively, across every process on the
    /// database, before its transaction starts. Every other write holds the
    /// lock shared from its first statement, so the exclusive one runs once
    /// those in progress have ended and no new one starts beside it (a
    /// waiting exclusive request queues later shared ones): it cannot
    /// collide again, instead of failing after [`WRITE_ATTEMPTS`].
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut unique_retried = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = if attempt > OPTIMISTIC_ATTEMPTS {
                self.write_queued(&mut f)
            } else {
                self.write_once(&mut self.conn()?, &mut f, false)
            };
            match outcome {
                Err(StoreError::Postgres(e)) if attempt < WRITE_ATTEMPTS && retryable(&e, &mut unique_retried) => {
                    tracing::debug!(attempt, error = %e, "write retried");
                    // Exponential backoff with full jitter, so writers that collided spread out.
                    let ceiling = (1u64 << attempt.min(16)).min(MAX_RETRY_PAUSE_MS);
                    std::thread::sleep(Duration::from_millis(rand::random_range(1..=ceiling)));
                }
                other => return other,
            }
        }
    }

    /// [`Self::write_once`] holding [`WRITE_LOCK`] exclusively (a session
    /// lock, taken before the transaction's snapshot and released after its end).
    fn write_queued<T>(&self, f: &mut impl FnMut(&mut Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        conn.client.execute("SELECT pg_advisory_lock($1)", &[&WRITE_LOCK])?;
        let out = self.write_once(&mut conn, f, true);
        if let Err(e) = conn.client.execute("SELECT pg_advisory_unlock($1)", &[&WRITE_LOCK]) {
            // The lock goes with the session; an unlock fails only on a broken
            // connection, which the pool discards (`has_broken`), ending it.
            tracing::warn!(error = %e, "releasing the write lock failed");
        }
        out
    }

    fn write_once<T>(
        &self,
        conn: &mut r2d2::PooledConnection<tx::Manager>,
        f: &mut impl FnMut(&mut Tx<'_>) -> StoreResult<T>,
        exclusive: bool,
    ) -> StoreResult<T> {
        let conn = &mut **conn;
        let inner = conn.client.build_transaction().isolation_level(IsolationLevel::Serializable).start()?;
        let mut tx = Tx::new(inner, &mut conn.cache);
        tx.limit_to_budget()?;
        if !exclusive {
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&WRITE_LOCK])?;
        }
        crate::audit::take_note();
        crate::sqlite::grant_log_begin();
        let out = f(&mut tx)?;
        audit::append(&mut tx)?;
        tx.commit()?;
        crate::sqlite::grant_log_committed();
        Ok(out)
    }

    /// A pooled connection (waits at most the connect timeout).
    fn conn(&self) -> StoreResult<r2d2::PooledConnection<tx::Manager>> {
        match &self.pool {
            Some(pool) => Ok(pool.get()?),
            None => Err(flotilla_core::Error::internal("the PostgreSQL store is closed").into()),
        }
    }

    fn generation(&self) -> u64 {
        self.registry_generation.load(Ordering::Acquire)
    }
}

/// Each connection of the synchronous client owns a small tokio runtime,
/// which may not be dropped on an async worker thread (the server's last
/// reference to its store may go there): the pool is dropped on a thread of
/// its own.
impl Drop for PgStore {
    fn drop(&mut self) {
        drop(self.listener.take());
        if let Some(pool) = self.pool.take() {
            let dropped = std::thread::Builder::new().name("pg-pool-drop".into()).spawn(move || drop(pool));
            if let Ok(handle) = dropped {
                let _ = handle.join();
            }
        }
    }
}

/// Whether a failed write should run again.
fn retryable(e: &postgres::Error, unique_retried: &mut bool) -> bool {
    match e.code() {
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => true,
        Some(c) if *c == SqlState::UNIQUE_VIOLATION && !*unique_retried => {
            *unique_retried = true;
            true
        }
        Some(_) | None => false,
    }
}

/// The kind a PostgreSQL error is answered with.
pub(crate) fn error_kind(e: &postgres::Error) -> ErrorKind {
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => ErrorKind::Interrupted,
        // Still colliding after every attempt: the client may try again.
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            ErrorKind::Busy
        }
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => ErrorKind::AlreadyExists,
        Some(_) | None => ErrorKind::Internal,
    }
}
