//! skops archives (`model.skops`, what `mlflow.sklearn` and
//! `mlflow.lightgbm` write by default): a zip of `schema.json`, a tree of
//! nodes each naming its loader, class and content, and `.npy` arrays. Read
//! as the data it is into the same [`Value`] tree a pickle gives: an object
//! node's class must be on the pickle reader's allow-list, a node that
//! stands for a function, or a loader not known here, is refused naming it.
//!
//! Sizes are capped: the archive, each member as its directory declares it
//! and as read, and the number of members and of nodes.

mod npy;

#[cfg(test)]
mod tests;

use std::io::{Cursor, Read};
use std::sync::Arc;

use serde_json::Value as Json;

use crate::InferError;
use crate::pickle::check_global;
use crate::pyvalue::{Array, ArrayData, DType, Object, Value};

/// The largest archive read.
pub const MAX_SKOPS_BYTES: usize = 1 << 30;
const MAX_MEMBERS: usize = 1 << 16;
const MAX_NODES: usize = 1 << 24;

fn invalid(what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(format!("skops: {what}"))
}

struct Reader<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// The archive's size: no member can hold more.
    total: usize,
    nodes: usize,
}

/// Reads a skops archive into its value tree.
pub fn read(bytes: &[u8]) -> Result<Value, InferError> {
    if bytes.len() > MAX_SKOPS_BYTES {
        return Err(invalid(format_args!("the archive is {} bytes; at most {MAX_SKOPS_BYTES} are read", bytes.len())));
    }
    let archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| invalid(format_args!("not a zip archive: {e}")))?;
    if archive.len() > MAX_MEMBERS {
        return Err(invalid(format_args!("{} members; at most {MAX_MEMBERS}", archive.len())));
    }
    let mut reader = Reader { archive, total: bytes.len(), nodes: 0 };
    let schema = reader.member("schema.json")?;
    let schema: Json = serde_json::from_slice(&schema).map_err(|e| invalid(format_args!("schema.json: {e}")))?;
    match schema.get("protocol").and_then(Json::as_i64) {
        Some(1..=2) => {}
        other => return Err(InferError::Unsupported(format!("skops protocol {other:?} (1 and 2 are read)"))),
    }
    reader.node(&schema)
}

fn text<'j>(node: &'j Json, key: &str) -> Result<&'j str, InferError> {
    node.get(key).and_then(Json::as_str).ok_or_else(|| invalid(format_args!("a node has no '{key}'")))
}

impl Reader<'_> {
    /// One member's bytes: its declared size is checked before reading, and
    /// the read is capped at it (the archive's own size bounds both).
    fn member(&mut self, name: &str) -> Result<Vec<u8>, InferError> {
        let cap = self.total;
        let file = self.archive.by_name(name).map_err(|e| invalid(format_args!("member {name}: {e}")))?;
        if file.compression() != zip::CompressionMethod::Stored {
            return Err(InferError::Unsupported(format!("skops member {name} is compressed ({})", file.compression())));
        }
        let size = usize::try_from(file.size()).unwrap_or(usize::MAX);
        if size > cap {
            return Err(invalid(format_args!("member {name} declares {size} bytes in an archive of {cap}")));
        }
        let mut out = Vec::with_capacity(size);
        file.take(size as u64).read_to_end(&mut out).map_err(|e| invalid(format_args!("member {name}: {e}")))?;
        Ok(out)
    }

    fn class(node: &Json) -> Result<String, InferError> {
        let (module, name) = (text(node, "__module__")?, text(node, "__class__")?);
        check_global(module, name)?;
        Ok(format!("{module}.{name}"))
    }

    fn node(&mut self, node: &Json) -> Result<Value, InferError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(invalid(format_args!("more than {MAX_NODES} nodes")));
        }
        let content = node.get("content").unwrap_or(&Json::Null);
        Ok(match text(node, "__loader__")? {
            "JsonNode" => json_value(content.as_str().ok_or_else(|| invalid("a JSON node without text"))?)?,
            "ListNode" | "TupleNode" | "SetNode" => Value::List(self.nodes_of(content)?),
            "DictNode" => self.dict(node)?,
            "DefaultDictNode" => {
                self.node(content.get("main").ok_or_else(|| invalid("a defaultdict without main"))?)?
            }
            "ObjectNode" | "TreeNode" | "LossNode" | "ReduceNode" => {
                let class = Self::class(node)?;
                let args = match node.get("__reduce__").and_then(|r| r.get("args")) {
                    Some(args) => self.node(args)?.as_list()?.to_vec(),
                    None => Vec::new(),
                };
                let state = if content.is_null() { Value::None } else { self.node(content)? };
                Value::Object(Box::new(Object { class, args, state }))
            }
            "NdArrayNode" => Value::Array(Arc::new(self.array(node)?)),
            "DTypeNode" => Value::DType(dtype_of(&self.array(content)?)),
            "SliceNode" => {
                let bound = |key: &str| content.get(key).and_then(Json::as_i64).map_or(Value::None, Value::Int);
                let args = vec![bound("start"), bound("stop"), bound("step")];
                Value::Object(Box::new(Object { class: "builtins.slice".into(), args, state: Value::None }))
            }
            "TypeNode" => Value::Str(format!("{}.{}", text(node, "__module__")?, text(node, "__class__")?)),
            // Random generators' states: no estimator reads them.
            "RandomStateNode" | "RandomGeneratorNode" | "BitGeneratorNode" => Value::None,
            other => {
                return Err(InferError::Unsupported(format!(
                    "skops node {other} ({}.{}): only data and allow-listed classes are read",
                    text(node, "__module__").unwrap_or("?"),
                    text(node, "__class__").unwrap_or("?")
                )));
            }
        })
    }

    fn nodes_of(&mut self, content: &Json) -> Result<Vec<Value>, InferError> {
        content.as_array().ok_or_else(|| invalid("a list node without a list"))?.iter().map(|n| self.node(n)).collect()
    }

    fn dict(&mut self, node: &Json) -> Result<Value, InferError> {
        let content =
            node.get("content").and_then(Json::as_object).ok_or_else(|| invalid("a dict node without a map"))?;
        let key_types: Vec<String> = node
            .get("key_types")
            .and_then(|k| k.get("content"))
            .and_then(Json::as_array)
            .map(|types| types.iter().map(|t| text(t, "__class__").unwrap_or("str").to_string()).collect())
            .unwrap_or_default();
        let mut items = Vec::with_capacity(content.len());
        for (i, (key, value)) in content.iter().enumerate() {
            let key = match key_types.get(i).map(String::as_str) {
                Some("int") => {
                    Value::Int(key.parse().map_err(|_| invalid(format_args!("dict key '{key}' is not an int")))?)
                }
                _ => Value::Str(key.clone()),
            };
            items.push((key, self.node(value)?));
        }
        Ok(Value::Dict(items))
    }

    fn array(&mut self, node: &Json) -> Result<Array, InferError> {
        match node.get("type").and_then(Json::as_str) {
            Some("numpy") => {
                let file = text(node, "file")?;
                let bytes = self.member(file)?;
                npy::read(file, &bytes)
            }
            Some("json") => {
                let shape = node.get("shape").ok_or_else(|| invalid("an object array without a shape"))?;
                let shape = self.node(shape)?.as_list()?.iter().map(Value::as_usize).collect::<Result<Vec<_>, _>>()?;
                let mut items = Vec::new();
                flatten(self.node_list(node.get("content").unwrap_or(&Json::Null))?, &mut items);
                Array::from_objects(shape, items, false)
            }
            other => Err(InferError::Unsupported(format!("skops array of type {other:?}"))),
        }
    }

    fn node_list(&mut self, content: &Json) -> Result<Value, InferError> {
        Ok(Value::List(self.nodes_of(content)?))
    }
}

/// Nested lists (an object array's `tolist()`) flattened in C order.
fn flatten(value: Value, out: &mut Vec<Value>) {
    if let Value::List(items) = value {
        items.into_iter().for_each(|v| flatten(v, out));
    } else {
        out.push(value);
    }
}

/// The dtype a `DTypeNode` stands for (skops writes an empty array of it).
fn dtype_of(array: &Array) -> DType {
    match &array.data {
        ArrayData::Numeric { dtype, .. } | ArrayData::Records { dtype, .. } => dtype.clone(),
        ArrayData::Str(_) => DType { kind: 'U', ..DType::default() },
        ArrayData::Object(_) => DType { kind: 'O', size: 8, ..DType::default() },
    }
}

/// A `JsonNode`'s text: JSON, with Python's `NaN` and `Infinity`.
fn json_value(text: &str) -> Result<Value, InferError> {
    Ok(match text {
        "NaN" => Value::Float(f64::NAN),
        "Infinity" => Value::Float(f64::INFINITY),
        "-Infinity" => Value::Float(f64::NEG_INFINITY),
        _ => match serde_json::from_str::<Json>(text).map_err(|e| invalid(format_args!("JSON node: {e}")))? {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
            Json::String(s) => Value::Str(s),
            Json::Array(_) | Json::Object(_) => {
                return Err(InferError::Unsupported("skops JSON nodes holding containers".into()));
            }
        },
    })
}
