//! Who calls, and whether they may: the caller from the `authorization`
//! metadata (Basic or Bearer, verified and cached as for HTTP), and the
//! permission each method's V2 HTTP route declares (USE to infer, READ to
//! read about a model, an admin for the repository). With `--auth none`
//! everyone may.

use flotilla_app::AppState;
use flotilla_app::auth::{Caller, Permission, TokenScope};
use flotilla_core::ErrorKind;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::status;

/// What a method needs of a non-admin caller.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// Any authenticated caller (server metadata, as `GET /v2`).
    Authenticated,
    /// This level on the named model.
    Model(Permission, &'a str),
    /// An admin (the repository's load, unload and index).
    Admin,
}

/// Authenticates the caller and checks `need`; `None` with `--auth none`.
pub async fn check(s: &AppState, metadata: &MetadataMap, need: Need<'_>) -> Result<Option<Caller>, Status> {
    let Some(auth) = s.auth.as_deref() else { return Ok(None) };
    let caller = match crate::auth::verify_metadata(auth, metadata).await {
        Some((Ok(caller), _)) => caller,
        Some((Err(e), _)) => return Err(status::from_core(e)),
        None => {
            return Err(status::of(ErrorKind::Unauthenticated, "credentials are required (authorization metadata)"));
        }
    };
    // Every method but the repository's changes nothing: a read-only token may call them.
    if caller.scope == TokenScope::Read && matches!(need, Need::Admin) {
        return Err(status::of(ErrorKind::PermissionDenied, "Permission denied: this token is read-only"));
    }
    let allowed = caller.is_admin
        || match need {
            Need::Authenticated => true,
            Need::Admin => false,
            Need::Model(level, name) => auth.model_level(&caller, name).await.map_err(status::from_core)?.allows(level),
        };
    if allowed { Ok(Some(caller)) } else { Err(status::from_core(flotilla_app::auth::denied())) }
}
