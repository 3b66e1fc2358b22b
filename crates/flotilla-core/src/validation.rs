//! Validation rules and limits mirrored from MLflow (`mlflow/utils/validation.py`).
//!
//! Every store backend calls these before writing, so a bad value is rejected the
//! same way whatever the backend, and before any row is touched.

use crate::error::{Error, Result};

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;
pub const MAX_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
pub const MAX_ALIAS_LENGTH: usize = 255;
pub const MAX_MODEL_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_PER_BATCH: usize = 100;
pub const MAX_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_DATASETS_PER_BATCH: usize = 1000;
/// Tags a create request may carry (runs, experiments, registered models,
/// versions, logged models, bulk versions), and tags on one dataset input.
/// MLflow counts none of these; its limit on a whole batch bounds them
/// without refusing a client that sets many tags at creation.
pub const MAX_TAGS_PER_REQUEST: usize = MAX_ENTITIES_PER_BATCH;
/// Params a logged model may be created or logged with (autologging may
/// record every hyperparameter of a pipeline).
pub const MAX_PARAMS_PER_REQUEST: usize = MAX_ENTITIES_PER_BATCH;
/// Aliases one bulk-registered version may be given.
pub const MAX_ALIASES_PER_VERSION: usize = 100;
/// Experiment ids one search may name.
pub const MAX_SEARCH_EXPERIMENT_IDS: usize = 1000;
/// Model references one log-inputs or log-outputs request may carry.
pub const MAX_MODELS_PER_REQUEST: usize = 1000;
/// Stages one `get-latest-versions` request may name (there are four).
pub const MAX_STAGES_PER_REQUEST: usize = 10;
/// A logged model's name: MLflow stores it in a 500-character column.
pub const MAX_LOGGED_MODEL_NAME_LENGTH: usize = 500;

/// Items any one list in a request body may hold, checked while it is read:
/// a list of tiny items (`{}` is three bytes) must not become a large
/// allocation. The precise per-field limits above are checked after.
pub const MAX_REQUEST_LIST_ITEMS: usize = 10_000;

/// Page-size limits per search endpoint: (default, maximum).
pub const RUNS_PAGE: (i64, i64) = (1000, 50_000);
pub const EXPERIMENTS_PAGE: (i64, i64) = (1000, 50_000);
pub const REGISTERED_MODELS_PAGE: (i64, i64) = (100, 1000);
pub const MODEL_VERSIONS_PAGE: (i64, i64) = (10_000, 200_000);
/// MLflow's REST default is the proto's 50 (its store's own default, 100, never applies over REST).
pub const LOGGED_MODELS_PAGE: (i64, i64) = (50, 1000);
pub const METRIC_HISTORY_PAGE: (i64, i64) = (25_000, 100_000);

/// Resolves a requested page size against an endpoint's (default, max).
pub fn page_size(requested: Option<i64>, (default, max): (i64, i64), what: &str) -> Result<usize> {
    let n = requested.unwrap_or(default);
    if n <= 0 {
        return Err(Error::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
        )));
    }
    if n > max {
        return Err(Error::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be at most {max} for {what}"
        )));
    }
    Ok(n as usize)
}

/// A metric, param or tag key: non-empty, bounded, and a path that
/// `posixpath.normpath` would leave unchanged (no `..`, no leading `/`).
pub fn entity_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid(format!("Missing value for required parameter '{kind} key'")));
    }
    if key.len() > MAX_ENTITY_KEY_LENGTH {
        return Err(Error::invalid(format!(
            "{kind} key '{}...' had length {}, which exceeded length limit of {MAX_ENTITY_KEY_LENGTH}",
            truncate(key, 32),
            key.len()
        )));
    }
    let allowed = key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'));
    let normalised = !key.starts_with('/')
        && !key.ends_with('/')
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !allowed || !normalised {
        return Err(Error::invalid(format!(
            "Invalid {kind} name: '{}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/), and must be a normalized relative path",
            truncate(key, 250)
        )));
    }
    Ok(())
}

pub fn value_length(kind: &str, key: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(format!(
            "{kind} value '{}...' for key '{key}' had length {}, which exceeded length limit of {max}",
            truncate(value, 32),
            value.len()
        )));
    }
    Ok(())
}

/// Refuses a request list longer than `max`, naming the limit; called before
/// any item is looked at.
pub fn list_len(what: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(Error::invalid(format!(
            "A request can contain at most {max} {what}. Got {len} {what}. Please split them across multiple requests."
        )));
    }
    Ok(())
}

/// A tag on a dataset input (`mlflow.data.context` and the like): MLflow's
/// input-tag limits, 255 for the key and 500 for the value.
pub fn input_tag(tag: &crate::model::Tag) -> Result<()> {
    if tag.key.is_empty() || tag.key.len() > MAX_INPUT_TAG_KEY_LENGTH {
        return Err(Error::invalid(format!(
            "Input tag key '{}' had length {}, which is not within 1 to {MAX_INPUT_TAG_KEY_LENGTH}",
            truncate(&tag.key, 32),
            tag.key.len()
        )));
    }
    value_length("Input tag", &tag.key, &tag.value, MAX_INPUT_TAG_VALUE_LENGTH)
}

/// A run name is stored as the `mlflow.runName` tag, so it has a tag value's limit.
pub fn run_name(name: &str) -> Result<()> {
    value_length("Tag", "mlflow.runName", name, MAX_TAG_VALUE_LENGTH)
}

pub fn experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("Invalid experiment name: ''. Experiment name must be a non-empty string"));
    }
    if name.len() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(Error::invalid(format!(
            "Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Registered model names: non-empty, bounded, no `/` or `:` (they would make
/// `models:/` URIs ambiguous).
pub fn model_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("Registered model name cannot be empty."));
    }
    if name.len() > MAX_MODEL_NAME_LENGTH {
        return Err(Error::invalid(format!(
            "Registered model name exceeds the maximum length of {MAX_MODEL_NAME_LENGTH} characters"
        )));
    }
    if name.contains('/') || name.contains(':') || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "Invalid model name: '{name}'. Names cannot contain the characters '/' or ':' or control characters"
        )));
    }
    Ok(())
}

/// Aliases: bounded, `[A-Za-z0-9_-]`, not `latest` and not `v<digits>` (those
/// would shadow version references).
pub fn alias(alias: &str) -> Result<()> {
    let shaped = !alias.is_empty()
        && alias.len() <= MAX_ALIAS_LENGTH
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let reserved = alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1 && alias.starts_with(['v', 'V']) && alias[1..].chars().all(|c| c.is_ascii_digit()));
    if !shaped || reserved {
        return Err(Error::invalid(format!(
            "Invalid alias name: '{alias}'. Aliases may only contain alphanumerics, '_' and '-', be at most {MAX_ALIAS_LENGTH} characters, and cannot be 'latest' or 'v<number>'"
        )));
    }
    Ok(())
}

/// A `deserialize_with` reader for request lists: refuses a list longer than
/// [`MAX_REQUEST_LIST_ITEMS`] at the first item past it, before reading on.
pub fn capped_list<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    d.deserialize_seq(Capped(std::marker::PhantomData))
}

struct Capped<T>(std::marker::PhantomData<T>);

impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Capped<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list of at most {MAX_REQUEST_LIST_ITEMS} items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        loop {
            if out.len() == MAX_REQUEST_LIST_ITEMS {
                return match seq.next_element::<serde::de::IgnoredAny>()? {
                    None => Ok(out),
                    Some(_) => Err(serde::de::Error::custom(format!(
                        "a list in a request may hold at most {MAX_REQUEST_LIST_ITEMS} items"
                    ))),
                };
            }
            match seq.next_element()? {
                Some(item) => out.push(item),
                None => return Ok(out),
            }
        }
    }
}

pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tag;

    #[test]
    fn entity_keys() {
        for ok in ["a", "rmse", "val/rmse", "a b", "x:y", "a.b-c_d"] {
            assert!(entity_key("Metric", ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "/abs", "a/../b", "a//b", "a/", "a\\b", "a\0b", "./a"] {
            assert!(entity_key("Metric", bad).is_err(), "{bad:?}");
        }
        assert!(entity_key("Param", &"k".repeat(251)).is_err());
    }

    #[test]
    fn model_names_and_aliases() {
        assert!(model_name("demand-forecast store 42").is_ok());
        for bad in ["", "a/b", "a:b", "a\nb"] {
            assert!(model_name(bad).is_err(), "{bad:?}");
        }
        assert!(alias("champion").is_ok());
        for bad in ["", "latest", "v1", "V22", "a b", "a/b"] {
            assert!(alias(bad).is_err(), "{bad:?}");
        }
        assert!(alias("v1a").is_ok());
    }

    #[test]
    fn lists_and_names_at_and_past_their_limits() {
        let cases: &[(&str, usize, usize)] = &[
            ("tags", MAX_TAGS_PER_REQUEST, MAX_TAGS_PER_REQUEST),
            ("experiment ids", MAX_SEARCH_EXPERIMENT_IDS, MAX_SEARCH_EXPERIMENT_IDS),
            ("stages", 0, MAX_STAGES_PER_REQUEST),
        ];
        for &(what, len, max) in cases {
            assert!(list_len(what, len, max).is_ok(), "{what} at {len}");
            let err = list_len(what, max + 1, max).unwrap_err().to_string();
            assert!(err.contains(&format!("at most {max} {what}")), "{err}");
        }
        for (key, value, ok) in [
            ("mlflow.data.context", "train", true),
            ("", "v", false),
            (&*"k".repeat(MAX_INPUT_TAG_KEY_LENGTH + 1), "v", false),
            ("k", &*"v".repeat(MAX_INPUT_TAG_VALUE_LENGTH), true),
            ("k", &*"v".repeat(MAX_INPUT_TAG_VALUE_LENGTH + 1), false),
        ] {
            assert_eq!(input_tag(&Tag::new(key, value)).is_ok(), ok, "{key:.20}={value:.20}");
        }
        assert!(run_name(&"n".repeat(MAX_TAG_VALUE_LENGTH)).is_ok());
        let err = run_name(&"n".repeat(MAX_TAG_VALUE_LENGTH + 1)).unwrap_err().to_string();
        assert!(err.contains("mlflow.runName") && err.contains("8000"), "{err}");
    }

    #[test]
    fn request_lists_stop_at_their_cap() {
        #[derive(serde::Deserialize)]
        struct Req {
            #[serde(deserialize_with = "capped_list")]
            items: Vec<Tag>,
        }
        let body = |n: usize| format!(r#"{{"items":[{}]}}"#, vec![r#"{"key":"k","value":"v"}"#; n].join(","));
        let at: Req = serde_json::from_str(&body(MAX_REQUEST_LIST_ITEMS)).unwrap();
        assert_eq!(at.items.len(), MAX_REQUEST_LIST_ITEMS);
        let err = serde_json::from_str::<Req>(&body(MAX_REQUEST_LIST_ITEMS + 1)).err().unwrap().to_string();
        assert!(err.contains(&format!("at most {MAX_REQUEST_LIST_ITEMS} items")), "{err}");
    }

    #[test]
    fn versions_and_pages() {
        let version_number = |v| crate::VersionNumber::parse_param(v).map(crate::VersionNumber::get);
        assert_eq!(version_number("3").unwrap(), 3);
        assert!(version_number("abc").is_err());
        assert!(version_number("0").is_err());
        assert_eq!(page_size(None, (100, 1000), "x").unwrap(), 100);
        assert!(page_size(Some(1001), (100, 1000), "x").is_err());
        assert!(page_size(Some(0), (100, 1000), "x").is_err());
    }
}
