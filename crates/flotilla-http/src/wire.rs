//! Reading MLflow requests off the wire, as the real client sends them.
//!
//! GET requests carry their fields as query parameters (repeated keys for
//! lists, `True`/`False` for booleans); every other method carries JSON, DELETE
//! included. JSON bodies must say `application/json` (MLflow's CSRF defence);
//! double-encoded JSON strings from old clients are accepted. Numbers may come
//! as strings and doubles as `"NaN"`/`"Infinity"`, as protobuf's JSON mapping
//! writes them.

use axum::body::to_bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest JSON body accepted: a dataset profile may be 16 MB.
pub const MAX_JSON_BODY: usize = 24 * 1024 * 1024;

/// A request message of type `T`, from the query string or the JSON body.
pub struct Mlflow<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Mlflow<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let value = if req.method() == Method::GET || req.method() == Method::HEAD {
            query_to_json(req.uri().query().unwrap_or(""))
        } else {
            let bytes = body_bytes(req).await?;
            // The common case, a JSON object, is read straight into `T`: a
            // `Value` tree first cost a 1,000-metric log-batch a tenth of its time.
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                return serde_json::from_slice(&bytes).map(Mlflow).map_err(|e| {
                    if e.is_data() {
                        ApiError::invalid(format!("Invalid request body: {e}"))
                    } else {
                        ApiError::bad_request(format!("Malformed JSON in request body: {e}"))
                    }
                });
            }
            json_object(&bytes)?
        };
        serde_json::from_value(value).map(Mlflow).map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
    }
}

fn query_to_json(query: &str) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(first) => {
                let first = first.take();
                map.insert(k.into_owned(), Value::Array(vec![first, v]));
            }
        }
    }
    Value::Object(map)
}

/// The body of a JSON request, checked for its content type and size.
async fn body_bytes(req: Request) -> Result<axum::body::Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let is_delete = req.method() == Method::DELETE;
    let bytes = to_bytes(req.into_body(), MAX_JSON_BODY).await.map_err(|_| {
        ApiError::invalid(format!("Request body exceeds the limit of {MAX_JSON_BODY} bytes or could not be read"))
    })?;
    if is_delete && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(axum::body::Bytes::from_static(b"{}"));
    }
    match content_type.as_deref() {
        Some("application/json") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid content type: '{other}'. Requests must use 'Content-Type: application/json'"
            )));
        }
        None => {
            return Err(ApiError::invalid("Missing 'Content-Type: application/json' header"));
        }
    }
    Ok(bytes)
}

/// A body that is not a plain JSON object: empty (an empty message), or a
/// JSON string holding the object (old clients encode twice).
fn json_object(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner)
            .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    }
    if !value.is_object() {
        return Err(ApiError::bad_request("Request body must be a JSON object"));
    }
    Ok(value)
}

/// Lenient field readers for request messages.
pub mod lenient {
    use super::*;

    fn scalar_string(v: Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// A string field that also accepts a number (`"experiment_id": 1`).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar_string(v.clone())
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("expected a string, got {v}"))),
        }
    }

    /// An int64 field as a number or a decimal string.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, got {n}"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("expected an integer, got '{s}'"))),
            Some(other) => Err(serde::de::Error::custom(format!("expected an integer, got {other}"))),
        }
    }

    /// A double as a number or a string, including `NaN` and `±Infinity`.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => match s.trim() {
                "NaN" | "nan" => Ok(Some(f64::NAN)),
                "Infinity" | "inf" | "+Infinity" => Ok(Some(f64::INFINITY)),
                "-Infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
                t => t.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("expected a number, got '{s}'"))),
            },
            Some(other) => Err(serde::de::Error::custom(format!("expected a number, got {other}"))),
        }
    }

    /// A boolean as JSON or as `true`/`false` in any case.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(serde::de::Error::custom(format!("expected a boolean, got {other}"))),
        }
    }

    /// A repeated string field: one value (a single query key) or a list.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| {
                    scalar_string(v.clone())
                        .ok_or_else(|| serde::de::Error::custom(format!("expected a string, got {v}")))
                })
                .collect(),
            Some(v) => scalar_string(v.clone())
                .map(|s| vec![s])
                .ok_or_else(|| serde::de::Error::custom(format!("expected a list of strings, got {v}"))),
        }
    }
}

/// Requires a present, non-empty field, answering MLflow's message otherwise.
pub fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) | None => Err(ApiError::missing(field)),
    }
}

/// The run id under either spelling the client sends (`run_id`, `run_uuid`).
pub fn run_id<'a>(run_id: &'a Option<String>, run_uuid: &'a Option<String>) -> Result<&'a str, ApiError> {
    match (run_id.as_deref().filter(|s| !s.is_empty()), run_uuid.as_deref().filter(|s| !s.is_empty())) {
        (Some(a), _) => Ok(a),
        (None, Some(b)) => Ok(b),
        (None, None) => Err(ApiError::missing("run_id")),
    }
}
