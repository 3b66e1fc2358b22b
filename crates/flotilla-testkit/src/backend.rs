//! The metadata store a test server runs on, so one integration test runs
//! on both: the embedded SQLite file (the default) or a fresh database on
//! the test PostgreSQL server (`FLOTILLA_TEST_POSTGRES`, else a cluster of
//! the test's own). [`on_each_backend!`](crate::on_each_backend) makes the two tests of a body.

use crate::postgres::Postgres;
use crate::server::Options;

/// Where a test server keeps its metadata; hold it while the server runs.
pub enum Backend {
    Sqlite,
    /// The server, and the database made for this test.
    Postgres {
        server: Postgres,
        url: String,
    },
}

impl Backend {
    pub fn sqlite() -> Self {
        Self::Sqlite
    }

    /// A fresh database on the test PostgreSQL server.
    pub fn postgres() -> Self {
        let server = Postgres::for_tests().expect("a PostgreSQL server for the tests");
        let url = server.create_database().expect("a database for the test");
        Self::Postgres { server, url }
    }

    /// `options` on this backend.
    pub fn options(&self, options: Options) -> Options {
        match self {
            Self::Sqlite => options,
            Self::Postgres { url, .. } => options.env("FLOTILLA_DATABASE_URL", url.as_str()),
        }
    }

    /// The PostgreSQL database's conninfo; `None` on SQLite (the server's
    /// `flotilla.db` in its data directory).
    pub fn database_url(&self) -> Option<&str> {
        match self {
            Self::Sqlite => None,
            Self::Postgres { url, .. } => Some(url),
        }
    }
}

/// Two tests of one body `fn(&Backend)`: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&$crate::Backend::sqlite());
                }

                #[test]
                fn postgres() {
                    super::$name(&$crate::Backend::postgres());
                }
            }
        )*
    };
}
