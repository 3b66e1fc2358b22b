//! Group commit on a real SQLite file: members share commits, each is
//! answered only once committed, and a member's failure is its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{GroupLimits, GroupWriter};
use crate::error::StoreResult;

/// One member's work.
type Work = Box<dyn FnOnce(&Connection) -> StoreResult<()> + Send>;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    writer: Arc<GroupWriter>,
    commits: Arc<AtomicUsize>,
}

/// A WAL database with `t(x)`, its writer grouping without a time bound.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY);").unwrap();
    let commits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&commits);
    conn.commit_hook(Some(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        false
    }));
    let limits = GroupLimits { members: 64, open: Duration::from_secs(60) };
    Fixture { _dir: dir, path, writer: Arc::new(GroupWriter::new(conn, limits)), commits }
}

fn rows(path: &std::path::Path) -> Vec<i64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

fn insert(conn: &Connection, x: i64) -> StoreResult<()> {
    conn.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
    Ok(())
}

/// Runs member 0 (its work held until `others` writers queue behind it),
/// then the others, each with its own work; returns each thread's outcome.
fn group_of(
    fx: &Fixture,
    first: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    others: Vec<Work>,
) -> Vec<thread::Result<StoreResult<()>>> {
    let (inside_tx, inside_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let writer = Arc::clone(&fx.writer);
    let member0 = thread::spawn(move || {
        writer.write(move |conn| {
            inside_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            first(conn)
        })
    });
    inside_rx.recv().unwrap();
    let expected = others.len();
    let threads: Vec<_> = others
        .into_iter()
        .map(|work| {
            let writer = Arc::clone(&fx.writer);
            thread::spawn(move || writer.write(work))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fx.writer.queued.load(Ordering::SeqCst) < expected {
        assert!(Instant::now() < deadline, "the writers never queued");
        thread::sleep(Duration::from_millis(1));
    }
    go_tx.send(()).unwrap();
    std::iter::once(member0).chain(threads).map(|t| t.join()).collect()
}

#[test]
fn concurrent_writes_share_one_commit_and_each_is_committed_when_answered() {
    let fx = fixture();
    let path = fx.path.clone();
    let others = (1..8)
        .map(|x| {
            let path = path.clone();
            Box::new(move |conn: &Connection| {
                insert(conn, x)?;
                // Still inside the group: another connection cannot see it yet.
                assert!(!rows(&path).contains(&x));
                Ok(())
            }) as Work
        })
        .collect();
    let outcomes = group_of(&fx, |conn| insert(conn, 0), others);
    assert!(outcomes.iter().all(|o| matches!(o, Ok(Ok(())))));
    assert_eq!(rows(&fx.path), (0..8).collect::<Vec<_>>());
    assert_eq!(fx.commits.load(Ordering::SeqCst), 1, "eight writes, one commit");
}

#[test]
fn a_lone_writer_commits_at_once() {
    let fx = fixture();
    for x in 0..3 {
        fx.writer.write(|conn| insert(conn, x)).unwrap();
        assert_eq!(fx.commits.load(Ordering::SeqCst), x as usize + 1);
        assert!(rows(&fx.path).contains(&x), "answered before committed");
    }
}

#[test]
fn a_failing_or_panicking_member_rolls_back_only_its_own_changes() {
    let fx = fixture();
    let others: Vec<Work> = vec![
        Box::new(|conn| insert(conn, 1)),
        Box::new(|conn| {
            insert(conn, 2)?;
            Err(flotilla_core::Error::invalid("member 2 refuses").into())
        }),
        Box::new(|conn| {
            insert(conn, 3).unwrap();
            panic!("member 3 panics");
        }),
        Box::new(|conn| insert(conn, 4)),
    ];
    let outcomes = group_of(&fx, |conn| insert(conn, 0), others);
    let failed: Vec<_> = outcomes.iter().map(|o| !matches!(o, Ok(Ok(())))).collect();
    assert_eq!(failed, [false, false, true, true, false]);
    assert!(outcomes[3].is_err(), "the panic reaches its own caller");
    assert_eq!(rows(&fx.path), [0, 1, 4]);
}

#[test]
fn a_rollback_of_the_whole_transaction_fails_every_member_of_the_group() {
    let fx = fixture();
    // What SQLite does on an interrupted write or a full disk: the whole
    // transaction is gone, with member 0's insert in it.
    let others: Vec<Work> = vec![Box::new(|conn| Ok(conn.execute_batch("ROLLBACK")?))];
    let outcomes = group_of(&fx, |conn| insert(conn, 0), others);
    let err = outcomes[0].as_ref().unwrap().as_ref().expect_err("member 0 is not acknowledged");
    assert!(err.to_string().contains("group commit failed"), "{err}");
    assert!(outcomes[1].as_ref().unwrap().is_err());
    assert!(rows(&fx.path).is_empty());
    // The writer goes on.
    fx.writer.write(|conn| insert(conn, 9)).unwrap();
    assert_eq!(rows(&fx.path), [9]);
}
