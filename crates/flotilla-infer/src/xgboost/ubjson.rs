//! A small reader for Universal Binary JSON (draft 12), the encoding XGBoost
//! writes by default (`model.ubj`). It takes untrusted bytes: every length is
//! checked against what is left, nesting is bounded, and it never panics.

use super::value::Value;

/// Deeper nesting than any XGBoost model uses; bounds the recursion.
const MAX_DEPTH: usize = 128;
/// Elements reserved ahead from a container's count: the count is checked
/// against the bytes left, but one byte of file may become a 32-byte value,
/// so larger containers grow as their elements are actually read.
const PREALLOCATE: usize = 4096;

/// Decodes one UBJSON document; trailing bytes other than no-ops are an error.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader { bytes, pos: 0, free_elements: bytes.len() };
    let marker = r.marker()?;
    let value = r.value(marker, 0)?;
    while r.pos < r.bytes.len() {
        match r.byte()? {
            b'N' => {}
            other => return Err(r.error(&format!("trailing byte 0x{other:02x} after the document"))),
        }
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Elements without payload (`[$Z#`, `[$T#`, `[$F#`) take no bytes, so
    /// their counts draw on this budget (the document's size) instead.
    free_elements: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, what: &str) -> String {
        format!("UBJSON at byte {}: {what}", self.pos)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(self.error(&format!("needs {n} bytes, {} left", self.remaining())));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The next type marker, skipping no-ops.
    fn marker(&mut self) -> Result<u8, String> {
        loop {
            match self.byte()? {
                b'N' => {}
                m => return Ok(m),
            }
        }
    }

    /// An integer payload for `marker`, or `None` if `marker` is not an integer type.
    fn int(&mut self, marker: u8) -> Result<Option<i64>, String> {
        Ok(Some(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.array()?)),
            b'U' => i64::from(self.byte()?),
            b'I' => i64::from(i16::from_be_bytes(self.array()?)),
            b'l' => i64::from(i32::from_be_bytes(self.array()?)),
            b'L' => i64::from_be_bytes(self.array()?),
            _ => return Ok(None),
        }))
    }

    /// A length or count: an integer of any width, not negative.
    fn length(&mut self) -> Result<usize, String> {
        let marker = self.marker()?;
        match self.int(marker)? {
            Some(n) => usize::try_from(n).map_err(|_| self.error(&format!("negative length {n}"))),
            None => Err(self.error(&format!("expected an integer length, found marker 0x{marker:02x}"))),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.length()?;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    fn value(&mut self, marker: u8, depth: usize) -> Result<Value, String> {
        if let Some(i) = self.int(marker)? {
            return Ok(Value::Int(i));
        }
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'd' => Value::Float(f64::from(f32::from_be_bytes(self.array()?))),
            b'D' => Value::Float(f64::from_be_bytes(self.array()?)),
            b'C' => Value::Str(char::from(self.byte()?).to_string()),
            b'S' => Value::Str(self.string()?),
            // High-precision numbers travel as decimal strings.
            b'H' => Value::Str(self.string()?),
            b'[' | b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(&format!("nesting deeper than {MAX_DEPTH}")));
                }
                if marker == b'[' { self.array_value(depth + 1)? } else { self.object(depth + 1)? }
            }
            other => return Err(self.error(&format!("unknown type marker 0x{other:02x}"))),
        })
    }

    /// The optional `$type` and `#count` that open an optimized container.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), String> {
        let element = if self.peek() == Some(b'$') {
            self.pos += 1;
            Some(self.byte()?)
        } else {
            None
        };
        let count = if self.peek() == Some(b'#') {
            self.pos += 1;
            Some(self.length()?)
        } else {
            None
        };
        if let Some(m) = element {
            if !b"ZTFiUIlLdDCSH[{".contains(&m) {
                return Err(self.error(&format!("container typed with invalid marker 0x{m:02x}")));
            }
            if count.is_none() {
                return Err(self.error("a typed container ('$') must give its count ('#')"));
            }
        }
        // Each element takes at least one byte, except typed ones without payload.
        let min_size = match element {
            Some(b'Z' | b'T' | b'F') => 0,
            Some(m) => payload_size(m).unwrap_or(1),
            None => 1,
        };
        if let Some(n) = count {
            let fits = if min_size == 0 {
                self.free_elements.checked_sub(n).map(|left| self.free_elements = left).is_some()
            } else {
                n.checked_mul(min_size).is_some_and(|b| b <= self.remaining())
            };
            if !fits {
                return Err(self.error(&format!("container claims {n} elements, more than the bytes left")));
            }
        }
        Ok((element, count))
    }

    fn array_value(&mut self, depth: usize) -> Result<Value, String> {
        match self.container_header()? {
            (Some(element), Some(n)) => self.typed_array(element, n, depth),
            (None, Some(n)) => {
                let mut items = Vec::with_capacity(n.min(PREALLOCATE));
                for _ in 0..n {
                    let m = self.marker()?;
                    items.push(self.value(m, depth)?);
                }
                Ok(Value::Array(items))
            }
            (_, None) => {
                let mut items = Vec::new();
                loop {
                    match self.marker()? {
                        b']' => return Ok(Value::Array(items)),
                        m => items.push(self.value(m, depth)?),
                    }
                }
            }
        }
    }

    fn typed_array(&mut self, element: u8, n: usize, depth: usize) -> Result<Value, String> {
        Ok(match element {
            b'd' => Value::F32s((0..n).map(|_| self.array().map(f32::from_be_bytes)).collect::<Result<_, _>>()?),
            b'D' => Value::F64s((0..n).map(|_| self.array().map(f64::from_be_bytes)).collect::<Result<_, _>>()?),
            b'i' | b'U' | b'I' | b'l' | b'L' => {
                let mut items = Vec::with_capacity(n.min(PREALLOCATE));
                for _ in 0..n {
                    items.push(self.int(element)?.unwrap_or_default());
                }
                Value::Ints(items)
            }
            _ => Value::Array((0..n).map(|_| self.value(element, depth)).collect::<Result<_, _>>()?),
        })
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        let (element, count) = self.container_header()?;
        let mut fields = Vec::with_capacity(count.unwrap_or(0).min(PREALLOCATE));
        loop {
            if let Some(n) = count {
                if fields.len() == n {
                    return Ok(Value::Object(fields));
                }
            } else {
                // Keys carry no marker, so only the closing brace and no-ops can be told apart.
                while self.peek() == Some(b'N') {
                    self.pos += 1;
                }
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(fields));
                }
            }
            let key = self.string()?;
            let marker = match element {
                Some(m) => m,
                None => self.marker()?,
            };
            fields.push((key, self.value(marker, depth)?));
        }
    }
}

/// Bytes of payload after a fixed-size marker, if it has a fixed size.
fn payload_size(marker: u8) -> Option<usize> {
    match marker {
        b'i' | b'U' | b'C' => Some(1),
        b'I' => Some(2),
        b'l' | b'd' => Some(4),
        b'L' | b'D' => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(fields: &[(&str, Value)]) -> Value {
        Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn decodes() {
        let cases: &[(&[u8], Value)] = &[
            (b"Z", Value::Null),
            (b"T", Value::Bool(true)),
            (b"F", Value::Bool(false)),
            (b"NNT", Value::Bool(true)),
            (b"i\xff", Value::Int(-1)),
            (b"U\xff", Value::Int(255)),
            (b"I\x80\x00", Value::Int(-32768)),
            (b"l\x00\x01\x00\x00", Value::Int(65536)),
            (b"L\x80\x00\x00\x00\x00\x00\x00\x00", Value::Int(i64::MIN)),
            (b"d\x3f\xc0\x00\x00", Value::Float(1.5)),
            (b"D\xc0\x04\x00\x00\x00\x00\x00\x00", Value::Float(-2.5)),
            (b"Ca", Value::Str("a".into())),
            (b"Si\x03abc", Value::Str("abc".into())),
            (b"SL\x00\x00\x00\x00\x00\x00\x00\x02\xc3\xa9", Value::Str("\u{e9}".into())),
            (b"HU\x041e-3", Value::Str("1e-3".into())),
            (b"[]", Value::Array(vec![])),
            (b"[i\x01Si\x01xZ]", Value::Array(vec![Value::Int(1), Value::Str("x".into()), Value::Null])),
            (b"[#U\x02TF", Value::Array(vec![Value::Bool(true), Value::Bool(false)])),
            (b"[$d#i\x02\x3f\x80\x00\x00\xbf\x80\x00\x00", Value::F32s(vec![1.0, -1.0])),
            (b"[$D#i\x01\x3f\xf0\x00\x00\x00\x00\x00\x00", Value::F64s(vec![1.0])),
            (b"[$U#i\x03\x00\x01\xff", Value::Ints(vec![0, 1, 255])),
            (b"[$i#i\x02\xff\x7f", Value::Ints(vec![-1, 127])),
            (b"[$l#L\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xfe", Value::Ints(vec![-2])),
            (b"[$L#i\x00", Value::Ints(vec![])),
            (b"[$S#i\x02i\x01ai\x01b", Value::Array(vec![Value::Str("a".into()), Value::Str("b".into())])),
            (b"[$T#i\x02", Value::Array(vec![Value::Bool(true), Value::Bool(true)])),
            (b"{}", obj(&[])),
            (b"{i\x01aT}", obj(&[("a", Value::Bool(true))])),
            (b"{Ni\x01aTN}", obj(&[("a", Value::Bool(true))])),
            (b"{#i\x01i\x01ai\x05", obj(&[("a", Value::Int(5))])),
            (b"{$U#i\x02i\x01a\x01i\x01b\x02", obj(&[("a", Value::Int(1)), ("b", Value::Int(2))])),
            (
                b"{L\x00\x00\x00\x00\x00\x00\x00\x01o{i\x01k[$U#i\x01\x07}i\x01sSi\x01v}",
                obj(&[("o", obj(&[("k", Value::Ints(vec![7]))])), ("s", Value::Str("v".into()))]),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse(bytes).as_ref(), Ok(want), "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn rejects_malformed() {
        let cases: &[&[u8]] = &[
            b"",
            b"N",
            b"X",
            b"i",
            b"I\x00",
            b"L\x00\x00\x00",
            b"d\x00\x00",
            b"Si\x05ab",
            b"Si\xffab",
            b"SU\x02\xff\xfe",
            b"Sd\x00\x00\x00\x00",
            b"[",
            b"[i\x01",
            b"[#i\x03TT",
            b"[#i\xff",
            b"[$d#i\x02\x00\x00\x00\x00",
            b"[$d]",
            b"[$N#i\x01",
            b"[$X#i\x00",
            b"[#L\x7f\xff\xff\xff\xff\xff\xff\xff",
            b"[$d#L\x40\x00\x00\x00\x00\x00\x00\x00",
            b"[$Z#L\x7f\xff\xff\xff\xff\xff\xff\xff",
            b"{i\x01a",
            b"{i\x01aT",
            b"{T}",
            b"{#i\x02i\x01aT",
            b"TT",
            b"T}",
        ];
        for bytes in cases {
            assert!(parse(bytes).is_err(), "{:?} should fail", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn bounds_nesting() {
        let deep = |n: usize| [vec![b'['; n], vec![b']'; n]].concat();
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert!(parse(&deep(MAX_DEPTH + 1)).is_err());
        assert!(parse(&vec![b'['; 1_000_000]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_plausible_prefixes(
            tail in proptest::collection::vec(
                prop_oneof![Just(b'['), Just(b'{'), Just(b'$'), Just(b'#'), Just(b'i'), Just(b'L'), Just(b'd'), Just(b'S'), any::<u8>()],
                0..256,
            )
        ) {
            let _ = parse(&[b"{".as_slice(), &tail].concat());
        }
    }
}
