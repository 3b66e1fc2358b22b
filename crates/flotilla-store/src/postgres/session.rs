//! UI sessions on PostgreSQL (`auth_sessions`, migration 11; as `sqlite/session.rs`).

use flotilla_core::Error;

use super::PgStore;
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::session::{Session, SessionStore};
use crate::sqlite::now_ms;

impl SessionStore for PgStore {
    fn create_session(&self, id_hash: &[u8; 32], user_id: i64, expires_at: i64) -> StoreResult<Session> {
        self.write(|tx| {
            let exists: bool =
                tx.query_one("SELECT EXISTS (SELECT 1 FROM auth_users WHERE id = $1)", &[&user_id])?.get(0);
            if !exists {
                return Err(Error::not_found(format!("User with id={user_id} not found")).into());
            }
            note(Change::new("session.create", "user", user_id.to_string()));
            let now = now_ms();
            tx.execute(
                "INSERT INTO auth_sessions (id_hash, user_id, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $3, $4)",
                &[&&id_hash[..], &user_id, &now, &expires_at],
            )?;
            Ok(Session { user_id, created_at: now, last_seen_at: now, expires_at })
        })
    }

    fn find_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<Session>> {
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT user_id, created_at, last_seen_at, expires_at FROM auth_sessions WHERE id_hash = $1",
                    &[&&id_hash[..]],
                )?
                .map(|r| Session {
                    user_id: r.get(0),
                    created_at: r.get(1),
                    last_seen_at: r.get(2),
                    expires_at: r.get(3),
                }))
        })
    }

    fn touch_session(&self, id_hash: &[u8; 32], at: i64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE auth_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id_hash = $1",
                &[&&id_hash[..], &at],
            )?;
            Ok(())
        })
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<bool> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM auth_sessions WHERE id_hash = $1", &[&&id_hash[..]])?;
            if n > 0 {
                tx.execute("UPDATE auth_state SET generation = generation + 1 WHERE id = 1", &[])?;
            }
            Ok(n > 0)
        })
    }

    fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<usize> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM auth_sessions WHERE expires_at <= $1 OR last_seen_at < $2",
                &[&now, &idle_before],
            )?;
            Ok(n as usize)
        })
    }
}
