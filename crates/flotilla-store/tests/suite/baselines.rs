//! A model's explicit drift baseline and a family's drift settings: set,
//! read back, replaced, cleared; unknown names are not found.

use flotilla_core::{ErrorKind, VersionNumber};
use flotilla_store::Store;
use flotilla_store::fleet::NewFamily;
use flotilla_store::health::Baseline;

use super::kind;

pub fn baselines_and_drift_settings_round_trip(store: &dyn Store) {
    store.create_registered_model("m", &[], None).unwrap();
    assert_eq!(store.baseline("m").unwrap(), None, "none until set");
    let dataset = Baseline::Dataset { name: "sales".into(), digest: "d1".into() };
    store.set_baseline("m", Some(&dataset)).unwrap();
    assert_eq!(store.baseline("m").unwrap(), Some(dataset));
    let traffic = Baseline::Traffic { version: VersionNumber::new(2).unwrap(), from: 1_000, to: 2_000 };
    store.set_baseline("m", Some(&traffic)).unwrap();
    assert_eq!(store.baseline("m").unwrap(), Some(traffic), "a new baseline replaces the old");
    store.set_baseline("m", None).unwrap();
    assert_eq!(store.baseline("m").unwrap(), None, "cleared");
    assert_eq!(kind(store.baseline("nope")), ErrorKind::NotFound);
    assert_eq!(kind(store.set_baseline("nope", None)), ErrorKind::NotFound);

    store.create_family(&NewFamily { name: "demand".into(), levels: vec!["store".into()], description: None }).unwrap();
    assert_eq!(store.drift_config("demand").unwrap(), None);
    store.set_drift_config("demand", r#"{"wasserstein":0.2}"#).unwrap();
    store.set_drift_config("demand", r#"{"wasserstein":0.3}"#).unwrap();
    assert_eq!(store.drift_config("demand").unwrap().as_deref(), Some(r#"{"wasserstein":0.3}"#));
    assert_eq!(kind(store.drift_config("nope")), ErrorKind::NotFound);
    assert_eq!(kind(store.set_drift_config("nope", "{}")), ErrorKind::NotFound);
}
