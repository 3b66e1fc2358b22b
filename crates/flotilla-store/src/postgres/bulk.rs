//! Bulk registry writes on PostgreSQL (as `sqlite/bulk.rs`): many versions,
//! or many alias moves, in one transaction. Which items are refused, and
//! how a refusal names each of them, is the store's
//! ([`crate::fleet_checks`]); the SQL is this file's. Every item is checked
//! before anything commits, so a batch applies whole or not at all.

use std::collections::{HashMap, HashSet};

use flotilla_core::fleet::PartitionValue;
use flotilla_core::{Error, validation};

use super::alias_plan::{self, PlannedMove, open_batch};
use super::{PgStore, Tx, datasets, families, metrics, registry};
use crate::error::StoreResult;
use crate::fleet::{
    AliasChange, AliasMove, AliasReport, BulkStore, BulkVersion, ChangeContext, ModelAddress, RegisteredVersion,
};
use crate::fleet_checks::{ItemErrors, check_batch_size, check_version};
use crate::sqlite::aliases::{BatchKind, NewBatch};
use crate::sqlite::families::FamilyRow;
use crate::sqlite::now_ms;

/// The models a bulk registration addressed so far, and the families it
/// read: an item into the same model (a store's two versions) costs no
/// lookups. Lives for one attempt of the transaction.
#[derive(Default)]
struct Addressed<'a> {
    families: HashMap<&'a str, FamilyRow>,
    members: HashMap<(&'a str, &'a [PartitionValue]), (i64, String)>,
    models: HashMap<&'a str, i64>,
}

impl<'a> Addressed<'a> {
    fn model(&mut self, tx: &mut Tx<'_>, address: &'a ModelAddress) -> StoreResult<(i64, String)> {
        match address {
            ModelAddress::Name { model } => {
                let rm_id = match self.models.get(model.as_str()) {
                    Some(id) => *id,
                    None => *self.models.entry(model).or_insert(registry::rm_id(tx, model)?),
                };
                Ok((rm_id, model.clone()))
            }
            ModelAddress::Partition { family, partition } => {
                if let Some(found) = self.members.get(&(family.as_str(), partition.as_slice())) {
                    return Ok(found.clone());
                }
                let row = match self.families.get(family.as_str()) {
                    Some(row) => row,
                    None => self.families.entry(family).or_insert(families::family(tx, family)?),
                };
                let found = families::ensure_member(tx, row, partition)?;
                self.members.insert((family, partition), found.clone());
                Ok(found)
            }
        }
    }
}

/// A version's tags, `$3` keys and `$4` values; a key given twice keeps its last value.
const SET_VERSION_TAGS: &str = "INSERT INTO model_version_tags (rm_id, version, key, value)
     SELECT DISTINCT ON (t.key) $1, $2, t.key, t.value FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t (key, value, seq)
     ORDER BY t.key, t.seq DESC
     ON CONFLICT (rm_id, version, key) DO UPDATE SET value = excluded.value";
/// A version's metrics, `$3` keys and `$4` values, over what it copied from
/// its run; a key given twice keeps its last value.
const SET_VERSION_METRICS: &str = "INSERT INTO model_version_metrics (rm_id, version, key, value)
     SELECT DISTINCT ON (m.key) $1, $2, m.key, m.value FROM unnest($3::text[], $4::float8[]) WITH ORDINALITY AS m (key, value, seq)
     ORDER BY m.key, m.seq DESC
     ON CONFLICT (rm_id, key, version) DO UPDATE SET value = excluded.value";

fn insert_version(tx: &mut Tx<'_>, rm_id: i64, v: &BulkVersion, now: i64) -> StoreResult<i64> {
    let version: i64 = tx
        .query_one(
            "UPDATE registered_models SET next_version = next_version + 1, last_update_time = $1 WHERE rm_id = $2
             RETURNING next_version - 1",
            &[&now, &rm_id],
        )?
        .get(0);
    let run_id = v.run_id.as_deref().filter(|r| !r.is_empty());
    tx.execute(
        "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, description, source, run_id, status)
         VALUES ($1, $2, $3, $3, $4, $5, $6, 'READY')",
        &[&rm_id, &version, &now, &v.description.as_deref().unwrap_or(""), &v.source, &run_id],
    )?;
    if !v.tags.is_empty() {
        let keys: Vec<&str> = v.tags.iter().map(|t| t.key.as_str()).collect();
        let values: Vec<&str> = v.tags.iter().map(|t| t.value.as_str()).collect();
        tx.execute(SET_VERSION_TAGS, &[&rm_id, &version, &keys, &values])?;
    }
    if let Some(run_id) = run_id {
        metrics::copy_run_metrics(tx, rm_id, version, run_id)?;
    }
    if !v.metrics.is_empty() {
        let keys: Vec<&str> = v.metrics.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<f64> = v.metrics.iter().map(|(_, v)| *v).collect();
        tx.execute(SET_VERSION_METRICS, &[&rm_id, &version, &keys, &values])?;
    }
    datasets::link_version(tx, rm_id, version, &v.datasets)?;
    Ok(version)
}

fn open_bulk_batch(tx: &mut Tx<'_>, ctx: &ChangeContext) -> StoreResult<i64> {
    open_batch(
        tx,
        &NewBatch {
            kind: BatchKind::Bulk,
            actor: &ctx.actor,
            actor_verified: ctx.actor_verified,
            reason: &ctx.reason,
            rule: None,
            reverts: None,
        },
    )
}

/// The model of an alias change (`rm_id`, if it exists), checking that the
/// version exists (`version_exists`), as SQLite's words.
fn target(c: &AliasChange, rm_id: Option<i64>, version_exists: bool) -> StoreResult<i64> {
    let Some(rm_id) = rm_id else {
        return Err(Error::not_found(format!("Registered Model with name={} not found", c.model)).into());
    };
    match c.version {
        Some(v) if !version_exists => {
            Err(Error::not_found(format!("Model Version (name={}, version={v}) not found", c.model)).into())
        }
        Some(_) | None => Ok(rm_id),
    }
}

/// Sets `from` of the moves at `firsts` (each the first move of its alias in
/// the call) to where the alias points now, in one query.
fn read_current_aliases(tx: &mut Tx<'_>, moves: &mut [PlannedMove], firsts: &[usize]) -> StoreResult<()> {
    if firsts.is_empty() {
        return Ok(());
    }
    let rm_ids: Vec<i64> = firsts.iter().map(|&i| moves[i].rm_id).collect();
    let aliases: Vec<&str> = firsts.iter().map(|&i| moves[i].alias.as_str()).collect();
    let now_at: Vec<Option<i64>> = tx
        .query(
            "SELECT a.version FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS p (rm_id, alias, seq)
             LEFT JOIN registered_model_aliases a ON a.rm_id = p.rm_id AND a.alias = p.alias ORDER BY p.seq",
            &[&rm_ids, &aliases],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (&i, from) in firsts.iter().zip(now_at) {
        moves[i].from = from;
    }
    Ok(())
}

impl BulkStore for PgStore {
    fn register_versions(&self, versions: &[BulkVersion], ctx: &ChangeContext) -> StoreResult<Vec<RegisteredVersion>> {
        check_batch_size(versions.len(), "bulk registration")?;
        self.write_registry(|tx| {
            let now = now_ms();
            let mut errors = ItemErrors::default();
            let mut registered = Vec::with_capacity(versions.len());
            // The aliases' moves are written together once every version is in
            // (`aliases_now`: where this call has put each alias so far; where
            // the others point now is read for all of them at once).
            let mut moves = Vec::new();
            let mut aliases_now: HashMap<(i64, &str), i64> = HashMap::new();
            let mut first_moves = Vec::new();
            let mut addressed_so_far = Addressed::default();
            for (i, v) in versions.iter().enumerate() {
                let addressed = check_version(v).and_then(|()| addressed_so_far.model(tx, &v.model));
                let Some((rm_id, model)) = errors.check(i, addressed)? else { continue };
                let version = insert_version(tx, rm_id, v, now)?;
                for alias in &v.aliases {
                    let from = aliases_now.insert((rm_id, alias.as_str()), version);
                    if from.is_none() {
                        first_moves.push(moves.len());
                    }
                    let to = Some(version);
                    let (model, alias) = (model.clone(), alias.clone());
                    moves.push(PlannedMove { rm_id, model, alias, from, to });
                }
                registered.push(RegisteredVersion { model, version: families::version(version)? });
            }
            errors.finish("bulk registration")?;
            read_current_aliases(tx, &mut moves, &first_moves)?;
            let batch = if moves.is_empty() { None } else { Some(open_bulk_batch(tx, ctx)?) };
            if let Some(batch) = batch {
                alias_plan::apply(tx, batch, &moves, None)?;
            }
            crate::audit::note(
                crate::audit::Change::new(
                    "fleet.register_versions",
                    "batch",
                    batch.map(|b| b.to_string()).unwrap_or_default(),
                )
                .count(registered.len()),
            );
            Ok(registered)
        })
    }

    fn set_aliases(&self, changes: &[AliasChange], ctx: &ChangeContext) -> StoreResult<AliasReport> {
        check_batch_size(changes.len(), "bulk alias change")?;
        let mut errors = ItemErrors::default();
        let mut seen = HashSet::new();
        for (i, c) in changes.iter().enumerate() {
            errors.check(i, validation::alias(&c.alias).map_err(Into::into))?;
            if !seen.insert((c.model.as_str(), c.alias.as_str())) {
                let twice = format!("alias '{}' of '{}' is changed twice in one request", c.alias, c.model);
                errors.check::<()>(i, Err(Error::invalid(twice).into()))?;
            }
        }
        errors.finish("bulk alias change")?;
        let models: Vec<&str> = changes.iter().map(|c| c.model.as_str()).collect();
        let aliases: Vec<&str> = changes.iter().map(|c| c.alias.as_str()).collect();
        let versions: Vec<Option<i64>> = changes.iter().map(|c| c.version).collect();
        self.write_registry(|tx| {
            // Every change's model, whether its version exists, and where its alias points now: one query.
            let found = tx.query(
                "SELECT rm.rm_id, mv.version IS NOT NULL, a.version
                 FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS c (model, alias, version, seq)
                 LEFT JOIN registered_models rm ON rm.name = c.model
                 LEFT JOIN model_versions mv ON mv.rm_id = rm.rm_id AND mv.version = c.version
                 LEFT JOIN registered_model_aliases a ON a.rm_id = rm.rm_id AND a.alias = c.alias
                 ORDER BY c.seq",
                &[&models, &aliases, &versions],
            )?;
            let mut errors = ItemErrors::default();
            let mut plan = Vec::new();
            for (i, (c, row)) in changes.iter().zip(&found).enumerate() {
                let (rm_id, exists, from): (Option<i64>, bool, Option<i64>) = (row.get(0), row.get(1), row.get(2));
                let Some(rm_id) = errors.check(i, target(c, rm_id, exists))? else { continue };
                if from != c.version {
                    plan.push(PlannedMove {
                        rm_id,
                        model: c.model.clone(),
                        alias: c.alias.clone(),
                        from,
                        to: c.version,
                    });
                }
            }
            errors.finish("bulk alias change")?;
            let batch = open_bulk_batch(tx, ctx)?;
            alias_plan::apply(tx, batch, &plan, Some(now_ms()))?;
            let moves = plan
                .iter()
                .map(|m| {
                    Ok(AliasMove {
                        model: m.model.clone(),
                        alias: m.alias.clone(),
                        from: m.from.map(families::version).transpose()?,
                        to: m.to.map(families::version).transpose()?,
                        from_metric: None,
                        to_metric: None,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            crate::audit::note(
                crate::audit::Change::new("fleet.set_aliases", "batch", batch.to_string()).count(moves.len()),
            );
            Ok(AliasReport { batch_id: Some(batch), dry_run: false, examined: changes.len() as i64, moves })
        })
    }
}
