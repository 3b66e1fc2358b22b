//! Managing users and tokens, with MLflow basic-auth's rules of who may: an
//! admin manages everyone; a user reads their own account, changes their own
//! password and manages their own tokens. Also the first admin's bootstrap.

use std::sync::Arc;
use std::time::Duration;

use flotilla_core::Error;
use flotilla_store::Store;
use flotilla_store::auth::{Grant, NewToken, Token, TokenScope, User};

use super::{Authenticator, Caller, Method, blocking, now_ms, secret};

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    /// The user's explicit grants.
    pub grants: Vec<Grant>,
}

impl UserView {
    fn of(user: User, grants: Vec<Grant>) -> Self {
        Self { id: user.id, username: user.username, is_admin: user.is_admin, grants }
    }
}

/// What a new token should be.
#[derive(Debug, Clone)]
pub struct NewTokenRequest {
    /// Whose token; the caller's own when `None`.
    pub owner: Option<String>,
    pub name: String,
    pub scope: TokenScope,
    /// Lifetime; [`DEFAULT_TOKEN_DAYS`] when `None`, at most [`MAX_TOKEN_DAYS`].
    pub expires_in_days: Option<u32>,
}

pub const DEFAULT_TOKEN_DAYS: u32 = 90;
pub const MAX_TOKEN_DAYS: u32 = 366;

fn denied() -> Error {
    Error::permission_denied("Permission denied")
}

fn admin_only(caller: &Caller) -> Result<(), Error> {
    if caller.is_admin { Ok(()) } else { Err(denied()) }
}

fn admin_or_self(caller: &Caller, username: &str) -> Result<(), Error> {
    if caller.is_admin || caller.username == username { Ok(()) } else { Err(denied()) }
}

impl Authenticator {
    /// Runs a store write on the blocking pool, then empties the credential
    /// cache so the change is seen by the next request.
    pub(super) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn Store) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let me = Arc::clone(self);
        blocking(move || {
            let out = f(me.store.as_ref());
            me.invalidate(me.store.as_ref());
            out
        })
        .await
    }

    async fn hash(&self, password: String) -> Result<String, Error> {
        let _permit = self.hashing.acquire().await.map_err(|_| crate::error::internal())?;
        blocking(move || secret::hash_password(&password)).await
    }

    pub async fn create_user(
        self: &Arc<Self>,
        caller: &Caller,
        username: String,
        password: String,
    ) -> Result<UserView, Error> {
        admin_only(caller)?;
        if username.is_empty() {
            return Err(Error::invalid("Username cannot be empty."));
        }
        secret::check_password(&password)?;
        let phc = self.hash(password).await?;
        let user = self.write(move |s| s.create_user(&username, &phc, false).map_err(crate::error::from_store)).await?;
        Ok(UserView::of(user, Vec::new()))
    }

    pub async fn get_user(&self, caller: &Caller, username: String) -> Result<UserView, Error> {
        admin_or_self(caller, &username)?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let user = store.get_user(&username).map_err(crate::error::from_store)?;
            let grants = store.list_grants(user.id).map_err(crate::error::from_store)?;
            Ok(UserView::of(user, grants))
        })
        .await
    }

    /// Every user (any authenticated caller may list them, as in MLflow 3).
    pub async fn list_users(&self, _caller: &Caller) -> Result<Vec<UserView>, Error> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let users = store.list_users().map_err(crate::error::from_store)?;
            Ok(users.into_iter().map(|u| UserView::of(u, Vec::new())).collect())
        })
        .await
    }

    /// An admin sets anyone's password. A user changing their own proves the
    /// current one: a Basic request already did (it is in the header; the 2.x
    /// client cannot send `current_password`), a token-authenticated one must
    /// send it; when sent it must match and the new one must differ.
    pub async fn update_password(
        self: &Arc<Self>,
        caller: &Caller,
        username: String,
        password: String,
        current_password: Option<String>,
    ) -> Result<(), Error> {
        admin_or_self(caller, &username)?;
        secret::check_password(&password)?;
        let own = caller.username == username && caller.method != Method::Local;
        let current = current_password.filter(|c| !c.is_empty());
        if own {
            match &current {
                None if matches!(caller.method, Method::Token | Method::Session) => {
                    return Err(Error::invalid("Current password is required when changing your own password."));
                }
                None => {}
                Some(current) => {
                    let store = Arc::clone(&self.store);
                    let (name, given) = (username.clone(), current.clone());
                    let _permit = self.hashing.acquire().await.map_err(|_| crate::error::internal())?;
                    let matches = blocking(move || {
                        let user = store.get_user(&name).map_err(crate::error::from_store)?;
                        Ok(secret::verify_password(&given, &user.password_hash))
                    })
                    .await?;
                    if !matches {
                        return Err(Error::invalid("Current password does not match."));
                    }
                    if *current == password {
                        return Err(Error::invalid("New password must differ from the current password."));
                    }
                }
            }
        }
        // An unknown user is answered before the hash is spent.
        let store = Arc::clone(&self.store);
        let name = username.clone();
        blocking(move || store.get_user(&name).map(drop).map_err(crate::error::from_store)).await?;
        let phc = self.hash(password).await?;
        self.write(move |s| s.set_password_hash(&username, &phc).map_err(crate::error::from_store)).await
    }

    pub async fn update_admin(
        self: &Arc<Self>,
        caller: &Caller,
        username: String,
        is_admin: bool,
    ) -> Result<(), Error> {
        admin_only(caller)?;
        self.write(move |s| s.set_admin(&username, is_admin).map_err(crate::error::from_store)).await
    }

    pub async fn delete_user(self: &Arc<Self>, caller: &Caller, username: String) -> Result<(), Error> {
        admin_only(caller)?;
        if caller.username == username && caller.method != Method::Local {
            return Err(Error::invalid(
                "Users cannot delete their own account. Ask another admin to delete this user instead.",
            ));
        }
        self.write(move |s| s.delete_user(&username).map_err(crate::error::from_store)).await
    }

    /// A new token and its plaintext, shown once. Anyone may make their own;
    /// admins may make one for another user. A read-scoped caller cannot
    /// make a write token.
    pub async fn create_token(
        self: &Arc<Self>,
        caller: &Caller,
        request: NewTokenRequest,
    ) -> Result<(String, Token), Error> {
        let owner = request.owner.unwrap_or_else(|| caller.username.clone());
        admin_or_self(caller, &owner)?;
        if caller.scope == TokenScope::Read && request.scope == TokenScope::Write {
            return Err(denied());
        }
        let days = request.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if days == 0 || days > MAX_TOKEN_DAYS {
            return Err(Error::invalid(format!("expires_in_days must be between 1 and {MAX_TOKEN_DAYS}, got {days}")));
        }
        let name = flotilla_core::validation::truncate(request.name.trim(), 256).to_string();
        let expires_at = now_ms() + Duration::from_secs(u64::from(days) * 86_400).as_millis() as i64;
        let (id, plaintext, secret_hash) = secret::new_token();
        let scope = request.scope;
        let token = self
            .write(move |s| {
                let user = s.get_user(&owner).map_err(crate::error::from_store)?;
                let new = NewToken { id, user_id: user.id, name, scope, secret_hash, expires_at };
                s.create_token(&new).map_err(crate::error::from_store)
            })
            .await?;
        Ok((plaintext, token))
    }

    /// The caller's tokens, or everyone's (`all`, admins only; always for
    /// the CLI's local admin).
    pub async fn list_tokens(&self, caller: &Caller, all: bool) -> Result<Vec<Token>, Error> {
        let all = all || caller.method == Method::Local;
        if all {
            admin_only(caller)?;
        }
        let user_id = if all { None } else { Some(own_id(caller)?) };
        let store = Arc::clone(&self.store);
        blocking(move || store.list_tokens(user_id).map_err(crate::error::from_store)).await
    }

    /// Revokes one of the caller's tokens (any token, for an admin).
    pub async fn revoke_token(self: &Arc<Self>, caller: &Caller, id: String) -> Result<(), Error> {
        let caller = caller.clone();
        self.write(move |s| {
            let owner = if caller.is_admin { None } else { Some(own_id(&caller)?) };
            s.revoke_token(&id, owner).map_err(crate::error::from_store)
        })
        .await
    }
}

/// The caller's own user id; the CLI's local admin owns no tokens.
fn own_id(caller: &Caller) -> Result<i64, Error> {
    match caller.method {
        Method::Local => Err(Error::invalid("the data directory's owner has no tokens of their own; name a user")),
        Method::Password | Method::Token | Method::Session => Ok(caller.user_id),
    }
}

/// What the first start did about the first admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The store already has users; nothing was done.
    Existing,
    /// The admin was created with the configured password.
    Created,
    /// The admin was created with this one-time password, for the operator
    /// to read once (the caller prints it; it is never logged).
    Generated(String),
}

/// Creates the first admin on a store with no users: `username` with
/// `password`, or a one-time random password when none is configured. There
/// is no default password. Blocking (one Argon2 hash).
pub fn bootstrap_admin(store: &dyn Store, username: &str, password: Option<&str>) -> Result<Bootstrap, Error> {
    if !store.list_users().map_err(crate::error::from_store)?.is_empty() {
        return Ok(Bootstrap::Existing);
    }
    if username.is_empty() {
        return Err(Error::invalid("the first admin's username (FLOTILLA_ADMIN_USER) cannot be empty"));
    }
    let (password, generated) = match password {
        Some(p) => {
            secret::check_password(p)
                .map_err(|e| Error::invalid(format!("FLOTILLA_ADMIN_PASSWORD is refused: {}", e.message)))?;
            (p.to_string(), false)
        }
        None => (secret::one_time_password(), true),
    };
    let phc = secret::hash_password(&password)?;
    match store.create_first_admin(username, &phc).map_err(crate::error::from_store)? {
        None => Ok(Bootstrap::Existing),
        Some(_) if generated => Ok(Bootstrap::Generated(password)),
        Some(_) => Ok(Bootstrap::Created),
    }
}
