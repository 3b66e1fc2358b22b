//! Tracking behaviour: experiments, runs, metrics, datasets, logged models.

use flotilla_core::ErrorKind;
use flotilla_core::filter::Entity;
use flotilla_core::model::{Dataset, DatasetInput, LoggedModelStatus, Metric, RunStatus, Tag, ViewType};
use flotilla_store::{
    ExperimentQuery, LoggedModelQuery, NewLoggedModel, NewRun, PageRequest, RunQuery, RunUpdate, Store,
};

use super::kind;
use super::typed::{self, try_filter};

fn metric(key: &str, value: f64, step: i64, ts: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: ts,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
        run_id: None,
    }
}

fn run_in(store: &dyn Store, experiment_id: &str, name: &str) -> String {
    let new = NewRun {
        experiment_id: experiment_id.into(),
        user_id: "ada".into(),
        run_name: Some(name.into()),
        ..NewRun::default()
    };
    store.create_run(&new).unwrap().info.run_id
}

pub fn experiments_lifecycle(store: &dyn Store) {
    let id = store.create_experiment("exp-a", None, &[Tag::new("team", "ml")]).unwrap();
    let e = store.get_experiment(&id).unwrap();
    assert_eq!(e.name, "exp-a");
    assert_eq!(e.artifact_location, format!("mlflow-artifacts:/{id}"));
    assert_eq!(e.tags, vec![Tag::new("team", "ml")]);
    assert_eq!(store.get_experiment_by_name("exp-a").unwrap().experiment_id, id);
    assert_eq!(kind(store.create_experiment("exp-a", None, &[])), ErrorKind::AlreadyExists);
    assert_eq!(kind(store.get_experiment("999")), ErrorKind::NotFound);
    assert_eq!(kind(store.get_experiment_by_name("nope")), ErrorKind::NotFound);
    assert_eq!(kind(store.get_experiment("abc")), ErrorKind::InvalidParameter);

    store.rename_experiment(&id, "exp-b").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().name, "exp-b");
    store.set_experiment_tag(&id, &Tag::new("k", "v")).unwrap();
    store.delete_experiment_tag(&id, "team").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().tags, vec![Tag::new("k", "v")]);

    // MLflow answers RESOURCE_DOES_NOT_EXIST for restoring an active and deleting a deleted one.
    assert_eq!(kind(store.restore_experiment(&id)), ErrorKind::NotFound);
    store.delete_experiment(&id).unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().lifecycle_stage.as_str(), "deleted");
    assert_eq!(kind(store.delete_experiment(&id)), ErrorKind::NotFound);
    assert_eq!(
        kind(store.create_run(&NewRun { experiment_id: id.clone(), ..NewRun::default() })),
        ErrorKind::InvalidParameter
    );
    store.restore_experiment(&id).unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().lifecycle_stage.as_str(), "active");
    assert_eq!(kind(store.delete_experiment("0")), ErrorKind::InvalidParameter);
}

pub fn experiment_search_filters_and_pages(store: &dyn Store) {
    for i in 0..7 {
        store
            .create_experiment(
                &format!("search-{i}"),
                None,
                &[Tag::new("parity", if i % 2 == 0 { "even" } else { "odd" })],
            )
            .unwrap();
    }
    let q = |filter: &str| ExperimentQuery {
        filter: typed::filter(Entity::Experiments, filter),
        ..ExperimentQuery::default()
    };
    let names = |q: ExperimentQuery| {
        store.search_experiments(&q).unwrap().items.into_iter().map(|e| e.name).collect::<Vec<_>>()
    };
    assert_eq!(names(q("name = 'search-3'")), vec!["search-3"]);
    assert_eq!(names(q("tags.parity = 'odd'")).len(), 3);
    assert_eq!(names(q("name LIKE 'search-%' AND tags.parity = 'even'")).len(), 4);
    let mut ordered = q("name LIKE 'search-%'");
    ordered.order_by = typed::order_by(Entity::Experiments, &["name DESC"]);
    assert_eq!(names(ordered)[0], "search-6");

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_experiments(&ExperimentQuery {
                filter: typed::filter(Entity::Experiments, "name LIKE 'search-%'"),
                order_by: typed::order_by(Entity::Experiments, &["name"]),
                view: ViewType::ActiveOnly,
                page: PageRequest { max_results: Some(3), page_token: token.clone() },
                ..ExperimentQuery::default()
            })
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|e| e.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("search-{i}")).collect::<Vec<_>>());
    let bad_token =
        ExperimentQuery { page: PageRequest { max_results: None, page_token: Some("garbage".into()) }, ..q("") };
    assert_eq!(kind(store.search_experiments(&bad_token)), ErrorKind::InvalidParameter);
    let bad_filter = try_filter(Entity::Experiments, "name <<< 'x'")
        .and_then(|filter| store.search_experiments(&ExperimentQuery { filter, ..ExperimentQuery::default() }));
    assert_eq!(kind(bad_filter), ErrorKind::InvalidParameter);
}

pub fn runs_params_metrics_tags(store: &dyn Store) {
    let exp = store.create_experiment("runs", None, &[]).unwrap();
    let run = store
        .create_run(&NewRun {
            experiment_id: exp.clone(),
            user_id: "ada".into(),
            run_name: Some("first".into()),
            start_time: Some(1000),
            tags: vec![Tag::new("stage", "dev")],
        })
        .unwrap();
    let id = run.info.run_id.clone();
    assert_eq!(run.info.run_name, "first");
    assert_eq!(run.info.artifact_uri, format!("mlflow-artifacts:/{exp}/{id}/artifacts"));
    assert!(run.data.tags.contains(&Tag::new("mlflow.runName", "first")));

    store
        .log_batch(
            &id,
            &[metric("rmse", 0.5, 0, 10), metric("rmse", 0.4, 1, 11)],
            &[Tag::new("lr", "0.1")],
            &[Tag::new("stage", "prod")],
        )
        .unwrap();
    let got = store.get_run(&id).unwrap();
    assert_eq!(got.data.metrics.len(), 1, "only the latest value per key");
    assert_eq!(got.data.metrics[0].value, 0.4);
    assert_eq!(got.data.params, vec![Tag::new("lr", "0.1")]);
    assert!(got.data.tags.contains(&Tag::new("stage", "prod")));

    let info = store
        .update_run(
            &id,
            &RunUpdate { status: Some(RunStatus::Finished), end_time: Some(2000), run_name: Some("renamed".into()) },
        )
        .unwrap();
    assert_eq!((info.status, info.end_time, info.run_name.as_str()), (RunStatus::Finished, Some(2000), "renamed"));
    // A tag value over MLflow's 8,000 is cut to it, as MLflow does, not refused.
    store.log_batch(&id, &[], &[], &[Tag::new("note", "n".repeat(8_001))]).unwrap();
    let note = store.get_run(&id).unwrap().data.tags.into_iter().find(|t| t.key == "note").unwrap();
    assert_eq!(note.value.len(), 8_000);
    store.delete_run_tag(&id, "stage").unwrap();
    assert_eq!(kind(store.delete_run_tag(&id, "stage")), ErrorKind::NotFound);
    assert_eq!(kind(store.get_run("0123456789abcdef0123456789abcdef")), ErrorKind::NotFound);
}

pub fn param_values_cannot_change(store: &dyn Store) {
    let id = run_in(store, "0", "p");
    store.log_batch(&id, &[], &[Tag::new("a", "1")], &[]).unwrap();
    store.log_batch(&id, &[], &[Tag::new("a", "1")], &[]).unwrap();
    assert_eq!(kind(store.log_batch(&id, &[], &[Tag::new("a", "2")], &[])), ErrorKind::InvalidParameter);
}

pub fn failed_batch_writes_nothing(store: &dyn Store) {
    let id = run_in(store, "0", "atomic");
    store.log_batch(&id, &[], &[Tag::new("fixed", "1")], &[]).unwrap();
    // A good metric and tag followed by a conflicting param: nothing may land.
    let r = store.log_batch(&id, &[metric("m", 1.0, 0, 1)], &[Tag::new("fixed", "2")], &[Tag::new("t", "v")]);
    assert_eq!(kind(r), ErrorKind::InvalidParameter);
    let run = store.get_run(&id).unwrap();
    assert!(run.data.metrics.is_empty());
    assert!(!run.data.tags.iter().any(|t| t.key == "t"));
    let history = store.metric_history(&id, "m", &PageRequest::default()).unwrap();
    assert!(history.items.is_empty());
    // Over-limit batches and bad keys are refused before any write.
    let many: Vec<Metric> = (0..1001).map(|i| metric("m", 1.0, i, i)).collect();
    assert_eq!(kind(store.log_batch(&id, &many, &[], &[])), ErrorKind::InvalidParameter);
    assert_eq!(kind(store.log_batch(&id, &[metric("../x", 1.0, 0, 0)], &[], &[])), ErrorKind::InvalidParameter);
}

pub fn latest_metric_and_history_pages(store: &dyn Store) {
    let id = run_in(store, "0", "history");
    // Logged out of order: the latest is the greatest step, not the last write.
    let mut all = Vec::new();
    for chunk in (0..2500).collect::<Vec<i64>>().chunks(1000) {
        let batch: Vec<Metric> =
            chunk.iter().rev().map(|&s| metric("loss", 1.0 / (s + 1) as f64, s, 100 + s)).collect();
        store.log_batch(&id, &batch, &[], &[]).unwrap();
        all.extend(chunk.iter().copied());
    }
    store.log_batch(&id, &[metric("loss", 9.0, 5, 1)], &[], &[]).unwrap();
    let latest = &store.get_run(&id).unwrap().data.metrics[0];
    assert_eq!(latest.step, 2499);

    // Within one batch of interleaved keys, each key's greatest (step, timestamp, value) wins.
    let other = run_in(store, "0", "interleaved");
    let batch = [
        metric("a", 1.0, 1, 5),
        metric("b", 7.0, 0, 1),
        metric("a", 3.0, 1, 5),
        metric("a", 9.0, 1, 4),
        metric("b", 6.0, 0, 1),
    ];
    store.log_batch(&other, &batch, &[], &[]).unwrap();
    let mut latest: Vec<(String, f64)> =
        store.get_run(&other).unwrap().data.metrics.iter().map(|m| (m.key.clone(), m.value)).collect();
    latest.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(latest, [("a".to_string(), 3.0), ("b".to_string(), 7.0)]);

    let mut steps = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page =
            store.metric_history(&id, "loss", &PageRequest { max_results: Some(1000), page_token: token }).unwrap();
        pages += 1;
        steps.extend(page.items.iter().map(|m| m.step));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(steps.len(), 2501);
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "history is ordered by step");
}

pub fn nan_and_infinity_round_trip(store: &dyn Store) {
    let id = run_in(store, "0", "nan");
    store
        .log_batch(
            &id,
            &[
                metric("nan", f64::NAN, 0, 1),
                metric("inf", f64::INFINITY, 0, 1),
                metric("ninf", f64::NEG_INFINITY, 0, 1),
            ],
            &[],
            &[],
        )
        .unwrap();
    let run = store.get_run(&id).unwrap();
    let value = |k: &str| run.data.metrics.iter().find(|m| m.key == k).unwrap().value;
    assert!(value("nan").is_nan());
    assert_eq!(value("inf"), f64::INFINITY);
    assert_eq!(value("ninf"), f64::NEG_INFINITY);
    let h = store.metric_history(&id, "nan", &PageRequest::default()).unwrap();
    assert!(h.items[0].value.is_nan());
}

pub fn search_runs_filters_orders_pages(store: &dyn Store) {
    let exp = store.create_experiment("search-runs", None, &[]).unwrap();
    for i in 0..20i64 {
        let run = store
            .create_run(&NewRun {
                experiment_id: exp.clone(),
                user_id: "ada".into(),
                run_name: Some(format!("run-{i:02}")),
                start_time: Some(1000 + i),
                tags: vec![],
            })
            .unwrap();
        let params = [Tag::new("model", if i % 2 == 0 { "tree" } else { "linear" })];
        let tags = [Tag::new("group", if i < 10 { "a" } else { "b" })];
        let metrics = if i == 19 { vec![] } else { vec![metric("acc", i as f64 / 20.0, 0, 1)] };
        store.log_batch(&run.info.run_id, &metrics, &params, &tags).unwrap();
        if i == 3 {
            store
                .update_run(&run.info.run_id, &RunUpdate { status: Some(RunStatus::Failed), ..RunUpdate::default() })
                .unwrap();
        }
    }
    let search = |filter: &str, order: &[&str]| {
        let q = RunQuery {
            experiment_ids: vec![exp.clone()],
            filter: typed::filter(Entity::Runs, filter),
            order_by: typed::order_by(Entity::Runs, order),
            ..RunQuery::default()
        };
        store.search_runs(&q).unwrap().items.into_iter().map(|r| r.info.run_name).collect::<Vec<_>>()
    };
    assert_eq!(search("metrics.acc > 0.8", &[]).len(), 2);
    assert_eq!(search("metrics.acc >= 0.5 AND params.model = 'tree'", &[]).len(), 5);
    assert_eq!(search("tags.group = 'b' AND params.model != 'tree'", &[]).len(), 5);
    assert_eq!(search("attributes.status = 'FAILED'", &[]), vec!["run-03"]);
    assert_eq!(search("attributes.run_name LIKE 'run-1%'", &[]).len(), 10);
    assert_eq!(search("attributes.start_time >= 1018", &[]).len(), 2);
    assert_eq!(search("", &[])[0], "run-19", "newest first by default");
    let by_acc = search("", &["metrics.acc DESC"]);
    assert_eq!(by_acc[0], "run-18");
    assert_eq!(by_acc[19], "run-19", "runs without the metric sort last");
    let asc = search("", &["metrics.acc ASC"]);
    assert_eq!((asc[0].as_str(), asc[19].as_str()), ("run-00", "run-19"));

    // Pages over a metric ordering visit every run exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let q = RunQuery {
            experiment_ids: vec![exp.clone()],
            order_by: typed::order_by(Entity::Runs, &["metrics.acc DESC"]),
            page: PageRequest { max_results: Some(6), page_token: token },
            ..RunQuery::default()
        };
        let page = store.search_runs(&q).unwrap();
        seen.extend(page.items.into_iter().map(|r| r.info.run_name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, by_acc);
    let bad = try_filter(Entity::Runs, "metrics.acc > 'x'").and_then(|filter| {
        store.search_runs(&RunQuery { experiment_ids: vec![exp.clone()], filter, ..RunQuery::default() })
    });
    assert_eq!(kind(bad), ErrorKind::InvalidParameter);
    let too_many = RunQuery {
        experiment_ids: vec![exp],
        page: PageRequest { max_results: Some(50_001), page_token: None },
        ..RunQuery::default()
    };
    assert_eq!(kind(store.search_runs(&too_many)), ErrorKind::InvalidParameter);
}

pub fn dataset_inputs(store: &dyn Store) {
    let id = run_in(store, "0", "data");
    let dataset = Dataset {
        name: "sales".into(),
        digest: "abc123".into(),
        source_type: "local".into(),
        source: "{\"uri\": \"sales.csv\"}".into(),
        schema: Some("{}".into()),
        profile: None,
    };
    let input = DatasetInput { tags: vec![Tag::new("mlflow.data.context", "training")], dataset };
    store.log_inputs(&id, std::slice::from_ref(&input), &[]).unwrap();
    store.log_inputs(&id, std::slice::from_ref(&input), &[]).unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.inputs.dataset_inputs, vec![input]);
    let q = |f: &str| RunQuery {
        experiment_ids: vec!["0".into()],
        filter: typed::filter(Entity::Runs, f),
        ..RunQuery::default()
    };
    assert_eq!(store.search_runs(&q("datasets.name = 'sales'")).unwrap().items.len(), 1);
    assert_eq!(store.search_runs(&q("datasets.context = 'training'")).unwrap().items.len(), 1);
    assert_eq!(store.search_runs(&q("datasets.digest = 'nope'")).unwrap().items.len(), 0);
}

pub fn logged_models(store: &dyn Store) {
    let run = run_in(store, "0", "lm");
    let new = NewLoggedModel {
        experiment_id: "0".into(),
        name: Some("model".into()),
        source_run_id: Some(run.clone()),
        params: vec![Tag::new("alpha", "1")],
        ..NewLoggedModel::default()
    };
    let m = store.create_logged_model(&new).unwrap();
    let id = m.info.model_id.clone();
    assert!(id.starts_with("m-"));
    assert_eq!(m.info.artifact_uri, format!("mlflow-artifacts:/0/models/{id}/artifacts"));
    assert_eq!(m.info.status, LoggedModelStatus::Pending);
    let mut with_model = metric("val_rmse", 3.0, 0, 1);
    with_model.model_id = Some(id.clone());
    store.log_batch(&run, &[with_model], &[], &[]).unwrap();
    let ready = store.finalize_logged_model(&id, LoggedModelStatus::Ready).unwrap();
    assert_eq!(ready.info.status, LoggedModelStatus::Ready);
    assert_eq!(ready.data.metrics[0].key, "val_rmse");
    store.set_logged_model_tags(&id, &[Tag::new("mlflow.modelVersions", "[]")]).unwrap();
    let found = store
        .search_logged_models(&LoggedModelQuery {
            experiment_ids: vec!["0".into()],
            filter: typed::filter(Entity::LoggedModels, "name = 'model'"),
            ..LoggedModelQuery::default()
        })
        .unwrap();
    assert_eq!(found.items.len(), 1);
    store.delete_logged_model_tag(&id, "mlflow.modelVersions").unwrap();
    store.delete_logged_model(&id).unwrap();
    assert_eq!(kind(store.get_logged_model(&id)), ErrorKind::NotFound);
}

pub fn deleted_runs_refuse_writes(store: &dyn Store) {
    let id = run_in(store, "0", "gone");
    store.delete_run(&id).unwrap();
    assert_eq!(kind(store.log_batch(&id, &[metric("m", 1.0, 0, 0)], &[], &[])), ErrorKind::InvalidParameter);
    let active = RunQuery { experiment_ids: vec!["0".into()], ..RunQuery::default() };
    assert!(store.search_runs(&active).unwrap().items.iter().all(|r| r.info.run_id != id));
    let deleted = RunQuery { view: ViewType::DeletedOnly, ..active };
    assert_eq!(store.search_runs(&deleted).unwrap().items.len(), 1);
    store.restore_run(&id).unwrap();
    store.log_batch(&id, &[metric("m", 1.0, 0, 0)], &[], &[]).unwrap();
}
