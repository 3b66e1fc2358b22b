//! The document tree both XGBoost encodings (JSON and UBJSON) decode into,
//! with the typed arrays UBJSON's optimized containers carry kept typed.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// One decoded value. Objects keep their keys in file order; XGBoost's
/// objects are small, so lookups scan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    /// A UBJSON `[$d#` container.
    F32s(Vec<f32>),
    /// A UBJSON `[$D#` container.
    F64s(Vec<f64>),
    /// A UBJSON `[$i#`, `[$U#`, `[$I#`, `[$l#` or `[$L#` container.
    Ints(Vec<i64>),
    Object(Vec<(String, Value)>),
}

impl Value {
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Array(_)
            | Value::F32s(_)
            | Value::F64s(_)
            | Value::Ints(_) => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Array(_)
            | Value::F32s(_)
            | Value::F64s(_)
            | Value::Ints(_)
            | Value::Object(_) => None,
        }
    }

    /// A number, or a string holding one: XGBoost writes its parameters as strings.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Null | Value::Array(_) | Value::F32s(_) | Value::F64s(_) | Value::Ints(_) | Value::Object(_) => None,
        }
    }

    /// An integer, or a string holding one.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Float(_)
            | Value::Null
            | Value::Array(_)
            | Value::F32s(_)
            | Value::F64s(_)
            | Value::Ints(_)
            | Value::Object(_) => None,
        }
    }

    /// Elements of a plain array (not of a typed one).
    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::F32s(_)
            | Value::F64s(_)
            | Value::Ints(_)
            | Value::Object(_) => None,
        }
    }

    /// Any numeric array as `f32` (JSON arrays, or UBJSON typed containers).
    pub(crate) fn to_f32s(&self) -> Option<Vec<f32>> {
        match self {
            Value::F32s(v) => Some(v.clone()),
            Value::F64s(v) => Some(v.iter().map(|x| *x as f32).collect()),
            Value::Ints(v) => Some(v.iter().map(|x| *x as f32).collect()),
            Value::Array(items) => items.iter().map(|x| x.as_f64().map(|f| f as f32)).collect(),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Object(_) => None,
        }
    }

    /// Any integer array (booleans count as 0 and 1).
    pub(crate) fn to_i64s(&self) -> Option<Vec<i64>> {
        match self {
            Value::Ints(v) => Some(v.clone()),
            Value::Array(items) => items.iter().map(Value::as_i64).collect(),
            Value::F32s(_)
            | Value::F64s(_)
            | Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Object(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            fields.push((k, v));
        }
        Ok(Value::Object(fields))
    }
}
