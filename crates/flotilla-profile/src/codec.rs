//! The stored form of a [`Profile`]: a small versioned envelope around the DataSketches images.
//!
//! Layout (little-endian): `FLPF`, version 1, rows u64, features u32, then per feature its name
//! (u32 length + UTF-8), type tag u8, rows, nulls, NaN (u64 each), a sketch tag (0 none,
//! 1 numeric: count u64, min, max, mean, M2 f64, KLL image; 2 category: HLL image, frequent-items
//! image), each image a u32 length and the DataSketches bytes. Decoding checks every length
//! against the bytes left before it allocates anything.

use datasketches::frequencies::FrequentItemsSketch;
use datasketches::hll::HllSketch;
use datasketches::kll::KllSketch;

use crate::feature::{CategorySketch, FeatureProfile, FeatureType, Moments, NumericSketch, Sketches};
use crate::{Profile, ProfileError};

const MAGIC: &[u8; 4] = b"FLPF";
const VERSION: u8 = 1;
/// The fewest bytes a feature can take (empty name, no sketch): bounds a claimed feature count.
const MIN_FEATURE_BYTES: usize = 4 + 1 + 24 + 1;

impl Profile {
    /// The profile as bytes ([`Profile::from_bytes`] reads them back).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&(self.features.len() as u32).to_le_bytes());
        for f in &self.features {
            put_blob(&mut out, f.name.as_bytes());
            out.push(f.feature_type.tag());
            for n in [f.rows, f.nulls, f.nans] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            match &f.sketches {
                Sketches::None => out.push(0),
                Sketches::Numeric(s) => {
                    out.push(1);
                    let m = &s.moments;
                    out.extend_from_slice(&m.count.to_le_bytes());
                    for x in [m.min, m.max, m.mean, m.m2] {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                    put_blob(&mut out, &s.kll.serialize());
                }
                Sketches::Category(s) => {
                    out.push(2);
                    put_blob(&mut out, &s.hll.serialize());
                    put_blob(&mut out, &s.frequent.serialize());
                }
            }
        }
        out
    }

    /// Reads bytes written by [`Profile::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Profile, ProfileError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(corrupt("not a flotilla profile (bad magic)"));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(corrupt(format!("unknown version {version}")));
        }
        let rows = r.u64()?;
        let count = r.u32()? as usize;
        if count > r.left() / MIN_FEATURE_BYTES {
            return Err(corrupt(format!("{count} features claimed in {} bytes", r.left())));
        }
        let mut features = Vec::with_capacity(count);
        for i in 0..count {
            let name = std::str::from_utf8(r.blob()?)
                .map_err(|_| corrupt(format!("feature {i}: name is not UTF-8")))?
                .to_owned();
            let tag = r.u8()?;
            let feature_type =
                FeatureType::from_tag(tag).ok_or_else(|| corrupt(format!("feature {name:?}: unknown type {tag}")))?;
            let (f_rows, nulls, nans) = (r.u64()?, r.u64()?, r.u64()?);
            let sketches = match r.u8()? {
                0 => Sketches::None,
                1 => {
                    let moments =
                        Moments { count: r.u64()?, min: r.f64()?, max: r.f64()?, mean: r.f64()?, m2: r.f64()? };
                    let kll = KllSketch::deserialize(r.blob()?)
                        .map_err(|e| corrupt(format!("feature {name:?}: KLL: {e}")))?;
                    Sketches::Numeric(Box::new(NumericSketch { moments, kll }))
                }
                2 => {
                    let hll = HllSketch::deserialize(r.blob()?)
                        .map_err(|e| corrupt(format!("feature {name:?}: HLL: {e}")))?;
                    let frequent = FrequentItemsSketch::deserialize(r.blob()?)
                        .map_err(|e| corrupt(format!("feature {name:?}: frequent items: {e}")))?;
                    Sketches::Category(Box::new(CategorySketch { hll, frequent }))
                }
                other => return Err(corrupt(format!("feature {name:?}: unknown sketch {other}"))),
            };
            let consistent = match &sketches {
                Sketches::None => !feature_type.is_numeric() && !feature_type.is_categorical(),
                Sketches::Numeric(_) => feature_type.is_numeric(),
                Sketches::Category(_) => feature_type.is_categorical(),
            };
            if !consistent {
                return Err(corrupt(format!("feature {name:?}: sketches do not fit its type")));
            }
            features.push(FeatureProfile { name, feature_type, rows: f_rows, nulls, nans, sketches });
        }
        if r.left() != 0 {
            return Err(corrupt(format!("{} trailing bytes", r.left())));
        }
        Ok(Profile { rows, features })
    }
}

fn put_blob(out: &mut Vec<u8>, blob: &[u8]) {
    out.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    out.extend_from_slice(blob);
}

fn corrupt(message: impl Into<String>) -> ProfileError {
    ProfileError::CorruptProfile(message.into())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProfileError> {
        if n > self.left() {
            return Err(corrupt(format!("truncated: {n} bytes wanted at offset {}, {} left", self.at, self.left())));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProfileError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, ProfileError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, ProfileError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, ProfileError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, ProfileError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    fn blob(&mut self) -> Result<&'a [u8], ProfileError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}
