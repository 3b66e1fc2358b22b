//! UI sessions: a browser logs in once with a user and password (verified
//! like Basic: Argon2 on the blocking pool, under the same semaphore, the
//! same answer for an unknown user and a wrong password) and then carries a
//! random secret in a cookie. The store keeps only the secret's SHA-256
//! (shared by replicas); a looked-up session is cached like a credential,
//! under a keyed digest, and forgotten when the auth generation moves (a
//! logout, a new password, a deleted user, anywhere).
//!
//! A session ends [`SESSION_IDLE`] after its last use or [`SESSION_MAX`]
//! after the login, whichever comes first. Its CSRF token is derived from
//! the secret ([`csrf_token`]): bound to the session, the same on every
//! replica, and useless without the cookie that an attacker's page cannot
//! read.

use std::time::{Duration, Instant};

use flotilla_core::Error;
use subtle::ConstantTimeEq;

use super::{Authenticator, Cached, Caller, Method, TokenScope, blocking, now_ms, secret};

/// The cookie that carries a session's secret.
pub const SESSION_COOKIE: &str = "flotilla_session";
/// A session unused this long has ended.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after the login, however it is used.
pub const SESSION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
const SECRET_CHARS: usize = 43;

/// A session as a request carries it: who, and the token its state-changing
/// requests must send (a request extension when the cookie authenticated it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    pub caller: Caller,
    pub csrf: String,
}

impl UiSession {
    /// Whether `submitted` is this session's CSRF token, in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        self.csrf.as_bytes().ct_eq(submitted.as_bytes()).into()
    }
}

/// A new login: the secret for the cookie (shown to nobody else) and the session.
pub struct NewSession {
    pub secret: String,
    pub session: UiSession,
}

/// The CSRF token of the session whose cookie carries `secret`.
pub fn csrf_token(secret: &str) -> String {
    secret::sha256(format!("flotilla-csrf\0{secret}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Set-Cookie` value for a new session: `HttpOnly` (no script reads
/// it), `SameSite=Lax` and `Path=/`, `Secure` when the server is reached over
/// TLS; no `Max-Age`, so it ends with the browser (the server ends it sooner).
///
/// `Lax`, not `Strict`: a link to a page followed from elsewhere (a chat, an
/// e-mail, another tool) should arrive signed in; `Lax` sends the cookie only
/// on such top-level GETs, which change nothing, and every state-changing
/// request needs the session's CSRF token anyway.
pub fn set_cookie(secret: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

fn well_formed(secret: &str) -> bool {
    secret.len() == SECRET_CHARS && secret.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The value of cookie `name` among a request's `Cookie` header values
/// (several headers, `;`-separated pairs, names matched exactly), trimmed.
pub fn cookie_value<'a>(cookie_headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

impl Authenticator {
    /// Whether session cookies get `Secure` (the server runs under TLS, or
    /// behind a proxy that terminates it).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// Sets [`Authenticator::secure_cookies`].
    pub fn with_secure_cookies(mut self, on: bool) -> Self {
        self.secure_cookies = on;
        self
    }

    /// Logs a user in: verifies the password as Basic does and stores a new
    /// session. Expired and idle sessions are purged on the way.
    pub async fn login(&self, username: String, password: String) -> Result<NewSession, Error> {
        let mut caller = self.verify_password(username, password).await?;
        caller.method = Method::Session;
        let secret = secret::random_base62(SECRET_CHARS);
        let (store, id_hash, user_id) =
            (std::sync::Arc::clone(&self.store), secret::sha256(secret.as_bytes()), caller.user_id);
        // Ended sessions are purged on the way: housekeeping, nobody's action, so unaudited.
        let purge = std::sync::Arc::clone(&self.store);
        let purged = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            purge.purge_sessions(now, now - SESSION_IDLE.as_millis() as i64)
        })
        .await;
        match purged {
            Ok(Ok(purged)) if purged > 0 => tracing::debug!(purged, "purged ended sessions"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "purging ended sessions failed"),
            Err(e) => tracing::warn!(error = %e, "purging ended sessions failed"),
        }
        let create = blocking(move || {
            let expires_at = now_ms() + SESSION_MAX.as_millis() as i64;
            store.create_session(&id_hash, user_id, expires_at).map_err(crate::error::from_store)
        });
        // The session is the user's own write, though the login request came in unauthenticated.
        match crate::audit::current() {
            Some(context) => crate::audit::scope(crate::audit::acting_as(context, &caller), create).await?,
            None => create.await?,
        };
        tracing::info!(user = %caller.username, "logged in to the UI");
        let csrf = csrf_token(&secret);
        Ok(NewSession { secret, session: UiSession { caller, csrf } })
    }

    /// The session a cookie's secret names, or `Unauthenticated` (unknown,
    /// ended, expired, idle, or its user gone). Cached: no store read per
    /// request.
    pub async fn session(&self, secret: &str) -> Result<UiSession, Error> {
        if !well_formed(secret) {
            return Err(Caller::unauthenticated());
        }
        let generation = self.generation().await?;
        let key = self.key.digest(&[b"session", secret.as_bytes()]);
        let id_hash = secret::sha256(secret.as_bytes());
        if let Some(caller) = self.cached(&key, generation) {
            self.touch_session(&key, id_hash);
            return Ok(UiSession { caller, csrf: csrf_token(secret) });
        }
        let store = std::sync::Arc::clone(&self.store);
        let (caller, expires_at) = blocking(move || {
            let now = now_ms();
            let found = store.find_session(&id_hash).map_err(crate::error::from_store)?;
            let Some(session) =
                found.filter(|s| s.expires_at > now && s.last_seen_at > now - SESSION_IDLE.as_millis() as i64)
            else {
                return Err(Caller::unauthenticated());
            };
            let user = match store.get_user_by_id(session.user_id) {
                Ok(user) => user,
                Err(e) if e.kind() == flotilla_core::ErrorKind::NotFound => return Err(Caller::unauthenticated()),
                Err(e) => return Err(crate::error::from_store(e)),
            };
            let caller = Caller {
                user_id: user.id,
                username: user.username,
                is_admin: user.is_admin,
                scope: TokenScope::Write,
                method: Method::Session,
                token_id: None,
            };
            Ok((caller, session.expires_at))
        })
        .await?;
        let mut cache = self.lock();
        if cache.generation == generation {
            if cache.entries.len() >= super::CACHE_ENTRIES {
                cache.entries.clear();
            }
            let until = Instant::now() + super::CACHE_TTL.min(SESSION_IDLE);
            cache.entries.insert(key, Cached { caller: caller.clone(), until, token_expires_at: Some(expires_at) });
        }
        drop(cache);
        self.touch_session(&key, id_hash);
        Ok(UiSession { caller, csrf: csrf_token(secret) })
    }

    /// Ends the session (on every replica: the generation moves). Ending an
    /// unknown or ended session is not an error.
    pub async fn logout(&self, secret: &str) -> Result<(), Error> {
        if !well_formed(secret) {
            return Ok(());
        }
        let id_hash = secret::sha256(secret.as_bytes());
        let store = std::sync::Arc::clone(&self.store);
        let ended = blocking(move || store.delete_session(&id_hash).map_err(crate::error::from_store)).await?;
        self.invalidate(self.store.as_ref());
        tracing::info!(ended, "logged out of the UI");
        Ok(())
    }

    /// Notes a session's use (its idle clock), at most once a minute, off the
    /// request's path.
    fn touch_session(&self, key: &[u8; 32], id_hash: [u8; 32]) {
        let name: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("session:{name}");
        if self.recently_touched(&name) {
            return;
        }
        let store = std::sync::Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.touch_session(&id_hash, now_ms()) {
                tracing::warn!(error = %e, "recording a session's use failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flotilla_store::SqliteStore;
    use flotilla_store::prelude::*;

    use super::*;

    /// A session is read from the store once, then from the cache until the
    /// auth generation moves: the store's rows are deleted behind the cache's
    /// back (a purge does not bump the generation), and the session still
    /// answers; another process's auth write moves the generation, and it no
    /// longer does.
    #[tokio::test]
    async fn sessions_are_cached_until_the_generation_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let phc = secret::hash_password("ui-password-1").unwrap();
        store.create_user("ui", &phc, false).unwrap();
        let auth = Authenticator::new(store.clone());
        let refused = auth.login("ui".into(), "wrong-password".into()).await.err().unwrap();
        let unknown = auth.login("nobody".into(), "ui-password-1".into()).await.err().unwrap();
        assert_eq!((refused.kind, &refused.message), (unknown.kind, &unknown.message), "no user oracle");

        let first = auth.login("ui".into(), "ui-password-1".into()).await.unwrap();
        let second = auth.login("ui".into(), "ui-password-1".into()).await.unwrap();
        assert_ne!(first.secret, second.secret);
        let found = auth.session(&first.secret).await.unwrap();
        assert_eq!((found.caller.username.as_str(), found.caller.method), ("ui", Method::Session));
        assert_eq!(found.csrf, first.session.csrf);

        assert_eq!(store.purge_sessions(i64::MAX, i64::MAX).unwrap(), 2);
        assert!(auth.session(&first.secret).await.is_ok(), "answered from the cache, not the store");
        // Another process's auth write (a replica's logout, the CLI) is seen within a poll.
        store.create_user("other", &phc, false).unwrap();
        tokio::time::sleep(crate::auth::GENERATION_POLL + Duration::from_millis(50)).await;
        let gone = auth.session(&first.secret).await.err().unwrap();
        assert_eq!(gone.kind, flotilla_core::ErrorKind::Unauthenticated);
        assert!(auth.session("not-a-secret").await.is_err());
    }

    #[tokio::test]
    async fn an_expired_session_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let user = store.create_user("ui", "not-a-phc", false).unwrap();
        let auth = Authenticator::new(store.clone());
        let (live, ended) = (secret::random_base62(SECRET_CHARS), secret::random_base62(SECRET_CHARS));
        let hash = |s: &str| secret::sha256(s.as_bytes());
        store.create_session(&hash(&live), user.id, now_ms() + 60_000).unwrap();
        store.create_session(&hash(&ended), user.id, now_ms() - 1).unwrap();
        assert!(auth.session(&live).await.is_ok());
        let e = auth.session(&ended).await.err().unwrap();
        assert_eq!(e.kind, flotilla_core::ErrorKind::Unauthenticated);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_secret() {
        let (a, b) = (secret::random_base62(SECRET_CHARS), secret::random_base62(SECRET_CHARS));
        assert!(well_formed(&a) && !well_formed("short") && !well_formed(&format!("{}!", &a[1..])));
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_eq!(csrf_token(&a).len(), 64);
        let session = UiSession { caller: Caller::local(), csrf: csrf_token(&a) };
        assert!(session.csrf_matches(&csrf_token(&a)));
        assert!(!session.csrf_matches(&csrf_token(&b)));
        assert!(!session.csrf_matches(""));
    }
}
