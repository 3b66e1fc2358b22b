//! numpy arrays and dtypes as data: built from a dtype, a shape and the raw
//! bytes a file carries, only when the bytes are exactly what the shape and
//! dtype declare.

use super::{Value, invalid};
use crate::InferError;

/// The most elements one array may declare (2^31: ~16 GiB of `f64`, far past
/// any model's array; the check is that the bytes are present).
const MAX_ELEMENTS: usize = 1 << 31;

/// A numpy dtype: kind (`f`, `i`, `u`, `b`, `U`, `S`, `O`, `V`), item size in
/// bytes, byte order, and for a structured (`V`) dtype its fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DType {
    pub kind: char,
    pub size: usize,
    pub big_endian: bool,
    pub fields: Vec<Field>,
}

/// One field of a structured dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub dtype: DType,
    pub offset: usize,
}

impl DType {
    /// Parses a dtype string as numpy writes it: `f8`, `<i4`, `|u1`, `V64`,
    /// `O8`, `<U5`, `b1`, `bool`, `float64`.
    pub fn parse(text: &str) -> Result<Self, InferError> {
        let named = match text {
            "bool" | "?" => "b1",
            "float64" | "d" => "f8",
            "float32" => "f4",
            "int64" => "i8",
            "int32" => "i4",
            "uint8" => "u1",
            "object" | "O" => "O8",
            other => other,
        };
        let (big_endian, rest) = match named.as_bytes().first() {
            Some(b'>') => (true, &named[1..]),
            Some(b'<' | b'|' | b'=') => (false, &named[1..]),
            _ => (false, named),
        };
        let mut chars = rest.chars();
        let kind = chars.next().ok_or_else(|| invalid("empty dtype"))?;
        let count: usize =
            chars.as_str().parse().map_err(|_| invalid(format_args!("dtype '{text}' is not understood")))?;
        let size = match kind {
            'U' => count.checked_mul(4).ok_or_else(|| invalid("dtype too large"))?,
            'f' | 'i' | 'u' | 'b' | 'V' | 'S' | 'O' => count,
            other => return Err(InferError::Unsupported(format!("numpy dtype kind '{other}' ('{text}')"))),
        };
        Ok(Self { kind, size, big_endian, fields: Vec::new() })
    }

    fn numeric(&self) -> bool {
        matches!((self.kind, self.size), ('f', 4 | 8) | ('i' | 'u', 1 | 2 | 4 | 8) | ('b', 1))
    }

    /// Reads one numeric element as `f64`.
    fn read_f64(&self, bytes: &[u8]) -> f64 {
        let mut buf = [0u8; 8];
        let n = self.size;
        buf[..n].copy_from_slice(&bytes[..n]);
        if self.big_endian {
            buf[..n].reverse();
        }
        match (self.kind, n) {
            ('f', 4) => f64::from(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])),
            ('f', _) => f64::from_le_bytes(buf),
            ('i', _) => {
                let shift = 64 - 8 * n as u32;
                ((i64::from_le_bytes(buf) << shift) >> shift) as f64
            }
            _ => u64::from_le_bytes(buf) as f64,
        }
    }

    /// Reads one integer element as `i64` (`None` for a float or a `u8`
    /// past `i64::MAX`).
    fn read_i64(&self, bytes: &[u8]) -> Option<i64> {
        let mut buf = [0u8; 8];
        let n = self.size;
        buf[..n].copy_from_slice(&bytes[..n]);
        if self.big_endian {
            buf[..n].reverse();
        }
        match self.kind {
            'i' => {
                let shift = 64 - 8 * n as u32;
                Some((i64::from_le_bytes(buf) << shift) >> shift)
            }
            'u' | 'b' => i64::try_from(u64::from_le_bytes(buf)).ok(),
            _ => None,
        }
    }
}

/// An n-dimensional array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: ArrayData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    /// Any numeric dtype, widened; `dtype` keeps what the file said.
    Numeric { dtype: DType, values: Vec<f64> },
    /// Unicode or byte strings.
    Str(Vec<String>),
    /// `dtype=object`: Python values.
    Object(Vec<Value>),
    /// A structured dtype: raw records, read per field.
    Records { dtype: DType, bytes: Vec<u8> },
}

fn element_count(shape: &[usize]) -> Result<usize, InferError> {
    shape
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d))
        .filter(|n| *n <= MAX_ELEMENTS)
        .ok_or_else(|| invalid(format_args!("array shape {shape:?} is too large")))
}

impl Array {
    /// Builds an array from raw bytes, refusing bytes whose length is not
    /// exactly `elements × itemsize`. Fortran order is turned into C order.
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8], fortran: bool) -> Result<Self, InferError> {
        let count = element_count(&shape)?;
        let want = count.checked_mul(dtype.size).ok_or_else(|| invalid("array too large"))?;
        if bytes.len() != want || (dtype.size == 0 && count > 0) {
            return Err(invalid(format_args!(
                "array of shape {shape:?} and itemsize {} needs {want} bytes, the file holds {}",
                dtype.size,
                bytes.len()
            )));
        }
        let items = || bytes.chunks_exact(dtype.size.max(1));
        let data = match dtype.kind {
            _ if dtype.numeric() => ArrayData::Numeric { values: items().map(|b| dtype.read_f64(b)).collect(), dtype },
            'U' => ArrayData::Str(items().map(utf32_string).collect::<Result<_, _>>()?),
            'S' => {
                ArrayData::Str(items().map(|b| String::from_utf8_lossy(b).trim_end_matches('\0').to_string()).collect())
            }
            'V' if !dtype.fields.is_empty() => ArrayData::Records { dtype, bytes: bytes.to_vec() },
            _ => return Err(InferError::Unsupported(format!("numpy arrays of dtype kind '{}'", dtype.kind))),
        };
        let array = Self { shape, data };
        Ok(if fortran { array.fortran_to_c()? } else { array })
    }

    /// An object array from its elements, checked against its shape.
    pub fn from_objects(shape: Vec<usize>, items: Vec<Value>, fortran: bool) -> Result<Self, InferError> {
        if element_count(&shape)? != items.len() {
            return Err(invalid(format_args!("object array of shape {shape:?} holds {} items", items.len())));
        }
        let array = Self { shape, data: ArrayData::Object(items) };
        Ok(if fortran { array.fortran_to_c()? } else { array })
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ArrayData::Numeric { values, .. } => values.len(),
            ArrayData::Str(v) => v.len(),
            ArrayData::Object(v) => v.len(),
            ArrayData::Records { dtype, bytes } => bytes.len() / dtype.size.max(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn fortran_to_c(self) -> Result<Self, InferError> {
        let [rows, cols] = self.shape[..] else {
            return if self.shape.len() <= 1 {
                Ok(self)
            } else {
                Err(InferError::Unsupported("Fortran-ordered arrays of more than two dimensions".into()))
            };
        };
        let reorder = |n: usize| (0..n).map(move |i| (i % cols) * rows + i / cols);
        let data = match self.data {
            ArrayData::Numeric { dtype, values } => {
                ArrayData::Numeric { values: reorder(values.len()).map(|i| values[i]).collect(), dtype }
            }
            ArrayData::Str(v) => ArrayData::Str(reorder(v.len()).map(|i| v[i].clone()).collect()),
            ArrayData::Object(v) => ArrayData::Object(reorder(v.len()).map(|i| v[i].clone()).collect()),
            ArrayData::Records { .. } => {
                return Err(InferError::Unsupported("Fortran-ordered structured arrays".into()));
            }
        };
        Ok(Self { shape: self.shape, data })
    }

    /// The values as `f64` (numeric arrays, or object arrays of numbers).
    pub fn to_f64(&self) -> Result<Vec<f64>, InferError> {
        match &self.data {
            ArrayData::Numeric { values, .. } => Ok(values.clone()),
            ArrayData::Object(items) => items.iter().map(Value::as_f64).collect(),
            ArrayData::Str(_) | ArrayData::Records { .. } => Err(invalid("expected a numeric array")),
        }
    }

    /// The values as integers; a fractional or out-of-range value is refused.
    pub fn to_i64(&self) -> Result<Vec<i64>, InferError> {
        self.to_f64()?
            .into_iter()
            .map(|x| {
                if x.fract() == 0.0 && x.abs() < 9.0e15 {
                    Ok(x as i64)
                } else {
                    Err(invalid(format_args!("expected integers, found {x}")))
                }
            })
            .collect()
    }

    /// One field of a structured array as `f64` per record.
    pub fn field_f64(&self, name: &str) -> Result<Vec<f64>, InferError> {
        let (field, dtype, bytes) = self.field(name)?;
        Ok(bytes.chunks_exact(dtype.size).map(|r| field.dtype.read_f64(&r[field.offset..])).collect())
    }

    /// One integer field of a structured array per record.
    pub fn field_i64(&self, name: &str) -> Result<Vec<i64>, InferError> {
        let (field, dtype, bytes) = self.field(name)?;
        bytes
            .chunks_exact(dtype.size)
            .map(|r| {
                field
                    .dtype
                    .read_i64(&r[field.offset..])
                    .ok_or_else(|| invalid(format_args!("field '{name}' is not integer")))
            })
            .collect()
    }

    fn field(&self, name: &str) -> Result<(&Field, &DType, &[u8]), InferError> {
        let ArrayData::Records { dtype, bytes } = &self.data else {
            return Err(invalid(format_args!("expected a structured array with field '{name}'")));
        };
        let field = dtype
            .fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| invalid(format_args!("structured array has no field '{name}'")))?;
        Ok((field, dtype, bytes))
    }
}

/// Checks a structured dtype's fields fit its item size and are numeric.
pub(crate) fn check_fields(dtype: &DType) -> Result<(), InferError> {
    for f in &dtype.fields {
        if !f.dtype.numeric() || f.offset.checked_add(f.dtype.size).is_none_or(|end| end > dtype.size) {
            return Err(invalid(format_args!("structured dtype field '{}' does not fit its record", f.name)));
        }
    }
    Ok(())
}

fn utf32_string(bytes: &[u8]) -> Result<String, InferError> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .take_while(|c| *c != 0)
        .map(|c| char::from_u32(c).ok_or_else(|| invalid("array string is not valid UTF-32")))
        .collect()
}
