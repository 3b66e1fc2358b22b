//! UI sessions on SQLite (`auth_sessions`, migration 11).

use flotilla_core::Error;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, now_ms};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::session::{Session, SessionStore};

impl SessionStore for SqliteStore {
    fn create_session(&self, id_hash: &[u8; 32], user_id: i64, expires_at: i64) -> StoreResult<Session> {
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM auth_users WHERE id = ?1)", [user_id], |r| r.get(0))?;
            if !exists {
                return Err(Error::not_found(format!("User with id={user_id} not found")).into());
            }
            note(Change::new("session.create", "user", user_id.to_string()));
            let now = now_ms();
            tx.execute(
                "INSERT INTO auth_sessions (id_hash, user_id, created_at, last_seen_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?3, ?4)",
                params![&id_hash[..], user_id, now, expires_at],
            )?;
            Ok(Session { user_id, created_at: now, last_seen_at: now, expires_at })
        })
    }

    fn find_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<Session>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT user_id, created_at, last_seen_at, expires_at FROM auth_sessions WHERE id_hash = ?1",
                    [&id_hash[..]],
                    |r| {
                        Ok(Session {
                            user_id: r.get(0)?,
                            created_at: r.get(1)?,
                            last_seen_at: r.get(2)?,
                            expires_at: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    fn touch_session(&self, id_hash: &[u8; 32], at: i64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE auth_sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id_hash = ?1",
                params![&id_hash[..], at],
            )?;
            Ok(())
        })
    }

    fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<bool> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM auth_sessions WHERE id_hash = ?1", [&id_hash[..]])?;
            if n > 0 {
                tx.execute("UPDATE auth_state SET generation = generation + 1 WHERE id = 1", [])?;
            }
            Ok(n > 0)
        })
    }

    fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM auth_sessions WHERE expires_at <= ?1 OR last_seen_at < ?2",
                params![now, idle_before],
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::session::SessionStore;
    use crate::sqlite::SqliteStore;

    #[test]
    fn sessions_end_with_logout_password_change_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let admin = store.create_user("admin", "h0", true).unwrap();
        let bob = store.create_user("bob", "h1", false).unwrap();
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        store.create_session(&a, bob.id, i64::MAX).unwrap();
        store.create_session(&b, bob.id, i64::MAX).unwrap();
        store.create_session(&c, admin.id, i64::MAX).unwrap();
        assert!(store.create_session(&[4u8; 32], 999, i64::MAX).is_err());
        assert_eq!(store.find_session(&a).unwrap().unwrap().user_id, bob.id);

        let before = store.auth_generations().unwrap().credentials;
        assert!(store.delete_session(&a).unwrap());
        assert!(!store.delete_session(&a).unwrap());
        assert!(store.find_session(&a).unwrap().is_none());
        assert!(store.auth_generations().unwrap().credentials > before, "a logout is seen by every replica");

        store.set_password_hash("admin", "h0").unwrap();
        assert!(store.find_session(&c).unwrap().is_some(), "the same hash is no new password");
        store.set_password_hash("admin", "h2").unwrap();
        assert!(store.find_session(&c).unwrap().is_none(), "a new password ends the sessions");

        store.delete_user("bob").unwrap();
        assert!(store.find_session(&b).unwrap().is_none(), "a deleted user's sessions go with them");
    }

    #[test]
    fn purge_removes_expired_and_idle_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let u = store.create_user("u", "h", true).unwrap();
        store.create_session(&[1u8; 32], u.id, 10).unwrap();
        store.create_session(&[2u8; 32], u.id, i64::MAX).unwrap();
        store.touch_session(&[2u8; 32], i64::MAX - 1).unwrap();
        assert_eq!(store.purge_sessions(100, 50).unwrap(), 1);
        assert!(store.find_session(&[2u8; 32]).unwrap().is_some());
    }
}
