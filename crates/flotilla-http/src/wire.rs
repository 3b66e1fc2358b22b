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
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;
#[cfg(test)]
use flotilla_core::validation::MAX_REQUEST_LIST_ITEMS;

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
                return object(&bytes).map(Mlflow);
            }
            return json_object(&bytes).map(Mlflow);
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

/// Largest JSON text accepted inside a double-encoded body (a JSON string
/// holding the object, as old clients send it). The string is unescaped into
/// a second copy before it is read, so this form gets a far smaller limit
/// than [`MAX_JSON_BODY`]; modern clients send the object itself.
pub const MAX_DOUBLE_ENCODED_BODY: usize = 1024 * 1024;

/// A body that is not a plain JSON object: empty (an empty message), or a
/// JSON string holding the object (old clients encode twice). The inner text
/// is read straight into `T`, never into a `Value` tree.
fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_value(Value::Object(Map::new()))
            .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'"') {
        return Err(ApiError::bad_request("Request body must be a JSON object"));
    }
    // An escape is at most six bytes (`\u0000`) for one: past this the text cannot fit.
    if bytes.len() > 6 * MAX_DOUBLE_ENCODED_BODY + 2 + bytes.iter().filter(|b| b.is_ascii_whitespace()).count() {
        return Err(double_encoded_too_large());
    }
    let inner: String = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    if inner.len() > MAX_DOUBLE_ENCODED_BODY {
        return Err(double_encoded_too_large());
    }
    if inner.bytes().find(|b| !b.is_ascii_whitespace()) != Some(b'{') {
        return Err(ApiError::bad_request("Request body must be a JSON object"));
    }
    object(inner.as_bytes())
}

fn double_encoded_too_large() -> ApiError {
    ApiError::invalid(format!(
        "A request body encoded as a JSON string may hold at most {MAX_DOUBLE_ENCODED_BODY} bytes; send the JSON object itself"
    ))
}

/// Reads a JSON object straight into `T`: a wrong field and broken JSON are both a client's
/// `INVALID_PARAMETER_VALUE`, as MLflow 3.17.2 answers them (tests/differential).
fn object<T: DeserializeOwned>(json: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(json).map_err(|e| {
        if e.is_data() {
            ApiError::invalid(format!("Invalid request body: {e}"))
        } else {
            ApiError::invalid(format!("Malformed JSON in request body: {e}"))
        }
    })
}

/// Lenient field readers for request messages. Each reads one scalar (or,
/// for repeated fields, a capped list of them) straight from the body: a
/// field holding a large array or object is refused where it starts rather
/// than built into a `Value` tree.
pub mod lenient {
    use std::fmt;

    use flotilla_core::validation::MAX_REQUEST_LIST_ITEMS;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    /// A JSON scalar as protobuf's JSON mapping may write a field.
    enum Scalar {
        Null,
        Bool(bool),
        Int(i64),
        UInt(u64),
        Float(f64),
        Str(String),
    }

    impl Scalar {
        /// How the value reads as text (`1`, `1.5`, `true`), `None` for null.
        fn into_string(self) -> Option<String> {
            match self {
                Scalar::Null => None,
                Scalar::Bool(b) => Some(b.to_string()),
                Scalar::Int(i) => Some(i.to_string()),
                Scalar::UInt(u) => Some(u.to_string()),
                Scalar::Float(f) => {
                    Some(serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string()))
                }
                Scalar::Str(s) => Some(s),
            }
        }

        fn describe(&self) -> String {
            match self {
                Scalar::Null => "null".into(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::UInt(u) => u.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Str(s) => format!("'{}'", flotilla_core::validation::truncate(s, 64)),
            }
        }
    }

    /// Reads a scalar, or (with `list`) a list of at most
    /// [`MAX_REQUEST_LIST_ITEMS`] scalars.
    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, number or boolean")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
            Ok(Scalar::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
            Ok(Scalar::UInt(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
            Ok(Scalar::Float(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
            Ok(Scalar::Str(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
            Ok(Scalar::Str(v))
        }
    }

    impl<'de> serde::Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ScalarVisitor)
        }
    }

    fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }

    /// A string field that also accepts a number (`"experiment_id": 1`).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(scalar(d)?.into_string())
    }

    /// An int64 field as a number or a decimal string.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i)),
            Scalar::UInt(u) => {
                i64::try_from(u).map(Some).map_err(|_| de::Error::custom(format!("expected an integer, got {u}")))
            }
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
            Scalar::Str(s) => {
                s.trim().parse().map(Some).map_err(|_| de::Error::custom(format!("expected an integer, got '{s}'")))
            }
            other @ (Scalar::Float(_) | Scalar::Bool(_)) => {
                Err(de::Error::custom(format!("expected an integer, got {}", other.describe())))
            }
        }
    }

    /// A double as a number or a string, including `NaN` and `±Infinity`.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i as f64)),
            Scalar::UInt(u) => Ok(Some(u as f64)),
            Scalar::Float(f) => Ok(Some(f)),
            Scalar::Str(s) => match s.trim() {
                "NaN" | "nan" => Ok(Some(f64::NAN)),
                "Infinity" | "inf" | "+Infinity" => Ok(Some(f64::INFINITY)),
                "-Infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
                t => t.parse().map(Some).map_err(|_| de::Error::custom(format!("expected a number, got '{s}'"))),
            },
            other @ Scalar::Bool(_) => Err(de::Error::custom(format!("expected a number, got {}", other.describe()))),
        }
    }

    /// A boolean as JSON or as `true`/`false` in any case.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Bool(b) => Ok(Some(b)),
            Scalar::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Scalar::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            other @ (Scalar::Str(_) | Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_)) => {
                Err(de::Error::custom(format!("expected a boolean, got {}", other.describe())))
            }
        }
    }

    struct StringsVisitor;

    impl<'de> Visitor<'de> for StringsVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string or a list of at most {MAX_REQUEST_LIST_ITEMS} strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<String>, E> {
            Ok(Scalar::Float(v).into_string().into_iter().collect())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<String>, E> {
            Ok(vec![v])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Scalar>()? {
                if out.len() == MAX_REQUEST_LIST_ITEMS {
                    return Err(de::Error::custom(format!(
                        "a list in a request may hold at most {MAX_REQUEST_LIST_ITEMS} items"
                    )));
                }
                let text = item.into_string().ok_or_else(|| de::Error::custom("expected a string, got null"))?;
                out.push(text);
            }
            Ok(out)
        }
    }

    /// A repeated string field: one value (a single query key) or a list.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(StringsVisitor)
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

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Msg {
        #[serde(default, deserialize_with = "lenient::string")]
        id: Option<String>,
        #[serde(default, deserialize_with = "lenient::i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "lenient::f64")]
        x: Option<f64>,
        #[serde(default, deserialize_with = "lenient::bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "lenient::strings")]
        ids: Vec<String>,
    }

    fn read(body: &str) -> Result<Msg, u16> {
        let bytes = body.as_bytes();
        let result = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            object(bytes)
        } else {
            json_object(bytes)
        };
        result.map_err(|e| e.status.as_u16())
    }

    #[test]
    fn lenient_fields_read_scalars_as_protobuf_writes_them() {
        let m = read(r#"{"id": 7, "n": "12", "x": "NaN", "b": "TRUE", "ids": 3}"#).unwrap();
        assert_eq!(
            (m.id.as_deref(), m.n, m.b, m.ids.as_slice()),
            (Some("7"), Some(12), Some(true), &["3".to_string()][..])
        );
        assert!(m.x.unwrap().is_nan());
        let m = read(r#"{"id": 1.5, "n": 4.0, "ids": ["a", 1, true]}"#).unwrap();
        assert_eq!((m.id.as_deref(), m.n), (Some("1.5"), Some(4)));
        assert_eq!(m.ids, ["a", "1", "true"]);
        assert_eq!(read(r#"{"id": null, "ids": null}"#).unwrap(), read("{}").unwrap());
    }

    #[test]
    fn structures_where_scalars_belong_are_refused_where_they_start() {
        // (body, status): a wrong shape is the client's 400, never a tree built first.
        let table = [
            (r#"{"id": [1, 2]}"#, 400),
            (r#"{"id": {"a": 1}}"#, 400),
            (r#"{"n": [1]}"#, 400),
            (r#"{"b": 1}"#, 400),
            (r#"{"ids": [[1]]}"#, 400),
            (r#"{"ids": [null]}"#, 400),
            (r#"{"ids": {"a": 1}}"#, 400),
        ];
        for (body, status) in table {
            assert_eq!(read(body).unwrap_err(), status, "{body}");
        }
        let many = format!(r#"{{"ids": [{}]}}"#, vec!["1"; MAX_REQUEST_LIST_ITEMS + 1].join(","));
        assert_eq!(read(&many).unwrap_err(), 400);
        let most = format!(r#"{{"ids": [{}]}}"#, vec!["1"; MAX_REQUEST_LIST_ITEMS].join(","));
        assert_eq!(read(&most).unwrap().ids.len(), MAX_REQUEST_LIST_ITEMS);
    }

    #[test]
    fn double_encoded_bodies_are_read_up_to_their_limit() {
        let inner = |pad: usize| format!(r#"{{"id": "{}"}}"#, "x".repeat(pad));
        let overhead = inner(0).len();
        let at = serde_json::to_string(&inner(MAX_DOUBLE_ENCODED_BODY - overhead)).unwrap();
        assert_eq!(read(&at).unwrap().id.map(|s| s.len()), Some(MAX_DOUBLE_ENCODED_BODY - overhead));
        let past = serde_json::to_string(&inner(MAX_DOUBLE_ENCODED_BODY - overhead + 1)).unwrap();
        assert_eq!(read(&past).unwrap_err(), 400);
        for body in ["\"[1, 2]\"", "[1]", "\"not json\"", "3"] {
            assert_eq!(read(body).unwrap_err(), 400, "{body}");
        }
        assert_eq!(read("  ").unwrap(), read("{}").unwrap());
    }
}
