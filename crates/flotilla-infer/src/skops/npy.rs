//! The `.npy` files of a skops archive: a magic string, a header that is a
//! Python dict literal (`descr`, `fortran_order`, `shape`), then the raw
//! bytes, which must be exactly what the header declares. Object arrays
//! (pickled inside the file) are refused; skops writes those as JSON.

use crate::InferError;
use crate::pyvalue::{Array, DType, Field, check_fields};

fn invalid(name: &str, what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(format!("skops array {name}: {what}"))
}

/// A Python literal as `.npy` headers write them.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    Seq(Vec<Lit>),
    Dict(Vec<(String, Lit)>),
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip(&mut self) {
        while self.text.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip();
        let hit = self.text.get(self.pos) == Some(&c);
        self.pos += usize::from(hit);
        hit
    }

    fn lit(&mut self) -> Option<Lit> {
        self.skip();
        self.depth += 1;
        if self.depth > 16 {
            return None;
        }
        let c = *self.text.get(self.pos)?;
        let lit = match c {
            b'\'' | b'"' => {
                let start = self.pos + 1;
                let len = self.text[start..].iter().position(|b| *b == c)?;
                self.pos = start + len + 1;
                Lit::Str(String::from_utf8_lossy(&self.text[start..start + len]).into_owned())
            }
            b'(' | b'[' => {
                self.pos += 1;
                let close = if c == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.lit()?);
                    if !self.eat(b',') && !self.eat(close) {
                        return None;
                    }
                    if self.text.get(self.pos - 1) == Some(&close) {
                        break;
                    }
                }
                Lit::Seq(items)
            }
            b'{' => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.eat(b'}') {
                    let Lit::Str(key) = self.lit()? else { return None };
                    if !self.eat(b':') {
                        return None;
                    }
                    items.push((key, self.lit()?));
                    if !self.eat(b',') && !self.eat(b'}') {
                        return None;
                    }
                    if self.text.get(self.pos - 1) == Some(&b'}') {
                        break;
                    }
                }
                Lit::Dict(items)
            }
            _ => {
                let start = self.pos;
                while self.text.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-') {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    b"True" => Lit::Bool(true),
                    b"False" => Lit::Bool(false),
                    word => Lit::Int(std::str::from_utf8(word).ok()?.parse().ok()?),
                }
            }
        };
        self.depth -= 1;
        Some(lit)
    }
}

fn dtype(name: &str, descr: &Lit) -> Result<DType, InferError> {
    match descr {
        Lit::Str(s) if s.trim_start_matches(['<', '>', '|', '=']).starts_with('O') => {
            Err(InferError::Unsupported(format!("skops array {name} holds Python objects (pickled)")))
        }
        Lit::Str(s) => DType::parse(s),
        Lit::Seq(fields) => {
            let mut dtype = DType { kind: 'V', ..DType::default() };
            for field in fields {
                let Lit::Seq(parts) = field else { return Err(invalid(name, "a structured field is not a tuple")) };
                let [Lit::Str(field_name), Lit::Str(descr)] = &parts[..] else {
                    return Err(InferError::Unsupported(format!("skops array {name}: sub-array fields")));
                };
                let field_dtype = DType::parse(descr)?;
                let size = field_dtype.size;
                if !field_name.is_empty() {
                    dtype.fields.push(Field { name: field_name.clone(), dtype: field_dtype, offset: dtype.size });
                }
                dtype.size = dtype.size.checked_add(size).ok_or_else(|| invalid(name, "record too large"))?;
            }
            check_fields(&dtype)?;
            Ok(dtype)
        }
        Lit::Int(_) | Lit::Bool(_) | Lit::Dict(_) => Err(invalid(name, "descr is not understood")),
    }
}

/// Reads one `.npy` file.
pub fn read(name: &str, bytes: &[u8]) -> Result<Array, InferError> {
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or_else(|| invalid(name, "not an .npy file"))?;
    let (header_len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        _ => return Err(invalid(name, "unknown .npy version")),
    };
    if header_len > rest.len() {
        return Err(invalid(name, format_args!("header of {header_len} bytes in a file of {}", bytes.len())));
    }
    let (header, data) = rest.split_at(header_len);
    let mut parser = Parser { text: header, pos: 0, depth: 0 };
    let Some(Lit::Dict(items)) = parser.lit() else { return Err(invalid(name, "header is not a dict")) };
    let get = |key: &str| items.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let descr = get("descr").ok_or_else(|| invalid(name, "header has no descr"))?;
    let fortran = matches!(get("fortran_order"), Some(Lit::Bool(true)));
    let Some(Lit::Seq(dims)) = get("shape") else { return Err(invalid(name, "header has no shape")) };
    let shape = dims
        .iter()
        .map(|d| {
            let Lit::Int(n) = d else { return Err(invalid(name, "shape is not integers")) };
            usize::try_from(*n).map_err(|_| invalid(name, "negative dimension"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Array::from_bytes(dtype(name, descr)?, shape, data, fortran).map_err(|e| match e {
        InferError::InvalidModel(m) => invalid(name, m),
        other @ (InferError::BadInput(_) | InferError::Unsupported(_) | InferError::MissingFile(_)) => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn headers_and_sizes() {
        let two = [1.5f64.to_le_bytes(), (-2.0f64).to_le_bytes()].concat();
        let a = read("a", &npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", &two)).unwrap();
        assert_eq!((a.shape.clone(), a.to_f64().unwrap()), (vec![2], vec![1.5, -2.0]));
        let scalar =
            read("s", &npy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &7i64.to_le_bytes())).unwrap();
        assert_eq!(scalar.to_i64().unwrap(), [7]);
        let rec = "{'descr': [('a', '<i8'), ('b', '|u1'), ('', '|V7')], 'fortran_order': False, 'shape': (1,), }";
        let bytes = [5i64.to_le_bytes().to_vec(), vec![1, 0, 0, 0, 0, 0, 0, 0]].concat();
        let r = read("r", &npy(rec, &bytes)).unwrap();
        assert_eq!((r.field_i64("a").unwrap(), r.field_i64("b").unwrap()), (vec![5], vec![1]));
        let cases: &[(Vec<u8>, &str)] = &[
            (
                npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", &two),
                "needs 24 bytes, the file holds 16",
            ),
            (npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", &[0; 8]), "Python objects"),
            (npy("{'descr': '<f8', 'shape': (-1,), }", &[]), "negative"),
            (npy("{'descr': '<f8'", &[]), "not a dict"),
            (npy(&format!("{}1{}", "(".repeat(40), ")".repeat(40)), &[]), "not a dict"),
            (b"\x93NUMPY\x01\x00\xff\xff{".to_vec(), "header of 65535 bytes"),
            (b"PK".to_vec(), "not an .npy file"),
        ];
        for (bytes, want) in cases {
            let e = read("x", bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
