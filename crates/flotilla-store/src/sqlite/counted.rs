//! Bounded counts: how many rows a `FROM ... WHERE ...` holds, up to a cap,
//! as the search planners size their sets (`search_plan::set_size`,
//! `far_end::smallest`, the name probes).
//!
//! The cap is bound as `LIMIT ? + 0`, not `LIMIT ?`: SQLite 3.50 reads a bare
//! bound LIMIT's value while planning, which marks the statement expired on
//! every rebind, so each count was parsed and planned again (three runs, three
//! re-prepares). An expression is not read while planning, and a count over
//! a subquery has no plan the cap could change.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::error::StoreResult;

/// The statement counting the rows of `from_where` up to the last bound value.
pub(super) fn sql(from_where: &str) -> String {
    format!("SELECT count(*) FROM (SELECT 1 FROM {from_where} LIMIT ? + 0)")
}

/// The rows of `from_where` (its parameters `args`), at most `cap`.
pub(super) fn count_upto(tx: &Connection, from_where: &str, args: &[Value], cap: i64) -> StoreResult<i64> {
    let cap = Value::from(cap);
    Ok(tx.prepare_cached(&sql(from_where))?.query_row(params_from_iter(args.iter().chain([&cap])), |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::{RegistryStore, SqliteStore};

    #[test]
    fn counts_up_to_the_cap_without_planning_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
        for i in 0..20 {
            store.create_registered_model(&format!("model-{i:02}"), &[], None).unwrap();
        }
        let from_where = "registered_models WHERE rm_id > ?";
        store
            .read(|tx| {
                let counts: Vec<i64> = [(0, 5), (0, 50), (10, 50)]
                    .into_iter()
                    .map(|(after, cap)| count_upto(tx, from_where, &[Value::from(after)], cap).unwrap())
                    .collect();
                assert_eq!(counts, [5, 20, 10]);
                let stmt = tx.prepare_cached(&sql(from_where)).unwrap();
                assert_eq!(stmt.get_status(StatementStatus::Run), 3);
                assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "planned again on a rebind");
                // What the bare bound LIMIT did: a re-prepare per run.
                let bare = "SELECT count(*) FROM (SELECT 1 FROM registered_models WHERE rm_id > ? LIMIT ?)";
                for cap in [5, 50] {
                    tx.prepare_cached(bare).unwrap().query_row([0, cap], |r| r.get::<_, i64>(0)).unwrap();
                }
                assert_eq!(tx.prepare_cached(bare).unwrap().get_status(StatementStatus::RePrepare), 2);
                Ok(())
            })
            .unwrap();
    }
}
