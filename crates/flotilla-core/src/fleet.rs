//! Fleets: families of registered models keyed by partitions, the fleet
//! search query, and alias promotion rules.
//!
//! A family `demand-forecast` with levels `[region, store]` is a set of
//! ordinary registered models: the family default is the registered model
//! named `demand-forecast`; the member for a partition is named
//! `demand-forecast.store=0042` (the family, a dot, the partition's own level
//! and value). A member knows its parent (`region=west`), so a partition
//! without a servable version of its own falls back to its parent's, then to
//! the family default. Plain MLflow clients see the members as registered
//! models tagged `flotilla.family` and `flotilla.partition`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::VersionNumber;
use crate::error::{Error, Result};
use crate::visible::Visible;

/// Reserved registered-model tag naming a member's family.
pub const FAMILY_TAG: &str = "flotilla.family";
/// Reserved registered-model tag holding a member's partition path, `region=west/store=0042`.
pub const PARTITION_TAG: &str = "flotilla.partition";
/// The alias a rule or a metric filter means when it names none.
pub const DEFAULT_ALIAS: &str = "champion";

const MAX_LEVELS: usize = 8;
/// Most repeated filters (`partition` levels, `tag`, `alias`, `no_alias`,
/// `metric`, `version_tag`) one fleet search may carry together. Each is a
/// membership set that is sized and joined in SQL; a handful is what a
/// person or a script asks for.
pub const MAX_FLEET_FILTERS: usize = 32;
const MAX_PART_LENGTH: usize = 64;

/// One level of a partition path: `store=0042`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionValue {
    pub key: String,
    pub value: String,
}

impl PartitionValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }

    /// Parses `key=value`.
    pub fn parse(s: &str) -> Result<Self> {
        let (key, value) =
            s.split_once('=').ok_or_else(|| Error::invalid(format!("partition '{s}' is not of the form key=value")))?;
        let part = Self::new(key.trim(), value.trim());
        part.validate()?;
        Ok(part)
    }

    pub fn validate(&self) -> Result<()> {
        check_part("partition key", &self.key)?;
        check_part("partition value", &self.value)
    }
}

impl std::fmt::Display for PartitionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Keys, values, family names and levels: 1 to 64 of `[A-Za-z0-9_.-]`.
fn check_part(what: &str, s: &str) -> Result<()> {
    let shaped = !s.is_empty()
        && s.len() <= MAX_PART_LENGTH
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if shaped {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} '{s}' must be 1 to {MAX_PART_LENGTH} characters of A-Z, a-z, 0-9, '_', '-', '.'"
        )))
    }
}

/// Checks a family's name and its level keys (top level first).
pub fn validate_family(name: &str, levels: &[String]) -> Result<()> {
    check_part("family name", name)?;
    if levels.is_empty() || levels.len() > MAX_LEVELS {
        return Err(Error::invalid(format!("a family has 1 to {MAX_LEVELS} partition levels, got {}", levels.len())));
    }
    for (i, level) in levels.iter().enumerate() {
        check_part("partition level", level)?;
        if levels[..i].contains(level) {
            return Err(Error::invalid(format!("partition level '{level}' is named twice")));
        }
    }
    Ok(())
}

/// The registered model holding a family's member: the family's own name for
/// the default, `{family}.{key}={value}` for a partition.
pub fn member_name(family: &str, leaf: Option<&PartitionValue>) -> String {
    match leaf {
        Some(p) => format!("{family}.{}={}", p.key, p.value),
        None => family.to_string(),
    }
}

/// `region=west/store=0042`.
pub fn path_string(path: &[PartitionValue]) -> String {
    path.iter().map(ToString::to_string).collect::<Vec<_>>().join("/")
}

/// Parses `region=west/store=0042` (or with commas).
pub fn parse_path(s: &str) -> Result<Vec<PartitionValue>> {
    s.split(['/', ',']).filter(|p| !p.trim().is_empty()).map(PartitionValue::parse).collect()
}

/// Reads a partition path given as `"region=west/store=0042"` or as
/// `[{"key": "region", "value": "west"}, ...]`.
pub fn deserialize_path<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<PartitionValue>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        List(Vec<PartitionValue>),
    }
    match Given::deserialize(d)? {
        Given::Text(s) => parse_path(&s).map_err(|e| serde::de::Error::custom(e.message)),
        Given::List(list) => Ok(list),
    }
}

/// A family as the fleet API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub name: String,
    pub levels: Vec<String>,
    pub description: String,
    #[serde(rename = "creation_time")]
    pub creation_timestamp: i64,
    /// Registered models in the family, the default included.
    pub models: i64,
}

/// How a metric compares in a filter or a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "=")]
    Eq,
}

impl MetricOp {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "=",
        }
    }

    pub(crate) fn split(s: &str) -> Option<(&str, Self, &str)> {
        // Two-character operators first, so `<=` is not read as `<`.
        let ops = [("<=", Self::Le), (">=", Self::Ge), ("<", Self::Lt), (">", Self::Gt), ("=", Self::Eq)];
        ops.iter().find_map(|(text, op)| s.split_once(text).map(|(l, r)| (l, *op, r)))
    }
}

/// `champion:val_rmse < 3.2`: a metric of the version an alias points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFilter {
    pub alias: String,
    pub key: String,
    pub op: MetricOp,
    pub value: f64,
}

impl MetricFilter {
    /// Parses `[alias:]key OP number`; the alias defaults to `champion`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad =
            |why: &str| Error::invalid(format!("metric filter '{s}': {why}; expected e.g. 'champion:val_rmse < 3.2'"));
        let (left, op, right) = MetricOp::split(s).ok_or_else(|| bad("no comparison operator"))?;
        let (alias, key) = MetricRef::split(left.trim());
        let value: f64 = right.trim().parse().map_err(|_| bad("the right side is not a number"))?;
        if key.is_empty() || !value.is_finite() {
            return Err(bad("missing metric name or non-finite value"));
        }
        crate::validation::alias(&alias).map_err(|_| bad("invalid alias"))?;
        Ok(Self { alias, key: key.to_string(), op, value })
    }
}

/// `champion:val_rmse`: which metric of which aliased version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRef {
    pub alias: String,
    pub key: String,
}

impl MetricRef {
    fn split(s: &str) -> (String, &str) {
        match s.split_once(':') {
            Some((alias, key)) => (alias.trim().to_string(), key.trim()),
            None => (DEFAULT_ALIAS.to_string(), s),
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        let (alias, key) = Self::split(s.trim());
        if key.is_empty() {
            return Err(Error::invalid(format!("metric '{s}' names no metric; expected e.g. 'champion:val_rmse'")));
        }
        crate::validation::alias(&alias)?;
        Ok(Self { alias, key: key.to_string() })
    }
}

/// What fleet searches sort by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FleetOrder {
    Name,
    Created,
    Updated,
    Metric(MetricRef),
}

/// A sort: `name`, `-updated`, `champion:val_rmse`, `-champion:val_rmse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSort {
    pub by: FleetOrder,
    pub descending: bool,
}

impl Default for FleetSort {
    fn default() -> Self {
        Self { by: FleetOrder::Name, descending: false }
    }
}

/// A sort field and whether it is descending: `-updated` → `(true, "updated")`.
pub fn split_direction(s: &str) -> (bool, &str) {
    let s = s.trim();
    match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

impl FleetSort {
    pub fn parse(s: &str) -> Result<Self> {
        let (descending, field) = split_direction(s);
        let by = match field {
            "name" => FleetOrder::Name,
            "created" | "creation_time" => FleetOrder::Created,
            "updated" | "last_update_time" => FleetOrder::Updated,
            other if other.contains(':') => FleetOrder::Metric(MetricRef::parse(other)?),
            other => {
                return Err(Error::invalid(format!(
                    "cannot sort by '{other}'; use name, created, updated or alias:metric, '-' for descending"
                )));
            }
        };
        Ok(Self { by, descending })
    }
}

/// A search over registered models, every field optional and all of them ANDed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetQuery {
    pub family: Option<String>,
    pub name_prefix: Option<String>,
    pub name_contains: Option<String>,
    /// Members whose partition path includes every one of these.
    pub partition: Vec<PartitionValue>,
    /// Only members at this depth of their family (0 = the family default,
    /// 1 = the top level); needs `family`.
    #[serde(default)]
    pub depth: Option<i64>,
    /// Registered-model tags, `key=value`.
    pub tags: Vec<(String, String)>,
    /// Models that have every one of these aliases.
    pub has_alias: Vec<String>,
    /// Models that have none of these aliases.
    pub missing_alias: Vec<String>,
    pub metrics: Vec<MetricFilter>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub sort: FleetSort,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
    /// The models the caller may read; set by the server from the caller's
    /// grants, never taken from a request.
    #[serde(skip)]
    pub visible: Visible,
}

impl FleetQuery {
    /// Refuses more repeated filters than [`MAX_FLEET_FILTERS`].
    pub fn check_limits(&self) -> Result<()> {
        let n = self.partition.len()
            + self.tags.len()
            + self.has_alias.len()
            + self.missing_alias.len()
            + self.metrics.len();
        check_filter_count(n)
    }
}

/// The error for a search with more than [`MAX_FLEET_FILTERS`] repeated filters.
pub fn check_filter_count(n: usize) -> Result<()> {
    if n > MAX_FLEET_FILTERS {
        return Err(Error::invalid(format!(
            "a fleet search can carry at most {MAX_FLEET_FILTERS} partition, tag, alias and metric filters together, got {n}"
        )));
    }
    Ok(())
}

/// A registered model as fleet searches return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetModel {
    pub name: String,
    pub family: Option<String>,
    pub partition: Vec<PartitionValue>,
    #[serde(rename = "creation_time")]
    pub creation_timestamp: i64,
    #[serde(rename = "last_update_time")]
    pub last_updated_timestamp: i64,
    pub latest_version: Option<VersionNumber>,
    pub aliases: Vec<AliasTarget>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub alias: String,
    pub version: VersionNumber,
}

/// Counts of the models a query matches, by family, alias, stage and tag value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facets {
    pub total: i64,
    pub families: Vec<(String, i64)>,
    pub aliases: Vec<(String, i64)>,
    pub stages: Vec<(String, i64)>,
    /// For each requested tag key, the counts of its most common values.
    pub tags: Vec<(String, Vec<(String, i64)>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_and_name_members() {
        let path = parse_path("region=west/store=0042").unwrap();
        assert_eq!(path, [PartitionValue::new("region", "west"), PartitionValue::new("store", "0042")]);
        assert_eq!(path_string(&path), "region=west/store=0042");
        assert_eq!(member_name("demand", path.last()), "demand.store=0042");
        assert_eq!(member_name("demand", None), "demand");
        for bad in ["store", "=1", "store=", "store=a b", "k=../x", "k=a;b"] {
            assert!(PartitionValue::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_path("store=a b").is_err());
        assert!(parse_path("a=1/b=../x").is_err());
    }

    #[test]
    fn fleet_answers_keep_their_wire_names() {
        let model = FleetModel {
            name: "m".into(),
            family: None,
            partition: Vec::new(),
            creation_timestamp: 1,
            last_updated_timestamp: 2,
            latest_version: VersionNumber::new(3),
            aliases: vec![AliasTarget { alias: "champion".into(), version: VersionNumber::new(3).unwrap() }],
            tags: Vec::new(),
        };
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "m", "family": null, "partition": [], "creation_time": 1, "last_update_time": 2,
                "latest_version": 3, "aliases": [{ "alias": "champion", "version": 3 }], "tags": [],
            })
        );
        assert_eq!(serde_json::from_value::<FleetModel>(json).unwrap(), model);
    }

    #[test]
    fn families_validate_levels() {
        assert!(validate_family("demand", &["region".into(), "store".into()]).is_ok());
        assert!(validate_family("demand", &[]).is_err());
        assert!(validate_family("demand", &["store".into(), "store".into()]).is_err());
        assert!(validate_family("de mand", &["store".into()]).is_err());
    }

    #[test]
    fn metric_filters_and_sorts() {
        let f = MetricFilter::parse("champion:val_rmse <= 3.2").unwrap();
        assert_eq!((f.alias.as_str(), f.key.as_str(), f.op, f.value), ("champion", "val_rmse", MetricOp::Le, 3.2));
        let f = MetricFilter::parse("rmse>1e-3").unwrap();
        assert_eq!((f.alias.as_str(), f.op), ("champion", MetricOp::Gt));
        for bad in ["rmse", "rmse < x", "< 3", "bad alias:rmse < 1", "rmse < inf"] {
            assert!(MetricFilter::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(FleetSort::parse("-updated").unwrap(), FleetSort { by: FleetOrder::Updated, descending: true });
        let by_metric = FleetSort::parse("challenger:auc").unwrap();
        assert_eq!(by_metric.by, FleetOrder::Metric(MetricRef { alias: "challenger".into(), key: "auc".into() }));
        assert!(FleetSort::parse("size").is_err());
    }
}
