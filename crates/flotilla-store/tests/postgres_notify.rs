//! The registry generation on PostgreSQL is the database's: a registry change
//! committed through one store (one replica) moves the generation of another
//! store on the same database within a second (migration 22's `NOTIFY`,
//! `postgres/listener.rs`), and a tracking write does not; a listener whose
//! connection is cut reconnects and hears the next change.

use std::time::{Duration, Instant};

use flotilla_store::prelude::*;
use flotilla_store::{NewModelVersion, PgStore};
use flotilla_testkit::postgres::Postgres;

/// Waits up to `limit` for `store`'s generation to pass `from`; how long it took.
fn moved_past(store: &PgStore, from: u64, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if store.registry_generation() > from {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

#[test]
fn a_registry_change_through_one_store_moves_the_generation_of_another() {
    let server = Postgres::for_tests().expect("a PostgreSQL server");
    let url = server.create_database().expect("a database");
    let (writer, reader) = (PgStore::connect(&url).unwrap(), PgStore::connect(&url).unwrap());
    // The listener bumps once when it starts listening: let it settle.
    std::thread::sleep(Duration::from_millis(300));

    type Change = Box<dyn Fn(&PgStore)>;
    let changes: Vec<(&str, Change)> = vec![
        ("a new model", Box::new(|s| drop(s.create_registered_model("m", &[], None).unwrap()))),
        (
            "a new version",
            Box::new(|s| {
                let new =
                    NewModelVersion { name: "m".into(), source: "mlflow-artifacts:/0/m".into(), ..Default::default() };
                drop(s.create_model_version(&new).unwrap());
                drop(s.create_model_version(&new).unwrap());
            }),
        ),
        ("an alias set", Box::new(|s| s.set_alias("m", "champion", "1").unwrap())),
        ("an alias moved", Box::new(|s| s.set_alias("m", "champion", "2").unwrap())),
    ];
    for (what, change) in changes {
        let before = reader.registry_generation();
        change(&writer);
        let took = moved_past(&reader, before, Duration::from_secs(1));
        assert!(took.is_some(), "{what} through one store did not reach the other within 1 s");
        eprintln!("{what}: seen by the other store after {:?}", took.unwrap());
    }

    // Tracking writes notify nothing: the other store keeps its generation.
    std::thread::sleep(Duration::from_millis(200));
    let before = reader.registry_generation();
    writer.create_experiment("e", None, &[]).unwrap();
    assert_eq!(moved_past(&reader, before, Duration::from_millis(300)), None, "an experiment moved the registry");
}

#[test]
fn a_listener_whose_connection_is_cut_reconnects_and_hears_the_next_change() {
    let server = Postgres::for_tests().expect("a PostgreSQL server");
    let url = server.create_database().expect("a database");
    let (writer, reader) = (PgStore::connect(&url).unwrap(), PgStore::connect(&url).unwrap());
    writer.create_registered_model("m", &[], None).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let cut = |admin: &mut postgres::Client| -> i64 {
        let row = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND datname = current_database()",
                &[&flotilla_store::postgres::LISTENER_APPLICATION_NAME],
            )
            .unwrap();
        row.get(0)
    };
    let before_cut = reader.registry_generation();
    assert_eq!(cut(&mut admin), 2, "one listener per store");
    // Losing the connection may have lost a notice: the generation moves.
    assert!(moved_past(&reader, before_cut, Duration::from_secs(1)).is_some(), "a cut left the generation alone");
    // Reconnected (the first pause is 100 ms), it hears the next change.
    let mut listening = false;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) && !listening {
        std::thread::sleep(Duration::from_millis(50));
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
                &[&flotilla_store::postgres::LISTENER_APPLICATION_NAME],
            )
            .unwrap();
        listening = row.get::<_, i64>(0) == 2;
    }
    assert!(listening, "the listeners did not reconnect within 5 s");
    std::thread::sleep(Duration::from_millis(200));
    let before = reader.registry_generation();
    writer.create_registered_model("m2", &[], None).unwrap();
    let took = moved_past(&reader, before, Duration::from_secs(1));
    assert!(took.is_some(), "a change after the reconnect did not reach the other store within 1 s");
}
