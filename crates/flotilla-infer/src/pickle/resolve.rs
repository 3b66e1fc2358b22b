//! From the machine's arena to the [`Value`] tree: recorded calls of numpy's
//! helpers become arrays, dtypes and numbers; calls of allow-listed classes
//! become objects. Shared nodes are visited again (a value tree has no
//! sharing), under a depth limit (a cyclic pickle stops there) and a budget
//! of values made (a pickle sharing one list a billion times stops there);
//! arrays are made once and shared.

use std::collections::HashMap;
use std::sync::Arc;

use super::Limits;
use super::allow::GlobalKind;
use super::vm::{Id, Node};
use crate::InferError;
use crate::pyvalue::check_fields;
use crate::pyvalue::{Array, ArrayData, DType, Field, Object, Value};

pub struct Resolver<'a> {
    nodes: &'a [Node],
    limits: &'a Limits,
    made: usize,
    arrays: HashMap<Id, Arc<Array>>,
}

fn invalid(what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(format!("pickle: {what}"))
}

impl<'a> Resolver<'a> {
    pub fn new(nodes: &'a [Node], limits: &'a Limits) -> Self {
        Self { nodes, limits, made: 0, arrays: HashMap::new() }
    }

    pub fn value(&mut self, id: Id, depth: usize) -> Result<Value, InferError> {
        if depth > self.limits.max_depth {
            return Err(invalid(format_args!(
                "values nest deeper than {} (or refer to themselves)",
                self.limits.max_depth
            )));
        }
        self.made += 1;
        if self.made > self.limits.max_values {
            return Err(invalid(format_args!(
                "more than {} values once shared ones are counted",
                self.limits.max_values
            )));
        }
        let depth = depth + 1;
        Ok(match &self.nodes[id as usize] {
            Node::None => Value::None,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::Int(*i),
            Node::Float(f) => Value::Float(*f),
            Node::Str(s) => Value::Str(s.clone()),
            Node::Bytes(b) => Value::Bytes(b.clone()),
            Node::List(items) | Node::Tuple(items) | Node::Set(items) => Value::List(self.values(items, depth)?),
            Node::Dict(items) => Value::Dict(
                items
                    .iter()
                    .map(|(k, v)| Ok((self.value(*k, depth)?, self.value(*v, depth)?)))
                    .collect::<Result<_, InferError>>()?,
            ),
            Node::Global { module, name, .. } => Value::Str(format!("{module}.{name}")),
            Node::Call { callee, args, state } => self.call(id, *callee, *args, *state, depth)?,
        })
    }

    fn values(&mut self, ids: &[Id], depth: usize) -> Result<Vec<Value>, InferError> {
        ids.iter().map(|id| self.value(*id, depth)).collect()
    }

    fn args(&mut self, args: Id, depth: usize) -> Result<Vec<Value>, InferError> {
        let args = self.value(args, depth)?;
        if let Value::List(items) = args { Ok(items) } else { Err(args.wrong("call arguments in a tuple")) }
    }

    fn call(&mut self, id: Id, callee: Id, args: Id, state: Option<Id>, depth: usize) -> Result<Value, InferError> {
        let Node::Global { module, name, kind } = &self.nodes[callee as usize] else {
            return Err(invalid("call of a value that is not a global"));
        };
        let kind = *kind;
        if let Some(array) = self.arrays.get(&id) {
            return Ok(Value::Array(array.clone()));
        }
        let args = self.args(args, depth)?;
        let state = state.map(|s| self.value(s, depth)).transpose()?.unwrap_or(Value::None);
        let value = match kind {
            GlobalKind::Class => Value::Object(Box::new(Object { class: format!("{module}.{name}"), args, state })),
            GlobalKind::DType => Value::DType(dtype(&args, &state)?),
            GlobalKind::FromBuffer => Value::Array(Arc::new(from_buffer(&args)?)),
            GlobalKind::Reconstruct => Value::Array(Arc::new(reconstruct(state)?)),
            GlobalKind::Scalar => scalar(&args)?,
            GlobalKind::Latin1Bytes => latin1(&args)?,
            GlobalKind::NdArray | GlobalKind::DictLike => {
                return Err(invalid(format_args!("{module}.{name} called in a way numpy never pickles")));
            }
        };
        if let Value::Array(array) = &value {
            self.arrays.insert(id, array.clone());
        }
        Ok(value)
    }
}

/// `numpy.dtype(name, align, copy)` with its BUILD state
/// `(version, byteorder, subarray, names, fields, elsize, alignment, flags)`.
fn dtype(args: &[Value], state: &Value) -> Result<DType, InferError> {
    let name = args.first().ok_or_else(|| invalid("numpy.dtype without a name"))?.as_str()?;
    let mut dtype = DType::parse(name)?;
    let Value::List(state) = state else { return Ok(dtype) };
    if let Some(Value::Str(order)) = state.get(1) {
        dtype.big_endian = order == ">";
    }
    if !matches!(state.get(2), None | Some(Value::None)) {
        return Err(InferError::Unsupported("numpy sub-array dtypes".into()));
    }
    if let (Some(Value::List(names)), Some(fields)) = (state.get(3), state.get(4)) {
        for name in names {
            let name = name.as_str()?;
            let spec = fields.get(name).ok_or_else(|| invalid(format_args!("dtype field '{name}' has no spec")))?;
            let spec = spec.as_list()?;
            let (Some(Value::DType(field)), Some(offset)) = (spec.first(), spec.get(1)) else {
                return Err(invalid(format_args!("dtype field '{name}' is not (dtype, offset)")));
            };
            dtype.fields.push(Field { name: name.to_string(), dtype: field.clone(), offset: offset.as_usize()? });
        }
    }
    if let Some(size) = state.get(5).filter(|v| !matches!(v, Value::Int(-1))) {
        dtype.size = size.as_usize()?;
    }
    check_fields(&dtype)?;
    Ok(dtype)
}

fn shape(value: &Value) -> Result<Vec<usize>, InferError> {
    value.as_list()?.iter().map(Value::as_usize).collect()
}

/// `_frombuffer(buffer, dtype, shape, order)`: numpy's protocol-5 form.
fn from_buffer(args: &[Value]) -> Result<Array, InferError> {
    let [Value::Bytes(bytes), Value::DType(dtype), dims, Value::Str(order)] = args else {
        return Err(invalid("_frombuffer takes (buffer, dtype, shape, order)"));
    };
    Array::from_bytes(dtype.clone(), shape(dims)?, bytes, order == "F")
}

/// `_reconstruct(ndarray, (0,), b'b')` with its BUILD state
/// `(version, shape, dtype, is_fortran, data)`: data is bytes, or a list of
/// objects for `dtype=object`.
fn reconstruct(state: Value) -> Result<Array, InferError> {
    let Value::List(mut state) = state else { return Err(invalid("ndarray without state")) };
    if state.len() != 5 {
        return Err(invalid("ndarray state is not (version, shape, dtype, fortran, data)"));
    }
    let data = state.pop().unwrap_or(Value::None);
    let fortran = state[3].as_bool()?;
    let Value::DType(dtype) = &state[2] else { return Err(invalid("ndarray state has no dtype")) };
    let dims = shape(&state[1])?;
    if let Value::Bytes(bytes) = &data {
        return Array::from_bytes(dtype.clone(), dims, bytes, fortran);
    }
    if let Value::List(items) = data
        && dtype.kind == 'O'
    {
        return Array::from_objects(dims, items, fortran);
    }
    Err(invalid("ndarray data is neither bytes nor, for dtype=object, a list"))
}

/// `scalar(dtype, bytes)`: one numpy number.
fn scalar(args: &[Value]) -> Result<Value, InferError> {
    let [Value::DType(dtype), Value::Bytes(bytes)] = args else {
        return Err(invalid("numpy scalar takes (dtype, bytes)"));
    };
    let array = Array::from_bytes(dtype.clone(), vec![1], bytes, false)?;
    if let ArrayData::Str(mut s) = array.data {
        return Ok(Value::Str(s.pop().unwrap_or_default()));
    }
    Ok(match dtype.kind {
        'f' => Value::Float(array.to_f64()?[0]),
        'b' => Value::Bool(array.to_f64()?[0] != 0.0),
        _ => Value::Int(array.to_i64()?[0]),
    })
}

/// `_codecs.encode(text, 'latin1')`: how protocol 2 carries bytes.
fn latin1(args: &[Value]) -> Result<Value, InferError> {
    let [Value::Str(text), Value::Str(codec)] = args else {
        return Err(invalid("_codecs.encode takes (text, codec)"));
    };
    if codec != "latin1" && codec != "latin-1" {
        return Err(InferError::Unsupported(format!("_codecs.encode with codec '{codec}'")));
    }
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| invalid("latin1 text has a character past 255")))
        .collect::<Result<Vec<u8>, _>>()
        .map(Value::Bytes)
}
