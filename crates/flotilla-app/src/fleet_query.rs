//! Fleet search parameters from a query string. Filters that can repeat
//! (`partition`, `tag`, `alias`, `no_alias`, `metric`) are given once per
//! value; an unknown parameter is refused so that a typo never silently
//! widens a search.

use flotilla_core::fleet::{FleetQuery, FleetSort, MetricFilter, PartitionValue, parse_path};
use flotilla_core::fleet_versions::{VersionMetricFilter, VersionQuery, VersionSort};

use flotilla_core::Error;

/// Parameters every fleet search accepts.
const KNOWN: &[&str] = &[
    "family",
    "prefix",
    "contains",
    "partition",
    "depth",
    "tag",
    "alias",
    "no_alias",
    "metric",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "order_by",
    "max_results",
    "page_token",
];

/// A parameter that must be an integer.
fn integer(what: &str, value: &str) -> Result<i64, Error> {
    value.parse::<i64>().map_err(|_| Error::invalid(format!("'{what}' must be an integer, got '{value}'")))
}

/// Parses a search; `extra` names further parameters the caller reads itself.
pub fn parse(query: &str, extra: &[&str]) -> Result<FleetQuery, Error> {
    let mut q = FleetQuery::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        match key.as_ref() {
            "family" => q.family = Some(value.clone()),
            "prefix" => q.name_prefix = Some(value.clone()),
            "contains" => q.name_contains = Some(value.clone()),
            "partition" => q.partition.extend(parse_path(&value)?),
            "depth" => q.depth = Some(integer("depth", &value)?),
            "tag" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| Error::invalid(format!("tag filter '{value}' is not of the form key=value")))?;
                q.tags.push((k.to_string(), v.to_string()));
            }
            "alias" => q.has_alias.push(value.clone()),
            "no_alias" => q.missing_alias.push(value.clone()),
            "metric" => q.metrics.push(MetricFilter::parse(&value)?),
            "created_after" => q.created_after = Some(integer("created_after", &value)?),
            "created_before" => q.created_before = Some(integer("created_before", &value)?),
            "updated_after" => q.updated_after = Some(integer("updated_after", &value)?),
            "updated_before" => q.updated_before = Some(integer("updated_before", &value)?),
            "order_by" => q.sort = FleetSort::parse(&value)?,
            "max_results" => q.max_results = Some(integer("max_results", &value)?),
            "page_token" => q.page_token = Some(value.clone()),
            other if extra.contains(&other) => {}
            other => {
                return Err(Error::invalid(format!(
                    "unknown search parameter '{other}'; known: {}",
                    KNOWN.iter().chain(extra).copied().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    q.check_limits()?;
    Ok(q)
}

/// Parameters a version search accepts.
const KNOWN_VERSIONS: &[&str] = &[
    "family",
    "prefix",
    "partition",
    "tag",
    "version_tag",
    "alias",
    "metric",
    "created_after",
    "created_before",
    "order_by",
    "max_results",
    "page_token",
];

fn key_value(what: &str, value: &str) -> Result<(String, String), Error> {
    let (k, v) = value
        .split_once('=')
        .ok_or_else(|| Error::invalid(format!("{what} filter '{value}' is not of the form key=value")))?;
    Ok((k.to_string(), v.to_string()))
}

/// Parses a version search.
pub fn parse_versions(query: &str) -> Result<VersionQuery, Error> {
    let mut q = VersionQuery::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        match key.as_ref() {
            "family" => q.family = Some(value.clone()),
            "prefix" => q.name_prefix = Some(value.clone()),
            "partition" => q.partition.extend(parse_path(&value)?),
            "tag" => q.tags.push(key_value("tag", &value)?),
            "version_tag" => q.version_tags.push(key_value("version_tag", &value)?),
            "alias" => q.has_alias.push(value.clone()),
            "metric" => q.metrics.push(VersionMetricFilter::parse(&value)?),
            "created_after" => q.created_after = Some(integer("created_after", &value)?),
            "created_before" => q.created_before = Some(integer("created_before", &value)?),
            "order_by" => q.sort = VersionSort::parse(&value)?,
            "max_results" => q.max_results = Some(integer("max_results", &value)?),
            "page_token" => q.page_token = Some(value.clone()),
            other => {
                return Err(Error::invalid(format!(
                    "unknown search parameter '{other}'; known: {}",
                    KNOWN_VERSIONS.join(", ")
                )));
            }
        }
    }
    q.check_limits()?;
    Ok(q)
}

/// Every value of a repeated parameter.
pub fn all(query: &str, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect()
}

/// A partition given as `region=west/store=0042`, or empty.
pub fn partition(value: Option<&str>) -> Result<Vec<PartitionValue>, Error> {
    value.map_or(Ok(Vec::new()), parse_path)
}

#[cfg(test)]
mod tests {
    use flotilla_core::ErrorKind;
    use flotilla_core::fleet::{FleetOrder, MetricOp};

    use super::*;

    #[test]
    fn parses_every_filter() {
        let q = parse(
            "family=demand&prefix=demand.&contains=004&partition=region%3Dwest&tag=owner%3Dana&alias=champion\
             &no_alias=challenger&metric=champion%3Aval_rmse%3C3.2&created_after=5&order_by=-updated&max_results=20",
            &[],
        )
        .unwrap();
        assert_eq!(q.family.as_deref(), Some("demand"));
        assert_eq!(q.partition, [PartitionValue::new("region", "west")]);
        assert_eq!(q.tags, [("owner".to_string(), "ana".to_string())]);
        assert_eq!(q.metrics[0].op, MetricOp::Lt);
        assert_eq!(q.sort.by, FleetOrder::Updated);
        assert!(q.sort.descending);
        assert_eq!((q.created_after, q.max_results), (Some(5), Some(20)));
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        for bad in ["colour=red", "tag=novalue", "metric=rmse", "max_results=x", "order_by=size", "partition=a%20b"] {
            assert_eq!(parse(bad, &[]).unwrap_err().kind, ErrorKind::InvalidParameter, "{bad}");
        }
        assert!(parse("facet_tag=owner", &["facet_tag"]).is_ok());
    }

    #[test]
    fn repeated_filters_are_capped_at_and_past_the_limit() {
        use flotilla_core::fleet::MAX_FLEET_FILTERS;
        let repeat = |item: &str, n: usize| vec![item; n].join("&");
        for item in ["tag=k%3Dv", "alias=champion", "metric=champion%3Aval_rmse%3C3.2"] {
            assert!(parse(&repeat(item, MAX_FLEET_FILTERS), &[]).is_ok(), "{item}");
            let err = parse(&repeat(item, MAX_FLEET_FILTERS + 1), &[]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidParameter, "{item}");
            assert!(err.message.contains(&MAX_FLEET_FILTERS.to_string()), "{}", err.message);
        }
        for item in ["tag=k%3Dv", "version_tag=k%3Dv", "metric=val_rmse%3C3.2"] {
            assert!(parse_versions(&repeat(item, MAX_FLEET_FILTERS)).is_ok(), "{item}");
            assert_eq!(
                parse_versions(&repeat(item, MAX_FLEET_FILTERS + 1)).unwrap_err().kind,
                ErrorKind::InvalidParameter
            );
        }
    }

    #[test]
    fn version_searches_parse_and_refuse() {
        let q =
            parse_versions("family=churn&version_tag=k%3Dv&metric=val_rmse%3C3.2&order_by=-metric%3Aval_rmse").unwrap();
        assert_eq!(q.version_tags, [("k".to_string(), "v".to_string())]);
        assert_eq!((q.metrics[0].key.as_str(), q.metrics[0].op), ("val_rmse", MetricOp::Lt));
        assert!(q.sort.descending);
        for bad in
            ["contains=x", "metric=champion%3Aval_rmse%3C1", "order_by=updated", "version_tag=x", "created_after=soon"]
        {
            assert_eq!(parse_versions(bad).unwrap_err().kind, ErrorKind::InvalidParameter, "{bad}");
        }
    }
}
