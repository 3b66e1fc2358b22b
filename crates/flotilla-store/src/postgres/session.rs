//! UI sessions on PostgreSQL: not yet ported (see `sqlite/session.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::StoreResult;
use crate::session::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "UI sessions";

impl crate::session::SessionStore for PgStore {
    fn create_session(&self, _id_hash: &[u8; 32], _user_id: i64, _expires_at: i64) -> StoreResult<Session> {
        Err(unported(AREA))
    }

    fn find_session(&self, _id_hash: &[u8; 32]) -> StoreResult<Option<Session>> {
        Err(unported(AREA))
    }

    fn touch_session(&self, _id_hash: &[u8; 32], _at: i64) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_session(&self, _id_hash: &[u8; 32]) -> StoreResult<bool> {
        Err(unported(AREA))
    }

    fn purge_sessions(&self, _now: i64, _idle_before: i64) -> StoreResult<usize> {
        Err(unported(AREA))
    }
}
