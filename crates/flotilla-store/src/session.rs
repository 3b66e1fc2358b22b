//! UI sessions ([`SessionStore`], SQLite: `sqlite/session.rs`): a browser's
//! login, kept in the metadata store so every replica sees it. The store
//! keeps a SHA-256 of the cookie's secret, never the secret.
//!
//! A session ends at its absolute expiry, after an idle time (checked by the
//! application layer against `last_seen_at`), on logout, and with its user:
//! deleting the user or changing their password deletes their sessions (a
//! cascade and a trigger), and both bump the auth generation, so cached
//! sessions are looked up again.

use crate::StoreResult;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    /// Milliseconds since the epoch, like the other times.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub trait SessionStore: Send + Sync {
    /// Stores a new session for `user_id` (which must exist: else `NotFound`).
    fn create_session(&self, id_hash: &[u8; 32], user_id: i64, expires_at: i64) -> StoreResult<Session>;
    /// The session with this hash, if any (expired ones too: the caller decides).
    fn find_session(&self, id_hash: &[u8; 32]) -> StoreResult<Option<Session>>;
    /// Records a use (does not bump the generation).
    fn touch_session(&self, id_hash: &[u8; 32], at: i64) -> StoreResult<()>;
    /// Ends a session and bumps the auth generation, so every replica's cache
    /// forgets it; ending an unknown one is not an error (`false`).
    fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<bool>;
    /// Deletes sessions past their absolute expiry or idle since before
    /// `idle_before`; returns how many.
    fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<usize>;
}
