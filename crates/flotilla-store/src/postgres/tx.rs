//! Pooled connections with a prepared-statement cache, and [`Tx`]: the
//! transaction area code writes against (the PostgreSQL counterpart of
//! rusqlite's `Transaction` with `prepare_cached`).

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement, Transaction};

use crate::error::StoreResult;

/// Statements kept per connection; past it the cache starts over (dynamic
/// search SQL must not grow it without bound).
const CACHED_STATEMENTS: usize = 512;

/// A parameter list, as the `postgres` crate takes it.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One pooled connection and the statements prepared on it.
pub(crate) struct PgConn {
    pub(crate) client: Client,
    pub(crate) cache: HashMap<String, Statement>,
}

/// Makes and checks [`PgConn`]s for the pool.
pub(crate) struct Manager {
    config: postgres::Config,
}

impl Manager {
    pub(crate) fn new(config: postgres::Config) -> Self {
        Self { config }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        let client = self.config.connect(NoTls)?;
        Ok(PgConn { client, cache: HashMap::new() })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// An open transaction and its connection's statement cache.
pub struct Tx<'a> {
    inner: Transaction<'a>,
    cache: &'a mut HashMap<String, Statement>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(inner: Transaction<'a>, cache: &'a mut HashMap<String, Statement>) -> Self {
        Self { inner, cache }
    }

    /// The statement for `sql`, prepared once per connection.
    pub fn prepare_cached(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(stmt) = self.cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.inner.prepare(sql)?;
        if self.cache.len() >= CACHED_STATEMENTS {
            self.cache.clear();
        }
        self.cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Runs a statement; the rows it changed.
    pub fn execute(&mut self, sql: &str, params: Params<'_>) -> StoreResult<u64> {
        let stmt = self.prepare_cached(sql)?;
        Ok(self.inner.execute(&stmt, params)?)
    }

    pub fn query(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        let stmt = self.prepare_cached(sql)?;
        Ok(self.inner.query(&stmt, params)?)
    }

    /// Exactly one row (none is an error: use [`Self::query_opt`] when it may be absent).
    pub fn query_one(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Row> {
        let stmt = self.prepare_cached(sql)?;
        Ok(self.inner.query_one(&stmt, params)?)
    }

    pub fn query_opt(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        let stmt = self.prepare_cached(sql)?;
        Ok(self.inner.query_opt(&stmt, params)?)
    }

    /// Statements without parameters, in one round trip (not cached).
    pub fn batch_execute(&mut self, sql: &str) -> StoreResult<()> {
        Ok(self.inner.batch_execute(sql)?)
    }

    /// The transaction itself, for what the helpers above do not cover (COPY).
    pub fn raw(&mut self) -> &mut Transaction<'a> {
        &mut self.inner
    }

    /// Caps every statement of this transaction at the request's remaining
    /// budget (see [`crate::budget`]); nothing without one.
    pub(crate) fn limit_to_budget(&mut self) -> StoreResult<()> {
        if let Some(left) = crate::budget::remaining() {
            // 0 would mean "no limit": at least one millisecond.
            let ms = left.as_millis().clamp(1, i32::MAX as u128);
            self.inner.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))?;
        }
        Ok(())
    }

    pub(crate) fn commit(self) -> StoreResult<()> {
        Ok(self.inner.commit()?)
    }
}
