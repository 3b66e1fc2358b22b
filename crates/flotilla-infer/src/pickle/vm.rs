//! The pickle machine: reads opcodes into an arena of nodes. Containers and
//! objects are nodes addressed by index, so the memo shares them as Python
//! does (a dict memoized empty and filled later is one dict) without copying,
//! and BUILD, APPEND and SETITEMS change the node in place. Calls are only
//! recorded (callee, arguments, state): nothing runs.

use std::collections::HashMap;

use super::allow::{self, GlobalKind};
use super::{Limits, malformed};
use crate::InferError;

pub type Id = u32;

/// One value under construction.
#[derive(Debug)]
pub enum Node {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    Global {
        module: String,
        name: String,
        kind: GlobalKind,
    },
    /// An allow-listed global called with `args` (a tuple node), and the state
    /// a BUILD gave it.
    Call {
        callee: Id,
        args: Id,
        state: Option<Id>,
    },
}

/// The machine's state; [`Machine::run`] returns the arena and the root.
pub struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    pub nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    /// By index; a map, so a file naming a high index costs one entry.
    memo: HashMap<usize, Id>,
}

impl<'a> Machine<'a> {
    pub fn new(data: &'a [u8], limits: &'a Limits) -> Self {
        Self { data, pos: 0, limits, nodes: Vec::new(), stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], InferError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len()).ok_or_else(|| {
            malformed(self.pos, format_args!("needs {n} more bytes; the file ends at {}", self.data.len()))
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, InferError> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], InferError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length prefix, checked against the bytes left before anything is allocated.
    fn len(&mut self, width: usize) -> Result<usize, InferError> {
        let raw = match width {
            1 => u64::from(self.u8()?),
            4 => u64::from(u32::from_le_bytes(self.le()?)),
            _ => u64::from_le_bytes(self.le()?),
        };
        let left = (self.data.len() - self.pos) as u64;
        if raw > left {
            return Err(malformed(self.pos, format_args!("declares {raw} bytes but only {left} remain")));
        }
        Ok(raw as usize)
    }

    fn line(&mut self) -> Result<&'a str, InferError> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|b| *b == b'\n').ok_or_else(|| malformed(self.pos, "unterminated line"))?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| malformed(self.pos, "line is not UTF-8"))
    }

    fn add(&mut self, node: Node) -> Result<Id, InferError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(InferError::InvalidModel(format!("pickle has more than {} values", self.limits.max_nodes)));
        }
        self.nodes.push(node);
        Ok((self.nodes.len() - 1) as Id)
    }

    fn push(&mut self, node: Node) -> Result<(), InferError> {
        let id = self.add(node)?;
        self.push_id(id)
    }

    fn push_id(&mut self, id: Id) -> Result<(), InferError> {
        if self.stack.len() >= self.limits.max_stack {
            return Err(InferError::InvalidModel(format!("pickle stack deeper than {}", self.limits.max_stack)));
        }
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> Result<Id, InferError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(malformed(self.pos, "pops an empty stack"));
        }
        Ok(self.stack.pop().unwrap_or_default())
    }

    fn top(&self) -> Result<Id, InferError> {
        self.stack.last().copied().ok_or_else(|| malformed(self.pos, "reads an empty stack"))
    }

    /// The items above the last MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Id>, InferError> {
        let mark = self.marks.pop().ok_or_else(|| malformed(self.pos, "has no MARK to pop to"))?;
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, index: usize) -> Result<(), InferError> {
        if index >= self.limits.max_memo {
            return Err(InferError::InvalidModel(format!("pickle memo index {index} past {}", self.limits.max_memo)));
        }
        let id = self.top()?;
        self.memo.insert(index, id);
        Ok(())
    }

    fn memo_get(&mut self, index: usize) -> Result<(), InferError> {
        let id = self
            .memo
            .get(&index)
            .copied()
            .ok_or_else(|| malformed(self.pos, format_args!("reads memo {index}, never stored")))?;
        self.push_id(id)
    }

    fn global(&mut self, module: String, name: String) -> Result<(), InferError> {
        let kind = allow::check(&module, &name)?;
        self.push(Node::Global { module, name, kind })
    }

    fn string(&self, id: Id) -> Result<String, InferError> {
        let Node::Str(s) = &self.nodes[id as usize] else {
            return Err(malformed(self.pos, "STACK_GLOBAL needs two strings"));
        };
        Ok(s.clone())
    }

    /// REDUCE and NEWOBJ: a call of an allow-listed global, recorded.
    fn call(&mut self, callee: Id, args: Id) -> Result<(), InferError> {
        let Node::Global { kind, .. } = &self.nodes[callee as usize] else {
            return Err(InferError::Unsupported("the model pickle calls something that is not a named class".into()));
        };
        if *kind == GlobalKind::DictLike {
            self.push(Node::Dict(Vec::new()))
        } else {
            self.push(Node::Call { callee, args, state: None })
        }
    }

    fn build(&mut self) -> Result<(), InferError> {
        let state = self.pop()?;
        let target = self.top()?;
        let Node::Call { state: slot @ None, .. } = &mut self.nodes[target as usize] else {
            return Err(malformed(self.pos, "BUILD on a value that takes no state"));
        };
        *slot = Some(state);
        Ok(())
    }

    fn append(&mut self, items: Vec<Id>) -> Result<(), InferError> {
        let target = self.top()?;
        let (Node::List(list) | Node::Set(list)) = &mut self.nodes[target as usize] else {
            return Err(malformed(self.pos, "APPEND to a value that is not a list or set"));
        };
        list.extend(items);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Id>) -> Result<(), InferError> {
        if !items.len().is_multiple_of(2) {
            return Err(malformed(self.pos, "SETITEMS with an odd number of items"));
        }
        let target = self.top()?;
        let Node::Dict(dict) = &mut self.nodes[target as usize] else {
            return Err(malformed(self.pos, "SETITEM on a value that is not a dict"));
        };
        dict.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
        Ok(())
    }

    /// Runs to STOP; returns the root value's id.
    pub fn run(&mut self) -> Result<Id, InferError> {
        loop {
            let at = self.pos;
            let op = self.u8().map_err(|_| malformed(at, "ends before STOP"))?;
            match op {
                b'.' => {
                    let root = self.pop()?;
                    return Ok(root);
                }
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(InferError::Unsupported(format!("pickle protocol {proto}")));
                    }
                }
                0x95 => {
                    self.take(8)?;
                }
                b'(' => {
                    if self.marks.len() >= self.limits.max_stack {
                        return Err(InferError::InvalidModel("pickle nests MARKs too deeply".into()));
                    }
                    self.marks.push(self.stack.len());
                }
                b'N' => self.push(Node::None)?,
                0x88 => self.push(Node::Bool(true))?,
                0x89 => self.push(Node::Bool(false))?,
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Node::Int(v.into()))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Node::Int(v.into()))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Node::Int(v.into()))?;
                }
                0x8a | 0x8b => {
                    let n = self.len(if op == 0x8a { 1 } else { 4 })?;
                    let bytes = self.take(n)?;
                    self.push(long(bytes))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.push(Node::Float(v))?;
                }
                b'X' | 0x8c | 0x8d => {
                    let n = self.len(match op {
                        0x8c => 1,
                        b'X' => 4,
                        _ => 8,
                    })?;
                    let text = std::str::from_utf8(self.take(n)?).map_err(|_| malformed(at, "string is not UTF-8"))?;
                    self.push(Node::Str(text.to_string()))?;
                }
                b'B' | b'C' | 0x8e | 0x96 | b'T' | b'U' => {
                    let n = self.len(match op {
                        b'C' | b'U' => 1,
                        b'B' | b'T' => 4,
                        _ => 8,
                    })?;
                    let bytes = self.take(n)?.to_vec();
                    self.push(Node::Bytes(bytes))?;
                }
                b')' => self.push(Node::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                    items.reverse();
                    self.push(Node::Tuple(items))?;
                }
                b']' => self.push(Node::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?;
                }
                b'a' => {
                    let item = self.pop()?;
                    self.append(vec![item])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b'}' => self.push(Node::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Dict(Vec::new()))?;
                    self.set_items(items)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                0x8f => self.push(Node::Set(Vec::new()))?,
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items))?;
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.push_id(top)?;
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.global(module, name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (self.string(module)?, self.string(name)?);
                    self.global(module, name)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callee = self.pop()?;
                    self.call(callee, args)?;
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    if !matches!(&self.nodes[kwargs as usize], Node::Dict(d) if d.is_empty()) {
                        return Err(InferError::Unsupported("NEWOBJ_EX with keyword arguments".into()));
                    }
                    let args = self.pop()?;
                    let callee = self.pop()?;
                    self.call(callee, args)?;
                }
                b'b' => self.build()?,
                b'q' | b'r' => {
                    let index =
                        if op == b'q' { usize::from(self.u8()?) } else { u32::from_le_bytes(self.le()?) as usize };
                    self.memo_put(index)?;
                }
                0x94 => {
                    let index = self.memo.len();
                    self.memo_put(index)?;
                }
                b'h' | b'j' => {
                    let index =
                        if op == b'h' { usize::from(self.u8()?) } else { u32::from_le_bytes(self.le()?) as usize };
                    self.memo_get(index)?;
                }
                b'p' | b'g' => {
                    let index: usize = self.line()?.parse().map_err(|_| malformed(at, "bad memo index"))?;
                    if op == b'p' { self.memo_put(index)? } else { self.memo_get(index)? }
                }
                0x98 => {
                    self.top()?;
                }
                0x97 => return Err(InferError::Unsupported("pickles with out-of-band buffers".into())),
                other => {
                    return Err(InferError::Unsupported(format!(
                        "pickle opcode 0x{other:02x} at byte {at} (protocols 2 to 5 are read; persistent ids, extension registry and protocol-0 instances are not)"
                    )));
                }
            }
        }
    }
}

/// A little-endian two's complement integer (LONG1, LONG4). One past 64
/// bits (a random generator's 128-bit state, which no estimator reads) is
/// kept as its nearest float.
fn long(bytes: &[u8]) -> Node {
    let Some(last) = bytes.last() else { return Node::Int(0) };
    let negative = last & 0x80 != 0;
    if bytes.len() <= 8 {
        let mut buf = [if negative { 0xff } else { 0 }; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        return Node::Int(i64::from_le_bytes(buf));
    }
    let unsigned = bytes.iter().rev().fold(0.0f64, |acc, b| acc * 256.0 + f64::from(*b));
    Node::Float(if negative { unsigned - 256f64.powi(bytes.len() as i32) } else { unsigned })
}
