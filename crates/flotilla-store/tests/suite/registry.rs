//! Registry behaviour: registered models, versions, aliases, stages, search.

use flotilla_core::ErrorKind;
use flotilla_core::filter::Entity;
use flotilla_core::model::Tag;
use flotilla_store::{NewModelVersion, PageRequest, RegistryQuery, Store};

use super::kind;
use super::typed::{self, try_filter};

fn version(store: &dyn Store, name: &str) -> String {
    let new = NewModelVersion {
        name: name.into(),
        source: format!("mlflow-artifacts:/0/{name}"),
        ..NewModelVersion::default()
    };
    store.create_model_version(&new).unwrap().version.to_string()
}

pub fn registered_model_lifecycle(store: &dyn Store) {
    let m = store.create_registered_model("churn", &[Tag::new("team", "growth")], Some("per tenant")).unwrap();
    assert_eq!((m.name.as_str(), m.description.as_str()), ("churn", "per tenant"));
    assert_eq!(kind(store.create_registered_model("churn", &[], None)), ErrorKind::AlreadyExists);
    store.set_registered_model_tag("churn", &Tag::new("tier", "gold")).unwrap();
    store.delete_registered_model_tag("churn", "team").unwrap();
    let m = store.update_registered_model("churn", Some("new text")).unwrap();
    assert_eq!(m.description, "new text");
    assert_eq!(m.tags, vec![Tag::new("tier", "gold")]);
    version(store, "churn");
    let renamed = store.rename_registered_model("churn", "churn-v2").unwrap();
    assert_eq!(renamed.latest_versions[0].name, "churn-v2", "versions follow a rename");
    assert_eq!(kind(store.get_registered_model("churn")), ErrorKind::NotFound);
    store.delete_registered_model("churn-v2").unwrap();
    assert_eq!(kind(store.get_model_version("churn-v2", "1")), ErrorKind::NotFound);
}

pub fn versions_aliases_stages(store: &dyn Store) {
    store.create_registered_model("demand", &[], None).unwrap();
    for _ in 0..3 {
        version(store, "demand");
    }
    store.set_alias("demand", "champion", "2").unwrap();
    let v = store.get_version_by_alias("demand", "champion").unwrap();
    assert_eq!((v.version.to_string().as_str(), v.aliases.clone()), ("2", vec!["champion".to_string()]));
    store.set_alias("demand", "champion", "3").unwrap();
    assert_eq!(store.get_version_by_alias("demand", "champion").unwrap().version.to_string(), "3");
    let m = store.get_registered_model("demand").unwrap();
    assert_eq!(m.aliases.len(), 1);
    store.delete_alias("demand", "champion").unwrap();
    assert_eq!(
        kind(store.get_version_by_alias("demand", "champion")),
        ErrorKind::InvalidParameter,
        "as MLflow answers"
    );

    store.transition_stage("demand", "1", "production", false).unwrap();
    store.transition_stage("demand", "2", "Production", true).unwrap();
    assert_eq!(store.get_model_version("demand", "1").unwrap().current_stage, "Archived");
    let latest = store.get_latest_versions("demand", &["Production".into()]).unwrap();
    assert_eq!(latest.iter().map(|v| v.version.to_string()).collect::<Vec<_>>(), vec!["2"]);
    assert_eq!(store.get_latest_versions("demand", &[]).unwrap().len(), 3, "one per stage: None, Archived, Production");

    store.set_model_version_tag("demand", "3", &Tag::new("validated", "yes")).unwrap();
    assert_eq!(store.get_model_version("demand", "3").unwrap().tags, vec![Tag::new("validated", "yes")]);
    store.delete_model_version_tag("demand", "3", "validated").unwrap();
    let v = store.update_model_version("demand", "3", Some("best so far")).unwrap();
    assert_eq!(v.description, "best so far");
    assert_eq!(kind(store.transition_stage("demand", "3", "Shipped", false)), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.get_model_version("demand", "x")), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.get_model_version("demand", "9")), ErrorKind::NotFound);
    assert_eq!(kind(store.set_alias("demand", "champion", "9")), ErrorKind::NotFound);
}

pub fn version_numbers_are_never_reused(store: &dyn Store) {
    store.create_registered_model("reuse", &[], None).unwrap();
    version(store, "reuse");
    version(store, "reuse");
    store.set_alias("reuse", "champion", "2").unwrap();
    store.delete_model_version("reuse", "2").unwrap();
    assert_eq!(
        kind(store.get_version_by_alias("reuse", "champion")),
        ErrorKind::InvalidParameter,
        "aliases go with the version"
    );
    assert_eq!(version(store, "reuse"), "3");
}

pub fn search_registered_models_prompt_clause_and_paging(store: &dyn Store) {
    for i in 0..25 {
        store
            .create_registered_model(
                &format!("store-{i:03}"),
                &[Tag::new("region", if i < 5 { "west" } else { "east" })],
                None,
            )
            .unwrap();
    }
    store.create_registered_model("prompt-x", &[Tag::new("mlflow.prompt.is_prompt", "true")], None).unwrap();
    let prompt = " AND tag.`mlflow.prompt.is_prompt` != 'true'";
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let q = RegistryQuery {
            filter: typed::filter(Entity::RegisteredModels, &format!("name LIKE 'store-%'{prompt}")),
            page: PageRequest { max_results: Some(10), page_token: token },
            ..RegistryQuery::default()
        };
        let page = store.search_registered_models(&q).unwrap();
        names.extend(page.items.into_iter().map(|m| m.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, (0..25).map(|i| format!("store-{i:03}")).collect::<Vec<_>>());
    let q = |f: &str| RegistryQuery { filter: typed::filter(Entity::RegisteredModels, f), ..RegistryQuery::default() };
    let count = |f: &str| store.search_registered_models(&q(f)).unwrap().items.len();
    assert_eq!(count(&format!("tags.region = 'west'{prompt}")), 5);
    assert_eq!(count("tag.`mlflow.prompt.is_prompt` != 'true'"), 25, "models without the tag match");
    assert_eq!(count("name ILIKE 'STORE-00%'"), 10);
    assert_eq!(count("name LIKE 'STORE-00%'"), 0, "LIKE is case-sensitive");
    assert_eq!(count("name IN ('store-001', 'store-002')"), 2);
    let desc = RegistryQuery {
        order_by: typed::order_by(Entity::RegisteredModels, &["name DESC"]),
        ..q("name LIKE 'store-%'")
    };
    assert_eq!(store.search_registered_models(&desc).unwrap().items[0].name, "store-024");
    let bad = try_filter(Entity::RegisteredModels, "creation_timestamp > 5")
        .and_then(|filter| store.search_registered_models(&RegistryQuery { filter, ..RegistryQuery::default() }));
    assert_eq!(kind(bad), ErrorKind::InvalidParameter);
    let big = RegistryQuery { page: PageRequest { max_results: Some(1001), page_token: None }, ..q("") };
    assert_eq!(kind(store.search_registered_models(&big)), ErrorKind::InvalidParameter);
}

/// MLflow's LIKE (case-sensitive) and ILIKE (ASCII case folded), `%` and `_`, for the test's table.
fn like(name: &str, pattern: &str, fold: bool) -> bool {
    fn go(n: &[u8], p: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'%', rest)) => (0..=n.len()).any(|i| go(&n[i..], rest)),
            Some((b'_', rest)) => !n.is_empty() && go(&n[1..], rest),
            Some((c, rest)) => n.first() == Some(c) && go(&n[1..], rest),
        }
    }
    if fold {
        go(name.to_ascii_lowercase().as_bytes(), pattern.to_ascii_lowercase().as_bytes())
    } else {
        go(name.as_bytes(), pattern.as_bytes())
    }
}

/// Name patterns the trigram index can drive (a piece of three characters or
/// more) and ones it cannot answer the same rows, in both directions, across
/// pages, with the 3.x client's prompt clause, as the plain definition.
pub fn search_registered_models_name_patterns(store: &dyn Store) {
    let mut all = Vec::new();
    for i in 0..40 {
        let family = ["Churn", "churn", "demand", "DEMAND.x"][i % 4];
        let name = format!("{family}.store=s{:05}", i * 37);
        let tags = if i % 9 == 0 { vec![Tag::new("mlflow.prompt.is_prompt", "true")] } else { vec![] };
        store.create_registered_model(&name, &tags, None).unwrap();
        if i % 9 != 0 {
            all.push(name);
        }
    }
    let cases = [
        ("LIKE", "%111%"),
        ("LIKE", "%s00%"),
        ("ILIKE", "%S00%"),
        ("ILIKE", "churn.store=%"),
        ("LIKE", "churn.store=%"),
        ("ILIKE", "%demand.x%"),
        ("LIKE", "%Demand%"),
        ("LIKE", "%d_mand%"),
        ("ILIKE", "%E=S0_1%"),
        ("LIKE", "%37"),
        ("LIKE", "%nowhere%"),
        ("ILIKE", "%=s%"),
        ("LIKE", "%\"xy%"),
    ];
    assert_pattern_pages(store, &all, &cases);
}

/// Every page of each `name {op} 'pattern'` search (with the 3.x client's
/// prompt clause), in both directions and three to a page, against the
/// plain definition over `all` (the names without the prompt tag).
pub fn assert_pattern_pages(store: &dyn Store, all: &[String], cases: &[(&str, &str)]) {
    let mut all = all.to_vec();
    all.sort();
    let prompt = " AND tag.`mlflow.prompt.is_prompt` != 'true'";
    for &(op, pattern) in cases {
        let expected: Vec<&String> = all.iter().filter(|n| like(n, pattern, op == "ILIKE")).collect();
        for desc in [false, true] {
            let mut names = Vec::new();
            let mut token = None;
            loop {
                let q = RegistryQuery {
                    filter: typed::filter(Entity::RegisteredModels, &format!("name {op} '{pattern}'{prompt}")),
                    order_by: if desc { typed::order_by(Entity::RegisteredModels, &["name DESC"]) } else { vec![] },
                    page: PageRequest { max_results: Some(3), page_token: token },
                    ..RegistryQuery::default()
                };
                let page = store.search_registered_models(&q).unwrap();
                names.extend(page.items.into_iter().map(|m| m.name));
                token = page.next_page_token;
                if token.is_none() {
                    break;
                }
            }
            let mut want: Vec<&String> = expected.clone();
            if desc {
                want.reverse();
            }
            assert_eq!(names.iter().collect::<Vec<_>>(), want, "name {op} '{pattern}', descending: {desc}");
        }
    }
}

/// The same searches while names crowd into one place of the name order
/// (each new one between the last and `m000`: thirty of them), are renamed
/// across it and deleted, and new ones arrive after.
pub fn search_registered_models_name_patterns_after_changes(store: &dyn Store) {
    let mut all: Vec<String> = ["m000", "m999", "n123abc", "zeta.000", "A0001"].map(String::from).to_vec();
    for name in &all {
        store.create_registered_model(name, &[], None).unwrap();
    }
    for k in 0..30 {
        let name = format!("m000{}1", "0".repeat(k));
        store.create_registered_model(&name, &[], None).unwrap();
        all.push(name);
    }
    let cases = [("LIKE", "%000%"), ("ILIKE", "%M00%"), ("LIKE", "%001%"), ("LIKE", "%0001"), ("ILIKE", "%a00%")];
    assert_pattern_pages(store, &all, &cases);
    let renames = [
        (format!("m000{}1", "0".repeat(25)), "a00019".to_string()),
        ("m999".to_string(), format!("m000{}15", "0".repeat(3))),
        (format!("m000{}1", "0".repeat(2)), "zz0001".to_string()),
    ];
    for (from, to) in &renames {
        store.rename_registered_model(from, to).unwrap();
        let at = all.iter().position(|n| n == from).unwrap();
        all[at] = to.clone();
    }
    for gone in [format!("m000{}1", "0".repeat(10)), format!("m000{}1", "0".repeat(28)), "m000".to_string()] {
        store.delete_registered_model(&gone).unwrap();
        all.retain(|n| *n != gone);
    }
    for name in ["m0000", "m00000000000000000000000000000000000001", "b000"] {
        store.create_registered_model(name, &[], None).unwrap();
        all.push(name.to_string());
    }
    assert_pattern_pages(store, &all, &cases);
}

/// A search page's models carry their latest version per stage with that
/// version's own aliases (sorted), and their name, as a single get does.
pub fn registered_model_pages_carry_latest_versions_and_their_aliases(store: &dyn Store) {
    for name in ["pa", "pb"] {
        store.create_registered_model(name, &[], None).unwrap();
        for _ in 0..3 {
            version(store, name);
        }
    }
    store.transition_stage("pa", "1", "Production", false).unwrap();
    for (alias, v) in [("zeta", "3"), ("champion", "3"), ("old", "1"), ("middle", "2")] {
        store.set_alias("pa", alias, v).unwrap();
    }
    store.set_alias("pb", "champion", "2").unwrap();
    let q = RegistryQuery { filter: typed::filter(Entity::RegisteredModels, "name LIKE 'p%'"), ..Default::default() };
    let page = store.search_registered_models(&q).unwrap();
    type Latest = Vec<(String, String, Vec<String>)>;
    let shown: Vec<(String, Latest)> = page
        .items
        .iter()
        .map(|m| {
            let mut latest: Vec<_> =
                m.latest_versions.iter().map(|v| (v.name.clone(), v.version.to_string(), v.aliases.clone())).collect();
            latest.sort();
            (m.name.clone(), latest)
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        shown,
        vec![
            (s("pa"), vec![(s("pa"), s("1"), vec![s("old")]), (s("pa"), s("3"), vec![s("champion"), s("zeta")])]),
            (s("pb"), vec![(s("pb"), s("3"), vec![])]),
        ]
    );
    for m in &page.items {
        let one = store.get_registered_model(&m.name).unwrap();
        let mut got = one.latest_versions.clone();
        let mut want = m.latest_versions.clone();
        got.sort_by_key(|v| v.version.to_string());
        want.sort_by_key(|v| v.version.to_string());
        assert_eq!(got, want, "{}", m.name);
    }
}

pub fn search_model_versions(store: &dyn Store) {
    store.create_registered_model("mv-a", &[], None).unwrap();
    store.create_registered_model("mv-b", &[], None).unwrap();
    for _ in 0..4 {
        version(store, "mv-a");
    }
    let new = NewModelVersion {
        name: "mv-b".into(),
        source: "mlflow-artifacts:/0/x".into(),
        run_id: Some("r1".into()),
        tags: vec![Tag::new("k", "v")],
        ..NewModelVersion::default()
    };
    store.create_model_version(&new).unwrap();
    let q = |f: &str, n: Option<i64>| RegistryQuery {
        filter: typed::filter(Entity::ModelVersions, f),
        page: PageRequest { max_results: n, page_token: None },
        ..RegistryQuery::default()
    };
    let versions = |f: &str| store.search_model_versions(&q(f, None)).unwrap().items;
    assert_eq!(
        versions("name = 'mv-a'").iter().map(|v| v.version.to_string()).collect::<Vec<_>>(),
        vec!["4", "3", "2", "1"]
    );
    // MLflow's default order: last updated first, then name, then newest version.
    let order = |f: &str| versions(f).iter().map(|v| format!("{}/{}", v.name, v.version)).collect::<Vec<_>>();
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.update_model_version("mv-a", "2", Some("touched")).unwrap();
    let found = order("name LIKE 'mv-%'");
    assert_eq!(found[0], "mv-a/2", "the version updated last comes first: {found:?}");
    assert_eq!(found.len(), 5);
    assert_eq!(versions("run_id = 'r1'").len(), 1);
    assert_eq!(versions("tags.k = 'v'").len(), 1);
    assert_eq!(versions("name = 'mv-a' AND version_number > 2").len(), 2);
    let first = store.search_model_versions(&q("name LIKE 'mv-%'", Some(3))).unwrap();
    assert_eq!(first.items.len(), 3);
    let rest = RegistryQuery {
        page: PageRequest { max_results: Some(3), page_token: first.next_page_token },
        ..q("name LIKE 'mv-%'", None)
    };
    assert_eq!(store.search_model_versions(&rest).unwrap().items.len(), 2);
    let bad = try_filter(Entity::ModelVersions, "current_stage = 'None'")
        .and_then(|filter| store.search_model_versions(&RegistryQuery { filter, ..RegistryQuery::default() }));
    assert_eq!(kind(bad), ErrorKind::InvalidParameter);
}

pub fn invalid_inputs_are_client_errors(store: &dyn Store) {
    for name in ["", "a/b", "a:b"] {
        assert_eq!(kind(store.create_registered_model(name, &[], None)), ErrorKind::InvalidParameter, "{name:?}");
    }
    store.create_registered_model("ok", &[], None).unwrap();
    version(store, "ok");
    for alias in ["latest", "v1", "bad alias"] {
        assert_eq!(kind(store.set_alias("ok", alias, "1")), ErrorKind::InvalidParameter, "{alias}");
    }
    let huge = "x".repeat(100_001);
    assert_eq!(kind(store.set_registered_model_tag("ok", &Tag::new("k", huge))), ErrorKind::InvalidParameter);
    assert_eq!(
        kind(store.create_model_version(&NewModelVersion {
            name: "missing".into(),
            source: "mlflow-artifacts:/x".into(),
            ..NewModelVersion::default()
        })),
        ErrorKind::NotFound
    );
}
