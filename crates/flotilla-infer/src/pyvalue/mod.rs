//! The value tree a Python model file is read into — what a pickle
//! ([`crate::pickle`]) or a skops archive ([`crate::skops`]) holds, as data:
//! numbers, strings, containers, numpy arrays and dtypes, and objects of
//! allow-listed classes with their state. Nothing here can run code; the
//! estimators in [`crate::sklearn`] are built from these values.

mod array;

use std::sync::Arc;

pub(crate) use array::check_fields;
pub use array::{Array, ArrayData, DType, Field};

use crate::InferError;

/// One Python value, as read from a model file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// A list, tuple, set or frozenset, in file order.
    List(Vec<Value>),
    /// A dict (or `OrderedDict`, `defaultdict`) in insertion order.
    Dict(Vec<(Value, Value)>),
    Array(Arc<Array>),
    DType(DType),
    Object(Box<Object>),
}

/// An instance of an allow-listed class: its constructor arguments and the
/// state `__setstate__` (pickle's BUILD) would have received.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `module.Name`, e.g. `sklearn.tree._classes.DecisionTreeRegressor`.
    pub class: String,
    pub args: Vec<Value>,
    pub state: Value,
}

impl Object {
    /// The class name without its module, e.g. `DecisionTreeRegressor`.
    pub fn short_class(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    /// An attribute from the object's state dict, `None` when absent.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.state.get(name)
    }

    /// An attribute that must be present.
    pub fn need(&self, name: &str) -> Result<&Value, InferError> {
        self.attr(name)
            .ok_or_else(|| InferError::InvalidModel(format!("{} has no attribute '{name}'", self.short_class())))
    }
}

fn invalid(what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(what.to_string())
}

impl Value {
    /// A dict entry by string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Dict(items) => items.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "str",
            Self::Bytes(_) => "bytes",
            Self::List(_) => "list",
            Self::Dict(_) => "dict",
            Self::Array(_) => "ndarray",
            Self::DType(_) => "dtype",
            Self::Object(_) => "object",
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    pub fn as_object(&self) -> Result<&Object, InferError> {
        match self {
            Self::Object(o) => Ok(o),
            other => Err(invalid(format_args!("expected an estimator object, found {}", other.kind()))),
        }
    }

    pub fn as_str(&self) -> Result<&str, InferError> {
        match self {
            Self::Str(s) => Ok(s),
            other => Err(invalid(format_args!("expected a string, found {}", other.kind()))),
        }
    }

    pub fn as_list(&self) -> Result<&[Value], InferError> {
        match self {
            Self::List(items) => Ok(items),
            Self::Array(a) => match &a.data {
                ArrayData::Object(items) => Ok(items),
                _ => Err(invalid("expected a list, found a numeric array")),
            },
            other => Err(invalid(format_args!("expected a list, found {}", other.kind()))),
        }
    }

    pub fn as_bool(&self) -> Result<bool, InferError> {
        match self {
            Self::Bool(b) => Ok(*b),
            Self::Int(i) => Ok(*i != 0),
            other => Err(invalid(format_args!("expected a bool, found {}", other.kind()))),
        }
    }

    pub fn as_i64(&self) -> Result<i64, InferError> {
        match self {
            Self::Int(i) => Ok(*i),
            Self::Bool(b) => Ok(i64::from(*b)),
            Self::Array(a) if a.len() == 1 => Ok(a.to_i64()?[0]),
            other => Err(invalid(format_args!("expected an integer, found {}", other.kind()))),
        }
    }

    pub fn as_usize(&self) -> Result<usize, InferError> {
        let i = self.as_i64()?;
        usize::try_from(i).map_err(|_| invalid(format_args!("expected a count, found {i}")))
    }

    pub fn as_f64(&self) -> Result<f64, InferError> {
        match self {
            Self::Float(f) => Ok(*f),
            Self::Int(i) => Ok(*i as f64),
            Self::Bool(b) => Ok(f64::from(u8::from(*b))),
            Self::Array(a) if a.len() == 1 => Ok(a.to_f64()?[0]),
            other => Err(invalid(format_args!("expected a number, found {}", other.kind()))),
        }
    }

    pub fn as_array(&self) -> Result<&Array, InferError> {
        match self {
            Self::Array(a) => Ok(a),
            other => Err(invalid(format_args!("expected an ndarray, found {}", other.kind()))),
        }
    }

    /// Numbers as `f64`: a numeric array, a list of numbers, or one number.
    pub fn to_f64s(&self) -> Result<Vec<f64>, InferError> {
        match self {
            Self::Array(a) => a.to_f64(),
            Self::List(items) => items.iter().map(Value::as_f64).collect(),
            other => Ok(vec![other.as_f64()?]),
        }
    }
}
