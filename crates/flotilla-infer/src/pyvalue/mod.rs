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
        let Self::Dict(items) = self else { return None };
        items.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v)
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

    /// The error for a value that is not the `expected` kind.
    pub fn wrong(&self, expected: &str) -> InferError {
        invalid(format_args!("expected {expected}, found {}", self.kind()))
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    pub fn as_object(&self) -> Result<&Object, InferError> {
        if let Self::Object(o) = self { Ok(o) } else { Err(self.wrong("an estimator object")) }
    }

    pub fn as_str(&self) -> Result<&str, InferError> {
        if let Self::Str(s) = self { Ok(s) } else { Err(self.wrong("a string")) }
    }

    /// A list or tuple, or the elements of an object array.
    pub fn as_list(&self) -> Result<&[Value], InferError> {
        if let Self::List(items) = self {
            return Ok(items);
        }
        if let Self::Array(a) = self
            && let ArrayData::Object(items) = &a.data
        {
            return Ok(items);
        }
        Err(self.wrong("a list"))
    }

    pub fn as_bool(&self) -> Result<bool, InferError> {
        if let Self::Bool(b) = self { Ok(*b) } else { Ok(self.as_i64().map_err(|_| self.wrong("a bool"))? != 0) }
    }

    /// An integer (a bool, or a one-element array, counts).
    pub fn as_i64(&self) -> Result<i64, InferError> {
        if let Self::Int(i) = self {
            return Ok(*i);
        }
        if let Self::Bool(b) = self {
            return Ok(i64::from(*b));
        }
        if let Self::Array(a) = self
            && a.len() == 1
        {
            return Ok(a.to_i64()?[0]);
        }
        Err(self.wrong("an integer"))
    }

    pub fn as_usize(&self) -> Result<usize, InferError> {
        let i = self.as_i64()?;
        usize::try_from(i).map_err(|_| invalid(format_args!("expected a count, found {i}")))
    }

    /// A number (an integer, a bool, or a one-element array, counts).
    pub fn as_f64(&self) -> Result<f64, InferError> {
        if let Self::Float(f) = self {
            return Ok(*f);
        }
        if let Self::Array(a) = self
            && a.len() == 1
        {
            return Ok(a.to_f64()?[0]);
        }
        self.as_i64().map(|i| i as f64).map_err(|_| self.wrong("a number"))
    }

    pub fn as_array(&self) -> Result<&Array, InferError> {
        if let Self::Array(a) = self { Ok(a) } else { Err(self.wrong("an ndarray")) }
    }

    /// Numbers as `f64`: a numeric array, a list of numbers, or one number.
    pub fn to_f64s(&self) -> Result<Vec<f64>, InferError> {
        if let Self::Array(a) = self {
            return a.to_f64();
        }
        if let Self::List(items) = self {
            return items.iter().map(Value::as_f64).collect();
        }
        Ok(vec![self.as_f64()?])
    }
}
