//! Health recorded in batches against a brute-force model: a seeded
//! sequence of batches (repeated models and checks within a batch, statuses
//! kept and changed, values alone changed, unknown models), with tags
//! changed and a model deleted between them. After each batch every
//! model's stored checks are what applying the updates one by one gives,
//! and every roll-up (fleet, family, partition, tag) and every severity
//! equals a recount of those checks.

use std::collections::{BTreeMap, HashMap};

use flotilla_core::fleet::parse_path;
use flotilla_core::model::Tag;
use flotilla_store::fleet::{BulkVersion, ModelAddress, NewFamily};
use flotilla_store::health::{Check, CheckResult, HealthScope, HealthUpdate, Status, WorstQuery, score};
use flotilla_store::{PageRequest, Store, Visible};

use super::fleet::ctx;

fn member(path: &str) -> BulkVersion {
    BulkVersion {
        model: ModelAddress::Partition { family: "demand".into(), partition: parse_path(path).unwrap() },
        source: format!("mlflow-artifacts:/0/demand/{path}"),
        run_id: None,
        description: None,
        tags: vec![],
        metrics: vec![],
        aliases: vec![],
        datasets: vec![],
    }
}

/// A small deterministic generator (no dependency for a test's dice).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Where each model sits: its family's region (if a member) and its tags.
struct Links {
    region: HashMap<String, String>,
    tags: HashMap<String, BTreeMap<String, String>>,
}

type Expected = HashMap<String, BTreeMap<Check, Status>>;

/// Counts per scope (keyed by its debug form: scopes are not hashable).
fn recount(expected: &Expected, links: &Links) -> HashMap<String, BTreeMap<(Check, Status), i64>> {
    let mut out: HashMap<String, BTreeMap<(Check, Status), i64>> = HashMap::new();
    for (model, checks) in expected {
        let mut scopes = vec![HealthScope::Fleet];
        if let Some(region) = links.region.get(model) {
            scopes.push(HealthScope::Family("demand".into()));
            scopes.push(HealthScope::Partition {
                family: "demand".into(),
                key: "region".into(),
                value: region.clone(),
            });
        }
        for (k, v) in links.tags.get(model).into_iter().flatten() {
            if !k.starts_with("flotilla.") {
                scopes.push(HealthScope::Tag { key: k.clone(), value: v.clone() });
            }
        }
        for scope in scopes {
            for (&c, &s) in checks {
                *out.entry(format!("{scope:?}")).or_default().entry((c, s)).or_insert(0) += 1;
            }
        }
    }
    out
}

fn assert_matches(store: &dyn Store, expected: &Expected, links: &Links, scopes: &[HealthScope], step: usize) {
    for (model, checks) in expected {
        let stored: BTreeMap<Check, Status> =
            store.model_health(model).unwrap().into_iter().map(|c| (c.check, c.status)).collect();
        assert_eq!(&stored, checks, "step {step}: {model}'s checks");
    }
    let recounted = recount(expected, links);
    for scope in scopes {
        let stored: BTreeMap<(Check, Status), i64> = store
            .health_counts(scope, &Visible::everything())
            .unwrap()
            .counts
            .into_iter()
            .map(|c| ((c.check, c.status), c.models))
            .collect();
        let want = recounted.get(&format!("{scope:?}")).cloned().unwrap_or_default();
        assert_eq!(stored, want, "step {step}: counts of {scope:?}");
    }
    let page = PageRequest { max_results: Some(100), page_token: None };
    let worst = store.worst_models(&WorstQuery { scope: None, page, ..Default::default() }).unwrap();
    let stored: BTreeMap<String, i64> = worst.items.into_iter().map(|w| (w.name, w.score)).collect();
    let want: BTreeMap<String, i64> = expected
        .iter()
        .map(|(m, checks)| {
            let results: Vec<CheckResult> =
                checks.iter().map(|(&check, &status)| CheckResult { check, status, value: None }).collect();
            (m.clone(), score(&results))
        })
        .filter(|(_, s)| *s > 0)
        .collect();
    assert_eq!(stored, want, "step {step}: severities");
}

pub fn health_batches_match_a_recount(store: &dyn Store) {
    let new = NewFamily { name: "demand".into(), levels: vec!["region".into(), "store".into()], description: None };
    store.create_family(&new).unwrap();
    let paths = ["region=west/store=1", "region=west/store=2", "region=east/store=3", "region=north/store=4"];
    let registered = store.register_versions(&paths.map(member), &ctx()).unwrap();
    let mut links = Links { region: HashMap::new(), tags: HashMap::new() };
    let mut names: Vec<String> = Vec::new();
    for (r, path) in registered.iter().zip(paths) {
        let region = path.split('/').next().unwrap().trim_start_matches("region=").to_string();
        links.region.insert(r.model.clone(), region);
        names.push(r.model.clone());
    }
    store.create_registered_model("loner", &[], None).unwrap();
    names.push("loner".into());
    for (model, key, value) in
        [(&names[0], "team", "a"), (&names[2], "team", "b"), (&names[4], "team", "a"), (&names[1], "flotilla.x", "1")]
    {
        store.set_registered_model_tag(model, &Tag::new(key, value)).unwrap();
        links.tags.entry(model.clone()).or_default().insert(key.into(), value.into());
    }
    let tag = |v: &str| HealthScope::Tag { key: "team".into(), value: v.into() };
    let region = |v: &str| HealthScope::Partition { family: "demand".into(), key: "region".into(), value: v.into() };
    let scopes = [
        HealthScope::Fleet,
        HealthScope::Family("demand".into()),
        region("west"),
        region("east"),
        region("north"),
        tag("a"),
        tag("b"),
        tag("c"),
        // flotilla's own tags are no roll-up scope: counted nowhere.
        HealthScope::Tag { key: "flotilla.x".into(), value: "1".into() },
    ];

    let mut dice = Dice(15);
    let mut expected: Expected = HashMap::new();
    let values = [Some(1.0), Some(2.5), None, Some(f64::NAN)];
    for step in 0..120 {
        let mut batch = Vec::new();
        for _ in 0..1 + dice.below(12) {
            // One in eight is a model the store does not know: skipped.
            let model = if dice.below(8) == 0 { "ghost".to_string() } else { names[dice.below(names.len())].clone() };
            let checks = (0..dice.below(5))
                .map(|_| CheckResult {
                    check: Check::ALL[dice.below(3)],
                    status: Status::ALL[dice.below(4)],
                    value: values[dice.below(values.len())],
                })
                .collect::<Vec<_>>();
            batch.push(HealthUpdate { model, checks });
        }
        store.record_health(&batch, step as i64).unwrap();
        for u in batch.iter().filter(|u| names.contains(&u.model)) {
            let checks = expected.entry(u.model.clone()).or_default();
            for c in &u.checks {
                checks.insert(c.check, c.status);
            }
        }
        match step {
            40 => {
                store.set_registered_model_tag(&names[0], &Tag::new("team", "c")).unwrap();
                links.tags.entry(names[0].clone()).or_default().insert("team".into(), "c".into());
            }
            60 => {
                store.delete_registered_model_tag(&names[2], "team").unwrap();
                links.tags.entry(names[2].clone()).or_default().remove("team");
            }
            80 => {
                store.delete_registered_model(&names[3]).unwrap();
                expected.remove(&names[3]);
                names.remove(3);
            }
            _ => {}
        }
        assert_matches(store, &expected, &links, &scopes, step);
    }
}
