//! MLflow 3.x logged models on PostgreSQL (as `sqlite/logged_models.rs`): a
//! model's record apart from any run, with its params, tags and metrics.

use std::collections::HashMap;

use flotilla_core::filter::{Attr, Clause, Field};
use flotilla_core::model::{LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus, Page, Tag};
use flotilla_core::{Error, validation};

use super::sql::{self, SortKey, Value};
use super::{PgStore, Tx, experiments, rows};
use crate::error::StoreResult;
use crate::sqlite::{new_hex_id, now_ms};
use crate::{LoggedModelKey, LoggedModelQuery, LoggedModelStore, NewLoggedModel, paging};

fn not_found(model_id: &str) -> Error {
    Error::not_found(format!("Logged model with ID '{model_id}' not found."))
}

fn require(tx: &mut Tx<'_>, model_id: &str) -> StoreResult<()> {
    let found = tx.query_opt("SELECT 1 FROM logged_models WHERE model_id = $1", &[&model_id])?;
    found.map(|_| ()).ok_or_else(|| not_found(model_id).into())
}

fn validate_pairs(kind: &str, pairs: &[Tag], max: usize) -> StoreResult<()> {
    for p in pairs {
        validation::entity_key(kind, &p.key)?;
        validation::value_length(kind, &p.key, &p.value, max)?;
    }
    Ok(())
}

pub(super) fn models_by_ids(tx: &mut Tx<'_>, ids: &[String]) -> StoreResult<Vec<LoggedModel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.to_vec();
    let mut models: HashMap<String, LoggedModel> = HashMap::with_capacity(ids.len());
    for r in tx.query(
        "SELECT model_id, experiment_id, name, creation_time, last_update_time, status, status_message, model_type,
                source_run_id, artifact_uri FROM logged_models WHERE model_id = ANY($1)",
        &[&list],
    )? {
        let info = LoggedModelInfo {
            model_id: r.get(0),
            experiment_id: r.get::<_, i64>(1).to_string(),
            name: r.get(2),
            creation_timestamp: r.get(3),
            last_updated_timestamp: r.get(4),
            status: LoggedModelStatus::parse(&r.get::<_, String>(5)).unwrap_or(LoggedModelStatus::Pending),
            status_message: r.get(6),
            model_type: r.get(7),
            source_run_id: r.get(8),
            artifact_uri: r.get(9),
            tags: Vec::new(),
        };
        models.insert(info.model_id.clone(), LoggedModel { info, data: LoggedModelData::default() });
    }
    for (table, is_tag) in [("logged_model_tags", true), ("logged_model_params", false)] {
        let sql = format!("SELECT model_id, key, value FROM {table} WHERE model_id = ANY($1) ORDER BY model_id, key");
        for r in tx.query(&sql, &[&list])? {
            if let Some(m) = models.get_mut(&r.get::<_, String>(0)) {
                let pair = Tag::new(r.get::<_, String>(1), r.get::<_, String>(2));
                if is_tag { m.info.tags.push(pair) } else { m.data.params.push(pair) }
            }
        }
    }
    for r in tx.query(
        "SELECT model_id, key, value, is_nan, timestamp, step, run_uuid, dataset_name, dataset_digest
         FROM logged_model_metrics WHERE model_id = ANY($1) ORDER BY model_id, key",
        &[&list],
    )? {
        if let Some(m) = models.get_mut(&r.get::<_, String>(0)) {
            let mut metric = rows::metric_from_row(&r, 1);
            // Column 6 is the run id here, not the model id.
            metric.run_id = metric.model_id.take();
            metric.model_id = Some(m.info.model_id.clone());
            m.data.metrics.push(metric);
        }
    }
    Ok(ids.iter().filter_map(|id| models.remove(id)).collect())
}

fn one(tx: &mut Tx<'_>, model_id: &str) -> StoreResult<LoggedModel> {
    models_by_ids(tx, &[model_id.to_string()])?.pop().ok_or_else(|| not_found(model_id).into())
}

const COLUMNS: &[(Attr, &str)] = &[
    (Attr::Name, "m.name"),
    (Attr::ModelId, "m.model_id"),
    (Attr::ModelType, "m.model_type"),
    (Attr::Status, "m.status"),
    (Attr::SourceRunId, "m.source_run_id"),
    (Attr::CreationTime, "m.creation_time"),
    (Attr::LastUpdateTime, "m.last_update_time"),
];

fn clause_sql(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    let column = match &c.field {
        Field::Tag(k) => {
            return sql::tag_exists("logged_model_tags", "model_id", "m.model_id", k, c, args);
        }
        Field::Param(k) => {
            return sql::tag_exists("logged_model_params", "model_id", "m.model_id", k, c, args);
        }
        Field::Metric(k) => {
            args.push(Value::Text(k.clone()));
            let pred = sql::compare("lm.value", c, args)?;
            return Ok(format!(
                "EXISTS (SELECT 1 FROM logged_model_metrics lm WHERE lm.model_id = m.model_id AND lm.key = ? AND NOT lm.is_nan AND {pred})"
            ));
        }
        Field::Attr(a) => sql::attr_column(*a, COLUMNS, "logged models")?,
        Field::Dataset(_) => return Err(sql::unsupported(&c.field, "logged models")),
    };
    sql::compare(column, c, args)
}

impl LoggedModelStore for PgStore {
    fn create_logged_model(&self, new: &NewLoggedModel) -> StoreResult<LoggedModel> {
        validation::list_len("tags", new.tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        validation::list_len("params", new.params.len(), validation::MAX_PARAMS_PER_REQUEST)?;
        if let Some(name) = &new.name
            && name.len() > validation::MAX_LOGGED_MODEL_NAME_LENGTH
        {
            return Err(Error::invalid(format!(
                "Logged model name had length {}, which exceeded length limit of {}",
                name.len(),
                validation::MAX_LOGGED_MODEL_NAME_LENGTH
            ))
            .into());
        }
        validate_pairs("Tag", &new.tags, validation::MAX_TAG_VALUE_LENGTH)?;
        validate_pairs("Param", &new.params, validation::MAX_PARAM_VALUE_LENGTH)?;
        let experiment_id = experiments::parse_id(&new.experiment_id)?;
        self.write(|tx| {
            let location = experiments::active_location(tx, experiment_id)?;
            let model_id = format!("m-{}", new_hex_id());
            let name = new.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "model".to_string());
            let artifact_uri = format!("{}/models/{model_id}/artifacts", location.trim_end_matches('/'));
            let now = now_ms();
            tx.execute(
                "INSERT INTO logged_models (model_id, experiment_id, name, creation_time, last_update_time, status, model_type, source_run_id, artifact_uri)
                 VALUES ($1, $2, $3, $4, $4, 'LOGGED_MODEL_PENDING', $5, $6, $7)",
                &[&model_id, &experiment_id, &name, &now, &new.model_type, &new.source_run_id, &artifact_uri],
            )?;
            crate::audit::note(crate::audit::Change::new("logged_model.create", "logged_model", model_id.as_str()));
            for t in &new.tags {
                tx.execute(SET_TAG, &[&model_id, &t.key, &t.value])?;
            }
            for p in &new.params {
                tx.execute(SET_PARAM, &[&model_id, &p.key, &p.value])?;
            }
            one(tx, &model_id)
        })
    }

    fn get_logged_model(&self, model_id: &str) -> StoreResult<LoggedModel> {
        self.read(|tx| one(tx, model_id))
    }

    fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> StoreResult<LoggedModel> {
        self.write(|tx| {
            require(tx, model_id)?;
            crate::audit::note(crate::audit::Change::new("logged_model.finalize", "logged_model", model_id));
            tx.execute(
                "UPDATE logged_models SET status = $1, last_update_time = $2 WHERE model_id = $3",
                &[&status.as_str(), &now_ms(), &model_id],
            )?;
            one(tx, model_id)
        })
    }

    fn delete_logged_model(&self, model_id: &str) -> StoreResult<()> {
        self.write(|tx| {
            require(tx, model_id)?;
            crate::audit::note(crate::audit::Change::new("logged_model.delete", "logged_model", model_id));
            tx.execute("DELETE FROM logged_models WHERE model_id = $1", &[&model_id])?;
            Ok(())
        })
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> StoreResult<LoggedModel> {
        validation::list_len("tags", tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
        validate_pairs("Tag", tags, validation::MAX_TAG_VALUE_LENGTH)?;
        self.write(|tx| {
            require(tx, model_id)?;
            crate::audit::note(crate::audit::Change::new("logged_model.set_tags", "logged_model", model_id));
            for t in tags {
                tx.execute(SET_TAG, &[&model_id, &t.key, &t.value])?;
            }
            tx.execute("UPDATE logged_models SET last_update_time = $1 WHERE model_id = $2", &[&now_ms(), &model_id])?;
            one(tx, model_id)
        })
    }

    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            require(tx, model_id)?;
            crate::audit::note(crate::audit::Change::new("logged_model.delete_tag", "logged_model", model_id));
            let n = tx.execute("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2", &[&model_id, &key])?;
            if n == 0 {
                return Err(
                    Error::not_found(format!("No tag with key '{key}' found for logged model '{model_id}'")).into()
                );
            }
            Ok(())
        })
    }

    fn log_logged_model_params(&self, model_id: &str, params: &[Tag]) -> StoreResult<()> {
        validation::list_len("params", params.len(), validation::MAX_PARAMS_PER_REQUEST)?;
        validate_pairs("Param", params, validation::MAX_PARAM_VALUE_LENGTH)?;
        self.write(|tx| {
            require(tx, model_id)?;
            crate::audit::note(crate::audit::Change::new("logged_model.log_params", "logged_model", model_id));
            for p in params {
                tx.execute(SET_PARAM, &[&model_id, &p.key, &p.value])?;
            }
            Ok(())
        })
    }

    fn search_logged_models(&self, q: &LoggedModelQuery) -> StoreResult<Page<LoggedModel>> {
        let limit = validation::page_size(q.page.max_results, validation::LOGGED_MODELS_PAGE, "logged models")?;
        validation::list_len("experiment ids", q.experiment_ids.len(), validation::MAX_SEARCH_EXPERIMENT_IDS)?;
        let mut keys = Vec::new();
        for o in &q.order_by {
            let expr = match o.key {
                LoggedModelKey::Name => "m.name",
                LoggedModelKey::CreationTime => "m.creation_time",
                LoggedModelKey::LastUpdateTime => "m.last_update_time",
                LoggedModelKey::ModelId => "m.model_id",
            };
            keys.push(SortKey { expr: expr.into(), desc: !o.ascending });
        }
        // MLflow's order: a caller's keys, then newest first, then the id.
        if !keys.iter().any(|k| k.expr == "m.creation_time") {
            keys.push(SortKey::desc("m.creation_time"));
        }
        if !keys.iter().any(|k| k.expr == "m.model_id") {
            keys.push(SortKey::asc("m.model_id"));
        }
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;
        let experiment_ids =
            q.experiment_ids.iter().map(|id| experiments::parse_id(id)).collect::<StoreResult<Vec<_>>>()?;
        let mut args: Vec<Value> = experiment_ids.iter().map(|id| Value::Int(*id)).collect();
        let marks =
            if experiment_ids.is_empty() { "NULL".to_string() } else { vec!["?"; experiment_ids.len()].join(", ") };
        let mut sql = format!(
            "SELECT m.model_id, {} FROM logged_models m WHERE m.experiment_id IN ({marks})",
            sql::select_list(&keys)
        );
        for c in &q.filter {
            sql.push_str(" AND ");
            sql.push_str(&clause_sql(c, &mut args)?);
        }
        sql::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (ids, next) = sql::keyset_page::<String>(tx, &sql, &args, keys.len(), limit)?;
            Ok(Page { items: models_by_ids(tx, &ids)?, next_page_token: next })
        })
    }
}

const SET_TAG: &str = "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
                       ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value";
const SET_PARAM: &str = "INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value";
