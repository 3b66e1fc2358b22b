//! Authentication: who is calling. Credentials as the mlflow client sends
//! them (Basic user and password, Bearer token) become a [`Caller`], the only
//! identity any adapter records (the audit actor included); no handler reads
//! credentials itself.
//!
//! Passwords are verified with Argon2id on the blocking pool, at most
//! [`HASHING_AT_ONCE`] at a time, and a verified credential is cached under an
//! HMAC of it (no plaintext kept) so a request with a cached credential costs
//! a hash and a map lookup. The cache is emptied when the store's credentials
//! generation changes (a user, password, admin flag, token or session
//! changed): this process's own writes empty it at once, another process's
//! (the CLI, a replica) within [`GENERATION_POLL`]. Grants follow the store's
//! grant log instead (`permissions.rs`): a create's creator grant is applied
//! to the permission snapshot in place, from the entry the create wrote
//! ([`Authenticator::apply_written`], called by `AppState::call`), and
//! leaves every cached credential valid. Tokens are `flt_<id>_<secret>`, stored as a SHA-256 of the secret.
//!
//! Who may manage users and tokens (`users.rs`) follows MLflow's basic-auth
//! app: admins manage everyone, a user reads and changes their own account.

mod grants;
pub mod permissions;
mod secret;
mod session;
mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use flotilla_core::Error;
use flotilla_store::Store;
pub use flotilla_store::auth::TokenScope;
pub use grants::{GrantView, Owner, PutGrant, denied};
use permissions::Update;
pub use permissions::{Kind, Permission, Resource};
pub use secret::{MIN_PASSWORD_CHARS, TOKEN_PREFIX, check_password, one_time_password};
pub use session::{
    NewSession, SESSION_COOKIE, SESSION_IDLE, SESSION_MAX, UiSession, clear_cookie, cookie_value, csrf_token,
    set_cookie,
};
use tokio::sync::Semaphore;
pub use users::{Bootstrap, NewTokenRequest, UserView, bootstrap_admin};

/// Argon2 runs at once (each ~19 MiB and tens of milliseconds of CPU).
pub const HASHING_AT_ONCE: usize = 2;
/// How stale this process's view of another process's auth writes may be.
pub const GENERATION_POLL: Duration = Duration::from_millis(250);
/// Grant-log entries applied at once; a snapshot further behind reads every grant.
const CHANGES_AT_ONCE: usize = 10_000;
/// How long a verified credential is trusted without verifying it again.
const CACHE_TTL: Duration = Duration::from_secs(300);
const CACHE_ENTRIES: usize = 10_000;
/// A token's `last_used_at` (a session's `last_seen_at`) is written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// The message of every 401, whatever the cause (no user-enumeration oracle).
pub const UNAUTHENTICATED: &str = "You are not authenticated. Send a user and password (MLFLOW_TRACKING_USERNAME and \
     MLFLOW_TRACKING_PASSWORD) or a flotilla token (MLFLOW_TRACKING_TOKEN).";

/// The credential cache's key for one `Authorization` header (a keyed
/// digest of it: the header itself is not kept).
pub struct HeaderKey([u8; 32]);

/// Credentials as a request carries them.
pub enum Credentials {
    Basic { username: String, password: String },
    Bearer(String),
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A user's password (Basic).
    Password,
    /// An API token (Bearer, or Basic with the token as the password).
    Token,
    /// Direct access to the data directory (the CLI): its owner is an admin.
    Local,
    /// A UI session cookie, from a login with the user's password.
    Session,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    /// `Read` for a read-only token; `Write` for a password or a write token.
    pub scope: TokenScope,
    pub method: Method,
    /// The token's public id when `method` is `Token` (safe to log).
    pub token_id: Option<String>,
}

impl Caller {
    /// Whoever runs the CLI on a data directory: they could edit the
    /// database directly, so they act as an admin.
    pub fn local() -> Self {
        Self {
            user_id: 0,
            username: "local".into(),
            is_admin: true,
            scope: TokenScope::Write,
            method: Method::Local,
            token_id: None,
        }
    }
    pub fn unauthenticated() -> Error {
        Error::unauthenticated(UNAUTHENTICATED)
    }
}

/// What authentication has done since start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Requests answered from the credential cache.
    pub cache_hits: u64,
    /// Passwords verified with Argon2id (a cache miss with Basic).
    pub password_verifications: u64,
    /// Tokens looked up in the store (a cache miss with a token).
    pub token_verifications: u64,
    /// Times the credential cache was emptied because credentials changed.
    pub cache_resets: u64,
}

#[derive(Default)]
struct Counters {
    cache_hits: AtomicU64,
    password_verifications: AtomicU64,
    token_verifications: AtomicU64,
    cache_resets: AtomicU64,
}

struct Cached {
    caller: Caller,
    until: Instant,
    /// A token's own expiry, milliseconds since the epoch.
    token_expires_at: Option<i64>,
}

struct Cache {
    /// The store's credentials generation the entries were verified under.
    generation: u64,
    checked: Option<Instant>,
    entries: HashMap<[u8; 32], Cached>,
}

/// Authenticates requests against the store's users and tokens, and manages
/// them (`users.rs`). One per process, shared by every adapter.
pub struct Authenticator {
    store: Arc<dyn Store>,
    key: secret::DigestKey,
    /// Read on every request (a read lock: requests do not queue behind
    /// each other), written when a credential is verified or the
    /// generation moves.
    cache: RwLock<Cache>,
    /// When each token or session last had its use recorded.
    touched: RwLock<HashMap<String, Instant>>,
    hashing: Semaphore,
    /// Headers being verified now, each behind its own lock: concurrent
    /// first requests with one credential (a client's connection pool)
    /// verify it once, the others wait and find it cached.
    verifying: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    /// Session cookies get `Secure` (`session.rs`).
    secure_cookies: bool,
    /// What a caller holds on a resource they have no grant on.
    default_permission: Permission,
    permissions: permissions::Current,
    /// Registered model name → its family, for callers holding family grants.
    families: Mutex<HashMap<String, (Option<String>, Instant)>>,
    /// Run (`r/<id>`) or logged model (`m/<id>`) → its experiment.
    owners: Mutex<HashMap<String, String>>,
    counters: Counters,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            key: secret::DigestKey::random(),
            cache: RwLock::new(Cache { generation: 0, checked: None, entries: HashMap::new() }),
            touched: RwLock::new(HashMap::new()),
            hashing: Semaphore::new(HASHING_AT_ONCE),
            verifying: Mutex::new(HashMap::new()),
            secure_cookies: false,
            default_permission: Permission::Read,
            permissions: permissions::Current::default(),
            families: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    pub fn stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            password_verifications: c.password_verifications.load(Ordering::Relaxed),
            token_verifications: c.token_verifications.load(Ordering::Relaxed),
            cache_resets: c.cache_resets.load(Ordering::Relaxed),
        }
    }

    /// Sets the level of every caller on resources they hold no grant on
    /// (MLflow's `default_permission`, READ unless configured).
    pub fn with_default_permission(mut self, default: Permission) -> Self {
        self.default_permission = default;
        self
    }

    pub fn default_permission(&self) -> Permission {
        self.default_permission
    }

    /// The cache key of an `Authorization` header exactly as it was sent:
    /// a client sends the same header on every request, so a cached one is
    /// recognised without decoding it.
    pub fn header_key(&self, header: &[u8]) -> HeaderKey {
        HeaderKey(self.key.digest(&[b"header", header]))
    }

    /// The caller a header proved earlier, while its verification stands
    /// (`None`: decode the header and call [`Self::authenticate_header`]).
    pub async fn cached_header(&self, key: &HeaderKey) -> Result<Option<Caller>, Error> {
        // The common case under one read lock: the generation checked
        // recently and the header cached under it.
        let fresh = {
            let cache = self.read();
            let polled = cache.checked.is_some_and(|at| at.elapsed() < GENERATION_POLL);
            polled.then(|| Self::entry(&cache, &key.0, cache.generation)).flatten()
        };
        if let Some(caller) = fresh {
            return Ok(Some(self.noted(caller)));
        }
        let generation = self.generation().await?;
        Ok(self.hit(&key.0, generation))
    }

    /// The caller the credentials of a header not cached prove, or
    /// `Unauthenticated` (the same answer for an unknown user, a wrong
    /// password and a bad token); the caller is then cached under the header.
    pub async fn authenticate_header(&self, key: HeaderKey, credentials: Credentials) -> Result<Caller, Error> {
        let turn = VerifyTurn::take(self, key.0);
        let _held = turn.lock().await;
        // Verified while this request waited its turn?
        let generation = self.generation().await?;
        if let Some(caller) = self.hit(&key.0, generation) {
            return Ok(caller);
        }
        self.verify(key.0, generation, credentials).await
    }

    /// A cached caller, its use noted.
    fn hit(&self, key: &[u8; 32], generation: u64) -> Option<Caller> {
        self.cached(key, generation).map(|caller| self.noted(caller))
    }

    /// A caller found in the cache: the hit counted, a token's use noted.
    fn noted(&self, caller: Caller) -> Caller {
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        self.touch(&caller);
        caller
    }

    /// Verifies credentials against the store and caches the caller under `key`.
    async fn verify(&self, key: [u8; 32], generation: u64, credentials: Credentials) -> Result<Caller, Error> {
        let (caller, token_expires_at) = match credentials {
            Credentials::Basic { username, password } if !is_token(&password) => {
                self.counters.password_verifications.fetch_add(1, Ordering::Relaxed);
                (self.verify_password(username, password).await?, None)
            }
            Credentials::Basic { password: token, .. } | Credentials::Bearer(token) => {
                self.counters.token_verifications.fetch_add(1, Ordering::Relaxed);
                let (caller, expires) = self.verify_token(token).await?;
                (caller, Some(expires))
            }
        };
        let mut cache = self.lock();
        if cache.generation == generation {
            if cache.entries.len() >= CACHE_ENTRIES {
                cache.entries.clear();
            }
            let until = Instant::now() + CACHE_TTL;
            cache.entries.insert(key, Cached { caller: caller.clone(), until, token_expires_at });
        }
        drop(cache);
        self.touch(&caller);
        Ok(caller)
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `name`'s use was recorded less than [`TOUCH_EVERY`] ago; if
    /// not, notes it now and answers false (the caller records it).
    fn recently_touched(&self, name: &str) -> bool {
        let fresh = |at: &Instant| at.elapsed() < TOUCH_EVERY;
        if self.touched.read().unwrap_or_else(|p| p.into_inner()).get(name).is_some_and(fresh) {
            return true;
        }
        let mut touched = self.touched.write().unwrap_or_else(|p| p.into_inner());
        if touched.get(name).is_some_and(fresh) {
            return true;
        }
        if touched.len() >= CACHE_ENTRIES {
            touched.clear();
        }
        touched.insert(name.to_string(), Instant::now());
        false
    }

    fn cached(&self, key: &[u8; 32], generation: u64) -> Option<Caller> {
        Self::entry(&self.read(), key, generation)
    }

    /// The caller cached under `key` at `generation`, while it stands.
    fn entry(cache: &Cache, key: &[u8; 32], generation: u64) -> Option<Caller> {
        let hit = cache.entries.get(key).filter(|c| cache.generation == generation && c.until > Instant::now())?;
        if hit.token_expires_at.is_some_and(|at| at <= now_ms()) {
            return None;
        }
        Some(hit.caller.clone())
    }

    /// The store's credentials generation, read at most every
    /// [`GENERATION_POLL`] with the grant log's head: a change of the first
    /// empties the credential cache, new grant-log entries are applied.
    async fn generation(&self) -> Result<u64, Error> {
        {
            let cache = self.read();
            if cache.checked.is_some_and(|at| at.elapsed() < GENERATION_POLL) {
                return Ok(cache.generation);
            }
        }
        let store = Arc::clone(&self.store);
        let seen = self.permissions.seq();
        let (now, update) = blocking(move || {
            let now = store.auth_generations().map_err(crate::error::from_store)?;
            let update = if now.grants == seen { Update::Current } else { grant_update(store.as_ref(), seen)? };
            Ok((now, update))
        })
        .await?;
        self.apply_grants(update).await?;
        Ok(self.observe(now.credentials))
    }

    /// After a store call through this process (on its blocking thread):
    /// applies the grant-log entries its writes committed (a create's
    /// creator grant, a rename, a delete) to the permission snapshot from
    /// what they wrote, before the response, so the writer's next request is
    /// judged with them; credentials stay cached. Only a reset (or a long
    /// gap) reads the log. The write has committed, so a failure here is not
    /// the request's: it is logged and the next request polls the store.
    pub fn apply_written(&self, store: &dyn Store, changes: Vec<flotilla_store::auth::GrantChange>) {
        if changes.is_empty() || self.permissions.written(changes) {
            return;
        }
        let caught_up = grant_update(store, self.permissions.seq()).and_then(|update| {
            if !self.permissions.update(update) {
                self.permissions.update(Update::Rebuild(store.all_grants().map_err(crate::error::from_store)?));
            }
            Ok(())
        });
        if let Err(e) = caught_up {
            tracing::error!(error = %e, "applying grant changes failed; the next request reads them");
            self.lock().checked = None;
        }
    }

    /// Applies an update to the permission snapshot; a reset inside it is
    /// followed by reading every grant.
    async fn apply_grants(&self, update: Update) -> Result<(), Error> {
        if self.permissions.update(update) {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        let all = blocking(move || store.all_grants().map_err(crate::error::from_store)).await?;
        self.permissions.update(Update::Rebuild(all));
        Ok(())
    }

    /// Records the store's credentials generation `now`, emptying the cache if it moved.
    fn observe(&self, now: u64) -> u64 {
        let mut cache = self.lock();
        if cache.generation != now {
            self.counters.cache_resets.fetch_add(1, Ordering::Relaxed);
            cache.entries.clear();
            cache.generation = now;
        }
        cache.checked = Some(Instant::now());
        now
    }

    /// After a write through this process (on the blocking pool): every
    /// cached credential is verified again (a changed password or a revoked
    /// token is seen at once) and the grant log's new entries are applied.
    fn invalidate(&self, store: &dyn Store) {
        let refreshed = store.auth_generations().map_err(crate::error::from_store).and_then(|now| {
            let update = grant_update(store, self.permissions.seq())?;
            if !self.permissions.update(update) {
                self.permissions.update(Update::Rebuild(store.all_grants().map_err(crate::error::from_store)?));
            }
            Ok(now)
        });
        match refreshed {
            Ok(now) => {
                self.observe(now.credentials);
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the auth generation failed");
                let mut cache = self.lock();
                cache.entries.clear();
                cache.checked = None;
            }
        }
    }

    async fn verify_password(&self, username: String, password: String) -> Result<Caller, Error> {
        let _permit = self.hashing.acquire().await.map_err(|_| crate::error::internal())?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let user = match store.get_user(&username) {
                Ok(user) => Some(user),
                Err(e) if e.kind() == flotilla_core::ErrorKind::NotFound => None,
                Err(e) => return Err(crate::error::from_store(e)),
            };
            let phc = user.as_ref().map_or(secret::dummy_hash(), |u| u.password_hash.as_str());
            let ok = secret::verify_password(&password, phc);
            match user {
                Some(user) if ok => Ok(Caller {
                    user_id: user.id,
                    username: user.username,
                    is_admin: user.is_admin,
                    scope: TokenScope::Write,
                    method: Method::Password,
                    token_id: None,
                }),
                Some(_) | None => Err(Caller::unauthenticated()),
            }
        })
        .await
    }

    async fn verify_token(&self, token: String) -> Result<(Caller, i64), Error> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let (id, secret) = secret::split_token(&token).ok_or_else(Caller::unauthenticated)?;
            let (found, hash) =
                store.find_token(id).map_err(crate::error::from_store)?.ok_or_else(Caller::unauthenticated)?;
            if !secret::secret_matches(secret, &hash) || found.revoked_at.is_some() || found.expires_at <= now_ms() {
                return Err(Caller::unauthenticated());
            }
            let user = store.get_user_by_id(found.user_id).map_err(crate::error::from_store)?;
            let caller = Caller {
                user_id: user.id,
                username: user.username,
                is_admin: user.is_admin,
                scope: found.scope,
                method: Method::Token,
                token_id: Some(found.id),
            };
            Ok((caller, found.expires_at))
        })
        .await
    }

    /// Notes a token's use, at most once a minute, off the request's path.
    fn touch(&self, caller: &Caller) {
        let Some(id) = &caller.token_id else { return };
        if self.recently_touched(id) {
            return;
        }
        let (store, id) = (Arc::clone(&self.store), id.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.touch_token(&id, now_ms()) {
                tracing::warn!(error = %e, token_id = %id, "recording a token's use failed");
            }
        });
    }
}

/// One request's place among those verifying one header: its clone of the
/// header's lock, given back under the map's mutex when the request ends
/// (answered or dropped), and the entry removed with the last clone.
struct VerifyTurn<'a> {
    auth: &'a Authenticator,
    key: [u8; 32],
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl<'a> VerifyTurn<'a> {
    fn take(auth: &'a Authenticator, key: [u8; 32]) -> Self {
        let mut verifying = auth.verifying.lock().unwrap_or_else(|p| p.into_inner());
        let lock = Arc::clone(verifying.entry(key).or_default());
        VerifyTurn { auth, key, lock: Some(lock) }
    }

    async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.as_ref().expect("held until dropped").lock().await
    }
}

impl Drop for VerifyTurn<'_> {
    fn drop(&mut self) {
        let mut verifying = self.auth.verifying.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.lock.take());
        if verifying.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            verifying.remove(&self.key);
        }
    }
}

/// What brings a snapshot at grant-log entry `seen` up to date: the entries
/// since, or every grant when the log no longer reaches back, holds a reset
/// or has more than [`CHANGES_AT_ONCE`] of them.
fn grant_update(store: &dyn Store, seen: u64) -> Result<Update, Error> {
    let changes = store.grant_changes(seen, CHANGES_AT_ONCE).map_err(crate::error::from_store)?;
    Ok(match changes {
        Some(changes) if changes.is_empty() => Update::Current,
        Some(changes)
            if changes.len() < CHANGES_AT_ONCE
                && !changes.iter().any(|c| matches!(c.event, flotilla_store::auth::GrantEvent::Reset)) =>
        {
            Update::Changes(changes)
        }
        Some(_) | None => Update::Rebuild(store.all_grants().map_err(crate::error::from_store)?),
    })
}

/// Whether a Basic password is a token (tools that speak only Basic send one
/// as the password): a token's whole shape, so a password that merely starts
/// with `flt_` is still a password.
fn is_token(password: &str) -> bool {
    secret::split_token(password).is_some()
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    // User and token changes are audited like any other write.
    let audit = crate::audit::current();
    tokio::task::spawn_blocking(move || {
        let out = crate::audit::run(audit.as_ref(), f);
        // The grant routes' writes are followed by reading the log (`invalidate`).
        flotilla_store::auth::take_written_grants();
        out
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "auth task failed");
        Err(crate::error::internal())
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
