//! Schema versions and what opening a store may do to them, for both
//! backends (`sqlite/migrations.rs`, `postgres/migrations.rs`).
//!
//! A store is at the version of the newest migration applied to it. Any
//! process that opens a store for use (a server, a CLI command on a data
//! directory) creates a new, empty one at the newest schema, and upgrades
//! one that is a single migration behind; a schema older than that is
//! refused with the command that upgrades it (`flotilla db upgrade`), and so
//! is one newer than the build knows. So replicas on one PostgreSQL can be
//! replaced one at a time: a new build runs on the schema the old one left,
//! and an old one still running keeps working beside the one step a new
//! build applies (migrations are additive).

use crate::error::{StoreError, StoreResult};

/// How far opening a store may migrate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// Opening for use: create an empty store, or apply the one pending
    /// migration of a store one step behind; refuse anything older.
    OneStep,
    /// `flotilla db upgrade`: every pending migration, or those up to and
    /// including the given version.
    UpTo(Option<u32>),
}

/// The schema a store is at, against the migrations this build ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The newest migration applied: 0 for a new, empty store.
    pub current: u32,
    /// The last migration this build ships.
    pub latest: u32,
    /// The oldest schema this build opens for use without `flotilla db
    /// upgrade`: the migration before the latest.
    pub oldest_served: u32,
    /// The migrations an upgrade would apply, oldest first.
    pending: Vec<u32>,
}

impl SchemaStatus {
    /// The status of a store at `current` against a backend's migration
    /// numbers (ascending); a schema newer than the last is `SchemaTooNew`.
    pub(crate) fn of(versions: &[u32], current: u32) -> StoreResult<Self> {
        let latest = versions.last().copied().unwrap_or(0);
        if current > latest {
            return Err(StoreError::SchemaTooNew { found: current, known: latest });
        }
        let oldest_served = versions.iter().rev().nth(1).copied().unwrap_or(latest);
        let pending = versions.iter().copied().filter(|v| *v > current).collect();
        Ok(Self { current, latest, oldest_served, pending })
    }

    /// The migrations an upgrade would apply, oldest first.
    pub fn pending(&self) -> Vec<u32> {
        self.pending.clone()
    }

    /// The migrations opening with `upgrade` applies, or why it refuses.
    pub(crate) fn to_apply(&self, upgrade: Upgrade) -> StoreResult<Vec<u32>> {
        match upgrade {
            Upgrade::OneStep if self.current == 0 || self.current >= self.oldest_served => Ok(self.pending.clone()),
            Upgrade::OneStep => {
                Err(StoreError::SchemaTooOld { found: self.current, oldest: self.oldest_served, latest: self.latest })
            }
            Upgrade::UpTo(None) => Ok(self.pending.clone()),
            Upgrade::UpTo(Some(to)) => {
                if to < self.current {
                    return Err(flotilla_core::Error::invalid(format!(
                        "the schema is at version {}; flotilla db upgrade cannot go back to {to}",
                        self.current
                    ))
                    .into());
                }
                if to != self.current && !self.pending.contains(&to) {
                    return Err(flotilla_core::Error::invalid(format!(
                        "no migration {to}: this flotilla's migrations after version {} are {:?}",
                        self.current, self.pending
                    ))
                    .into());
                }
                Ok(self.pending.iter().copied().filter(|v| *v <= to).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &[u32] = &[1, 2, 3, 5, 8];

    #[test]
    fn opening_for_use_creates_or_takes_one_step_and_refuses_older() {
        let fresh = SchemaStatus::of(SHIPPED, 0).unwrap();
        assert_eq!(fresh.to_apply(Upgrade::OneStep).unwrap(), vec![1, 2, 3, 5, 8]);
        assert_eq!(fresh.oldest_served, 5);
        let one_behind = SchemaStatus::of(SHIPPED, 5).unwrap();
        assert_eq!(one_behind.to_apply(Upgrade::OneStep).unwrap(), vec![8]);
        let current = SchemaStatus::of(SHIPPED, 8).unwrap();
        assert!(current.to_apply(Upgrade::OneStep).unwrap().is_empty());
        let old = SchemaStatus::of(SHIPPED, 3).unwrap();
        let refused = old.to_apply(Upgrade::OneStep).unwrap_err();
        assert!(matches!(refused, StoreError::SchemaTooOld { found: 3, oldest: 5, latest: 8 }), "{refused}");
        assert!(refused.to_string().contains("flotilla db upgrade"), "{refused}");
        assert!(matches!(SchemaStatus::of(SHIPPED, 9), Err(StoreError::SchemaTooNew { found: 9, known: 8 })));
    }

    #[test]
    fn an_explicit_upgrade_goes_anywhere_forward() {
        let old = SchemaStatus::of(SHIPPED, 2).unwrap();
        assert_eq!(old.pending(), vec![3, 5, 8]);
        assert_eq!(old.to_apply(Upgrade::UpTo(None)).unwrap(), vec![3, 5, 8]);
        assert_eq!(old.to_apply(Upgrade::UpTo(Some(5))).unwrap(), vec![3, 5]);
        assert!(old.to_apply(Upgrade::UpTo(Some(2))).unwrap().is_empty());
        assert!(old.to_apply(Upgrade::UpTo(Some(1))).is_err(), "no way back");
        assert!(old.to_apply(Upgrade::UpTo(Some(4))).is_err(), "no such migration");
    }
}
