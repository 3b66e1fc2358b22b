//! Checking and managing permissions: what a caller may do on a resource
//! (from the snapshot, `permissions.rs`), and the grant routes' rules, as
//! MLflow's basic-auth has them: managing a resource's grants needs MANAGE on
//! it (or admin), a grant on every resource (`*`) is an admin's, reading a
//! user's effective level is that user's or an admin's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::Error;
use flotilla_store::auth::Grant;

use flotilla_store::Visible;

use super::permissions::{Kind, Permission, Resource};
use super::{Authenticator, Caller, Method, TokenScope, blocking};

/// How long a model's family is trusted (members are never renamed).
const FAMILY_TTL: Duration = Duration::from_secs(60);
const FAMILY_ENTRIES: usize = 100_000;

/// The refusal of a request the caller may not make.
pub fn denied() -> Error {
    Error::permission_denied("Permission denied")
}

/// A grant as MLflow's routes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub user_id: i64,
    pub resource_id: String,
    /// The level's name as it was granted (MLflow 2 clients compare it).
    pub level: String,
}

impl Authenticator {
    /// The level `caller` holds on `resource`.
    pub fn level(&self, caller: &Caller, resource: Resource<'_>) -> Permission {
        self.permissions.read().level(caller, self.default_permission, resource)
    }

    /// Which resources of `kind` the caller may read.
    pub fn readable(&self, caller: &Caller, kind: Kind) -> Visible {
        self.permissions.read().readable(caller, self.default_permission, kind)
    }

    /// Whether `caller` may create the family `name`, as MLflow lets any
    /// authenticated user with write scope create an experiment or a
    /// registered model: refused only by a veto on the family (its name or
    /// `*`), or, when a registered model of that name exists (the family
    /// would adopt it as its default, and the creator's MANAGE on the family
    /// would reach it), unless the caller may manage that model.
    pub async fn may_create_family(&self, caller: &Caller, name: &str) -> Result<(), Error> {
        if caller.is_admin {
            return Ok(());
        }
        // Judged under a default of MANAGE, only an explicit veto is DENY.
        let vetoed =
            self.permissions.read().level(caller, Permission::Manage, Resource::Family(name)) == Permission::Deny;
        if caller.scope == TokenScope::Read || vetoed {
            return Err(denied());
        }
        let store = Arc::clone(&self.store);
        let owned = name.to_string();
        let exists = blocking(move || match store.get_registered_model(&owned) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == flotilla_core::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(crate::error::from_store(e)),
        })
        .await?;
        if exists && !self.model_level(caller, name).await?.allows(Permission::Manage) {
            return Err(Error::permission_denied(format!(
                "Permission denied: a registered model named '{name}' exists and would become the family's \
                 default; MANAGE on it is needed"
            )));
        }
        Ok(())
    }

    /// `Ok` when `caller` holds `need` on `resource`, else `PermissionDenied`.
    pub fn require(&self, caller: &Caller, resource: Resource<'_>, need: Permission) -> Result<(), Error> {
        if self.level(caller, resource).allows(need) { Ok(()) } else { Err(denied()) }
    }

    /// The level on a registered model, through its family when the caller
    /// holds family grants that may cover it (the store confirms membership,
    /// cached: a member is never renamed).
    pub async fn model_level(&self, caller: &Caller, name: &str) -> Result<Permission, Error> {
        {
            let snapshot = self.permissions.read();
            if caller.is_admin || !snapshot.family_candidates(caller.user_id, name) {
                return Ok(snapshot.level(caller, self.default_permission, Resource::Model { name, family: None }));
            }
        }
        let family = self.family_of(name).await?;
        let resource = Resource::Model { name, family: family.as_deref() };
        Ok(self.permissions.read().level(caller, self.default_permission, resource))
    }

    async fn family_of(&self, name: &str) -> Result<Option<String>, Error> {
        if let Some((family, at)) = self.families.lock().unwrap_or_else(|p| p.into_inner()).get(name)
            && at.elapsed() < FAMILY_TTL
        {
            return Ok(family.clone());
        }
        let store = Arc::clone(&self.store);
        let owned = name.to_string();
        let family = blocking(move || store.family_of(&owned).map_err(crate::error::from_store)).await?;
        let mut cache = self.families.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= FAMILY_ENTRIES {
            cache.clear();
        }
        cache.insert(name.to_string(), (family.clone(), Instant::now()));
        Ok(family)
    }

    /// The experiment a run, a logged model or an experiment name belongs
    /// to (`None`: no such thing). Runs and logged models never move, so a
    /// found answer is kept.
    pub async fn experiment_of(&self, owner: Owner, id: &str) -> Result<Option<String>, Error> {
        let key = match owner {
            Owner::Run => format!("r/{id}"),
            Owner::LoggedModel => format!("m/{id}"),
            Owner::Name => String::new(),
        };
        if !key.is_empty()
            && let Some(exp) = self.owners.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        {
            return Ok(Some(exp.clone()));
        }
        let store = Arc::clone(&self.store);
        let owned = id.to_string();
        let found = blocking(move || {
            match owner {
                Owner::Run => store.run_experiment(&owned),
                Owner::LoggedModel => store.logged_model_experiment(&owned),
                Owner::Name => store.experiment_id_by_name(&owned),
            }
            .map_err(crate::error::from_store)
        })
        .await?;
        if let (false, Some(exp)) = (key.is_empty(), &found) {
            let mut cache = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= FAMILY_ENTRIES {
                cache.clear();
            }
            cache.insert(key, exp.clone());
        }
        Ok(found)
    }

    /// Managing grants on `(kind, id)` needs MANAGE on it; on every resource
    /// of a kind (`*`), admin.
    async fn require_manage(&self, caller: &Caller, kind: Kind, id: &str) -> Result<(), Error> {
        if caller.is_admin {
            return Ok(());
        }
        if id == "*" || caller.scope == TokenScope::Read {
            return Err(denied());
        }
        let level = match kind {
            Kind::Experiment => self.level(caller, Resource::Experiment(id)),
            Kind::RegisteredModel => self.model_level(caller, id).await?,
            Kind::Family => self.level(caller, Resource::Family(id)),
        };
        if level.allows(Permission::Manage) { Ok(()) } else { Err(denied()) }
    }

    /// The grant `username` holds on `(kind, id)`; `NotFound` when none.
    pub async fn get_grant(
        &self,
        caller: &Caller,
        kind: Kind,
        id: String,
        username: String,
    ) -> Result<GrantView, Error> {
        self.require_manage(caller, kind, &id).await?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let user = store.get_user(&username).map_err(crate::error::from_store)?;
            match store.get_grant(user.id, kind.as_str(), &id).map_err(crate::error::from_store)? {
                Some(g) => Ok(GrantView { user_id: g.user_id, resource_id: g.resource_id, level: g.level }),
                None => Err(Error::not_found(missing(kind, &id, &username))),
            }
        })
        .await
    }

    /// Creates (`Create`), changes (`Update`) or creates-if-absent (`Grant`,
    /// MLflow 3's insert-only grant) a grant.
    pub async fn put_grant(
        self: &Arc<Self>,
        caller: &Caller,
        kind: Kind,
        id: String,
        username: String,
        level: String,
        how: PutGrant,
    ) -> Result<GrantView, Error> {
        if Permission::parse(&level).is_none() {
            return Err(Permission::invalid(&level));
        }
        self.require_manage(caller, kind, &id).await?;
        self.write(move |s| {
            let user = s.get_user(&username).map_err(crate::error::from_store)?;
            let grant = Grant { user_id: user.id, resource_kind: kind.as_str().into(), resource_id: id.clone(), level };
            let update = how == PutGrant::Update;
            if !s.put_grant(&grant, update, update).map_err(crate::error::from_store)? {
                return Err(if update {
                    Error::not_found(missing(kind, &id, &username))
                } else {
                    Error::already_exists(exists(kind, &id, &username, how))
                });
            }
            Ok(GrantView { user_id: user.id, resource_id: grant.resource_id, level: grant.level })
        })
        .await
    }

    /// Deletes a grant; `NotFound` when there is none.
    pub async fn delete_grant(
        self: &Arc<Self>,
        caller: &Caller,
        kind: Kind,
        id: String,
        username: String,
        how: PutGrant,
    ) -> Result<(), Error> {
        self.require_manage(caller, kind, &id).await?;
        self.write(move |s| {
            let user = s.get_user(&username).map_err(crate::error::from_store)?;
            if s.delete_grant(user.id, kind.as_str(), &id).map_err(crate::error::from_store)? {
                Ok(())
            } else if how == PutGrant::Grant {
                Err(Error::not_found(format!(
                    "Permission for user={username} on resource_type={}, resource_id={id} not found.",
                    kind.as_str()
                )))
            } else {
                Err(Error::not_found(missing(kind, &id, &username)))
            }
        })
        .await
    }

    /// MLflow 3's `users/permissions/get`: the level `username` holds on the
    /// resource as a request of theirs would be judged (an admin target is
    /// not special-cased), for that user or an admin.
    pub async fn effective(
        &self,
        caller: &Caller,
        username: String,
        kind: Kind,
        id: String,
    ) -> Result<Permission, Error> {
        if !caller.is_admin && caller.username != username {
            return Err(denied());
        }
        let store = Arc::clone(&self.store);
        let user = blocking(move || store.get_user(&username).map_err(crate::error::from_store)).await?;
        let target = Caller {
            user_id: user.id,
            username: user.username,
            is_admin: false,
            scope: TokenScope::Write,
            method: Method::Password,
            token_id: None,
        };
        match kind {
            Kind::Experiment => Ok(self.level(&target, Resource::Experiment(&id))),
            Kind::RegisteredModel => self.model_level(&target, &id).await,
            Kind::Family => Ok(self.level(&target, Resource::Family(&id))),
        }
    }
}

/// What names an experiment indirectly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Run,
    LoggedModel,
    /// An experiment's name.
    Name,
}

/// Which grant route is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutGrant {
    /// MLflow 2's `.../permissions/create`.
    Create,
    /// MLflow 2's `.../permissions/update` (and `.../delete`).
    Update,
    /// MLflow 3's `users/permissions/grant` (and `revoke`).
    Grant,
}

fn missing(kind: Kind, id: &str, username: &str) -> String {
    match kind {
        Kind::Experiment => format!("Experiment permission with experiment_id={id} and username={username} not found"),
        Kind::RegisteredModel => {
            format!("Registered model permission with name={id} and username={username} not found")
        }
        Kind::Family => format!("Family permission with name={id} and username={username} not found"),
    }
}

fn exists(kind: Kind, id: &str, username: &str, how: PutGrant) -> String {
    match (how, kind) {
        (PutGrant::Grant, _) => format!(
            "Permission for user={username} on resource_type={}, resource_id={id} already exists.",
            kind.as_str()
        ),
        (PutGrant::Create | PutGrant::Update, Kind::Experiment) => {
            format!("Experiment permission (experiment_id={id}, username={username}) already exists.")
        }
        (PutGrant::Create | PutGrant::Update, Kind::RegisteredModel) => {
            format!("Registered model permission (name={id}, username={username}) already exists.")
        }
        (PutGrant::Create | PutGrant::Update, Kind::Family) => {
            format!("Family permission (name={id}, username={username}) already exists.")
        }
    }
}

impl crate::AppState {
    /// What `caller` may read of `kind`, for a search to filter by:
    /// everything without authentication (`--auth none`, no caller).
    pub fn readable(&self, caller: Option<&Caller>, kind: Kind) -> Visible {
        match (&self.auth, caller) {
            (Some(auth), Some(caller)) => auth.readable(caller, kind),
            (None, _) | (_, None) => Visible::everything(),
        }
    }
}
