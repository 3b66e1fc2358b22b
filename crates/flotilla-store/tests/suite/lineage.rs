//! Datasets as entities and lineage: what `log-inputs` records, the edges to
//! versions made from runs (either order), downstream and upstream walks,
//! stale data, paging and the caller's readable set.

use flotilla_core::ErrorKind;
use flotilla_core::VersionNumber;
use flotilla_core::model::{Dataset, DatasetInput, Tag};
use flotilla_store::datasets::DatasetQuery;
use flotilla_store::lineage::{DownstreamOf, DownstreamQuery, StaleQuery};
use flotilla_store::{NewModelVersion, NewRun, PageRequest, Readable, Store, Visible};

use super::kind;

fn input(name: &str, digest: &str, context: Option<&str>) -> DatasetInput {
    DatasetInput {
        tags: context.map(|c| vec![Tag::new("mlflow.data.context", c)]).unwrap_or_default(),
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: format!("{{\"uri\": \"{name}.csv\"}}"),
            schema: None,
            profile: None,
        },
    }
}

fn run(store: &dyn Store, experiment_id: &str) -> String {
    let new = NewRun { experiment_id: experiment_id.into(), user_id: "ada".into(), ..NewRun::default() };
    store.create_run(&new).unwrap().info.run_id
}

fn version_from(store: &dyn Store, model: &str, run_id: &str) -> VersionNumber {
    let new = NewModelVersion {
        name: model.into(),
        source: format!("runs:/{run_id}/model"),
        run_id: Some(run_id.into()),
        ..NewModelVersion::default()
    };
    store.create_model_version(&new).unwrap().version
}

fn downstream(name: &str, digest: &str, page: PageRequest) -> DownstreamQuery {
    DownstreamQuery { name: name.into(), digest: digest.into(), page, ..DownstreamQuery::default() }
}

pub fn datasets_and_lineage_both_ways(store: &dyn Store) {
    let exp = store.create_experiment("lineage", None, &[]).unwrap();
    let (r1, r2) = (run(store, &exp), run(store, "0"));
    // Inputs logged before the version exists, and after.
    store
        .log_inputs(&r1, &[input("sales", "d1", Some("training")), input("holdout", "h1", Some("eval"))], &[])
        .unwrap();
    store.create_registered_model("demand", &[], None).unwrap();
    let v1 = version_from(store, "demand", &r1);
    let v2 = version_from(store, "demand", &r2);
    store.log_inputs(&r2, &[input("sales", "d2", Some("training"))], &[]).unwrap();
    store.log_inputs(&r2, &[input("sales", "d1", None)], &[]).unwrap();
    store.set_alias("demand", "champion", &v1.to_string()).unwrap();

    // Entities: one per (name, digest), counted.
    let all = store.list_datasets(&DatasetQuery::default()).unwrap();
    let names: Vec<_> = all.items.iter().map(|d| (d.name.as_str(), d.digest.as_str())).collect();
    assert_eq!(names, [("holdout", "h1"), ("sales", "d1"), ("sales", "d2")]);
    let d1 = store.get_dataset("sales", "d1", &Readable::everything()).unwrap();
    assert_eq!((d1.run_count, d1.version_count, d1.superseded), (2, 2, true));
    assert!(!store.get_dataset("sales", "d2", &Readable::everything()).unwrap().superseded);
    assert_eq!(kind(store.get_dataset("sales", "nope", &Readable::everything())), ErrorKind::NotFound);
    let prefix = DatasetQuery { name_prefix: Some("sal".into()), ..DatasetQuery::default() };
    assert_eq!(store.list_datasets(&prefix).unwrap().items.len(), 2);

    // Paging: one at a time, every row once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let q =
            DatasetQuery { page: PageRequest { max_results: Some(1), page_token: token }, ..DatasetQuery::default() };
        let page = store.list_datasets(&q).unwrap();
        seen.extend(page.items.into_iter().map(|d| d.digest));
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, ["h1", "d1", "d2"]);

    // MLflow's summaries, per experiment, context as logged.
    let summaries = store.search_dataset_summaries(std::slice::from_ref(&exp)).unwrap();
    assert_eq!(summaries.len(), 2);
    assert!(summaries.iter().any(|s| s.name == "sales" && s.context.as_deref() == Some("training")));
    assert_eq!(kind(store.search_dataset_summaries(&[])), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.search_dataset_summaries(&vec!["1".to_string(); 21])), ErrorKind::InvalidParameter);

    // Downstream: both versions, the champion marked; runs with their experiment.
    let down = store.downstream(&downstream("sales", "d1", PageRequest::default())).unwrap();
    assert_eq!((down.total_versions, down.total_runs), (2, 2));
    let versions = down.versions.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [v1, v2]);
    assert_eq!(versions[0].aliases, ["champion"]);
    assert_eq!(versions[0].context.as_deref(), Some("training"));
    assert_eq!(versions[1].context, None);
    let first =
        store.downstream(&downstream("sales", "d1", PageRequest { max_results: Some(1), page_token: None })).unwrap();
    let token = first.next_page_token.expect("a second page");
    let second = store
        .downstream(&downstream("sales", "d1", PageRequest { max_results: Some(1), page_token: Some(token) }))
        .unwrap();
    assert_eq!(second.versions.unwrap()[0].version, v2);
    assert_eq!(second.next_page_token, None);
    let aliased = DownstreamQuery { aliased_only: true, ..downstream("sales", "d1", PageRequest::default()) };
    assert_eq!(store.downstream(&aliased).unwrap().versions.unwrap().len(), 1);
    let runs = DownstreamQuery { of: DownstreamOf::Runs, ..downstream("sales", "d1", PageRequest::default()) };
    let runs = store.downstream(&runs).unwrap().runs.unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), [r1.as_str(), r2.as_str()]);
    let bad = downstream("sales", "d1", PageRequest { max_results: Some(0), page_token: None });
    assert_eq!(kind(store.downstream(&bad)), ErrorKind::InvalidParameter);
    let bad = downstream("sales", "d1", PageRequest { max_results: None, page_token: Some("garbage".into()) });
    assert_eq!(kind(store.downstream(&bad)), ErrorKind::InvalidParameter);

    // Upstream: the version's run and datasets.
    let up = store.upstream("demand", v1, &Readable::everything()).unwrap();
    assert_eq!(up.run.as_ref().map(|r| r.run_id.as_str()), Some(r1.as_str()));
    let sets: Vec<_> = up.datasets.iter().map(|d| (d.name.as_str(), d.digest.as_str(), d.context.as_deref())).collect();
    assert_eq!(sets, [("holdout", "h1", Some("eval")), ("sales", "d1", Some("training"))]);
    let up2 = store.upstream("demand", v2, &Readable::everything()).unwrap();
    assert_eq!(up2.datasets.len(), 2);
    assert_eq!(
        kind(store.upstream("demand", VersionNumber::new(9).unwrap(), &Readable::everything())),
        ErrorKind::NotFound
    );
    assert_eq!(kind(store.upstream("nope", v1, &Readable::everything())), ErrorKind::NotFound);

    // Stale: the champion trained on sales@d1, superseded by d2.
    let stale =
        store.stale_versions(&StaleQuery { context: Some("training".into()), ..StaleQuery::default() }).unwrap();
    assert_eq!(stale.items.len(), 1);
    assert_eq!((stale.items[0].digest.as_str(), stale.items[0].newest_digest.as_str()), ("d1", "d2"));
    assert_eq!(stale.items[0].alias, "champion");

    // A caller who reads only the Default experiment and no model.
    let narrow = Readable {
        experiments: Visible { all: false, ids_in: vec!["0".into()], ..Visible::everything() },
        models: Visible { all: false, ..Visible::everything() },
    };
    let q = DownstreamQuery {
        of: DownstreamOf::Runs,
        readable: narrow.clone(),
        ..downstream("sales", "d1", PageRequest::default())
    };
    let seen = store.downstream(&q).unwrap();
    assert_eq!(seen.runs.unwrap().iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), [r2.as_str()]);
    assert_eq!((seen.total_runs, seen.total_versions), (1, 0));
    assert_eq!(kind(store.get_dataset("holdout", "h1", &narrow)), ErrorKind::NotFound);
    assert_eq!(kind(store.upstream("demand", v1, &narrow)), ErrorKind::PermissionDenied);
    // Reading the model but not the run's experiment: the datasets without the run.
    let model_only = Readable { models: Visible::everything(), ..narrow.clone() };
    let up = store.upstream("demand", v1, &model_only).unwrap();
    assert!(up.run.is_none() && up.datasets.iter().all(|d| d.run_id.is_none()));
    assert_eq!(up.datasets.len(), 2);
    let q = StaleQuery { readable: narrow, ..StaleQuery::default() };
    assert!(store.stale_versions(&q).unwrap().items.is_empty());
}

/// Every lineage list walked one row per page to its end: the runs that used
/// a dataset, its aliased versions, and the stale aliased versions (several
/// aliases on one version, several models), each row once and in order.
pub fn lineage_pages_walk_to_the_end(store: &dyn Store) {
    let runs: Vec<String> = (0..3).map(|_| run(store, "0")).collect();
    for r in &runs {
        store.log_inputs(r, &[input("prices", "p1", Some("training"))], &[]).unwrap();
    }
    for model in ["a", "b"] {
        store.create_registered_model(model, &[], None).unwrap();
        for r in &runs[..2] {
            version_from(store, model, r);
        }
        store.set_alias(model, "champion", "1").unwrap();
        store.set_alias(model, "shadow", "1").unwrap();
    }
    store.set_alias("b", "canary", "2").unwrap();
    // A newer digest makes p1 stale.
    store.log_inputs(&runs[2], &[input("prices", "p2", Some("training"))], &[]).unwrap();

    let one = |token: Option<String>| PageRequest { max_results: Some(1), page_token: token };
    let walk = |of: DownstreamOf, aliased_only: bool| {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let q = DownstreamQuery { of, aliased_only, ..downstream("prices", "p1", one(token)) };
            let page = store.downstream(&q).unwrap();
            assert_eq!((page.total_runs, page.total_versions), (3, 4));
            seen.extend(page.runs.unwrap_or_default().into_iter().map(|r| r.run_id));
            seen.extend(page.versions.unwrap_or_default().into_iter().map(|v| format!("{}/{}", v.model, v.version)));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return seen,
            }
        }
    };
    assert_eq!(walk(DownstreamOf::Runs, false), runs);
    assert_eq!(walk(DownstreamOf::Versions, false), ["a/1", "a/2", "b/1", "b/2"]);
    assert_eq!(walk(DownstreamOf::Versions, true), ["a/1", "b/1", "b/2"]);

    let mut stale = Vec::new();
    let mut token = None;
    loop {
        let page = store.stale_versions(&StaleQuery { page: one(token), ..StaleQuery::default() }).unwrap();
        assert!(page.items.len() <= 1);
        stale.extend(
            page.items.into_iter().map(|s| format!("{}/{}@{}:{}", s.model, s.version, s.alias, s.newest_digest)),
        );
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(stale, ["a/1@champion:p2", "a/1@shadow:p2", "b/1@champion:p2", "b/1@shadow:p2", "b/2@canary:p2"]);
    let garbage = StaleQuery { page: one(Some("garbage".into())), ..StaleQuery::default() };
    assert_eq!(kind(store.stale_versions(&garbage)), ErrorKind::InvalidParameter);
}
