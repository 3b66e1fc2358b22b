//! Stored bytes. A window's: a version byte, the fingerprint, then per feature its kind, the null,
//! NaN and mismatch counts and its counts as LEB128 varints (the tail distances only when a tail
//! has values). A prepared reference's (so a fleet-wide drift run reads it instead of preparing it
//! from the profile's sketches again): per feature its name, type, counts, and its quantile grid
//! and moments or its categories. Lengths are checked against the bytes left before anything is
//! allocated.

use flotilla_profile::FeatureType;

use crate::DriftError;
use crate::reference::{self, CategoryReference, FeatureReference, NumericReference, Reference, ReferenceValues};
use crate::window::{NumericCounts, Window, WindowCounts, WindowFeature};

const VERSION: u8 = 1;
/// The most features or bins a stored window may claim.
pub const MAX_LEN: usize = 4096;

impl Window {
    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 48 * self.features.len());
        out.push(VERSION);
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        varint(&mut out, self.features.len() as u64);
        for f in &self.features {
            let tag = match &f.counts {
                WindowCounts::Plain { .. } => 0,
                WindowCounts::Numeric(_) => 1,
                WindowCounts::Categorical { .. } => 2,
            };
            out.push(tag);
            varint(&mut out, f.nulls);
            varint(&mut out, f.nans);
            varint(&mut out, f.mismatched);
            match &f.counts {
                WindowCounts::Plain { count } => varint(&mut out, *count),
                WindowCounts::Numeric(n) => {
                    varint(&mut out, n.bins.len() as u64);
                    n.bins.iter().for_each(|&c| varint(&mut out, c));
                    varint(&mut out, n.below);
                    varint(&mut out, n.above);
                    if n.below > 0 {
                        out.extend_from_slice(&n.below_distance.to_le_bytes());
                    }
                    if n.above > 0 {
                        out.extend_from_slice(&n.above_distance.to_le_bytes());
                    }
                    out.extend_from_slice(&n.sum.to_le_bytes());
                    out.extend_from_slice(&n.sum_sq.to_le_bytes());
                }
                WindowCounts::Categorical { counts, other } => {
                    varint(&mut out, counts.len() as u64);
                    counts.iter().for_each(|&c| varint(&mut out, c));
                    varint(&mut out, *other);
                }
            }
        }
        out
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Window, DriftError> {
        let mut r = Reader { bytes, at: 0 };
        if r.byte()? != VERSION {
            return Err(DriftError::CorruptWindow("unknown version"));
        }
        let fingerprint = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| DriftError::CorruptWindow("short"))?);
        let n = r.len()?;
        let mut features = Vec::with_capacity(n);
        for _ in 0..n {
            let tag = r.byte()?;
            let (nulls, nans, mismatched) = (r.varint()?, r.varint()?, r.varint()?);
            let counts = match tag {
                0 => WindowCounts::Plain { count: r.varint()? },
                1 => {
                    let bins = r.counts()?;
                    let (below, above) = (r.varint()?, r.varint()?);
                    let below_distance = if below > 0 { r.f64()? } else { 0.0 };
                    let above_distance = if above > 0 { r.f64()? } else { 0.0 };
                    let (sum, sum_sq) = (r.f64()?, r.f64()?);
                    WindowCounts::Numeric(NumericCounts {
                        bins,
                        below,
                        above,
                        below_distance,
                        above_distance,
                        sum,
                        sum_sq,
                    })
                }
                2 => {
                    let counts = r.counts()?;
                    WindowCounts::Categorical { counts, other: r.varint()? }
                }
                _ => return Err(DriftError::CorruptWindow("unknown feature kind")),
            };
            features.push(WindowFeature { nulls, nans, mismatched, counts });
        }
        if r.at != bytes.len() {
            return Err(DriftError::CorruptWindow("trailing bytes"));
        }
        Ok(Window { fingerprint, features })
    }
}

impl Reference {
    /// The stored form of the prepared reference (about 2 KB a numeric feature).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(VERSION);
        varint(&mut out, self.features.len() as u64);
        for f in &self.features {
            string(&mut out, &f.name);
            out.push(f.feature_type.tag());
            for v in [f.rows, f.nulls, f.nans] {
                varint(&mut out, v);
            }
            match &f.values {
                ReferenceValues::None => out.push(0),
                ReferenceValues::Numeric(n) => {
                    out.push(1);
                    varint(&mut out, n.count);
                    for v in [n.min, n.max, n.mean, n.std] {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    varint(&mut out, n.grid.len() as u64);
                    n.grid.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
                }
                ReferenceValues::Categorical(c) => {
                    out.push(2);
                    varint(&mut out, c.count);
                    out.push(u8::from(c.complete));
                    varint(&mut out, c.categories.len() as u64);
                    for (name, &count) in c.categories.iter().zip(&c.counts) {
                        string(&mut out, name);
                        varint(&mut out, count);
                    }
                }
            }
        }
        out
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Reference, DriftError> {
        let mut r = Reader { bytes, at: 0 };
        if r.byte()? != VERSION {
            return Err(DriftError::CorruptReference("unknown version"));
        }
        let n = r.len()?;
        let mut features = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.string()?;
            let feature_type = type_of(r.byte()?)?;
            let (rows, nulls, nans) = (r.varint()?, r.varint()?, r.varint()?);
            let values = match r.byte()? {
                0 => ReferenceValues::None,
                1 => {
                    let count = r.varint()?;
                    let (min, max, mean, std) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
                    let len = r.len()?;
                    let grid = (0..len).map(|_| r.f64()).collect::<Result<Vec<f64>, _>>()?;
                    if grid.is_empty() || grid.windows(2).any(|w| w[0].partial_cmp(&w[1]).is_none_or(|o| o.is_gt())) {
                        return Err(DriftError::CorruptReference("the grid is not ascending"));
                    }
                    ReferenceValues::Numeric(NumericReference::with_grid(count, min, max, mean, std, grid))
                }
                2 => {
                    let count = r.varint()?;
                    let complete = r.byte()? != 0;
                    let len = r.len()?;
                    let (mut categories, mut counts) = (Vec::with_capacity(len), Vec::with_capacity(len));
                    for _ in 0..len {
                        categories.push(r.string()?);
                        counts.push(r.varint()?);
                    }
                    ReferenceValues::Categorical(CategoryReference::new(count, categories, counts, complete))
                }
                _ => return Err(DriftError::CorruptReference("unknown feature kind")),
            };
            features.push(FeatureReference { name, feature_type, rows, nulls, nans, values });
        }
        if r.at != bytes.len() {
            return Err(DriftError::CorruptReference("trailing bytes"));
        }
        let fingerprint = reference::fingerprint(&features);
        Ok(Reference { features, fingerprint })
    }
}

fn type_of(tag: u8) -> Result<FeatureType, DriftError> {
    FeatureType::from_tag(tag).ok_or(DriftError::CorruptReference("unknown feature type"))
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DriftError> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(DriftError::CorruptWindow("short"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, DriftError> {
        Ok(self.take(1)?[0])
    }

    fn f64(&mut self) -> Result<f64, DriftError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| DriftError::CorruptWindow("short"))?;
        Ok(f64::from_le_bytes(b))
    }

    fn varint(&mut self) -> Result<u64, DriftError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DriftError::CorruptWindow("varint too long"))
    }

    /// A length, capped, and no larger than the bytes left (each item takes at least one).
    fn len(&mut self) -> Result<usize, DriftError> {
        let n = self.varint()?;
        if n > MAX_LEN as u64 || n as usize > self.bytes.len() - self.at {
            return Err(DriftError::CorruptWindow("length out of range"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String, DriftError> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| DriftError::CorruptReference("a name is not UTF-8"))
    }

    fn counts(&mut self) -> Result<Vec<u64>, DriftError> {
        let n = self.len()?;
        (0..n).map(|_| self.varint()).collect()
    }
}
