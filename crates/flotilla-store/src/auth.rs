//! The auth area: users, API tokens, permission grants and the auth
//! generation ([`AuthStore`], SQLite: `sqlite/auth.rs`).
//!
//! The store keeps only what is safe to keep: an Argon2id PHC string per user
//! and a SHA-256 per token secret; hashing and verifying belong to the
//! application layer (`flotilla_app::auth`).
//!
//! Two counters let caches in this process or a replica follow the writes
//! ([`AuthGenerations`]): the credentials generation, bumped in the same
//! transaction as every change to users, passwords, admin flags, tokens and
//! sessions (a credential cache keyed by it sees a changed password or a
//! revoked token); and the grant log, one row per grant change in commit
//! order, so a permission snapshot applies the changes since it was built
//! instead of reading every grant again (a create's creator grant costs its
//! one row, never the whole table).

use crate::StoreResult;

/// A user. `password_hash` is an Argon2id PHC string; it never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// What a token may do: `Read` only reads, `Write` is its owner's full rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// A token to store: its public id, owner and the SHA-256 of its secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub secret_hash: [u8; 32],
    pub expires_at: i64,
}

/// A stored token, without anything that would let one use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A permission grant: `user_id` holds `level` on `(resource_kind, resource_id)`
/// (`resource_id` `*` for every resource of the kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub resource_kind: String,
    pub resource_id: String,
    pub level: String,
}

/// The grant-log entries this thread's committed writes appended since the
/// last call: what a process applies to its own permission snapshot at once.
pub use crate::sqlite::take_written_grants;

/// What changed in the grant table, one entry of the grant log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantEvent {
    /// The grant now exists with this level (created or changed).
    Put(Grant),
    /// The grant no longer exists.
    Removed { user_id: i64, resource_kind: String, resource_id: String },
    /// Too much changed to say (a deleted user's grants): read them all again.
    Reset,
}

/// A grant-log entry; `seq` grows in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantChange {
    pub seq: u64,
    pub event: GrantEvent,
}

/// The counters auth caches watch, read in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthGenerations {
    /// Moves with every change to users, passwords, admin flags, tokens and sessions.
    pub credentials: u64,
    /// The grant log's last `seq`.
    pub grants: u64,
}

/// Every grant, as of grant-log entry `seq`.
#[derive(Debug, Clone, Default)]
pub struct GrantSet {
    pub seq: u64,
    pub grants: Vec<Grant>,
}

/// The resource kinds grants are stored under (MLflow's `resource_type`
/// names, plus flotilla's families).
pub const EXPERIMENT: &str = "experiment";
pub const REGISTERED_MODEL: &str = "registered_model";
pub const FAMILY: &str = "family";

/// Users, tokens, grants (SQLite: `sqlite/auth.rs`). Every write is one
/// transaction that also moves [`AuthStore::auth_generations`].
pub trait AuthStore: Send + Sync {
    /// A new user; a taken username is `AlreadyExists`.
    fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> StoreResult<User>;
    /// The first admin, only if the store has no user yet (`None` otherwise):
    /// several replicas starting at once create exactly one.
    fn create_first_admin(&self, username: &str, password_hash: &str) -> StoreResult<Option<User>>;
    /// `NotFound` as MLflow says it: "User with username=<u> not found".
    fn get_user(&self, username: &str) -> StoreResult<User>;
    fn get_user_by_id(&self, id: i64) -> StoreResult<User>;
    /// Every user, by username.
    fn list_users(&self) -> StoreResult<Vec<User>>;
    fn set_password_hash(&self, username: &str, password_hash: &str) -> StoreResult<()>;
    /// Demoting the last admin is `InvalidState`.
    fn set_admin(&self, username: &str, is_admin: bool) -> StoreResult<()>;
    /// Deletes the user with their tokens and grants; the last admin is `InvalidState`.
    fn delete_user(&self, username: &str) -> StoreResult<()>;

    fn create_token(&self, token: &NewToken) -> StoreResult<Token>;
    /// The token with this public id and its secret's hash, if any (revoked
    /// and expired ones too: the caller decides).
    fn find_token(&self, id: &str) -> StoreResult<Option<(Token, [u8; 32])>>;
    /// Tokens of one user (`Some`) or of everyone (`None`), newest first.
    fn list_tokens(&self, user_id: Option<i64>) -> StoreResult<Vec<Token>>;
    /// Revokes a token; `owner` restricts it to that user's tokens (else
    /// `NotFound`). Revoking twice is `NotFound`.
    fn revoke_token(&self, id: &str, owner: Option<i64>) -> StoreResult<()>;
    /// Records a use (does not bump the generation: no cache depends on it).
    fn touch_token(&self, id: &str, at: i64) -> StoreResult<()>;

    /// The grants a user holds, by kind and id.
    fn list_grants(&self, user_id: i64) -> StoreResult<Vec<Grant>>;
    /// Every grant of every user and the grant-log entry they are as of
    /// (what a permission snapshot is built from).
    fn all_grants(&self) -> StoreResult<GrantSet>;
    /// The grant log after entry `after`, oldest first, at most `limit`
    /// entries; `None` when entries after `after` were pruned (read
    /// [`AuthStore::all_grants`] instead).
    fn grant_changes(&self, after: u64, limit: usize) -> StoreResult<Option<Vec<GrantChange>>>;
    /// The grant of `user_id` on `(kind, id)`, if any.
    fn get_grant(&self, user_id: i64, kind: &str, id: &str) -> StoreResult<Option<Grant>>;
    /// Stores a grant. `replace` false: an existing one is left alone and
    /// the answer is `false`; true: an existing one is overwritten, and
    /// `replace_only` refuses (`false`) to create a missing one.
    fn put_grant(&self, grant: &Grant, replace: bool, replace_only: bool) -> StoreResult<bool>;
    /// Deletes a grant; `false` when there was none.
    fn delete_grant(&self, user_id: i64, kind: &str, id: &str) -> StoreResult<bool>;

    /// The experiment a run belongs to, if the run exists.
    fn run_experiment(&self, run_id: &str) -> StoreResult<Option<String>>;
    /// The experiment a logged model belongs to, if it exists.
    fn logged_model_experiment(&self, model_id: &str) -> StoreResult<Option<String>>;
    /// The id of the experiment named `name`, if any.
    fn experiment_id_by_name(&self, name: &str) -> StoreResult<Option<String>>;
    /// The family a registered model is a member of, if any.
    fn family_of(&self, model: &str) -> StoreResult<Option<String>>;

    /// Both counters, in one read: they move whenever credentials or
    /// grants change, in any process sharing the store.
    fn auth_generations(&self) -> StoreResult<AuthGenerations>;
}
