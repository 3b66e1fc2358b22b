//! The auth area on SQLite: users, tokens, grants, the credentials
//! generation (`auth_state`) and the grant log (`grant_log.rs`).

use flotilla_core::Error;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::{SqliteStore, grant_log, now_ms};
use crate::audit::{Change, note};
use crate::auth::{AuthGenerations, AuthStore, Grant, GrantChange, GrantSet, NewToken, Token, TokenScope, User};
use crate::error::StoreResult;

const USER_COLUMNS: &str = "id, username, password_hash, is_admin, created_at";
const TOKEN_COLUMNS: &str = "t.id, t.user_id, u.username, t.name, t.scope, t.created_at, t.expires_at, \
     t.last_used_at, t.revoked_at, t.secret_hash";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        is_admin: r.get(3)?,
        created_at: r.get(4)?,
    })
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<(Token, Vec<u8>)> {
    let scope: String = r.get(4)?;
    Ok((
        Token {
            id: r.get(0)?,
            user_id: r.get(1)?,
            username: r.get(2)?,
            name: r.get(3)?,
            // The table's CHECK allows only these two.
            scope: TokenScope::parse(&scope).unwrap_or(TokenScope::Read),
            created_at: r.get(5)?,
            expires_at: r.get(6)?,
            last_used_at: r.get(7)?,
            revoked_at: r.get(8)?,
        },
        r.get(9)?,
    ))
}

fn no_user(username: &str) -> Error {
    Error::not_found(format!("User with username={username} not found"))
}

/// Moves the credentials generation: every credential cached under the old
/// one is verified again.
fn bump(tx: &Connection) -> StoreResult<()> {
    tx.execute("UPDATE auth_state SET generation = generation + 1 WHERE id = 1", [])?;
    Ok(())
}

fn grant_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant { user_id: r.get(0)?, resource_kind: r.get(1)?, resource_id: r.get(2)?, level: r.get(3)? })
}

/// The creator of a resource gets MANAGE on it, in the create's transaction.
pub(super) fn grant_creator(tx: &Connection, user_id: i64, kind: &str, id: &str) -> StoreResult<()> {
    let granted = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO auth_grants (user_id, resource_kind, resource_id, level, created_at) \
             SELECT id, ?2, ?3, 'MANAGE', ?4 FROM auth_users WHERE id = ?1",
        )?
        .execute(params![user_id, kind, id, now_ms()])?;
    if granted == 0 {
        return Ok(());
    }
    let grant = Grant { user_id, resource_kind: kind.into(), resource_id: id.into(), level: "MANAGE".into() };
    grant_log::put(tx, &grant)
}

/// Grants on a renamed resource follow it.
pub(super) fn move_grants(tx: &Connection, kind: &str, from: &str, to: &str) -> StoreResult<()> {
    drop_grants(tx, kind, to)?;
    let moved = tx
        .prepare_cached(
            "UPDATE auth_grants SET resource_id = ?3 WHERE resource_kind = ?1 AND resource_id = ?2 \
             RETURNING user_id, level",
        )?
        .query_map([kind, from, to], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (user_id, level) in moved {
        grant_log::removed(tx, user_id, kind, from)?;
        grant_log::put(tx, &Grant { user_id, resource_kind: kind.into(), resource_id: to.into(), level })?;
    }
    Ok(())
}

/// Grants on a deleted resource go with it (a new one reusing the name
/// starts with none).
pub(super) fn drop_grants(tx: &Connection, kind: &str, id: &str) -> StoreResult<()> {
    let dropped = tx
        .prepare_cached("DELETE FROM auth_grants WHERE resource_kind = ?1 AND resource_id = ?2 RETURNING user_id")?
        .query_map([kind, id], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for user_id in dropped {
        grant_log::removed(tx, user_id, kind, id)?;
    }
    Ok(())
}

fn user_by_name(tx: &Connection, username: &str) -> StoreResult<User> {
    tx.query_row(&format!("SELECT {USER_COLUMNS} FROM auth_users WHERE username = ?1"), [username], user_row)
        .optional()?
        .ok_or_else(|| no_user(username).into())
}

fn admins(tx: &Connection) -> StoreResult<i64> {
    Ok(tx.query_row("SELECT count(*) FROM auth_users WHERE is_admin", [], |r| r.get(0))?)
}

fn insert_user(tx: &Connection, username: &str, password_hash: &str, is_admin: bool) -> StoreResult<User> {
    let created_at = now_ms();
    let inserted = tx.execute(
        "INSERT INTO auth_users (username, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (username) DO NOTHING",
        params![username, password_hash, is_admin, created_at],
    )?;
    if inserted == 0 {
        return Err(Error::already_exists(format!("User (username={username}) already exists.")).into());
    }
    bump(tx)?;
    Ok(User {
        id: tx.last_insert_rowid(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        is_admin,
        created_at,
    })
}

impl AuthStore for SqliteStore {
    fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> StoreResult<User> {
        if username.is_empty() {
            return Err(Error::invalid("Username cannot be empty.").into());
        }
        self.write(|tx| {
            note(
                Change::new("user.create", "user", username)
                    .diff(None, Some(json!({"username": username, "is_admin": is_admin}))),
            );
            insert_user(tx, username, password_hash, is_admin)
        })
    }

    fn create_first_admin(&self, username: &str, password_hash: &str) -> StoreResult<Option<User>> {
        self.write(|tx| {
            let users: i64 = tx.query_row("SELECT count(*) FROM auth_users", [], |r| r.get(0))?;
            if users > 0 {
                return Ok(None);
            }
            note(
                Change::new("user.create", "user", username)
                    .diff(None, Some(json!({"username": username, "is_admin": true}))),
            );
            insert_user(tx, username, password_hash, true).map(Some)
        })
    }

    fn get_user(&self, username: &str) -> StoreResult<User> {
        self.read(|tx| user_by_name(tx, username))
    }

    fn get_user_by_id(&self, id: i64) -> StoreResult<User> {
        self.read(|tx| {
            tx.query_row(&format!("SELECT {USER_COLUMNS} FROM auth_users WHERE id = ?1"), [id], user_row)
                .optional()?
                .ok_or_else(|| Error::not_found(format!("User with id={id} not found")).into())
        })
    }

    fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!("SELECT {USER_COLUMNS} FROM auth_users ORDER BY username"))?;
            let users = stmt.query_map([], user_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(users)
        })
    }

    fn set_password_hash(&self, username: &str, password_hash: &str) -> StoreResult<()> {
        self.write(|tx| {
            let n =
                tx.execute("UPDATE auth_users SET password_hash = ?2 WHERE username = ?1", [username, password_hash])?;
            if n == 0 {
                return Err(no_user(username).into());
            }
            // Never the hash: only that it changed.
            note(Change::new("user.update_password", "user", username));
            bump(tx)
        })
    }

    fn set_admin(&self, username: &str, is_admin: bool) -> StoreResult<()> {
        self.write(|tx| {
            let user = user_by_name(tx, username)?;
            if user.is_admin && !is_admin && admins(tx)? == 1 {
                return Err(Error::invalid_state(format!(
                    "{username} is the last admin; make another user admin first"
                ))
                .into());
            }
            note(
                Change::new("user.update_admin", "user", username)
                    .diff(Some(json!({"is_admin": user.is_admin})), Some(json!({"is_admin": is_admin}))),
            );
            tx.execute("UPDATE auth_users SET is_admin = ?2 WHERE id = ?1", params![user.id, is_admin])?;
            bump(tx)
        })
    }

    fn delete_user(&self, username: &str) -> StoreResult<()> {
        self.write(|tx| {
            let user = user_by_name(tx, username)?;
            if user.is_admin && admins(tx)? == 1 {
                return Err(Error::invalid_state(format!(
                    "{username} is the last admin; make another user admin first"
                ))
                .into());
            }
            note(
                Change::new("user.delete", "user", username)
                    .diff(Some(json!({"username": username, "is_admin": user.is_admin})), None),
            );
            // Tokens and grants go with the user (ON DELETE CASCADE).
            tx.execute("DELETE FROM auth_users WHERE id = ?1", [user.id])?;
            grant_log::reset(tx)?;
            bump(tx)
        })
    }

    fn create_token(&self, token: &NewToken) -> StoreResult<Token> {
        self.write(|tx| {
            let username: String = tx
                .query_row("SELECT username FROM auth_users WHERE id = ?1", [token.user_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::not_found(format!("User with id={} not found", token.user_id)))?;
            let created_at = now_ms();
            tx.execute(
                "INSERT INTO auth_tokens (id, user_id, name, scope, secret_hash, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token.id,
                    token.user_id,
                    token.name,
                    token.scope.as_str(),
                    &token.secret_hash[..],
                    created_at,
                    token.expires_at
                ],
            )?;
            bump(tx)?;
            let after = json!({"user": username, "name": token.name, "scope": token.scope.as_str(), "expires_at": token.expires_at});
            note(Change::new("token.create", "token", token.id.as_str()).diff(None, Some(after)));
            Ok(Token {
                id: token.id.clone(),
                user_id: token.user_id,
                username,
                name: token.name.clone(),
                scope: token.scope,
                created_at,
                expires_at: token.expires_at,
                last_used_at: None,
                revoked_at: None,
            })
        })
    }

    fn find_token(&self, id: &str) -> StoreResult<Option<(Token, [u8; 32])>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id WHERE t.id = ?1"
            );
            let found = tx.query_row(&sql, [id], token_row).optional()?;
            Ok(found.and_then(|(token, hash)| Some((token, <[u8; 32]>::try_from(hash.as_slice()).ok()?))))
        })
    }

    fn list_tokens(&self, user_id: Option<i64>) -> StoreResult<Vec<Token>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id \
                 WHERE ?1 IS NULL OR t.user_id = ?1 ORDER BY t.created_at DESC, t.id"
            );
            let mut stmt = tx.prepare(&sql)?;
            let tokens = stmt.query_map([user_id], token_row)?.map(|r| r.map(|(t, _)| t));
            Ok(tokens.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn revoke_token(&self, id: &str, owner: Option<i64>) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE auth_tokens SET revoked_at = ?3 \
                 WHERE id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR user_id = ?2)",
                params![id, owner, now_ms()],
            )?;
            if n == 0 {
                return Err(Error::not_found(format!("No active token with id={id}")).into());
            }
            note(Change::new("token.revoke", "token", id));
            bump(tx)
        })
    }

    fn touch_token(&self, id: &str, at: i64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE auth_tokens SET last_used_at = ?2 WHERE id = ?1", params![id, at])?;
            Ok(())
        })
    }

    fn list_grants(&self, user_id: i64) -> StoreResult<Vec<Grant>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT user_id, resource_kind, resource_id, level FROM auth_grants WHERE user_id = ?1 \
                 ORDER BY resource_kind, resource_id",
            )?;
            let grants = stmt.query_map([user_id], grant_row)?;
            Ok(grants.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn all_grants(&self) -> StoreResult<GrantSet> {
        self.read(|tx| {
            let seq = grant_log::head(tx)?;
            let mut stmt = tx.prepare("SELECT user_id, resource_kind, resource_id, level FROM auth_grants")?;
            let grants = stmt.query_map([], grant_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(GrantSet { seq, grants })
        })
    }

    fn grant_changes(&self, after: u64, limit: usize) -> StoreResult<Option<Vec<GrantChange>>> {
        self.read(|tx| grant_log::since(tx, after, limit))
    }

    fn get_grant(&self, user_id: i64, kind: &str, id: &str) -> StoreResult<Option<Grant>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT user_id, resource_kind, resource_id, level FROM auth_grants \
                     WHERE user_id = ?1 AND resource_kind = ?2 AND resource_id = ?3",
                    params![user_id, kind, id],
                    grant_row,
                )
                .optional()?)
        })
    }

    fn put_grant(&self, grant: &Grant, replace: bool, replace_only: bool) -> StoreResult<bool> {
        self.write(|tx| {
            let n = if replace_only {
                tx.execute(
                    "UPDATE auth_grants SET level = ?4 WHERE user_id = ?1 AND resource_kind = ?2 AND resource_id = ?3",
                    params![grant.user_id, grant.resource_kind, grant.resource_id, grant.level],
                )?
            } else {
                let conflict = if replace { "DO UPDATE SET level = excluded.level" } else { "DO NOTHING" };
                tx.execute(
                    &format!(
                        "INSERT INTO auth_grants (user_id, resource_kind, resource_id, level, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, resource_kind, resource_id) {conflict}"
                    ),
                    params![grant.user_id, grant.resource_kind, grant.resource_id, grant.level, now_ms()],
                )?
            };
            if n == 0 {
                return Ok(false);
            }
            grant_log::put(tx, grant)?;
            Ok(true)
        })
    }

    fn delete_grant(&self, user_id: i64, kind: &str, id: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM auth_grants WHERE user_id = ?1 AND resource_kind = ?2 AND resource_id = ?3",
                params![user_id, kind, id],
            )?;
            if n == 0 {
                return Ok(false);
            }
            grant_log::removed(tx, user_id, kind, id)?;
            Ok(true)
        })
    }

    fn run_experiment(&self, run_id: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM runs WHERE run_uuid = ?1")?
                .query_row([run_id], |r| r.get(0))
                .optional()?;
            Ok(id.map(|id| id.to_string()))
        })
    }

    fn logged_model_experiment(&self, model_id: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM logged_models WHERE model_id = ?1")?
                .query_row([model_id], |r| r.get(0))
                .optional()?;
            Ok(id.map(|id| id.to_string()))
        })
    }

    fn experiment_id_by_name(&self, name: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT experiment_id FROM experiments WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            Ok(id.map(|id| id.to_string()))
        })
    }

    fn family_of(&self, model: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT f.name FROM registered_models r JOIN fleet_members m ON m.rm_id = r.rm_id \
                     JOIN families f ON f.family_id = m.family_id WHERE r.name = ?1",
                )?
                .query_row([model], |r| r.get(0))
                .optional()?)
        })
    }

    fn auth_generations(&self) -> StoreResult<AuthGenerations> {
        self.read(|tx| {
            let credentials = tx
                .prepare_cached("SELECT generation FROM auth_state WHERE id = 1")?
                .query_row([], |r| r.get::<_, i64>(0))? as u64;
            Ok(AuthGenerations { credentials, grants: grant_log::head(tx)? })
        })
    }
}
