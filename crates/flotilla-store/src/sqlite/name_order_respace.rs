//! Re-spacing the name order (migration 23) around a name that found no
//! place. Places are integers that grow with the name, 2^20 apart when laid
//! out; a new name takes the middle of its gap, so about 20 names created
//! into one gap fill it. The insert trigger then leaves the name unplaced
//! (migration 27), and [`place_if_unplaced`] lays its neighbourhood out
//! afresh: the names between the `window`-th placed name below it and the
//! `window`-th above, placed or not, get places evenly spread between those
//! two anchors (a window four times wider when they are too close). Every
//! name outside the window keeps its place, so the order holds; the cost is
//! one window's rows, paid once per filled gap rather than by every create
//! after it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreResult;

/// Placed names on each side kept as the first window's anchors.
const WINDOW: usize = 32;
/// The widest window tried; past it the name stays unplaced (searches
/// merge unplaced names in, or use the older plans).
const MAX_WINDOW: usize = 2048;
/// Unplaced names read on one side at most, beside the placed ones.
const MAX_UNPLACED_READ: usize = 20_000;
/// A window is used when its names end up at least this far apart.
const MIN_SPACING: i64 = 64;
/// The gap between neighbours when laid out (migration 23).
const GAP: i64 = 1 << 20;
/// Places stay within ±this (migration 23's bounds).
const BOUND: i64 = 1 << 62;

/// A name near the one being placed: its model, name and place if any.
struct Near {
    rm_id: i64,
    name: String,
    place: Option<i64>,
}

/// One side of a name: the names between it and the anchor (nearest
/// first), and the anchor's place (`None`: the side ended first).
struct Side {
    inside: Vec<Near>,
    anchor: Option<i64>,
}

/// Places `rm_id` if the insert trigger left it unplaced, or its nearest
/// neighbour on either side is unplaced (left by a store before migration
/// 27, or a crowded neighbourhood), re-spacing the neighbourhood (see the
/// module's note). Nothing to do, the common case, costs one lookup.
pub(super) fn place_if_unplaced(tx: &Connection, rm_id: i64) -> StoreResult<()> {
    if !tx.prepare_cached("SELECT 1 FROM registered_model_names_unplaced LIMIT 1")?.exists([])? {
        return Ok(());
    }
    let Some((name, place)) = tx
        .prepare_cached(
            "SELECT r.name, o.place FROM registered_models r
             LEFT JOIN registered_model_name_order o ON o.rm_id = r.rm_id WHERE r.rm_id = ?",
        )?
        .query_row([rm_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))
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
        .exists(params![rm_id, name])?;
    if !beside_unplaced {
        return Ok(());
    }
    let mut window = WINDOW;
    while window <= MAX_WINDOW {
        let (Some(below), Some(above)) = (side(tx, &name, true, window)?, side(tx, &name, false, window)?) else {
            return Ok(());
        };
        let last_try = window * 4 > MAX_WINDOW;
        if let Some(places) = layout(&below, &above, last_try) {
            let names: Vec<Near> = below
                .inside
                .into_iter()
                .rev()
                .chain(std::iter::once(Near { rm_id, name: name.clone(), place }))
                .chain(above.inside)
                .collect();
            return apply(tx, &names, &places);
        }
        window *= 4;
    }
    Ok(())
}

/// The names on one side of `name`, nearest first, up to the `window`-th
/// placed one; `None` when more than [`MAX_UNPLACED_READ`] names come first.
fn side(tx: &Connection, name: &str, below: bool, window: usize) -> StoreResult<Option<Side>> {
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
    let limit = (window + MAX_UNPLACED_READ) as i64;
    let mut rows = stmt.query(params![name, limit])?;
    let (mut inside, mut placed) = (Vec::new(), 0);
    while let Some(row) = rows.next()? {
        let near = Near { rm_id: row.get(0)?, name: row.get(1)?, place: row.get(2)? };
        if near.place.is_some() {
            placed += 1;
            if placed == window {
                return Ok(Some(Side { inside, anchor: near.place }));
            }
        }
        inside.push(near);
    }
    // The side ended (an open end), or too many names came before the anchor.
    Ok((inside.len() < limit as usize).then_some(Side { inside, anchor: None }))
}

/// Places for the names between the anchors, in name order, or `None` when
/// they would end up closer than [`MIN_SPACING`] (a wider window is tried),
/// or closer than 2 on the last try.
fn layout(below: &Side, above: &Side, last_try: bool) -> Option<Vec<i64>> {
    let n = below.inside.len() + 1 + above.inside.len();
    let known =
        below.inside.iter().chain(&above.inside).filter_map(|x| x.place).chain(below.anchor).chain(above.anchor);
    let (min, max) = known.fold((None::<i64>, None::<i64>), |(lo, hi), p| {
        (Some(lo.map_or(p, |l| l.min(p))), Some(hi.map_or(p, |h| h.max(p))))
    });
    let room = GAP.checked_mul(n as i64 + 1)?;
    let lo = below.anchor.or_else(|| min.unwrap_or(0).checked_sub(room))?;
    let hi = above.anchor.or_else(|| max.unwrap_or(0).checked_add(room))?;
    if lo <= -BOUND || hi >= BOUND || hi <= lo {
        return None;
    }
    let spacing = (hi - lo) / (n as i64 + 1);
    if spacing < MIN_SPACING && !(last_try && spacing >= 2) {
        return None;
    }
    Some((1..=n as i64).map(|i| lo + spacing * i).collect())
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
