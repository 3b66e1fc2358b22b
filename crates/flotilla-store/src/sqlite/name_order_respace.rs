//! Keeping the name order's places (migration 23) spread out: an
//! order-maintenance list. Places are integers that grow with the name; a
//! new name takes the middle of the gap between its neighbours' places, so
//! names created one after another into one spot halve that gap each time
//! and fill it. The insert trigger then leaves the name unplaced (migration
//! 29), and [`place_if_unplaced`] relabels: it finds the smallest aligned
//! block of place values around the spot that is sparse enough — a block of
//! 2^i values may hold at most 1.6^i names — and spreads the block's names,
//! with the new one, evenly over it (Bender et al.'s list labelling, T = 1.25).
//! Each create then costs amortised O(log n) label changes, whatever the order
//! names arrive in; every name outside the block keeps its place, so the
//! order holds. The layout a bulk load writes (2^20 apart) is within those
//! thresholds at every block size, so no relabel ever spans the store.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreResult;

/// Unplaced names read on one side at most, looking for a placed neighbour:
/// a run of them this long (left by a store before migration 29) is placed
/// by the first create into it, once; a longer one stays unplaced (searches
/// merge unplaced names in, or use the older plans).
const MAX_UNPLACED_READ: i64 = 100_000;
/// Places are within ±2^62 (migration 23); labels here are places + 2^62.
const OFFSET: i64 = 1 << 62;
/// Block sizes tried: 2^1 .. 2^62 labels, then the whole label space.
const TOP_LEVEL: u32 = 62;
/// A block of 2^i labels holds at most GROWTH^i names (2 / T, T = 1.25).
const GROWTH: f64 = 1.6;

/// A name near the one being placed: its model, name and place if any.
struct Near {
    rm_id: i64,
    name: String,
    place: Option<i64>,
}

/// Places `rm_id` if the insert trigger left it unplaced, or its nearest
/// neighbour on either side is unplaced (left by a store before migration
/// 29), relabelling a block of places around it (see the module's note).
/// With no unplaced name in the store, the common case, this is one lookup.
pub(super) fn place_if_unplaced(tx: &Connection, rm_id: i64) -> StoreResult<()> {
    if !tx.prepare_cached("SELECT 1 FROM registered_model_names_unplaced LIMIT 1")?.exists([])? {
        return Ok(());
    }
    let Some(me) = tx
        .prepare_cached(
            "SELECT r.rm_id, r.name, o.place FROM registered_models r
             LEFT JOIN registered_model_name_order o ON o.rm_id = r.rm_id WHERE r.rm_id = ?",
        )?
        .query_row([rm_id], near_row)
        .optional()?
    else {
        return Ok(());
    };
    let beside_unplaced = tx
        .prepare_cached(
            "SELECT 1 FROM registered_model_names_unplaced u WHERE u.rm_id = ?1
                 OR u.rm_id = (SELECT rm_id FROM registered_models WHERE name < ?2 ORDER BY name DESC LIMIT 1)
                 OR u.rm_id = (SELECT rm_id FROM registered_models WHERE name > ?2 ORDER BY name LIMIT 1)",
        )?
        .exists(params![rm_id, me.name])?;
    if !beside_unplaced {
        return Ok(());
    }
    // The unplaced names between the nearest placed neighbours, in name order.
    let (Some(below), Some(above)) = (side(tx, &me.name, true)?, side(tx, &me.name, false)?) else {
        return Ok(());
    };
    let mut fresh: Vec<Near> = below.unplaced.into_iter().rev().collect();
    // Placed by the trigger, but beside unplaced names: placed anew with them.
    let me = unplace(tx, me)?;
    fresh.push(me);
    fresh.extend(above.unplaced);
    relabel(tx, below.placed, above.placed, fresh)
}

/// Takes a placed name's place away (it is given one again with its neighbours).
fn unplace(tx: &Connection, near: Near) -> StoreResult<Near> {
    if let Some(place) = near.place {
        tx.prepare_cached("DELETE FROM registered_model_names_ordered WHERE rowid = ?")?.execute([place])?;
        tx.prepare_cached("DELETE FROM registered_model_name_order WHERE rm_id = ?")?.execute([near.rm_id])?;
    }
    Ok(Near { place: None, ..near })
}

fn near_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Near> {
    Ok(Near { rm_id: r.get(0)?, name: r.get(1)?, place: r.get(2)? })
}

/// One side of a name: the unplaced names before the nearest placed one
/// (nearest first), and that one's place (`None`: the side has none).
struct Side {
    unplaced: Vec<Near>,
    placed: Option<i64>,
}

/// `None` when more than [`MAX_UNPLACED_READ`] unplaced names come first.
fn side(tx: &Connection, name: &str, below: bool) -> StoreResult<Option<Side>> {
    let sql = if below {
        "SELECT r.rm_id, r.name, o.place FROM registered_models r \
         LEFT JOIN registered_model_name_order o ON o.rm_id = r.rm_id \
         WHERE r.name < ?1 ORDER BY r.name DESC LIMIT ?2 + 0"
    } else {
        "SELECT r.rm_id, r.name, o.place FROM registered_models r \
         LEFT JOIN registered_model_name_order o ON o.rm_id = r.rm_id \
         WHERE r.name > ?1 ORDER BY r.name LIMIT ?2 + 0"
    };
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(params![name, MAX_UNPLACED_READ + 1])?;
    let mut unplaced = Vec::new();
    while let Some(row) = rows.next()? {
        let near = near_row(row)?;
        if near.place.is_some() {
            return Ok(Some(Side { unplaced, placed: near.place }));
        }
        if unplaced.len() as i64 == MAX_UNPLACED_READ {
            return Ok(None);
        }
        unplaced.push(near);
    }
    Ok(Some(Side { unplaced, placed: None }))
}

/// The most names a block of 2^level labels may hold: GROWTH^level, and
/// never more than half its labels.
fn capacity(level: u32) -> f64 {
    GROWTH.powi(level as i32).min(2f64.powi(level as i32) / 2.0)
}

/// Gives `fresh` (unplaced, in name order, all between the placed
/// neighbours `lo` and `hi`) places, relabelling the smallest sparse enough
/// block around the spot.
fn relabel(tx: &Connection, lo: Option<i64>, hi: Option<i64>, fresh: Vec<Near>) -> StoreResult<()> {
    let spot = match (lo, hi) {
        (Some(p), _) | (None, Some(p)) => p + OFFSET,
        // No placed name at all: the middle of the label space.
        (None, None) => OFFSET,
    };
    let mut count_in =
        tx.prepare_cached("SELECT count(*) FROM registered_model_name_order WHERE place BETWEEN ? AND ?")?;
    for level in 1..=TOP_LEVEL {
        let size = 1i64 << level;
        let start = spot & !(size - 1);
        let end = start + (size - 1);
        let placed: i64 = count_in.query_row(params![start - OFFSET, end - OFFSET], |r| r.get(0))?;
        if (placed + fresh.len() as i64) as f64 <= capacity(level) {
            return spread(tx, start, end, lo, fresh);
        }
    }
    // The whole label space (some 10^13 names before it is too dense).
    spread(tx, 0, i64::MAX, lo, fresh)
}

/// Spreads the block's placed names and `fresh` (inserted after `lo`, or
/// first when there is none) evenly over labels `start..=end`.
fn spread(tx: &Connection, start: i64, end: i64, lo: Option<i64>, fresh: Vec<Near>) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT o.rm_id, r.name, o.place FROM registered_model_name_order o
         JOIN registered_models r ON r.rm_id = o.rm_id WHERE o.place BETWEEN ? AND ? ORDER BY o.place",
    )?;
    let block: Vec<Near> =
        stmt.query_map(params![start - OFFSET, end - OFFSET], near_row)?.collect::<rusqlite::Result<_>>()?;
    let at = lo.map_or(0, |lo| block.iter().position(|n| n.place > Some(lo)).unwrap_or(block.len()));
    let mut names = block;
    let tail = names.split_off(at);
    names.extend(fresh);
    names.extend(tail);
    let step = (end - start) / (names.len() as i64 + 1);
    let places: Vec<i64> = (1..=names.len() as i64).map(|k| start - OFFSET + step * k).collect();
    apply(tx, &names, &places)
}

/// Replaces the places of `names` (in name order) by `places`.
fn apply(tx: &Connection, names: &[Near], places: &[i64]) -> StoreResult<()> {
    let mut drop_indexed = tx.prepare_cached("DELETE FROM registered_model_names_ordered WHERE rowid = ?")?;
    let mut drop_place = tx.prepare_cached("DELETE FROM registered_model_name_order WHERE rm_id = ?")?;
    let mut drop_unplaced = tx.prepare_cached("DELETE FROM registered_model_names_unplaced WHERE rm_id = ?")?;
    for near in names {
        match near.place {
            Some(place) => {
                drop_indexed.execute([place])?;
                drop_place.execute([near.rm_id])?;
            }
            None => {
                drop_unplaced.execute([near.rm_id])?;
            }
        }
    }
    let mut put_place = tx.prepare_cached("INSERT INTO registered_model_name_order (rm_id, place) VALUES (?, ?)")?;
    let mut put_indexed =
        tx.prepare_cached("INSERT INTO registered_model_names_ordered (rowid, name) VALUES (?, ?)")?;
    for (near, place) in names.iter().zip(places) {
        put_place.execute(params![near.rm_id, place])?;
        put_indexed.execute(params![place, near.name])?;
    }
    Ok(())
}
