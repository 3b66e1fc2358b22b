//! Families and their partition members on PostgreSQL: creation, lookup,
//! the fallback walk that serving uses. The family row and its pure checks
//! (level depths, path order, full paths) are SQLite's
//! ([`crate::sqlite::families::FamilyRow`]); the SQL is this file's.

use flotilla_core::fleet::{self, Family, PartitionValue};
use flotilla_core::model::Page;
use flotilla_core::{Error, VersionNumber, validation};

use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::fleet::{FamilyStore, NewFamily, PartitionTarget};
use crate::sqlite::families::FamilyRow;
use crate::sqlite::now_ms;
use crate::{PageRequest, Visible, paging};

fn parse_levels(levels: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(levels).map_err(|e| Error::internal(format!("family levels: {e}")).into())
}

/// A version number read from the database (the schema keeps them positive).
pub(super) fn version(n: i64) -> StoreResult<VersionNumber> {
    VersionNumber::new(n).ok_or_else(|| Error::internal(format!("version number {n} out of range")).into())
}

pub(super) fn family(tx: &mut Tx<'_>, name: &str) -> StoreResult<FamilyRow> {
    let row = tx
        .query_opt("SELECT family_id, levels, default_rm_id FROM families WHERE name = $1", &[&name])?
        .ok_or_else(|| Error::not_found(format!("Family '{name}' does not exist")))?;
    let levels = parse_levels(&row.get::<_, String>(1))?;
    Ok(FamilyRow { id: row.get(0), name: name.to_string(), levels, default_rm_id: row.get(2) })
}

/// The member holding `path`'s deepest level, if it exists (as SQLite's `FamilyRow::find_member`).
pub(super) fn find_member(tx: &mut Tx<'_>, family: &FamilyRow, path: &[PartitionValue]) -> StoreResult<Option<i64>> {
    let Some((deepest, depth)) = path
        .iter()
        .map(|p| family.depth_of(&p.key).map(|d| (p, d)))
        .collect::<StoreResult<Vec<_>>>()?
        .into_iter()
        .max_by_key(|(_, d)| *d)
    else {
        return Ok(Some(family.default_rm_id));
    };
    let Some(row) = tx.query_opt(
        "SELECT rm_id FROM fleet_members WHERE family_id = $1 AND depth = $2 AND part_value = $3",
        &[&family.id, &(depth as i64), &deepest.value],
    )?
    else {
        return Ok(None);
    };
    let rm_id: i64 = row.get(0);
    for p in path {
        let on_path =
            tx.query_opt("SELECT value FROM member_partitions WHERE rm_id = $1 AND key = $2", &[&rm_id, &p.key])?;
        if on_path.map(|r| r.get::<_, String>(0)).as_deref() != Some(p.value.as_str()) {
            return Err(
                Error::invalid(format!("partition {deepest} of family '{}' is not under {p}", family.name)).into()
            );
        }
    }
    Ok(Some(rm_id))
}

/// The deepest existing member along `path` and whether it is the one `path`
/// names (as SQLite's `FamilyRow::nearest_member`).
pub(super) fn nearest_member(tx: &mut Tx<'_>, family: &FamilyRow, path: &[PartitionValue]) -> StoreResult<(i64, bool)> {
    let ordered = family.ordered_path(path)?;
    for keep in (1..=ordered.len()).rev() {
        if let Some(rm_id) = find_member(tx, family, &ordered[..keep])? {
            return Ok((rm_id, keep == ordered.len()));
        }
    }
    Ok((family.default_rm_id, ordered.is_empty()))
}

/// The member for `path`, created with its ancestors if missing (as SQLite's
/// `FamilyRow::ensure_member`).
pub(super) fn ensure_member(
    tx: &mut Tx<'_>,
    family: &FamilyRow,
    path: &[PartitionValue],
) -> StoreResult<(i64, String)> {
    if let Some(rm_id) = find_member(tx, family, path)? {
        return Ok((rm_id, member_name(tx, rm_id)?));
    }
    family.check_full_path(path)?;
    let mut parent = family.default_rm_id;
    let mut name = family.name.clone();
    for depth in 1..=path.len() {
        let prefix = &path[..depth];
        match find_member(tx, family, prefix)? {
            Some(existing) => {
                parent = existing;
                name = member_name(tx, existing)?;
            }
            None => {
                (parent, name) =
                    (create_member(tx, family, prefix, parent)?, fleet::member_name(&family.name, prefix.last()));
            }
        }
    }
    Ok((parent, name))
}

fn create_member(tx: &mut Tx<'_>, family: &FamilyRow, path: &[PartitionValue], parent: i64) -> StoreResult<i64> {
    let leaf = path.last().ok_or_else(|| Error::internal("empty partition path"))?;
    let name = fleet::member_name(&family.name, Some(leaf));
    validation::model_name(&name)?;
    let now = now_ms();
    let inserted = tx.query_opt(
        "INSERT INTO registered_models (name, creation_time, last_update_time) VALUES ($1, $2, $2)
         ON CONFLICT (name) DO NOTHING RETURNING rm_id",
        &[&name, &now],
    )?;
    let Some(inserted) = inserted else { return Err(family.name_taken(leaf, &name)) };
    let rm_id: i64 = inserted.get(0);
    tag_member(tx, rm_id, &family.name, &fleet::path_string(path))?;
    tx.execute(
        "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES ($1, $2, $3, $4, $5)",
        &[&rm_id, &family.id, &(path.len() as i64), &leaf.value, &parent],
    )?;
    let keys: Vec<&str> = path.iter().map(|p| p.key.as_str()).collect();
    let values: Vec<&str> = path.iter().map(|p| p.value.as_str()).collect();
    tx.execute(
        "INSERT INTO member_partitions (rm_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS p (k, v)",
        &[&rm_id, &keys, &values],
    )?;
    Ok(rm_id)
}

fn member_name(tx: &mut Tx<'_>, rm_id: i64) -> StoreResult<String> {
    Ok(tx.query_one("SELECT name FROM registered_models WHERE rm_id = $1", &[&rm_id])?.get(0))
}

fn tag_member(tx: &mut Tx<'_>, rm_id: i64, family: &str, path: &str) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO registered_model_tags (rm_id, key, value) VALUES ($1, $2, $3), ($1, $4, $5)
         ON CONFLICT (rm_id, key) DO UPDATE SET value = excluded.value",
        &[&rm_id, &fleet::FAMILY_TAG, &family, &fleet::PARTITION_TAG, &path],
    )?;
    Ok(())
}

/// A family default or a partition with children cannot be deleted through
/// the registry API: the fallback chain would break.
#[allow(dead_code)] // for the registry's delete and rename (postgres/registry.rs)
pub(super) fn check_deletable(tx: &mut Tx<'_>, rm_id: i64, name: &str) -> StoreResult<()> {
    if let Some(row) = tx.query_opt("SELECT name FROM families WHERE default_rm_id = $1", &[&rm_id])? {
        let family: String = row.get(0);
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' is the default of family '{family}' and cannot be deleted"
        ))
        .into());
    }
    if tx.query_opt("SELECT 1 FROM fleet_members WHERE parent = $1 LIMIT 1", &[&rm_id])?.is_some() {
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' is a partition with child partitions and cannot be deleted"
        ))
        .into());
    }
    Ok(())
}

/// Members are named after their family and partition; renaming one would break that.
#[allow(dead_code)] // for the registry's delete and rename (postgres/registry.rs)
pub(super) fn check_renamable(tx: &mut Tx<'_>, rm_id: i64, name: &str) -> StoreResult<()> {
    if tx.query_opt("SELECT 1 FROM fleet_members WHERE rm_id = $1", &[&rm_id])?.is_some() {
        return Err(Error::invalid_state(format!(
            "Registered model '{name}' belongs to a family and is named after its partition; it cannot be renamed"
        ))
        .into());
    }
    Ok(())
}

fn family_by_id(tx: &mut Tx<'_>, id: i64) -> StoreResult<Family> {
    // The model count is read from the counter the facet triggers keep, not counted.
    let row = tx.query_one(
        "SELECT f.name, f.levels, f.description, f.creation_time, COALESCE(c.n, 0)
         FROM families f
         LEFT JOIN facet_counts c ON c.scope = 0 AND c.dim = 'family' AND c.value = f.family_id::TEXT
         WHERE f.family_id = $1",
        &[&id],
    )?;
    Ok(Family {
        name: row.get(0),
        levels: parse_levels(&row.get::<_, String>(1))?,
        description: row.get(2),
        creation_timestamp: row.get(3),
        models: row.get(4),
    })
}

/// The creator's MANAGE grant on a new family. Users and grants are ported
/// with the auth area (`postgres/auth.rs`, `grant_creator`); until then a
/// creation with an owner fails whole rather than leaving the family ungranted.
fn grant_owner(tx: &mut Tx<'_>, owner: i64, name: &str) -> StoreResult<()> {
    super::auth::grant_creator(tx, owner, crate::auth::FAMILY, name)
}

impl FamilyStore for PgStore {
    fn create_family_owned(&self, new: &NewFamily, owner: Option<i64>) -> StoreResult<Family> {
        fleet::validate_family(&new.name, &new.levels)?;
        validation::model_name(&new.name)?;
        let levels = serde_json::to_string(&new.levels).map_err(|e| Error::internal(e.to_string()))?;
        self.write_registry(|tx| {
            if tx.query_opt("SELECT 1 FROM families WHERE name = $1", &[&new.name])?.is_some() {
                return Err(Error::already_exists(format!("Family '{}' already exists", new.name)).into());
            }
            let now = now_ms();
            // The default is the registered model named like the family; an existing one is adopted.
            tx.execute(
                "INSERT INTO registered_models (name, creation_time, last_update_time) VALUES ($1, $2, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&new.name, &now],
            )?;
            let default_rm_id: i64 =
                tx.query_one("SELECT rm_id FROM registered_models WHERE name = $1", &[&new.name])?.get(0);
            if tx.query_opt("SELECT 1 FROM fleet_members WHERE rm_id = $1", &[&default_rm_id])?.is_some() {
                return Err(Error::already_exists(format!(
                    "Registered model '{}' already belongs to a family",
                    new.name
                ))
                .into());
            }
            let description = new.description.as_deref().unwrap_or("");
            let id: i64 = tx
                .query_one(
                    "INSERT INTO families (name, levels, description, creation_time, default_rm_id)
                     VALUES ($1, $2, $3, $4, $5) RETURNING family_id",
                    &[&new.name, &levels, &description, &now, &default_rm_id],
                )?
                .get(0);
            tx.execute(
                "INSERT INTO fleet_members (rm_id, family_id, depth, part_value) VALUES ($1, $2, 0, '')",
                &[&default_rm_id, &id],
            )?;
            tag_member(tx, default_rm_id, &new.name, "")?;
            crate::audit::note(
                crate::audit::Change::new("family.create", "family", new.name.as_str())
                    .diff(None, Some(serde_json::json!({"levels": new.levels, "description": new.description}))),
            );
            if let Some(owner) = owner {
                grant_owner(tx, owner, &new.name)?;
            }
            family_by_id(tx, id)
        })
    }

    fn get_family(&self, name: &str) -> StoreResult<Family> {
        self.read(|tx| {
            let id = family(tx, name)?.id;
            family_by_id(tx, id)
        })
    }

    fn list_families(&self, page: &PageRequest, visible: &Visible) -> StoreResult<Page<Family>> {
        let limit = validation::page_size(page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(page.page_token.as_deref(), 1)?;
        let after = cursor.as_ref().and_then(|c| c[0].as_str()).unwrap_or("").to_string();
        self.read(|tx| {
            // The readable set as SQLite's `visible::families` reads it: named ids only.
            let rows = tx.query(
                "SELECT family_id, name FROM families
                 WHERE name > $1 AND NOT (name = ANY($2)) AND ($3 OR name = ANY($4))
                 ORDER BY name LIMIT $5",
                &[&after, &visible.ids_out, &visible.all, &visible.ids_in, &(limit as i64 + 1)],
            )?;
            let ids: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let more = ids.len() > limit;
            let items = ids.iter().take(limit).map(|(id, _)| family_by_id(tx, *id)).collect::<StoreResult<Vec<_>>>()?;
            let next_page_token = more.then(|| paging::encode(&vec![ids[limit - 1].1.clone().into()]));
            Ok(Page { items, next_page_token })
        })
    }

    fn resolve_partition(
        &self,
        family_name: &str,
        partition: &[PartitionValue],
        alias: &str,
    ) -> StoreResult<PartitionTarget> {
        partition.iter().try_for_each(PartitionValue::validate)?;
        self.read(|tx| {
            let family = family(tx, family_name)?;
            let (start, requested_exists) = nearest_member(tx, &family, partition)?;
            // Walk up from the partition to the default; the deepest member
            // with a version under the alias (else any version) answers.
            let found = tx.query_opt(
                "WITH RECURSIVE up (rm_id, parent, depth) AS (
                     SELECT rm_id, parent, depth FROM fleet_members WHERE rm_id = $1
                     UNION ALL
                     SELECT f.rm_id, f.parent, f.depth FROM fleet_members f JOIN up ON f.rm_id = up.parent
                 )
                 SELECT * FROM (
                     SELECT up.rm_id, rm.name, up.depth,
                            COALESCE((SELECT version FROM registered_model_aliases a
                                      WHERE a.rm_id = up.rm_id AND a.alias = $2),
                                     (SELECT max(version) FROM model_versions v WHERE v.rm_id = up.rm_id)) AS served
                     FROM up JOIN registered_models rm ON rm.rm_id = up.rm_id
                 ) s
                 WHERE served IS NOT NULL ORDER BY depth DESC LIMIT 1",
                &[&start, &alias],
            )?;
            let row = found.ok_or_else(|| {
                Error::not_found(format!(
                    "no version serves partition {} of family '{family_name}': neither it, its parents nor the family default has one",
                    fleet::path_string(partition)
                ))
            })?;
            let (rm_id, model): (i64, String) = (row.get(0), row.get(1));
            let version = version(row.get(3))?;
            let mut answered: Vec<PartitionValue> = tx
                .query("SELECT key, value FROM member_partitions WHERE rm_id = $1", &[&rm_id])?
                .iter()
                .map(|r| PartitionValue::new(r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect();
            answered.sort_by_key(|p| family.levels.iter().position(|l| *l == p.key));
            Ok(PartitionTarget { model, version, partition: answered, fallback: !requested_exists || rm_id != start })
        })
    }
}
