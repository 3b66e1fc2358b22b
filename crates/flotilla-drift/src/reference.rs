//! A reference prepared for drift: per feature, from its flotilla-profile profile, a quantile grid
//! and the bins windows count into (numbers), or the known categories (categories). Built once
//! per reference and shared by every window judged against it.

use std::collections::HashMap;

use datasketches::common::SearchCriteria;
use datasketches::frequencies::ErrorType;
use flotilla_profile::{FeatureProfile, FeatureType, Profile};

/// Points in a numeric feature's quantile grid (ranks `(i + ½) / GRID`): the distribution the
/// statistics see, within 1/(2·GRID) in rank of the sketch.
pub const GRID: usize = 256;
/// Interior bins a window counts a numeric feature into (at most: equal reference values merge
/// them), of equal reference mass; values below the reference's minimum and above its maximum are
/// counted apart. (Finer tail bins were tried: with fewer grid points in a bin, placing the
/// current mass by the reference's shape there got worse, not better.)
pub const BINS: usize = 32;

/// The grid indices of the bins' upper edges, ascending.
fn edge_indices() -> impl Iterator<Item = usize> {
    (1..BINS).map(|j| j * GRID / BINS - 1)
}

/// The reference of a model: one [`FeatureReference`] per column of its profile.
#[derive(Debug, Clone)]
pub struct Reference {
    pub features: Vec<FeatureReference>,
    /// Identifies the binning, so a window recorded against another reference is refused.
    pub fingerprint: u64,
}

/// One feature of a reference.
#[derive(Debug, Clone)]
pub struct FeatureReference {
    pub name: String,
    pub feature_type: FeatureType,
    /// Rows, nulls and NaN (infinities count as NaN) in the reference.
    pub rows: u64,
    pub nulls: u64,
    pub nans: u64,
    pub values: ReferenceValues,
}

/// What a feature's values look like in the reference.
#[derive(Debug, Clone)]
pub enum ReferenceValues {
    /// No value to compare with (an empty, null or unsketched column).
    None,
    Numeric(NumericReference),
    Categorical(CategoryReference),
}

/// A numeric feature: moments, the quantile grid and the bins.
#[derive(Debug, Clone)]
pub struct NumericReference {
    /// Numbers seen.
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Population standard deviation (NumPy's `np.std`).
    pub std: f64,
    /// [`GRID`] quantiles, ascending, each weighing 1/GRID.
    pub grid: Vec<f64>,
    /// Upper edges (inclusive) of the interior bins but the last, strictly ascending.
    pub edges: Vec<f64>,
    /// For each interior bin, the range of grid points in it.
    pub(crate) bin_ranges: Vec<(usize, usize)>,
}

/// A categorical feature: its categories, most frequent first, and their counts.
#[derive(Debug, Clone)]
pub struct CategoryReference {
    /// Values seen (nulls not counted).
    pub count: u64,
    pub categories: Vec<String>,
    pub counts: Vec<u64>,
    /// Values of categories not listed (0 when `complete`).
    pub other: u64,
    /// Every category of the reference is listed, so a value not listed is new.
    pub complete: bool,
    pub(crate) index: HashMap<String, u32>,
}

impl Reference {
    /// Prepares a profile as a reference.
    pub fn from_profile(profile: &Profile) -> Reference {
        let features: Vec<FeatureReference> = profile.features.iter().map(FeatureReference::from_profile).collect();
        let fingerprint = fingerprint(&features);
        Reference { features, fingerprint }
    }

    /// The feature with this name.
    pub fn feature(&self, name: &str) -> Option<&FeatureReference> {
        self.features.iter().find(|f| f.name == name)
    }
}

impl FeatureReference {
    pub fn from_profile(feature: &FeatureProfile) -> FeatureReference {
        let values = if let Some(numeric) = feature.numeric() {
            NumericReference::from_sketch(numeric)
        } else if let Some(category) = feature.category() {
            CategoryReference::from_sketch(category, feature.rows - feature.nulls)
        } else {
            None
        };
        FeatureReference {
            name: feature.name.clone(),
            feature_type: feature.feature_type,
            rows: feature.rows,
            nulls: feature.nulls,
            nans: feature.nans,
            values: values.unwrap_or(ReferenceValues::None),
        }
    }

    /// The share of rows with a value (not null, not NaN).
    pub fn completeness(&self) -> f64 {
        completeness(self.rows, self.nulls + self.nans)
    }
}

pub(crate) fn completeness(rows: u64, missing: u64) -> f64 {
    if rows == 0 { 1.0 } else { (rows.saturating_sub(missing)) as f64 / rows as f64 }
}

impl NumericReference {
    fn from_sketch(sketch: &flotilla_profile::feature::NumericSketch) -> Option<ReferenceValues> {
        let m = &sketch.moments;
        if m.count == 0 || sketch.kll.is_empty() {
            return None;
        }
        let grid = quantile_grid(&sketch.kll)?;
        let std = m.variance().unwrap_or(0.0).sqrt();
        Some(ReferenceValues::Numeric(NumericReference::with_grid(m.count, m.min, m.max, m.mean, std, grid)))
    }

    /// A reference from its moments and its quantile grid (ascending); the bins follow from them.
    pub(crate) fn with_grid(count: u64, min: f64, max: f64, mean: f64, std: f64, grid: Vec<f64>) -> NumericReference {
        let mut edges: Vec<f64> = Vec::with_capacity(BINS);
        for i in edge_indices().filter(|&i| i < grid.len()) {
            let e = grid[i];
            if edges.last().is_none_or(|&last| e > last) && e < max {
                edges.push(e);
            }
        }
        let mut reference = NumericReference { count, min, max, mean, std, grid, edges, bin_ranges: Vec::new() };
        // One pass: the grid is ascending, so each point's bin is at or after the previous one's.
        let mut ranges = vec![(0, 0); reference.edges.len() + 1];
        let mut bin = 0;
        for (i, &g) in reference.grid.iter().enumerate() {
            while bin < reference.edges.len() && reference.edges[bin] < g {
                bin += 1;
                ranges[bin] = (i, i);
            }
            ranges[bin].1 = i + 1;
        }
        // Bins after the last point (none when the grid reaches the edges) start empty at its end.
        let end = reference.grid.len();
        for range in ranges.iter_mut().skip(bin + 1) {
            *range = (end, end);
        }
        debug_assert!(
            ranges
                .iter()
                .enumerate()
                .all(|(b, &(s, e))| { reference.grid[s..e].iter().all(|&g| reference.interior_bin(g) == b) })
        );
        reference.bin_ranges = ranges;
        reference
    }

    /// Interior bins: values in `[min, max]`.
    pub fn interior_bins(&self) -> usize {
        self.edges.len() + 1
    }

    /// The interior bin of a value in `[min, max]`.
    fn interior_bin(&self, v: f64) -> usize {
        self.edges.partition_point(|&e| e < v)
    }

    /// Where a window counts a (finite) value: `Below`, an interior bin, or `Above`.
    pub fn bin_of(&self, v: f64) -> Bin {
        if v < self.min {
            Bin::Below
        } else if v > self.max {
            Bin::Above
        } else {
            Bin::Interior(self.interior_bin(v))
        }
    }

    /// The grid as a weighted sample.
    pub(crate) fn sample(&self) -> Vec<(f64, f64)> {
        let w = 1.0 / self.grid.len() as f64;
        self.grid.iter().map(|&g| (g, w)).collect()
    }
}

/// A window's bin for one value of a numeric feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Below,
    Interior(usize),
    Above,
}

/// [`GRID`] quantiles of a KLL sketch at mid ranks.
pub(crate) fn quantile_grid(kll: &datasketches::kll::KllSketch<datasketches::kll::KllFloat<f64>>) -> Option<Vec<f64>> {
    let view = kll.sorted_view();
    let mut grid = Vec::with_capacity(GRID);
    for i in 0..GRID {
        let rank = (i as f64 + 0.5) / GRID as f64;
        grid.push(*view.quantile(rank, SearchCriteria::Inclusive).ok()??);
    }
    Some(grid)
}

impl CategoryReference {
    fn from_sketch(sketch: &flotilla_profile::feature::CategorySketch, count: u64) -> Option<ReferenceValues> {
        if count == 0 {
            return None;
        }
        let mut rows = sketch.frequent.frequent_items(ErrorType::NoFalseNegatives);
        rows.sort_by(|a, b| b.estimate().cmp(&a.estimate()).then_with(|| a.item().cmp(b.item())));
        let categories: Vec<String> = rows.iter().map(|r| r.item().clone()).collect();
        let counts: Vec<u64> = rows.iter().map(|r| r.estimate()).collect();
        let listed: u64 = counts.iter().sum();
        let complete = sketch.frequent.maximum_error() == 0 && listed >= count;
        Some(ReferenceValues::Categorical(CategoryReference::new(count, categories, counts, complete)))
    }

    /// A reference from its listed categories and their counts.
    pub(crate) fn new(count: u64, categories: Vec<String>, counts: Vec<u64>, complete: bool) -> CategoryReference {
        let listed: u64 = counts.iter().sum();
        let index = categories.iter().enumerate().map(|(i, c)| (c.clone(), i as u32)).collect();
        CategoryReference { count, categories, counts, other: count.saturating_sub(listed), complete, index }
    }

    /// The listed category of a value, if any (values are cut as the profile cuts them).
    pub fn category_of(&self, value: &str) -> Option<usize> {
        let cut = flotilla_profile::feature::truncate(value, flotilla_profile::feature::MAX_ITEM_BYTES);
        self.index.get(cut).map(|&i| i as usize)
    }
}

/// FNV-1a over what a window's layout depends on: names, kinds, edges and categories.
pub(crate) fn fingerprint(features: &[FeatureReference]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in features {
        eat(f.name.as_bytes());
        eat(&[0xff]);
        match &f.values {
            ReferenceValues::None => eat(&[0]),
            ReferenceValues::Numeric(n) => {
                eat(&[1]);
                for v in [n.min, n.max].iter().chain(&n.edges) {
                    eat(&v.to_bits().to_le_bytes());
                }
            }
            ReferenceValues::Categorical(c) => {
                eat(&[2]);
                for cat in &c.categories {
                    eat(cat.as_bytes());
                    eat(&[0xff]);
                }
            }
        }
    }
    h
}
