//! The trees of a model flattened into contiguous arrays, and the walk from a
//! row of features to a leaf with LightGBM's exact decision rules
//! (`Tree::NumericalDecision` and `Tree::CategoricalDecision`).

use std::mem::size_of;

/// LightGBM's `kZeroThreshold` (`1e-35f`, a float widened to double): values
/// this close to zero are zero, both for `zero_as_missing` splits and when a
/// dense row is read.
pub(super) const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// A child or a tree root: `>= 0` is an index into [`Forest::nodes`], `< 0` is
/// `!leaf`, the bitwise complement of an index into [`Forest::leaves`] (the
/// file's own convention, with indices made global to the forest).
pub(super) type Link = i32;

/// How a split sends a value left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Test {
    /// Missing type None: NaN reads as 0.0, then `x <= threshold`.
    Le,
    /// Missing type Zero: NaN and zero take the default side.
    LeZeroMissing { default_left: bool },
    /// Missing type NaN: NaN takes the default side.
    LeNanMissing { default_left: bool },
    /// Categorical: left when the integer category is in the bitset
    /// `cat_bits[start..start + words]`; NaN and negatives go right.
    InSet { start: u32, words: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Node {
    pub threshold: f64,
    pub feature: u32,
    /// Left then right: indexed by the test's outcome rather than branched
    /// on, as the outcome is data-dependent and mispredicts half the time.
    pub children: [Link; 2],
    pub test: Test,
}

/// A linear-tree leaf (`linear_tree=true`): `constant + Σ coeff·x` over
/// `features[start..start + len]`, or the plain leaf value when one is NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LinearLeaf {
    pub constant: f64,
    pub start: u32,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Tree {
    pub root: Link,
    /// Where this tree's leaves start in [`Forest::leaves`].
    pub leaf_base: u32,
    /// Where its linear leaves start in [`Forest::linear`], for a linear tree.
    pub linear_base: Option<u32>,
}

/// Every tree of the model, in file order.
#[derive(Debug, Default)]
pub(super) struct Forest {
    pub trees: Vec<Tree>,
    pub nodes: Vec<Node>,
    pub leaves: Vec<f64>,
    pub cat_bits: Vec<u32>,
    pub linear: Vec<LinearLeaf>,
    pub linear_features: Vec<u32>,
    pub linear_coeffs: Vec<f64>,
}

fn is_zero(x: f64) -> bool {
    (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&x)
}

impl Node {
    #[inline]
    fn next(&self, x: f64, cat_bits: &[u32]) -> Link {
        let left = match self.test {
            Test::Le => (if x.is_nan() { 0.0 } else { x }) <= self.threshold,
            Test::LeZeroMissing { default_left } => {
                if x.is_nan() || is_zero(x) {
                    default_left
                } else {
                    x <= self.threshold
                }
            }
            Test::LeNanMissing { default_left } => {
                if x.is_nan() {
                    default_left
                } else {
                    x <= self.threshold
                }
            }
            Test::InSet { start, words } => in_set(x, start, words, cat_bits),
        };
        self.children[usize::from(!left)]
    }
}

/// LightGBM truncates the value to an `int` (so -0.5 is category 0) and looks
/// its bit up. A cast that overflows saturates here and lands outside the
/// bitset, as the negative `int` LightGBM gets on x86 does.
#[inline]
fn in_set(x: f64, start: u32, words: u32, cat_bits: &[u32]) -> bool {
    if x.is_nan() {
        return false;
    }
    let cat = x as i32;
    if cat < 0 {
        return false;
    }
    let word = (cat / 32) as u32;
    if word >= words {
        return false;
    }
    cat_bits.get(start as usize + word as usize).is_some_and(|bits| (bits >> (cat % 32)) & 1 == 1)
}

/// How many trees [`Forest::add_outputs`] walks side by side.
const LANES: usize = 4;

impl Forest {
    /// Adds every tree's output for one row to `out[t % out.len()]`, in tree
    /// order (LightGBM's summation order). Trees are walked `LANES` at a
    /// time: their paths are independent, so the CPU overlaps their loads
    /// instead of waiting on one path.
    #[inline]
    pub fn add_outputs(&self, row: &[f64], out: &mut [f64]) {
        let mut class = 0;
        let mut groups = self.trees.chunks_exact(LANES);
        for group in groups.by_ref() {
            let mut links: [Link; LANES] = std::array::from_fn(|i| group[i].root);
            loop {
                let mut walking = false;
                for link in &mut links {
                    if *link >= 0 {
                        let node = &self.nodes[*link as usize];
                        *link = node.next(row[node.feature as usize], &self.cat_bits);
                        walking = true;
                    }
                }
                if !walking {
                    break;
                }
            }
            for (tree, link) in group.iter().zip(links) {
                out[class] += self.leaf_output(tree, link, row);
                class = if class + 1 == out.len() { 0 } else { class + 1 };
            }
        }
        for tree in groups.remainder() {
            out[class] += self.tree_output(tree, row);
            class = if class + 1 == out.len() { 0 } else { class + 1 };
        }
    }

    /// The output of one tree for one row (whose length the caller checked
    /// against the model's feature count).
    #[inline]
    pub fn tree_output(&self, tree: &Tree, row: &[f64]) -> f64 {
        let mut link = tree.root;
        while link >= 0 {
            let node = &self.nodes[link as usize];
            link = node.next(row[node.feature as usize], &self.cat_bits);
        }
        self.leaf_output(tree, link, row)
    }

    #[inline]
    fn leaf_output(&self, tree: &Tree, link: Link, row: &[f64]) -> f64 {
        let leaf = !link as usize;
        match tree.linear_base {
            None => self.leaves[leaf],
            Some(base) => self.linear_output(base as usize + (leaf - tree.leaf_base as usize), leaf, row),
        }
    }

    /// `Tree::Predict` for a linear tree: any NaN among the leaf's features
    /// falls back to the constant leaf value.
    fn linear_output(&self, linear: usize, leaf: usize, row: &[f64]) -> f64 {
        let l = self.linear[linear];
        let range = l.start as usize..(l.start + l.len) as usize;
        let mut out = l.constant;
        for (f, c) in self.linear_features[range.clone()].iter().zip(&self.linear_coeffs[range]) {
            let x = row[*f as usize];
            if x.is_nan() {
                return self.leaves[leaf];
            }
            out += c * x;
        }
        out
    }

    pub fn shrink_to_fit(&mut self) {
        self.trees.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.leaves.shrink_to_fit();
        self.cat_bits.shrink_to_fit();
        self.linear.shrink_to_fit();
        self.linear_features.shrink_to_fit();
        self.linear_coeffs.shrink_to_fit();
    }

    /// Heap bytes held, from the capacities actually allocated.
    pub fn heap_bytes(&self) -> usize {
        self.trees.capacity() * size_of::<Tree>()
            + self.nodes.capacity() * size_of::<Node>()
            + self.leaves.capacity() * size_of::<f64>()
            + self.cat_bits.capacity() * size_of::<u32>()
            + self.linear.capacity() * size_of::<LinearLeaf>()
            + self.linear_features.capacity() * size_of::<u32>()
            + self.linear_coeffs.capacity() * size_of::<f64>()
    }
}
