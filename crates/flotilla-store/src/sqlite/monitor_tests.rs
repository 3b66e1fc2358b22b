//! The daily pass's per-version statements on a real database file: each
//! is prepared once per reader connection and never re-prepared, whatever
//! values are bound (a bound `LIMIT` made SQLite re-plan it on every
//! version: half of the pass's CPU at 10⁶ versions).

use rusqlite::StatementStatus;

use super::SqliteStore;
use super::monitor::WINDOW_PROBE;
use super::monitor_facts::VERSION_DATASETS;
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
            let statuses = [WINDOW_PROBE, VERSION_DATASETS].map(|sql| {
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

/// The one joined query the facts' datasets were read with before (each
/// version's datasets with their entity's columns, and the "superseded"
/// seek, once per link): the oracle of the per-page read.
const JOINED_DATASETS: &str = "SELECT de.name, de.digest, dv.context = 'training', de.profile_bytes IS NOT NULL, \
     EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name AND (n.creation_time > de.creation_time \
             OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id))) \
     FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id \
     WHERE dv.rm_id = ?1 AND dv.version = ?2 \
     ORDER BY dv.context IS NOT 'training', de.name, de.digest LIMIT 16";

#[test]
fn version_facts_read_each_dataset_once_and_answer_as_the_joined_query() {
    use crate::monitor::FactDataset;
    use crate::sqlite::monitor_facts::DATASET_FACTS;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let mut keys = Vec::new();
    for name in ["a", "b", "c"] {
        store.create_registered_model(name, &[], None).unwrap();
        let new = NewModelVersion { name: name.into(), source: "s".into(), ..Default::default() };
        let version = store.create_model_version(&new).unwrap().version;
        keys.push((store.read(|tx| super::registry::rm_id(tx, name)).unwrap(), version));
    }
    // (ds_id, name, digest, created, profiled); then links (model index, ds_id, context).
    let datasets: Vec<(i64, String, &str, i64, bool)> = [
        (1, "cal".to_string(), "x", 10, true),
        (2, "cal".to_string(), "y", 20, false),
        (3, "own-a".to_string(), "1", 10, false),
        (4, "own-b".to_string(), "1", 10, true),
        (5, "tie".to_string(), "p", 10, false),
        (6, "tie".to_string(), "q", 10, false),
    ]
    .into_iter()
    .chain((0..17).map(|i| (10 + i, format!("z{i:02}"), "1", 5, false)))
    .collect();
    let mut links: Vec<(usize, i64, &str)> = vec![(0, 1, "training"), (0, 3, "training"), (0, 5, "eval")];
    links.extend((0..17).map(|i| (0, 10 + i, "")));
    links.extend([(1, 2, "training"), (1, 4, "eval"), (1, 6, "training"), (1, 1, "")]);
    store
        .write(|tx| {
            for (id, name, digest, created, profiled) in &datasets {
                tx.execute(
                    "INSERT INTO dataset_entities (ds_id, name, digest, profile_bytes, creation_time) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![id, name, digest, profiled.then(|| vec![7u8; 30_000]), created],
                )?;
            }
            for (model, ds, context) in &links {
                let (rm_id, version) = keys[*model];
                tx.execute(
                    "INSERT INTO dataset_versions (ds_id, rm_id, version, context) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![ds, rm_id, version.get(), context],
                )?;
            }
            Ok(())
        })
        .unwrap();

    let facts = store.version_facts(&keys).unwrap();
    let fact = |name: &str, digest: &str, training, profiled, superseded| FactDataset {
        name: name.into(),
        digest: digest.into(),
        training,
        profiled,
        superseded,
    };
    // Training first, then by name and digest; 16 at most; a tie on time goes to the higher id.
    let mut a = vec![fact("cal", "x", true, true, true), fact("own-a", "1", true, false, false)];
    a.push(fact("tie", "p", false, false, true));
    a.extend((0..13).map(|i| fact(&format!("z{i:02}"), "1", false, false, false)));
    let b = vec![
        fact("cal", "y", true, false, false),
        fact("tie", "q", true, false, false),
        fact("cal", "x", false, true, true),
        fact("own-b", "1", false, true, false),
    ];
    let got: Vec<_> = facts.iter().map(|f| f.as_ref().unwrap().datasets.clone()).collect();
    assert_eq!(got, [a, b, vec![]]);
    assert_eq!(facts[0].as_ref().unwrap().model, "a");

    store
        .read(|tx| {
            for (i, (rm_id, version)) in keys.iter().enumerate() {
                let joined = tx
                    .prepare(JOINED_DATASETS)?
                    .query_map(rusqlite::params![rm_id, version.get()], |r| {
                        Ok(FactDataset {
                            name: r.get(0)?,
                            digest: r.get(1)?,
                            training: r.get(2)?,
                            profiled: r.get(3)?,
                            superseded: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                assert_eq!(got[i], joined, "version {i} as the joined query answers");
            }
            // The page's 23 distinct datasets were read once each ("cal"@"x" links two versions).
            assert_eq!(tx.prepare_cached(DATASET_FACTS)?.get_status(StatementStatus::Run), 23);
            Ok(())
        })
        .unwrap();
}

#[test]
fn windows_of_stops_at_its_cap_and_says_so() {
    use crate::monitor::MAX_WINDOWS_PER_READ;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flotilla.db")).unwrap();
    let mut keys = Vec::new();
    for name in ["a", "b"] {
        store.create_registered_model(name, &[], None).unwrap();
        let new = NewModelVersion { name: name.into(), source: "s".into(), ..Default::default() };
        let version = store.create_model_version(&new).unwrap().version;
        keys.push((store.read(|tx| super::registry::rm_id(tx, name)).unwrap(), version));
    }
    // "a" has MAX − 1 base windows, "b" two: the cap falls inside "b"'s.
    let insert = |(rm_id, version): (i64, crate::VersionNumber), n: usize| {
        store
            .write(|tx| {
                Ok(tx.execute(
                    "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?3) \
                     INSERT INTO monitor_windows (grain, rm_id, version, start_ms, length_ms, stats) \
                     SELECT 0, ?1, ?2, i * 60000, 60000, x'00' FROM k",
                    rusqlite::params![rm_id, version.get(), n as i64],
                )?)
            })
            .unwrap()
    };
    insert(keys[0], MAX_WINDOWS_PER_READ - 1);
    insert(keys[1], 2);
    // (versions asked) -> (rows, truncated)
    for (asked, rows, truncated) in
        [(&keys[..1], MAX_WINDOWS_PER_READ - 1, false), (&keys[..], MAX_WINDOWS_PER_READ, true)]
    {
        let of = store.windows_of(asked, Grain::Base, 0, i64::MAX).unwrap();
        assert_eq!((of.rows.len(), of.truncated), (rows, truncated), "{} versions asked", asked.len());
    }
    let of = store.windows_of(&keys[1..], Grain::Base, 0, i64::MAX).unwrap();
    assert_eq!((of.rows.len(), of.truncated), (2, false), "exactly what matched");
}
