//! A registered model's version number, the one type every layer holds it
//! in: store rows, MLflow and fleet entities, serving's resolver and cache,
//! the V2 adapter, the UI and the CLI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use crate::{Error, Result, validation};

/// The number of a registered model's version: positive, given in
/// increasing order per model and never reused after a delete, so ordering
/// by it is ordering by registration.
///
/// On the fleet API's wire it is a JSON number (this type's own serde
/// form). MLflow's wire writes it as a string (`"version": "3"`): MLflow
/// entities serialize it through [`as_string`], and MLflow requests keep
/// the parameter as sent, parsed by [`VersionNumber::parse_param`] where MLflow
/// would, so a bad one is answered as MLflow answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct VersionNumber(i64);

impl VersionNumber {
    /// `None` unless `n` is positive.
    pub fn new(n: i64) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }

    /// The number, for arithmetic and SQL parameters.
    pub fn get(self) -> i64 {
        self.0
    }

    /// A version as MLflow requests send it: a positive integer in a string,
    /// spaces around it allowed; anything else is MLflow's
    /// `INVALID_PARAMETER_VALUE` ("Parameter 'version' must be an integer").
    pub fn parse_param(text: &str) -> Result<Self> {
        text.trim().parse::<i64>().ok().and_then(Self::new).ok_or_else(|| not_a_version(text))
    }

    /// A number a request gave where MLflow takes a version: refused as
    /// [`VersionNumber::parse_param`] refuses its text, unless positive.
    pub fn from_param(n: i64) -> Result<Self> {
        Self::new(n).ok_or_else(|| not_a_version(&n.to_string()))
    }
}

/// The strict form: an integer as Rust writes one, positive, nothing around it
/// (a V2 path's `versions/{v}`, where anything else names an alias).
impl FromStr for VersionNumber {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> std::result::Result<Self, ParseVersionError> {
        s.parse::<i64>().ok().and_then(Self::new).ok_or(ParseVersionError)
    }
}

/// Text that is not a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseVersionError;

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a version number is a positive integer")
    }
}

impl std::error::Error for ParseVersionError {}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<i64> for VersionNumber {
    type Error = String;

    fn try_from(n: i64) -> std::result::Result<Self, String> {
        Self::new(n).ok_or_else(|| format!("a version number is a positive integer, got {n}"))
    }
}

impl From<VersionNumber> for i64 {
    fn from(v: VersionNumber) -> i64 {
        v.0
    }
}

fn not_a_version(given: &str) -> Error {
    Error::invalid(format!("Parameter 'version' must be an integer, got '{}'.", validation::truncate(given, 64)))
}

/// MLflow's wire form of a version: the number as a JSON string.
pub fn as_string<S: Serializer>(v: &VersionNumber, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A version that serializes as a string, for protocols that write it so
/// (MLflow, the Open Inference Protocol): `json!(v.as_text())` is `"3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionText(pub VersionNumber);

impl Serialize for VersionText {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        as_string(&self.0, s)
    }
}

impl VersionNumber {
    /// This version in its string form (see [`VersionText`]).
    pub fn as_text(self) -> VersionText {
        VersionText(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_positive_and_read_as_mlflow_sends_them() {
        assert_eq!(VersionNumber::new(3).map(VersionNumber::get), Some(3));
        assert_eq!(VersionNumber::new(0), None);
        assert_eq!(VersionNumber::parse_param(" 12 ").unwrap().to_string(), "12");
        for bad in ["", "abc", "0", "-1", "1.5"] {
            assert!(VersionNumber::parse_param(bad).is_err(), "{bad}");
            assert!(bad.parse::<VersionNumber>().is_err(), "{bad}");
        }
        assert_eq!("12".parse::<VersionNumber>().ok(), VersionNumber::new(12));
        assert!(" 12".parse::<VersionNumber>().is_err());
        {}
        assert!(VersionNumber::new(2) < VersionNumber::new(10));
    }

    #[test]
    fn fleet_wire_is_a_number() {
        let v = VersionNumber::new(7).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "7");
        assert_eq!(serde_json::from_str::<VersionNumber>("7").unwrap(), v);
        assert!(serde_json::from_str::<VersionNumber>("0").is_err());
        #[derive(Serialize)]
        struct Mlflow {
            #[serde(serialize_with = "as_string")]
            version: VersionNumber,
        }
        assert_eq!(serde_json::to_string(&Mlflow { version: v }).unwrap(), r#"{"version":"7"}"#);
        assert_eq!(serde_json::to_value(v.as_text()).unwrap(), serde_json::json!("7"));
    }
}
