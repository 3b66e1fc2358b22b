//! Which replica runs the fleet-wide background jobs (the health job, alert
//! delivery, the report scheduler): the one holding a session advisory lock
//! on a connection of its own. Each of those jobs reads what every replica
//! wrote and acts once for the fleet (a rule's streak counts windows, a
//! webhook is posted, a scheduled report is made), so two replicas running
//! them would count a window twice and post twice. The lock goes with the
//! connection: when the holder dies, another replica takes it.

use postgres::{Client, NoTls};

use crate::error::StoreResult;

/// The advisory lock key ("flotjobs" in ASCII).
const JOBS_LOCK: i64 = 0x666c_6f74_6a6f_6273;

/// The jobs' lock, held while this connection lives. Its client owns a
/// runtime of its own: hold and drop it off the async workers.
pub struct Leadership {
    client: Client,
}

impl Leadership {
    /// Takes the jobs' lock of the database at `url` when no other process holds it.
    pub fn try_take(url: &str) -> StoreResult<Option<Self>> {
        let mut config = super::client_config(url)?;
        config.application_name("flotilla-jobs");
        let mut client = config.connect(NoTls)?;
        let taken: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&JOBS_LOCK])?.get(0);
        Ok(taken.then_some(Self { client }))
    }

    /// Whether the connection (and so the lock) is still there.
    pub fn holds(&mut self) -> bool {
        !self.client.is_closed() && self.client.simple_query("").is_ok()
    }
}
