//! The model JSON a 2.x client sends to `runs/log-model`, checked as MLflow checks it before
//! either backend records it in the run's `mlflow.log-model.history` tag.

use flotilla_core::Error;

/// The fields MLflow's `runs/log-model` requires (`handlers._log_model`).
pub const REQUIRED_FIELDS: [&str; 4] = ["artifact_path", "flavors", "run_id", "utc_time_created"];

/// The parsed model: a JSON object holding every required field.
pub fn parse(model_json: &str) -> Result<serde_json::Value, Error> {
    let model: serde_json::Value =
        serde_json::from_str(model_json).map_err(|e| Error::invalid(format!("Malformed model info. \n {e}")))?;
    let Some(fields) = model.as_object() else {
        return Err(Error::invalid("Malformed model info: expected a JSON object"));
    };
    let missing: Vec<&str> = REQUIRED_FIELDS.into_iter().filter(|f| !fields.contains_key(*f)).collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!("Model json is missing mandatory fields: {missing:?}")));
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_model_needs_mlflows_fields() {
        let full = r#"{"artifact_path": "m", "flavors": {}, "run_id": "r", "utc_time_created": "t"}"#;
        assert!(parse(full).is_ok());
        for (json, why) in [
            (r#"{"artifact_path": "m", "flavors": {}, "run_id": "r"}"#, "missing mandatory fields"),
            ("{nope", "Malformed model info"),
            ("[1]", "expected a JSON object"),
        ] {
            assert!(parse(json).unwrap_err().to_string().contains(why), "{json}");
        }
    }
}
