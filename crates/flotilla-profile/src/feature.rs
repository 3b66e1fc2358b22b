//! One column's profile: counts, inferred type, moments and the sketches, fed a batch at a time.

use std::fmt;

use datasketches::frequencies::FrequentItemsSketch;
use datasketches::hash::value::raw_bytes;
use datasketches::hll::{HllSketch, HllType};
use datasketches::kll::{KllFloat, KllSketch};

use crate::ProfileError;

/// KLL's k: about 1.3 % normalized rank error (99 % confidence), ~5 KB serialized at 10⁶ rows.
pub const KLL_K: u16 = 200;
/// HLL's log2 of registers: 4096 4-bit registers, ~2.1 KB, about 1.6 % relative error (1 σ).
pub const HLL_LG_K: u8 = 12;
/// Frequent items' map size (whylogs' too): at most 96 items kept, counts within 3.5·N/128.
pub const FREQ_MAP_SIZE: usize = 128;
/// Category values are cut to this many bytes in the frequent-items sketch (not in the HLL), so
/// a column of long texts stays within the 16 KB budget (96 items × 108 bytes + the HLL).
pub const MAX_ITEM_BYTES: usize = 96;

/// The type a column was read or inferred as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureType {
    /// No value seen yet (every value null, or an Arrow null column).
    Null,
    /// Whole numbers.
    Integer,
    /// Floating-point numbers (integers seen with them count too).
    Float,
    /// `true` / `false`.
    Boolean,
    /// Text: a category.
    String,
    /// A type the profiler does not sketch (dates, binary, nested): counts only.
    Other,
}

impl fmt::Display for FeatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeatureType::Null => "null",
            FeatureType::Integer => "an integer",
            FeatureType::Float => "a number",
            FeatureType::Boolean => "a boolean",
            FeatureType::String => "a string",
            FeatureType::Other => "another type",
        })
    }
}

impl FeatureType {
    /// The type's tag in the stored forms (profiles, drift references).
    pub fn tag(self) -> u8 {
        match self {
            FeatureType::Null => 0,
            FeatureType::Integer => 1,
            FeatureType::Float => 2,
            FeatureType::Boolean => 3,
            FeatureType::String => 4,
            FeatureType::Other => 5,
        }
    }

    pub fn from_tag(tag: u8) -> Option<FeatureType> {
        Some(match tag {
            0 => FeatureType::Null,
            1 => FeatureType::Integer,
            2 => FeatureType::Float,
            3 => FeatureType::Boolean,
            4 => FeatureType::String,
            5 => FeatureType::Other,
            _ => return None,
        })
    }

    /// Numbers get moments and a quantile sketch.
    pub fn is_numeric(self) -> bool {
        matches!(self, FeatureType::Integer | FeatureType::Float)
    }

    /// Categories get frequent items and a distinct count.
    pub fn is_categorical(self) -> bool {
        matches!(self, FeatureType::Boolean | FeatureType::String)
    }
}

/// Count, min, max, mean and the sum of squared deviations (M2) of a column's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments { count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY, mean: 0.0, m2: 0.0 }
    }
}

impl Moments {
    /// The moments of a slice (no NaN in it), computed in two passes for accuracy.
    pub fn of(values: &[f64]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mean = sum / values.len() as f64;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        Moments { count: values.len() as u64, min, max, mean, m2 }
    }

    /// Chan, Golub and LeVeque's pairwise combination of two sets of moments.
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The population variance (M2 / n), `None` with no values.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 0).then(|| self.m2 / self.count as f64)
    }
}

/// The sketches of a numeric column.
#[derive(Debug, Clone)]
pub struct NumericSketch {
    pub moments: Moments,
    pub kll: KllSketch<KllFloat<f64>>,
}

impl NumericSketch {
    fn new() -> NumericSketch {
        NumericSketch { moments: Moments::default(), kll: KllSketch::new(KLL_K).expect("KLL_K is a valid k") }
    }

    fn update(&mut self, values: &[f64]) {
        self.moments.merge(&Moments::of(values));
        for &v in values {
            if let Ok(v) = KllFloat::<f64>::new(v) {
                self.kll.update(v);
            }
        }
    }
}

/// The sketches of a categorical column.
#[derive(Debug, Clone)]
pub struct CategorySketch {
    pub hll: HllSketch,
    pub frequent: FrequentItemsSketch<String>,
}

impl CategorySketch {
    fn new() -> CategorySketch {
        CategorySketch {
            hll: HllSketch::new(HLL_LG_K, HllType::Hll4).expect("HLL_LG_K is valid"),
            frequent: FrequentItemsSketch::new(FREQ_MAP_SIZE).expect("FREQ_MAP_SIZE is valid"),
        }
    }

    fn update(&mut self, value: &str, count: u64) {
        // Hashed as its UTF-8 bytes, as the other DataSketches languages hash a string.
        self.hll.update(raw_bytes::from_str(value));
        self.frequent.update_with_count_ref(truncate(value, MAX_ITEM_BYTES), count);
    }
}

/// `s` cut to at most `max` bytes on a character boundary (how frequent items are kept).
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The sketches a column holds, by kind.
#[derive(Debug, Clone)]
pub enum Sketches {
    /// Counts only (a null or unsketched column).
    None,
    Numeric(Box<NumericSketch>),
    Category(Box<CategorySketch>),
}

/// One column's profile.
#[derive(Debug, Clone)]
pub struct FeatureProfile {
    pub name: String,
    pub feature_type: FeatureType,
    /// Rows seen, nulls and NaN among them included.
    pub rows: u64,
    pub nulls: u64,
    pub nans: u64,
    pub sketches: Sketches,
}

impl FeatureProfile {
    /// An empty profile of a column of that type.
    pub fn new(name: impl Into<String>, feature_type: FeatureType) -> FeatureProfile {
        let mut feature = FeatureProfile {
            name: name.into(),
            feature_type: FeatureType::Null,
            rows: 0,
            nulls: 0,
            nans: 0,
            sketches: Sketches::None,
        };
        feature.set_type(feature_type);
        feature
    }

    /// Changes the type, creating the sketches the new type needs (Integer to Float keeps them).
    pub(crate) fn set_type(&mut self, feature_type: FeatureType) {
        self.feature_type = feature_type;
        match (&self.sketches, feature_type) {
            (Sketches::None, FeatureType::Integer | FeatureType::Float) => {
                self.sketches = Sketches::Numeric(Box::new(NumericSketch::new()));
            }
            (Sketches::None, FeatureType::Boolean | FeatureType::String) => {
                self.sketches = Sketches::Category(Box::new(CategorySketch::new()));
            }
            (Sketches::Numeric(_), FeatureType::Integer | FeatureType::Float)
            | (Sketches::Category(_), FeatureType::Boolean | FeatureType::String)
            | (Sketches::None, FeatureType::Null | FeatureType::Other) => {}
            (Sketches::Numeric(_) | Sketches::Category(_), _) => {
                unreachable!("a sketched column changes kind only through a checked merge")
            }
        }
    }

    /// Adds a batch of numbers (NaN included: they are counted and left out of the sketches).
    /// `values` is scratch: NaN are removed from it.
    pub(crate) fn update_numbers(&mut self, values: &mut Vec<f64>) {
        let before = values.len();
        values.retain(|v| !v.is_nan());
        self.nans += (before - values.len()) as u64;
        self.rows += before as u64;
        if let Sketches::Numeric(sketch) = &mut self.sketches {
            sketch.update(values);
        }
    }

    /// Adds one category value seen `count` times.
    pub(crate) fn update_category(&mut self, value: &str, count: u64) {
        self.rows += count;
        if let Sketches::Category(sketch) = &mut self.sketches {
            sketch.update(value, count);
        }
    }

    /// Adds `count` nulls.
    pub(crate) fn update_nulls(&mut self, count: u64) {
        self.rows += count;
        self.nulls += count;
    }

    /// Adds `count` values of a type that is not sketched.
    pub(crate) fn update_unsketched(&mut self, count: u64) {
        self.rows += count;
    }

    /// Folds another profile of the same column into this one.
    pub fn merge(&mut self, other: &FeatureProfile) -> Result<(), ProfileError> {
        let merged_type =
            merged_type(self.feature_type, other.feature_type).ok_or_else(|| ProfileError::MergeTypeMismatch {
                column: self.name.clone(),
                left: self.feature_type,
                right: other.feature_type,
            })?;
        self.set_type(merged_type);
        self.rows += other.rows;
        self.nulls += other.nulls;
        self.nans += other.nans;
        match (&mut self.sketches, &other.sketches) {
            (Sketches::Numeric(a), Sketches::Numeric(b)) => {
                a.moments.merge(&b.moments);
                a.kll.merge(&b.kll).map_err(|e| ProfileError::CorruptProfile(e.to_string()))?;
            }
            (Sketches::Category(a), Sketches::Category(b)) => {
                let mut union = datasketches::hll::HllUnion::new(HLL_LG_K)
                    .map_err(|e| ProfileError::CorruptProfile(e.to_string()))?;
                union.update(&a.hll);
                union.update(&b.hll);
                a.hll = union.to_sketch(HllType::Hll4);
                a.frequent.merge(&b.frequent);
            }
            (_, Sketches::None) => {}
            (Sketches::None | Sketches::Category(_), Sketches::Numeric(_))
            | (Sketches::None | Sketches::Numeric(_), Sketches::Category(_)) => {
                return Err(ProfileError::MergeTypeMismatch {
                    column: self.name.clone(),
                    left: self.feature_type,
                    right: other.feature_type,
                });
            }
        }
        Ok(())
    }

    /// The numeric sketches, if the column is numeric.
    pub fn numeric(&self) -> Option<&NumericSketch> {
        match &self.sketches {
            Sketches::Numeric(s) => Some(s),
            Sketches::None | Sketches::Category(_) => None,
        }
    }

    /// The category sketches, if the column is categorical.
    pub fn category(&self) -> Option<&CategorySketch> {
        match &self.sketches {
            Sketches::Category(s) => Some(s),
            Sketches::None | Sketches::Numeric(_) => None,
        }
    }

    /// The KLL sketch in the DataSketches binary format (`kll_doubles_sketch`).
    pub fn kll_bytes(&self) -> Option<Vec<u8>> {
        self.numeric().map(|s| s.kll.serialize())
    }

    /// The HLL sketch in the DataSketches binary format (`hll_sketch`).
    pub fn hll_bytes(&self) -> Option<Vec<u8>> {
        self.category().map(|s| s.hll.serialize())
    }

    /// The frequent items in the DataSketches binary format (`frequent_strings_sketch`).
    pub fn frequent_items_bytes(&self) -> Option<Vec<u8>> {
        self.category().map(|s| s.frequent.serialize())
    }
}

/// The type two profiles of one column merge to, `None` when they cannot.
fn merged_type(a: FeatureType, b: FeatureType) -> Option<FeatureType> {
    use FeatureType::{Boolean, Float, Integer, Null, Other, String};
    match (a, b) {
        (Null, t) | (t, Null) => Some(t),
        (Integer, Integer) => Some(Integer),
        (Integer | Float, Integer | Float) => Some(Float),
        (Boolean, Boolean) => Some(Boolean),
        (String, String) => Some(String),
        (Other, Other) => Some(Other),
        (Integer | Float | Boolean | String | Other, _) => None,
    }
}
