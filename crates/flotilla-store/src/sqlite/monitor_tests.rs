//! The daily pass's per-version statements on a real database file: each
//! is prepared once per reader connection and never re-prepared, whatever
//! values are bound (a bound `LIMIT` made SQLite re-plan it on every
//! version: half of the pass's CPU at 10⁶ versions).

use rusqlite::StatementStatus;

use super::SqliteStore;
use super::monitor::{FACT_DATASETS, WINDOW_PROBE};
use crate::RegistryStore;
use crate::monitor::{DAY_MS, Grain, MonitorStore, Retention, StatsMerge, WindowDelta};
use crate::query::NewModelVersion;

struct Keep;

impl StatsMerge for Keep {
    fn merge(&self, _grain: Grain, _stored: Option<&[u8]>, delta: &[u8]) -> Result<Vec<u8>, String> {
        Ok(delta.to_vec())
    }
}

#[test]
fn per_version_statements_are_never_re_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let mut deltas = Vec::new();
    for name in ["a", "b", "c"] {
        store.create_registered_model(name, &[], None).unwrap();
        let new = NewModelVersion { name: name.into(), source: "s".into(), ..Default::default() };
        let version = store.create_model_version(&new).unwrap().version;
        for day in 1..=3 {
            deltas.push(WindowDelta {
                model: name.into(),
                version,
                start_ms: day * DAY_MS,
                length_ms: 60_000,
                requests: 1,
                rows: 1,
                errors: Default::default(),
                cache: Default::default(),
                fingerprint: None,
                stats: vec![day as u8],
                columns: None,
            });
        }
    }
    store.merge_windows(&deltas, &Retention::default(), 4 * DAY_MS, &Keep).unwrap();
    let page = store
        .active_versions(&crate::monitor::ActiveQuery { from_ms: 0, to_ms: i64::MAX, after: None, limit: 10 })
        .unwrap();
    let keys: Vec<_> = page.versions.iter().map(|v| (v.rm_id, v.version)).collect();
    assert_eq!(keys.len(), 3);
    // Different versions, days and page sizes bound on each call.
    for day in 1..=3 {
        let of = store.windows_of(&keys[day as usize - 1..], Grain::Day, day * DAY_MS, (day + 1) * DAY_MS).unwrap();
        assert_eq!(of.rows.len(), 4 - day as usize, "day {day}: one window per version asked");
        assert!(of.rows.iter().all(|r| r.start_ms == day * DAY_MS));
        store.version_facts(&keys[day as usize - 1..]).unwrap();
    }
    // Calls one after the other take the same pooled reader, whose statement cache holds both.
    let (runs, reprepares) = store
        .read(|tx| {
            let statuses = [WINDOW_PROBE, FACT_DATASETS].map(|sql| {
                let stmt = tx.prepare_cached(sql).unwrap();
                (stmt.get_status(StatementStatus::Run), stmt.get_status(StatementStatus::RePrepare))
            });
            Ok(statuses)
        })
        .unwrap()
        .into_iter()
        .unzip::<_, _, Vec<_>, Vec<_>>();
    // (3 + 2 + 1) versions asked over the three calls, each a run of each statement.
    assert_eq!(runs, [6, 6], "the cached statements served every version");
    assert_eq!(reprepares, [0, 0], "re-prepared while rebinding");
}
