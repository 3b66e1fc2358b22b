//! MLflow's searches understood once: what an adapter received (the filter
//! text, the `order_by` entries, the view, the page request, the experiment
//! ids) becomes the store's typed query, or the one client error that says
//! what is wrong with it. Filters are parsed here and nowhere else, with
//! `flotilla_core::filter`; the store takes clauses and orderings.
//!
//! The checks run in the order the store ran them before parsing moved here
//! (page size, experiment-id count, filter, `order_by` count, each entry), so
//! a request with several mistakes is still told about the same one first.
//! The store keeps its own page-size and page-token checks: they are its
//! paging contract for every caller, and the token needs the keyset width.
//!
//! Callers build the query inside `AppState::call`, on the blocking pool:
//! the longest filter accepted (256 KiB, a thousand `IN` values) takes tens
//! of milliseconds to parse in a debug build, too long for an async worker.

use flotilla_core::filter::{self, Entity, FilterError, OrderBy};
use flotilla_core::model::ViewType;
use flotilla_core::{Error, validation};
use flotilla_store::{
    ExperimentQuery, LoggedModelKey, LoggedModelOrder, LoggedModelQuery, PageRequest, RegistryQuery, RunQuery,
};

/// A parse failure as the client sees it: `INVALID_PARAMETER_VALUE` with the
/// parser's message.
fn invalid(e: FilterError) -> Error {
    Error::invalid(e.0)
}

/// The filter's clauses, then every `order_by` entry, for `entity`.
fn parse(entity: Entity, filter_text: &str, order_by: &[String]) -> Result<(Vec<filter::Clause>, Vec<OrderBy>), Error> {
    let clauses = filter::parse_filter(entity, filter_text).map_err(invalid)?;
    filter::check_order_by_count(order_by.len()).map_err(invalid)?;
    let orders =
        order_by.iter().map(|o| filter::parse_order_by(entity, o)).collect::<Result<_, _>>().map_err(invalid)?;
    Ok((clauses, orders))
}

/// `experiments/search`.
pub fn experiments(
    filter_text: &str,
    order_by: &[String],
    view: ViewType,
    page: PageRequest,
) -> Result<ExperimentQuery, Error> {
    validation::page_size(page.max_results, validation::EXPERIMENTS_PAGE, "experiments")?;
    let (filter, order_by) = parse(Entity::Experiments, filter_text, order_by)?;
    Ok(ExperimentQuery { filter, order_by, view, page, ..ExperimentQuery::default() })
}

/// `runs/search` over `experiment_ids`.
pub fn runs(
    experiment_ids: Vec<String>,
    filter_text: &str,
    order_by: &[String],
    view: ViewType,
    page: PageRequest,
) -> Result<RunQuery, Error> {
    validation::page_size(page.max_results, validation::RUNS_PAGE, "runs")?;
    validation::list_len("experiment ids", experiment_ids.len(), validation::MAX_SEARCH_EXPERIMENT_IDS)?;
    let (filter, order_by) = parse(Entity::Runs, filter_text, order_by)?;
    Ok(RunQuery { experiment_ids, filter, order_by, view, page })
}

/// The tag MLflow 3.x marks prompts with. Its model search leaves prompts out unless the filter
/// names the tag (`SqlAlchemyStore.search_registered_models`).
const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// `registered-models/search`, prompts left out unless the filter speaks of them.
pub fn registered_models(filter_text: &str, order_by: &[String], page: PageRequest) -> Result<RegistryQuery, Error> {
    validation::page_size(page.max_results, validation::REGISTERED_MODELS_PAGE, "registered models")?;
    let (mut filter, order_by) = parse(Entity::RegisteredModels, filter_text, order_by)?;
    if !filter.iter().any(|c| matches!(&c.field, filter::Field::Tag(key) if key == PROMPT_TAG)) {
        // Added after the caller's clauses were parsed, so they keep the whole clause limit.
        let not_prompt = format!("tags.`{PROMPT_TAG}` != 'true'");
        filter.extend(filter::parse_filter(Entity::RegisteredModels, &not_prompt).map_err(invalid)?);
    }
    Ok(RegistryQuery { filter, name_prefix: None, order_by, page, ..RegistryQuery::default() })
}

/// `model-versions/search`.
pub fn model_versions(filter_text: &str, order_by: &[String], page: PageRequest) -> Result<RegistryQuery, Error> {
    validation::page_size(page.max_results, validation::MODEL_VERSIONS_PAGE, "model versions")?;
    let (filter, order_by) = parse(Entity::ModelVersions, filter_text, order_by)?;
    Ok(RegistryQuery { filter, name_prefix: None, order_by, page, ..RegistryQuery::default() })
}

/// `logged-models/search`: its order is MLflow's structured one, `(field
/// name, ascending)` per entry.
pub fn logged_models(
    experiment_ids: Vec<String>,
    filter_text: &str,
    order_by: &[(String, bool)],
    page: PageRequest,
) -> Result<LoggedModelQuery, Error> {
    validation::page_size(page.max_results, validation::LOGGED_MODELS_PAGE, "logged models")?;
    validation::list_len("experiment ids", experiment_ids.len(), validation::MAX_SEARCH_EXPERIMENT_IDS)?;
    let filter = filter::parse_filter(Entity::LoggedModels, filter_text).map_err(invalid)?;
    filter::check_order_by_count(order_by.len()).map_err(invalid)?;
    let order_by = order_by
        .iter()
        .map(|(field, ascending)| Ok(LoggedModelOrder { key: logged_model_key(field)?, ascending: *ascending }))
        .collect::<Result<_, Error>>()?;
    Ok(LoggedModelQuery { experiment_ids, filter, order_by, page })
}

/// MLflow's field names for a logged model's order, with the spellings its
/// filter accepts for the same timestamps.
fn logged_model_key(field: &str) -> Result<LoggedModelKey, Error> {
    match field {
        "name" => Ok(LoggedModelKey::Name),
        "creation_timestamp" | "creation_time" => Ok(LoggedModelKey::CreationTime),
        "last_updated_timestamp" | "last_update_time" => Ok(LoggedModelKey::LastUpdateTime),
        "model_id" => Ok(LoggedModelKey::ModelId),
        other => Err(Error::invalid(format!("Invalid order_by field '{other}' for logged models"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(max_results: Option<i64>) -> PageRequest {
        PageRequest { max_results, page_token: None }
    }

    fn message<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
        r.expect_err("refused").message
    }

    #[test]
    fn a_search_is_typed_once() {
        let q = runs(vec!["0".into()], "metrics.rmse < 3", &["metrics.rmse DESC".into()], ViewType::All, page(None))
            .expect("valid");
        assert_eq!(q.filter.len(), 1);
        assert_eq!(q.order_by.len(), 1);
        assert!(!q.order_by[0].ascending);
        let q = logged_models(vec![], "", &[("creation_timestamp".into(), false)], page(None)).expect("valid");
        assert_eq!(q.order_by, [LoggedModelOrder { key: LoggedModelKey::CreationTime, ascending: false }]);
    }

    #[test]
    fn model_search_leaves_prompts_out_unless_the_filter_names_them() {
        let prompt_clauses = |text: &str| {
            let q = registered_models(text, &[], page(None)).expect("valid");
            q.filter.iter().filter(|c| matches!(&c.field, filter::Field::Tag(k) if k == PROMPT_TAG)).count()
        };
        assert_eq!(prompt_clauses(""), 1);
        assert_eq!(prompt_clauses("name = 'a'"), 1);
        assert_eq!(prompt_clauses("tags.`mlflow.prompt.is_prompt` = 'true'"), 1, "the caller's own clause only");
        let hundred = vec!["name != 'x'"; 100].join(" AND ");
        assert_eq!(registered_models(&hundred, &[], page(None)).expect("at the limit").filter.len(), 101);
    }

    #[test]
    fn the_first_mistake_is_the_one_reported() {
        let cases = [
            (
                message(experiments("name = ", &["x y z".into()], ViewType::All, page(Some(0)))),
                "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer",
            ),
            (
                message(registered_models("name = 'a'", &["x y z".into()], page(None))),
                "Invalid order_by clause 'x y z'. Could not be parsed.",
            ),
            (
                message(logged_models(vec![], "", &[("size".into(), true)], page(None))),
                "Invalid order_by field 'size' for logged models",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        let eleven: Vec<String> = (0..11).map(|_| "name".to_string()).collect();
        let e = model_versions("", &eleven, page(None)).expect_err("too many");
        assert_eq!(e.kind, flotilla_core::ErrorKind::InvalidParameter);
        assert!(e.message.starts_with("Invalid order_by: 11 entries"), "{}", e.message);
    }
}
