//! The registry generation on PostgreSQL is the database's: a registry change
//! committed through one store (one replica) moves the generation of another
//! store on the same database within a second (migration 22's `NOTIFY`,
//! `postgres/listener.rs`), and a tracking write does not.

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
