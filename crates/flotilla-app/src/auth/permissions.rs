//! Authorization: the level a caller holds on a resource, answered from an
//! in-memory snapshot of every grant that follows the store's grant log
//! (this process's writes at once, another process's within the generation
//! poll): each change is applied in place, and only a reset or a reader
//! left behind the pruned log reads every grant again. A check is a few
//! hash lookups under a read lock, never a query.
//!
//! This process's own writes are applied from the entries they wrote
//! ([`Snapshot::apply_written`]), without reading the log back. Concurrent
//! writes may hand theirs over out of order, so entries past the log prefix
//! the snapshot has read are kept aside (`ahead`) and the snapshot is always
//! the prefix followed by them in `seq` order: a later entry on the same
//! grant always wins, and the prefix grows over them once the gap before
//! them is filled (by another write's entries or the next poll).
//!
//! The rules are MLflow 3's basic-auth without roles or workspaces: levels
//! READ < USE < EDIT < MANAGE, and the veto NO_PERMISSIONS ≡ DENY. A caller's
//! explicit grants on the resource (its id and `*`) fold to DENY if any is a
//! veto, else to their highest level; a positive level is floored at the
//! configured default; no grant at all is the default. A registered model in
//! a family falls back to the family's grants when the caller holds none on
//! the model itself (a grant on the member decides, even a narrower one).
//! Admins hold MANAGE on everything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard};

use flotilla_core::Error;
use flotilla_store::Visible;
use flotilla_store::auth::{EXPERIMENT, FAMILY, Grant, GrantChange, GrantEvent, GrantSet, REGISTERED_MODEL};

use super::Caller;

/// A permission level, lowest first; `Deny` is the veto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// NO_PERMISSIONS (MLflow 2) or DENY (MLflow 3): nothing at all.
    Deny,
    Read,
    /// Invoke: V2 inference.
    Use,
    Edit,
    /// Delete, and manage the resource's grants.
    Manage,
}

impl Permission {
    /// Every name a client may send; MLflow 2's `NO_PERMISSIONS` and 3's
    /// `DENY` are the same veto.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "READ" => Some(Self::Read),
            "USE" => Some(Self::Use),
            "EDIT" => Some(Self::Edit),
            "MANAGE" => Some(Self::Manage),
            "NO_PERMISSIONS" | "DENY" => Some(Self::Deny),
            _ => None,
        }
    }

    /// MLflow 3's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Deny => "DENY",
            Self::Read => "READ",
            Self::Use => "USE",
            Self::Edit => "EDIT",
            Self::Manage => "MANAGE",
        }
    }

    /// Whether holding `self` is enough for something that needs `need`.
    pub fn allows(self, need: Permission) -> bool {
        self != Self::Deny && self >= need
    }

    /// The message of a bad level, as MLflow words it.
    pub fn invalid(name: &str) -> Error {
        Error::invalid(format!(
            "Invalid permission '{name}'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', \
             'NO_PERMISSIONS', 'DENY')"
        ))
    }
}

/// The kinds of resource a grant names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Experiment,
    RegisteredModel,
    Family,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Experiment => EXPERIMENT,
            Self::RegisteredModel => REGISTERED_MODEL,
            Self::Family => FAMILY,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            EXPERIMENT => Some(Self::Experiment),
            REGISTERED_MODEL => Some(Self::RegisteredModel),
            FAMILY => Some(Self::Family),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Experiment => 0,
            Self::RegisteredModel => 1,
            Self::Family => 2,
        }
    }
}

/// A resource a request touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Experiment(&'a str),
    /// A registered model, with its family when it is a fleet member.
    Model {
        name: &'a str,
        family: Option<&'a str>,
    },
    Family(&'a str),
}

#[derive(Debug, Default)]
struct UserGrants {
    by_kind: [HashMap<String, Permission>; 3],
    /// The ids of `by_kind` whose level is the veto, so a search under a
    /// default that reads everything gathers its exclusions without walking
    /// every grant (a user's creator grants grow with what they create).
    denied: [HashSet<String>; 3],
}

impl UserGrants {
    fn put(&mut self, kind: Kind, id: String, level: Permission) {
        if level == Permission::Deny {
            self.denied[kind.index()].insert(id.clone());
        } else {
            self.denied[kind.index()].remove(&id);
        }
        self.by_kind[kind.index()].insert(id, level);
    }

    fn remove(&mut self, kind: Kind, id: &str) {
        self.by_kind[kind.index()].remove(id);
        self.denied[kind.index()].remove(id);
    }
}

/// Entries kept past the log prefix before the snapshot reads the log instead.
const AHEAD_MAX: usize = 4096;

/// Every grant, as of one grant-log entry.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The last grant-log entry applied with every entry before it.
    pub(super) seq: u64,
    users: HashMap<i64, UserGrants>,
    /// Entries after `seq` this process wrote, applied after the prefix in order.
    ahead: BTreeMap<u64, GrantEvent>,
}

impl Snapshot {
    pub(super) fn build(set: GrantSet) -> Self {
        let mut snapshot = Self { seq: set.seq, users: HashMap::new(), ahead: BTreeMap::new() };
        for g in set.grants {
            snapshot.put(g);
        }
        snapshot
    }

    /// A snapshot of `set` that keeps `self`'s entries written after it.
    fn rebuilt(&mut self, set: GrantSet) {
        let mut ahead = std::mem::take(&mut self.ahead);
        ahead.retain(|seq, _| *seq > set.seq);
        *self = Self::build(set);
        self.ahead = ahead;
        self.replay_ahead(0);
    }

    fn event(&mut self, event: GrantEvent) {
        match event {
            GrantEvent::Put(grant) => self.put(grant),
            GrantEvent::Removed { user_id, resource_kind, resource_id } => {
                self.remove(user_id, &resource_kind, &resource_id)
            }
            // Never kept aside.
            GrantEvent::Reset => {}
        }
    }

    /// Applies the entries kept aside from `from` on again, in order, so the
    /// newest entry on a grant is the one in force.
    fn replay_ahead(&mut self, from: u64) {
        let events: Vec<GrantEvent> = self.ahead.range(from..).map(|(_, e)| e.clone()).collect();
        for event in events {
            self.event(event);
        }
    }

    /// Applies entries this process just committed (in `seq` order); false
    /// at a reset or when too many wait past a gap: then only reading the
    /// log can follow.
    pub(super) fn apply_written(&mut self, changes: Vec<GrantChange>) -> bool {
        let mut from = None;
        for change in changes.into_iter().filter(|c| c.seq > self.seq) {
            if matches!(change.event, GrantEvent::Reset) {
                return false;
            }
            from = Some(from.map_or(change.seq, |f: u64| f.min(change.seq)));
            self.ahead.insert(change.seq, change.event);
        }
        let Some(from) = from else { return true };
        if self.ahead.len() > AHEAD_MAX {
            return false;
        }
        self.replay_ahead(from);
        // The prefix grows over entries that now follow it without a gap.
        while let Some(entry) = self.ahead.first_entry().filter(|e| *e.key() == self.seq + 1) {
            entry.remove();
            self.seq += 1;
        }
        true
    }

    fn put(&mut self, g: Grant) {
        let (Some(kind), Some(level)) = (Kind::parse(&g.resource_kind), Permission::parse(&g.level)) else {
            tracing::warn!(kind = %g.resource_kind, level = %g.level, "ignoring a grant this server does not know");
            return;
        };
        self.users.entry(g.user_id).or_default().put(kind, g.resource_id, level);
    }

    fn remove(&mut self, user_id: i64, kind: &str, id: &str) {
        let Some(kind) = Kind::parse(kind) else { return };
        if let Some(user) = self.users.get_mut(&user_id) {
            user.remove(kind, id);
            if user.by_kind.iter().all(HashMap::is_empty) {
                self.users.remove(&user_id);
            }
        }
    }

    /// Applies grant-log entries (those at or before `seq` are skipped:
    /// two requests may bring the same ones); false at a reset, which only
    /// reading every grant again can follow.
    pub(super) fn apply(&mut self, changes: Vec<GrantChange>) -> bool {
        let applied = self.seq;
        for change in changes.into_iter().filter(|c| c.seq > applied) {
            if matches!(change.event, GrantEvent::Reset) {
                return false;
            }
            self.event(change.event);
            self.seq = change.seq;
        }
        // What the log brought is older than what is still kept aside.
        let seq = self.seq;
        self.ahead.retain(|s, _| *s > seq);
        self.replay_ahead(0);
        true
    }

    fn explicit(&self, user_id: i64, kind: Kind, id: &str) -> Option<Permission> {
        let map = &self.users.get(&user_id)?.by_kind[kind.index()];
        match (map.get(id), map.get("*")) {
            (Some(Permission::Deny), _) | (_, Some(Permission::Deny)) => Some(Permission::Deny),
            (Some(a), Some(b)) => Some(*a.max(b)),
            (Some(a), None) | (None, Some(a)) => Some(*a),
            (None, None) => None,
        }
    }

    /// The families whose grants might apply to `model` for this user: they
    /// name it (the default member) or prefix it (`{family}.{partition}`),
    /// or the user holds a grant on every family. Membership itself is the
    /// store's to confirm.
    pub fn family_candidates(&self, user_id: i64, model: &str) -> bool {
        let Some(user) = self.users.get(&user_id) else { return false };
        user.by_kind[Kind::Family.index()]
            .keys()
            .any(|f| f == "*" || model == f || model.strip_prefix(f.as_str()).is_some_and(|rest| rest.starts_with('.')))
    }

    /// The level `caller` holds on `resource` under `default`.
    pub fn level(&self, caller: &Caller, default: Permission, resource: Resource<'_>) -> Permission {
        if caller.is_admin {
            return Permission::Manage;
        }
        let explicit = match resource {
            Resource::Experiment(id) => self.explicit(caller.user_id, Kind::Experiment, id),
            Resource::Model { name, family } => self
                .explicit(caller.user_id, Kind::RegisteredModel, name)
                .or_else(|| family.and_then(|f| self.explicit(caller.user_id, Kind::Family, f))),
            Resource::Family(name) => self.explicit(caller.user_id, Kind::Family, name),
        };
        match explicit {
            Some(Permission::Deny) => Permission::Deny,
            Some(level) => level.max(default),
            None => default,
        }
    }

    /// Which resources of `kind` the caller may read, for the store to
    /// filter a search by (the same rules as [`Snapshot::level`]). Under a
    /// default that reads everything only the vetoes are gathered, from
    /// their own set: the cost follows a user's vetoes, not their grants.
    pub fn readable(&self, caller: &Caller, default: Permission, kind: Kind) -> Visible {
        if caller.is_admin {
            return Visible::everything();
        }
        let empty = HashMap::new();
        let user = self.users.get(&caller.user_id);
        let map = user.map_or(&empty, |u| &u.by_kind[kind.index()]);
        let vetoed = |kind: Kind| user.map_or_else(Vec::new, |u| u.denied[kind.index()].iter().cloned().collect());
        let reads = |p: Permission| p.max(default).allows(Permission::Read) && p != Permission::Deny;
        let mut v = Visible {
            all: default.allows(Permission::Read),
            ids_in: Vec::new(),
            ids_out: Vec::new(),
            families_in: Vec::new(),
            families_out: Vec::new(),
        };
        match map.get("*").copied() {
            // A veto on every resource of the kind: nothing.
            Some(Permission::Deny) => {
                v.all = false;
                return v;
            }
            // A positive grant on every resource reads them all but the
            // vetoed ones (family grants never apply).
            Some(_) => {
                v.all = true;
                v.ids_out = vetoed(kind);
                return v;
            }
            None => {}
        }
        if v.all {
            v.ids_out = vetoed(kind);
        } else {
            for (id, p) in map {
                if reads(*p) { v.ids_in.push(id.clone()) } else { v.ids_out.push(id.clone()) }
            }
        }
        if kind == Kind::RegisteredModel {
            let families = user.map_or(&empty, |u| &u.by_kind[Kind::Family.index()]);
            let star = families.get("*").copied();
            if v.all && star != Some(Permission::Deny) {
                v.families_out = vetoed(Kind::Family);
                return v;
            }
            for (family, p) in families {
                let folded = match (*p, star) {
                    (Permission::Deny, _) | (_, Some(Permission::Deny)) => Permission::Deny,
                    (p, Some(s)) => p.max(s),
                    (p, None) => p,
                };
                if !reads(folded) {
                    v.families_out.push(family.clone());
                } else if !v.all {
                    v.families_in.push(family.clone());
                }
            }
        }
        v
    }
}

/// The snapshot in use: read by every check, changed in place by the few
/// writes that bring grant-log entries. Starts empty at entry 0, so the
/// first refresh reads every grant (the log's first entry is a reset).
#[derive(Default)]
pub(super) struct Current(RwLock<Snapshot>);

/// What a refresh read from the store.
pub(super) enum Update {
    /// The snapshot is up to date.
    Current,
    /// Entries after the snapshot's.
    Changes(Vec<GrantChange>),
    /// Every grant.
    Rebuild(GrantSet),
}

impl Current {
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The last grant-log entry applied.
    pub(super) fn seq(&self) -> u64 {
        self.read().seq
    }

    /// Applies an update; false when it was a reset the caller must follow
    /// with a rebuild.
    pub(super) fn update(&self, update: Update) -> bool {
        let mut snapshot = self.0.write().unwrap_or_else(|p| p.into_inner());
        match update {
            Update::Current => true,
            Update::Changes(changes) => snapshot.apply(changes),
            // A rebuild read before entries another request already applied is older: keep ours.
            Update::Rebuild(set) if set.seq < snapshot.seq => true,
            Update::Rebuild(set) => {
                snapshot.rebuilt(set);
                true
            }
        }
    }

    /// Applies entries this process wrote; false when the log must be read.
    pub(super) fn written(&self, changes: Vec<GrantChange>) -> bool {
        self.0.write().unwrap_or_else(|p| p.into_inner()).apply_written(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Method, TokenScope};

    fn caller(id: i64) -> Caller {
        Caller {
            user_id: id,
            username: format!("u{id}"),
            is_admin: false,
            scope: TokenScope::Write,
            method: Method::Password,
            token_id: None,
        }
    }

    fn grant(user: i64, kind: &str, id: &str, level: &str) -> Grant {
        Grant { user_id: user, resource_kind: kind.into(), resource_id: id.into(), level: level.into() }
    }

    fn build(grants: Vec<Grant>) -> Snapshot {
        Snapshot::build(GrantSet { seq: 1, grants })
    }

    #[test]
    fn changes_apply_in_place_once_and_a_reset_stops_them() {
        use Permission::*;
        let change = |seq, event| GrantChange { seq, event };
        let current = Current::default();
        assert!(
            current.update(Update::Rebuild(GrantSet { seq: 1, grants: vec![grant(1, "experiment", "7", "READ")] }))
        );
        let put = |user, id: &str, level: &str| GrantEvent::Put(grant(user, "experiment", id, level));
        let removed = |user, id: &str| GrantEvent::Removed {
            user_id: user,
            resource_kind: "experiment".into(),
            resource_id: id.into(),
        };
        assert!(current.update(Update::Changes(vec![
            change(2, put(1, "7", "MANAGE")),
            change(3, put(1, "8", "EDIT")),
            change(4, removed(1, "8")),
            change(5, put(2, "9", "DENY")),
        ])));
        // The same entries again (another request brought them) change nothing.
        assert!(current.update(Update::Changes(vec![change(3, put(1, "8", "EDIT"))])));
        // An older rebuild never replaces a newer snapshot.
        assert!(current.update(Update::Rebuild(GrantSet { seq: 2, grants: vec![] })));
        let snap = current.read();
        assert_eq!(snap.seq, 5);
        let level = |who, id| snap.level(&caller(who), Read, Resource::Experiment(id));
        assert_eq!([level(1, "7"), level(1, "8"), level(2, "9")], [Manage, Read, Deny]);
        drop(snap);
        assert!(!current.update(Update::Changes(vec![change(6, GrantEvent::Reset), change(7, put(1, "8", "EDIT"))])));
        assert_eq!(current.seq(), 5, "nothing after a reset is applied");
    }

    #[test]
    fn written_entries_apply_out_of_order_and_the_newest_wins() {
        use Permission::*;
        let change = |seq, event| GrantChange { seq, event };
        let put = |id: &str, level: &str| GrantEvent::Put(grant(1, "experiment", id, level));
        let removed =
            |id: &str| GrantEvent::Removed { user_id: 1, resource_kind: "experiment".into(), resource_id: id.into() };
        let current = Current::default();
        assert!(current.update(Update::Rebuild(GrantSet { seq: 1, grants: vec![] })));
        let level = |id| current.read().level(&caller(1), Read, Resource::Experiment(id));
        // Entry 4 (a delete) is handed over before 3 (the create it follows), 2 is another process's.
        assert!(current.written(vec![change(4, removed("7"))]));
        assert!(current.written(vec![change(3, put("7", "MANAGE")), change(5, put("8", "EDIT"))]));
        assert_eq!([level("7"), level("8")], [Read, Edit], "the delete after the create wins; the create is seen");
        assert_eq!(current.seq(), 1, "the prefix waits for entry 2");
        // The poll brings 2..=5 from the log: the prefix grows over everything.
        assert!(current.update(Update::Changes(vec![
            change(2, put("9", "DENY")),
            change(3, put("7", "MANAGE")),
            change(4, removed("7")),
        ])));
        assert_eq!([level("7"), level("8"), level("9")], [Read, Edit, Deny], "entry 5 is still in force");
        assert!(current.written(vec![change(6, put("7", "EDIT"))]));
        assert!(current.update(Update::Changes(vec![change(5, put("8", "EDIT")), change(6, put("7", "EDIT"))])));
        assert_eq!(current.seq(), 6);
        assert_eq!([level("7"), level("8")], [Edit, Edit]);
        // Entries the snapshot already holds change nothing; a reset asks for the log.
        assert!(current.written(vec![change(6, removed("7"))]));
        assert_eq!(level("7"), Edit);
        assert!(!current.written(vec![change(7, GrantEvent::Reset)]));
        // A rebuild older than kept-aside entries keeps them in force.
        assert!(current.written(vec![change(9, put("10", "MANAGE"))]));
        assert!(current.update(Update::Rebuild(GrantSet { seq: 8, grants: vec![] })));
        assert_eq!([level("7"), level("10")], [Read, Manage]);
    }

    #[test]
    fn effective_levels() {
        use Permission::*;
        let snap = build(vec![
            grant(1, "experiment", "7", "EDIT"),
            grant(1, "experiment", "8", "NO_PERMISSIONS"),
            grant(1, "registered_model", "m", "READ"),
            grant(1, "family", "fam", "USE"),
            grant(2, "experiment", "*", "DENY"),
            grant(2, "experiment", "7", "MANAGE"),
        ]);
        let (a, b) = (caller(1), caller(2));
        let model = |name, family| Resource::Model { name, family };
        // (caller, default, resource) -> level
        for (who, default, resource, expected) in [
            (&a, Read, Resource::Experiment("7"), Edit),
            (&a, Manage, Resource::Experiment("7"), Manage), // floored at the default
            (&a, Manage, Resource::Experiment("8"), Deny),   // a veto is never floored
            (&a, Read, Resource::Experiment("9"), Read),     // no grant: the default
            (&a, Deny, Resource::Experiment("9"), Deny),
            (&a, Deny, model("m", None), Read),
            (&a, Deny, model("fam.store=1", Some("fam")), Use), // the family's
            (&a, Deny, model("m", Some("fam")), Read),          // the member's own decides
            (&a, Deny, Resource::Family("fam"), Use),
            (&b, Read, Resource::Experiment("7"), Deny), // a `*` veto wins
            (&b, Read, Resource::Experiment("1"), Deny),
        ] {
            assert_eq!(snap.level(who, default, resource), expected, "{resource:?} default {default:?}");
        }
        let admin = Caller { is_admin: true, ..caller(2) };
        assert_eq!(snap.level(&admin, Deny, Resource::Experiment("7")), Manage);
    }

    #[test]
    fn readable_sets() {
        use Permission::*;
        let snap = build(vec![
            grant(1, "registered_model", "m", "READ"),
            grant(1, "registered_model", "x", "DENY"),
            grant(1, "family", "fam", "READ"),
            grant(1, "family", "hidden", "DENY"),
            grant(2, "experiment", "*", "DENY"),
        ]);
        let a = caller(1);
        // (caller, default, kind) -> what the set admits, checked against `level`
        let models = [("m", None), ("x", None), ("fam.s=1", Some("fam")), ("hidden", Some("hidden")), ("z", None)];
        for default in [Read, Deny] {
            let v = snap.readable(&a, default, Kind::RegisteredModel);
            for (name, family) in models {
                let level = snap.level(&a, default, Resource::Model { name, family });
                assert_eq!(v.admits(name, family), level.allows(Read), "{name} default {default:?}: {v:?}");
            }
        }
        assert!(snap.readable(&a, Read, Kind::Experiment).is_everything());
        let none = snap.readable(&caller(2), Manage, Kind::Experiment);
        assert!(!none.admits("1", None));
        assert!(snap.family_candidates(1, "fam.region=west"));
        assert!(snap.family_candidates(1, "fam"));
        assert!(!snap.family_candidates(1, "family2"));
    }

    /// The vetoes a readable set gathers follow the grants as they change:
    /// a veto lifted, a grant removed, a `*` grant on models or families.
    #[test]
    fn readable_sets_follow_changed_vetoes() {
        use Permission::*;
        let put = |seq, user, kind: &str, id: &str, level: &str| GrantChange {
            seq,
            event: GrantEvent::Put(grant(user, kind, id, level)),
        };
        let removed = |seq, user, kind: &str, id: &str| GrantChange {
            seq,
            event: GrantEvent::Removed { user_id: user, resource_kind: kind.into(), resource_id: id.into() },
        };
        let mut snap = build(vec![
            grant(1, "registered_model", "x", "DENY"),
            grant(1, "registered_model", "y", "DENY"),
            grant(1, "family", "fam", "DENY"),
            grant(1, "family", "open", "EDIT"),
        ]);
        let a = caller(1);
        let models = [
            ("x", None),
            ("y", None),
            ("z", None),
            ("fam.s=1", Some("fam")),
            ("open.s=1", Some("open")),
            ("other.s=1", Some("other")),
        ];
        let agree = |snap: &Snapshot, step: &str| {
            for default in [Read, Use, Deny] {
                let v = snap.readable(&a, default, Kind::RegisteredModel);
                for (name, family) in models {
                    let level = snap.level(&a, default, Resource::Model { name, family });
                    assert_eq!(v.admits(name, family), level.allows(Read), "{step}: {name} under {default:?}: {v:?}");
                }
            }
        };
        agree(&snap, "built");
        assert!(snap.apply(vec![put(2, 1, "registered_model", "x", "READ"), removed(3, 1, "registered_model", "y")]));
        agree(&snap, "x lifted, y removed");
        assert_eq!(snap.readable(&a, Read, Kind::RegisteredModel).ids_out, Vec::<String>::new());
        assert!(snap.apply(vec![put(4, 1, "family", "*", "DENY")]));
        agree(&snap, "every family vetoed");
        assert!(snap.apply(vec![put(5, 1, "family", "*", "READ"), put(6, 1, "registered_model", "*", "EDIT")]));
        agree(&snap, "a grant on every family and model");
        assert!(snap.apply(vec![put(7, 1, "registered_model", "z", "DENY")]));
        agree(&snap, "z vetoed under a grant on every model");
    }
}
