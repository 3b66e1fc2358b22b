//! Binned scores of numbers: two distributions over one reference's bins (the reference itself,
//! a window's counts, a baseline window's counts) walked as CDFs over the reference's grid, for
//! the KS statistic and the Wasserstein distance. Within each interior bin a side's mass is spread
//! over the reference's grid points (its values are taken to be shaped like the reference there),
//! and each tail sits at its mean, so Wasserstein stays exact outside the reference's range.

use crate::reference::NumericReference;
use crate::window::NumericCounts;

/// One side of a comparison: its share of values in each interior bin and each tail.
pub(crate) trait Masses {
    /// The share below the reference's minimum and where its mean lies.
    fn below(&self, n: &NumericReference) -> Option<(f64, f64)>;
    /// The share in interior bin `b`.
    fn bin(&self, b: usize) -> f64;
    /// The share above the reference's maximum and where its mean lies.
    fn above(&self, n: &NumericReference) -> Option<(f64, f64)>;
}

/// The reference's own distribution: each grid point weighs 1/GRID, no tails.
pub(crate) struct ReferenceMasses<'a>(pub &'a NumericReference);

impl Masses for ReferenceMasses<'_> {
    fn below(&self, _: &NumericReference) -> Option<(f64, f64)> {
        None
    }

    fn bin(&self, b: usize) -> f64 {
        let (start, end) = self.0.bin_ranges[b];
        (end - start) as f64 / self.0.grid.len() as f64
    }

    fn above(&self, _: &NumericReference) -> Option<(f64, f64)> {
        None
    }
}

/// A window's counts, as shares of its `total` values (which must not be 0).
pub(crate) struct CountMasses<'a> {
    pub counts: &'a NumericCounts,
    pub total: f64,
}

impl Masses for CountMasses<'_> {
    fn below(&self, n: &NumericReference) -> Option<(f64, f64)> {
        let c = self.counts;
        (c.below > 0).then(|| (n.min - c.below_distance / c.below as f64, c.below as f64 / self.total))
    }

    fn bin(&self, b: usize) -> f64 {
        self.counts.bins[b] as f64 / self.total
    }

    fn above(&self, n: &NumericReference) -> Option<(f64, f64)> {
        let c = self.counts;
        (c.above > 0).then(|| (n.max + c.above_distance / c.above as f64, c.above as f64 / self.total))
    }
}

/// `(KS statistic, Wasserstein distance)` between two sides over the reference's bins. One pass
/// over the grid, no allocation.
pub(crate) fn scores(n: &NumericReference, reference: &impl Masses, current: &impl Masses) -> (f64, f64) {
    let mut walk = Walk::default();
    walk.tail(reference.below(n), current.below(n));
    for (b, &(start, end)) in n.bin_ranges.iter().enumerate() {
        let (r, c) = (reference.bin(b), current.bin(b));
        if end > start {
            let points = (end - start) as f64;
            n.grid[start..end].iter().for_each(|&g| walk.step(g, r / points, c / points));
        } else if r > 0.0 || c > 0.0 {
            // No grid point fell in the bin: its mass sits at its upper edge.
            walk.step(n.edges.get(b).copied().unwrap_or(n.max), r, c);
        }
    }
    walk.tail(reference.above(n), current.above(n));
    walk.finish()
}

/// Two CDFs over one ascending sequence of points: the largest gap and the area between them.
#[derive(Default)]
struct Walk {
    reference: f64,
    current: f64,
    last: Option<f64>,
    ks: f64,
    area: f64,
}

impl Walk {
    fn step(&mut self, x: f64, reference: f64, current: f64) {
        if let Some(last) = self.last.filter(|&last| x > last) {
            let gap = (self.reference - self.current).abs();
            self.ks = self.ks.max(gap);
            self.area += gap * (x - last);
        }
        self.reference += reference;
        self.current += current;
        self.last = Some(x);
    }

    /// A tail of each side, each a mass at its mean, the lower first.
    fn tail(&mut self, reference: Option<(f64, f64)>, current: Option<(f64, f64)>) {
        let mut points = [reference.map(|(x, m)| (x, m, 0.0)), current.map(|(x, m)| (x, 0.0, m))];
        if let [Some(a), Some(b)] = &points
            && b.0 < a.0
        {
            points.swap(0, 1);
        }
        points.into_iter().flatten().for_each(|(x, r, c)| self.step(x, r, c));
    }

    fn finish(self) -> (f64, f64) {
        (self.ks.max((self.reference - self.current).abs()), self.area)
    }
}
