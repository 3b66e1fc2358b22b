//! Users, tokens and grants on PostgreSQL: not yet ported (see `sqlite/auth.rs`).

#![allow(unused_imports)]

use super::{PgStore, Tx, grant_log, unported};
use crate::StoreResult;
use crate::auth::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

/// The creator of a resource gets MANAGE on it, in the create's transaction.
pub(super) fn grant_creator(tx: &mut Tx<'_>, user_id: i64, kind: &str, id: &str) -> StoreResult<()> {
    let granted = tx.execute(
        "INSERT INTO auth_grants (user_id, resource_kind, resource_id, level, created_at) \
         SELECT id, $2, $3, 'MANAGE', $4 FROM auth_users WHERE id = $1 \
         ON CONFLICT (user_id, resource_kind, resource_id) DO UPDATE SET level = excluded.level, \
         created_at = excluded.created_at",
        &[&user_id, &kind, &id, &crate::sqlite::now_ms()],
    )?;
    if granted == 0 {
        return Ok(());
    }
    let grant = Grant { user_id, resource_kind: kind.into(), resource_id: id.into(), level: "MANAGE".into() };
    grant_log::put(tx, &grant)
}

const AREA: &str = "Users, tokens and grants";

impl crate::auth::AuthStore for PgStore {
    fn create_user(&self, _username: &str, _password_hash: &str, _is_admin: bool) -> StoreResult<User> {
        Err(unported(AREA))
    }

    fn create_first_admin(&self, _username: &str, _password_hash: &str) -> StoreResult<Option<User>> {
        Err(unported(AREA))
    }

    fn get_user(&self, _username: &str) -> StoreResult<User> {
        Err(unported(AREA))
    }

    fn get_user_by_id(&self, _id: i64) -> StoreResult<User> {
        Err(unported(AREA))
    }

    fn list_users(&self) -> StoreResult<Vec<User>> {
        Err(unported(AREA))
    }

    fn set_password_hash(&self, _username: &str, _password_hash: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn set_admin(&self, _username: &str, _is_admin: bool) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn delete_user(&self, _username: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn create_token(&self, _token: &NewToken) -> StoreResult<Token> {
        Err(unported(AREA))
    }

    fn find_token(&self, _id: &str) -> StoreResult<Option<(Token, [u8; 32])>> {
        Err(unported(AREA))
    }

    fn list_tokens(&self, _user_id: Option<i64>) -> StoreResult<Vec<Token>> {
        Err(unported(AREA))
    }

    fn revoke_token(&self, _id: &str, _owner: Option<i64>) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn touch_token(&self, _id: &str, _at: i64) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn list_grants(&self, _user_id: i64) -> StoreResult<Vec<Grant>> {
        Err(unported(AREA))
    }

    fn all_grants(&self) -> StoreResult<GrantSet> {
        Err(unported(AREA))
    }

    fn grant_changes(&self, _after: u64, _limit: usize) -> StoreResult<Option<Vec<GrantChange>>> {
        Err(unported(AREA))
    }

    fn get_grant(&self, _user_id: i64, _kind: &str, _id: &str) -> StoreResult<Option<Grant>> {
        Err(unported(AREA))
    }

    fn put_grant(&self, _grant: &Grant, _replace: bool, _replace_only: bool) -> StoreResult<bool> {
        Err(unported(AREA))
    }

    fn delete_grant(&self, _user_id: i64, _kind: &str, _id: &str) -> StoreResult<bool> {
        Err(unported(AREA))
    }

    fn run_experiment(&self, _run_id: &str) -> StoreResult<Option<String>> {
        Err(unported(AREA))
    }

    fn logged_model_experiment(&self, _model_id: &str) -> StoreResult<Option<String>> {
        Err(unported(AREA))
    }

    fn experiment_id_by_name(&self, _name: &str) -> StoreResult<Option<String>> {
        Err(unported(AREA))
    }

    fn family_of(&self, _model: &str) -> StoreResult<Option<String>> {
        Err(unported(AREA))
    }

    fn auth_generations(&self) -> StoreResult<AuthGenerations> {
        Err(unported(AREA))
    }
}
