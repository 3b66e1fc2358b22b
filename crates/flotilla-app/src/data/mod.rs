//! The data API's contract (`/api/data/v1`), shared by the server's adapter
//! and the CLI: its query strings parsed strictly (an unknown parameter is
//! refused, so a typo never widens an answer) into the store's lineage
//! queries, the dataset inputs a fleet bulk registration carries, and the
//! upstream walk from a version, an alias or a served partition.

pub mod profile;

use flotilla_core::fleet::PartitionValue;
use flotilla_core::lineage::Upstream;
use flotilla_core::{Error, VersionNumber, validation};
use flotilla_store::datasets::{DatasetQuery, NewDatasetInput};
use flotilla_store::lineage::{DownstreamOf, DownstreamQuery, StaleQuery};
use flotilla_store::{PageRequest, Readable, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The context stale data looks at unless told otherwise.
pub const DEFAULT_STALE_CONTEXT: &str = "training";

/// One dataset given with a version to `POST /api/fleet/v1/versions/bulk`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DatasetInputItem {
    pub name: String,
    pub digest: String,
    #[serde(default)]
    pub source_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub schema: Option<String>,
    /// training, validation, … (MLflow's `mlflow.data.context`).
    #[serde(default)]
    pub context: Option<String>,
}

impl From<DatasetInputItem> for NewDatasetInput {
    fn from(d: DatasetInputItem) -> Self {
        Self {
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema,
            context: d.context.unwrap_or_default(),
        }
    }
}

/// What an upstream request asks about.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamTarget {
    Version {
        model: String,
        version: VersionNumber,
    },
    Alias {
        model: String,
        alias: String,
    },
    /// The version serving a partition of a family under an alias (the
    /// default alias when none), with the fleet's fallback to parents.
    Partition {
        family: String,
        partition: Vec<PartitionValue>,
        alias: String,
    },
}

/// Where a partition's answer came from, when the target was one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    pub model: String,
    pub version: VersionNumber,
    pub partition: String,
    pub fallback: bool,
}

fn pairs(raw: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.trim().to_string()))
}

fn unknown(key: &str, known: &[&str]) -> Error {
    Error::invalid(format!("unknown parameter '{key}'; known: {}", known.join(", ")))
}

fn page_param(page: &mut PageRequest, key: &str, value: String) -> Result<(), Error> {
    match key {
        "max_results" => {
            page.max_results = Some(
                value
                    .parse()
                    .map_err(|_| Error::invalid(format!("'max_results' must be an integer, got '{value}'")))?,
            );
        }
        _ => page.page_token = Some(value),
    }
    Ok(())
}

fn required(value: Option<String>, what: &str) -> Result<String, Error> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| Error::invalid(format!("missing parameter '{what}'")))
}

/// `GET /datasets?name=&prefix=&max_results=&page_token=`.
pub fn datasets_query(raw: &str) -> Result<DatasetQuery, Error> {
    const KNOWN: &[&str] = &["name", "prefix", "max_results", "page_token"];
    let mut q = DatasetQuery::default();
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "name" => q.name = Some(v),
            "prefix" => q.name_prefix = Some(v),
            "max_results" | "page_token" => page_param(&mut q.page, &k, v)?,
            other => return Err(unknown(other, KNOWN)),
        }
    }
    Ok(q)
}

/// `GET /lineage/downstream?dataset=&digest=&of=versions|runs&aliased=true&max_results=&page_token=`.
pub fn downstream_query(raw: &str) -> Result<DownstreamQuery, Error> {
    const KNOWN: &[&str] = &["dataset", "digest", "of", "aliased", "max_results", "page_token"];
    let (mut name, mut digest) = (None, None);
    let mut q = DownstreamQuery::default();
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "dataset" => name = Some(v),
            "digest" => digest = Some(v),
            "of" => {
                q.of = match v.as_str() {
                    "versions" => DownstreamOf::Versions,
                    "runs" => DownstreamOf::Runs,
                    other => return Err(Error::invalid(format!("'of' must be versions or runs, got '{other}'"))),
                }
            }
            "aliased" => {
                q.aliased_only = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => return Err(Error::invalid(format!("'aliased' must be true or false, got '{other}'"))),
                }
            }
            "max_results" | "page_token" => page_param(&mut q.page, &k, v)?,
            other => return Err(unknown(other, KNOWN)),
        }
    }
    q.name = required(name, "dataset")?;
    q.digest = required(digest, "digest")?;
    Ok(q)
}

/// `GET /lineage/upstream?model=&version=` (or `&alias=`), or `?family=&partition=[&alias=]`.
pub fn upstream_target(raw: &str) -> Result<UpstreamTarget, Error> {
    const KNOWN: &[&str] = &["model", "version", "alias", "family", "partition"];
    let (mut model, mut version, mut alias, mut family, mut partition) = (None, None, None, None, None);
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "model" => model = Some(v),
            "version" => version = Some(v),
            "alias" => alias = Some(v),
            "family" => family = Some(v),
            "partition" => partition = Some(v),
            other => return Err(unknown(other, KNOWN)),
        }
    }
    if let Some(a) = &alias {
        validation::alias(a)?;
    }
    match (model, family) {
        (Some(_), Some(_)) => Err(Error::invalid("give 'model' or 'family', not both")),
        (None, None) => Err(Error::invalid("missing parameter 'model' (or 'family')")),
        (Some(model), None) => {
            if partition.is_some() {
                return Err(Error::invalid("'partition' goes with 'family', not 'model'"));
            }
            match (version, alias) {
                (Some(v), None) => {
                    let version = v
                        .parse::<VersionNumber>()
                        .map_err(|_| Error::invalid(format!("'version' must be a positive integer, got '{v}'")))?;
                    Ok(UpstreamTarget::Version { model, version })
                }
                (None, Some(alias)) => Ok(UpstreamTarget::Alias { model, alias }),
                (Some(_), Some(_)) => Err(Error::invalid("give 'version' or 'alias', not both")),
                (None, None) => Err(Error::invalid("missing parameter 'version' (or 'alias')")),
            }
        }
        (None, Some(family)) => {
            if version.is_some() {
                return Err(Error::invalid("'version' goes with 'model', not 'family'"));
            }
            let partition = crate::fleet_query::partition(partition.as_deref())?;
            let alias = alias.unwrap_or_else(|| flotilla_core::fleet::DEFAULT_ALIAS.to_string());
            Ok(UpstreamTarget::Partition { family, partition, alias })
        }
    }
}

/// `GET /lineage/stale?context=&alias=&max_results=&page_token=`; `context`
/// is `training` unless given, `*` for any.
pub fn stale_query(raw: &str) -> Result<StaleQuery, Error> {
    const KNOWN: &[&str] = &["context", "alias", "max_results", "page_token"];
    let mut q = StaleQuery { context: Some(DEFAULT_STALE_CONTEXT.to_string()), ..StaleQuery::default() };
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "context" => q.context = if v == "*" { None } else { Some(v) },
            "alias" => {
                validation::alias(&v)?;
                q.alias = Some(v);
            }
            "max_results" | "page_token" => page_param(&mut q.page, &k, v)?,
            other => return Err(unknown(other, KNOWN)),
        }
    }
    Ok(q)
}

/// The upstream walk from any target: resolves an alias or a partition to
/// its version first (on the calling, blocking thread).
pub fn upstream(
    store: &dyn Store,
    target: &UpstreamTarget,
    readable: &Readable,
) -> Result<(Upstream, Option<Resolved>), StoreError> {
    match target {
        UpstreamTarget::Version { model, version } => Ok((store.upstream(model, *version, readable)?, None)),
        UpstreamTarget::Alias { model, alias } => {
            let v = store.get_version_by_alias(model, alias)?;
            Ok((store.upstream(model, v.version, readable)?, None))
        }
        UpstreamTarget::Partition { family, partition, alias } => {
            let t = store.resolve_partition(family, partition, alias)?;
            let up = store.upstream(&t.model, t.version, readable)?;
            let partition = t.partition.iter().map(|p| format!("{}={}", p.key, p.value)).collect::<Vec<_>>().join("/");
            Ok((up, Some(Resolved { model: t.model, version: t.version, partition, fallback: t.fallback })))
        }
    }
}

/// A data API route, with what its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataRoute {
    Datasets,
    Dataset { name: String, digest: String },
    Downstream,
    Upstream,
    Stale,
}

/// Answers a data API request from its query string, as the caller may read
/// it: the one function behind the HTTP routes and the CLI on a data
/// directory, so both give the same JSON. Runs on a blocking thread.
pub fn answer(store: &dyn Store, route: &DataRoute, raw: &str, readable: Readable) -> Result<Value, StoreError> {
    Ok(match route {
        DataRoute::Datasets => {
            let q = DatasetQuery { readable, ..datasets_query(raw)? };
            let page = store.list_datasets(&q)?;
            json!({ "datasets": page.items, "next_page_token": page.next_page_token })
        }
        DataRoute::Dataset { name, digest } => {
            if !raw.is_empty() {
                return Err(Error::invalid("this route takes no parameters").into());
            }
            json!({ "dataset": store.get_dataset(name, digest, &readable)? })
        }
        DataRoute::Downstream => json!(store.downstream(&DownstreamQuery { readable, ..downstream_query(raw)? })?),
        DataRoute::Upstream => {
            let (up, resolved) = upstream(store, &upstream_target(raw)?, &readable)?;
            let mut answer = json!(up);
            if let Some(r) = resolved {
                answer["resolved"] = json!(r);
            }
            answer
        }
        DataRoute::Stale => {
            let page = store.stale_versions(&StaleQuery { readable, ..stale_query(raw)? })?;
            json!({ "versions": page.items, "next_page_token": page.next_page_token })
        }
    })
}

#[cfg(test)]
mod tests;
