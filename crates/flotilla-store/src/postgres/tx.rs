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

/// Below this budget the session's `statement_timeout` is set to the budget exactly.
const EXACT_BELOW_MS: u64 = 2_000;
/// Above it, a timeout up to this much shorter than the budget is kept as it is.
const KEPT_SLACK_MS: u64 = 250;

/// One pooled connection and the statements prepared on it.
pub(crate) struct PgConn {
    pub(crate) client: Client,
    pub(crate) cache: HashMap<String, Statement>,
    /// The session's `statement_timeout` in milliseconds (0: none), once this
    /// process set it.
    statement_timeout_ms: Option<u64>,
}

impl PgConn {
    /// Caps the statements of the transaction about to start at the request's
    /// remaining budget (see [`crate::budget`]; none without one) through the
    /// session's `statement_timeout`, set outside any transaction and only when
    /// the current one is not within [`KEPT_SLACK_MS`] below the budget: most
    /// requests reach the store with about the same budget, so most
    /// transactions pay no round trip for it. A long budget is set
    /// 100 ms short, so the next requests' slightly smaller ones keep it.
    pub(crate) fn limit_to_budget(&mut self) -> StoreResult<()> {
        // 0 would mean "no limit": at least one millisecond.
        let budget = crate::budget::remaining().map(|left| left.as_millis().clamp(1, i32::MAX as u128) as u64);
        let kept = match (budget, self.statement_timeout_ms) {
            (None, Some(current)) => current == 0,
            (Some(budget), Some(current)) if budget >= EXACT_BELOW_MS => {
                current != 0 && current <= budget && current + KEPT_SLACK_MS >= budget
            }
            (Some(budget), Some(current)) => current == budget,
            (_, None) => false,
        };
        if !kept {
            let ms = match budget {
                None => 0,
                Some(budget) if budget >= EXACT_BELOW_MS => budget - 100,
                Some(budget) => budget,
            };
            self.client.batch_execute(&format!("SET statement_timeout = {ms}"))?;
            self.statement_timeout_ms = Some(ms);
        }
        Ok(())
    }
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
        Ok(PgConn { client, cache: HashMap::new(), statement_timeout_ms: None })
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

    pub(crate) fn commit(self) -> StoreResult<()> {
        Ok(self.inner.commit()?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::budget::Budget;
    use crate::postgres::PgStore;

    /// The pool hands the same idle connection back to a sequential caller,
    /// so each call below runs on the session the one before it limited.
    #[test]
    fn a_budget_stops_a_long_statement_and_never_limits_the_calls_after_it() {
        let server = flotilla_testkit::postgres::Postgres::for_tests().expect("a PostgreSQL server");
        let store = PgStore::connect(&server.create_database().expect("a database")).expect("connect");
        let sleep = |seconds: f64| {
            store.read(|tx| {
                tx.execute(&format!("SELECT pg_sleep({seconds})"), &[])?;
                Ok(())
            })
        };
        let short = || Budget::new(Duration::from_millis(300));
        let started = Instant::now();
        assert!(short().run(|| sleep(3.0)).is_err(), "a 3 s statement under a 300 ms budget");
        assert!(started.elapsed() < Duration::from_secs(2), "stopped after {:?}", started.elapsed());
        sleep(0.6).expect("without a budget nothing limits the statement");
        Budget::new(Duration::from_secs(30)).run(|| sleep(0.6)).expect("well within a long budget");
        Budget::new(Duration::from_secs(30)).run(|| sleep(0.6)).expect("the kept timeout still allows it");
        assert!(short().run(|| sleep(3.0)).is_err(), "a short budget after a long one");
        sleep(0.6).expect("and none after it");
    }
}
