//! The evaluator's form of a tree ensemble: every node of every tree in one
//! contiguous array, renumbered breadth-first so a node's children sit side
//! by side (`right == left + 1`) and always after it. A walk is a loop over
//! 16-byte nodes with no allocation; the checks at build time (children in
//! range, each node reached once, features below `num_feature`) make it
//! terminate and stay in bounds.

use super::model::RawTree;
use crate::InferError;

/// Feature indices share a `u32` with three flags.
pub(crate) const MAX_FEATURES: usize = 1 << 29;
const LEAF: u32 = 1 << 31;
const DEFAULT_LEFT: u32 = 1 << 30;
const CATEGORICAL: u32 = 1 << 29;
const FEATURE_MASK: u32 = CATEGORICAL - 1;
/// Trees walked side by side for one row.
const LANES: usize = 4;
/// XGBoost treats a category at or above 2^24 (or negative) as invalid: it goes left.
const MAX_CATEGORY: f32 = 16_777_216.0;

/// One node. One array of these rather than one array per field: a walk reads
/// every field of the node it visits, so one cache line per visit beats three.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// The split threshold (go left if `x < value`), or the leaf value.
    value: f32,
    /// Feature index and flags.
    feature: u32,
    /// Index of the left child; the right one follows it.
    left: u32,
    /// For a categorical split, the index into `Forest::cat_ranges`.
    cats: u32,
}

#[derive(Debug)]
pub(crate) struct Forest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    groups: Vec<u32>,
    /// Sorted categories of every categorical split, back to back.
    categories: Vec<u32>,
    cat_ranges: Vec<(u32, u32)>,
}

fn invalid(tree: usize, what: &str) -> InferError {
    InferError::InvalidModel(format!("XGBoost tree {tree}: {what}"))
}

impl Forest {
    pub(crate) fn build(trees: &[RawTree], num_feature: usize) -> Result<Self, InferError> {
        let total: usize = trees.iter().map(|t| t.left.len()).sum();
        if u32::try_from(total).is_err() || num_feature >= MAX_FEATURES {
            return Err(InferError::Unsupported(format!("XGBoost model too large ({total} nodes)")));
        }
        let mut forest = Forest {
            nodes: Vec::with_capacity(total),
            roots: Vec::with_capacity(trees.len()),
            groups: Vec::with_capacity(trees.len()),
            categories: Vec::new(),
            cat_ranges: Vec::new(),
        };
        let mut order = Vec::new();
        let mut seen = Vec::new();
        for (i, tree) in trees.iter().enumerate() {
            forest.add_tree(i, tree, num_feature, &mut order, &mut seen)?;
        }
        forest.categories.shrink_to_fit();
        forest.cat_ranges.shrink_to_fit();
        Ok(forest)
    }

    /// Appends one tree in breadth-first order. `order` and `seen` are scratch.
    fn add_tree(
        &mut self,
        index: usize,
        tree: &RawTree,
        num_feature: usize,
        order: &mut Vec<usize>,
        seen: &mut Vec<bool>,
    ) -> Result<(), InferError> {
        let n = tree.left.len();
        let lengths = [tree.right.len(), tree.features.len(), tree.conditions.len(), tree.default_left.len()];
        if n == 0 || lengths.iter().any(|len| *len != n) {
            return Err(invalid(index, "node arrays differ in length (or are empty)"));
        }
        let base = self.nodes.len();
        order.clear();
        order.push(0);
        seen.clear();
        seen.resize(n, false);
        seen[0] = true;
        let mut next = 0;
        while let Some(&old) = order.get(next) {
            next += 1;
            let value = tree.conditions[old] * if tree.left[old] == -1 { tree.weight } else { 1.0 };
            if tree.left[old] == -1 {
                self.nodes.push(Node { value, feature: LEAF, left: 0, cats: 0 });
                continue;
            }
            let mut child = |id: i64| -> Result<usize, InferError> {
                let id = usize::try_from(id)
                    .ok()
                    .filter(|id| *id < n)
                    .ok_or_else(|| invalid(index, "child out of range"))?;
                if std::mem::replace(&mut seen[id], true) {
                    return Err(invalid(index, "a node is reached twice (a cycle or a shared child)"));
                }
                Ok(id)
            };
            let (l, r) = (child(tree.left[old])?, child(tree.right[old])?);
            let left = base + order.len();
            order.push(l);
            order.push(r);
            let feature = usize::try_from(tree.features[old])
                .ok()
                .filter(|f| *f < num_feature)
                .ok_or_else(|| invalid(index, &format!("split on feature {} of {num_feature}", tree.features[old])))?;
            let mut flags = feature as u32;
            if tree.default_left[old] != 0 {
                flags |= DEFAULT_LEFT;
            }
            let mut cats = 0;
            if let Ok(at) = tree.categorical.binary_search_by_key(&old, |(node, _)| *node) {
                flags |= CATEGORICAL;
                cats = self.add_categories(index, &tree.categorical[at].1)?;
            } else if value.is_nan() {
                return Err(invalid(index, "a split threshold is NaN"));
            }
            self.nodes.push(Node { value, feature: flags, left: left as u32, cats });
        }
        self.roots.push(base as u32);
        self.groups.push(tree.group as u32);
        Ok(())
    }

    fn add_categories(&mut self, tree: usize, set: &[i64]) -> Result<u32, InferError> {
        let mut sorted = set
            .iter()
            .map(|c| u32::try_from(*c).map_err(|_| invalid(tree, &format!("category {c} is out of range"))))
            .collect::<Result<Vec<u32>, _>>()?;
        sorted.sort_unstable();
        sorted.dedup();
        let start = self.categories.len() as u32;
        self.categories.extend_from_slice(&sorted);
        self.cat_ranges.push((start, sorted.len() as u32));
        Ok((self.cat_ranges.len() - 1) as u32)
    }

    pub(crate) fn has_categorical(&self) -> bool {
        !self.cat_ranges.is_empty()
    }

    /// Adds every tree's leaf for `row` to `margins[group]`, in tree order as
    /// XGBoost does. `row` holds at least `num_feature` values.
    pub(crate) fn accumulate<const CATS: bool>(&self, row: &[f32], margins: &mut [f32]) {
        if let [single] = margins {
            let mut sum = *single;
            let mut blocks = self.roots.chunks_exact(LANES);
            for block in &mut blocks {
                for value in self.leaves::<CATS>(block, row) {
                    sum += value;
                }
            }
            for root in blocks.remainder() {
                sum += self.leaf::<CATS>(*root, row);
            }
            *single = sum;
        } else {
            for (root, group) in self.roots.iter().zip(&self.groups) {
                if let Some(m) = margins.get_mut(*group as usize) {
                    *m += self.leaf::<CATS>(*root, row);
                }
            }
        }
    }

    #[inline]
    fn leaf<const CATS: bool>(&self, root: u32, row: &[f32]) -> f32 {
        let mut node = self.nodes[root as usize];
        while node.feature & LEAF == 0 {
            node = self.nodes[self.child::<CATS>(node, row)];
        }
        node.value
    }

    /// The leaves of `LANES` trees, walked side by side: a walk is a chain of
    /// dependent loads, and independent chains let the CPU overlap them.
    #[inline]
    fn leaves<const CATS: bool>(&self, roots: &[u32], row: &[f32]) -> [f32; LANES] {
        let mut nodes = [self.nodes[0]; LANES];
        for (node, root) in nodes.iter_mut().zip(roots) {
            *node = self.nodes[*root as usize];
        }
        loop {
            let mut walking = false;
            for node in &mut nodes {
                if node.feature & LEAF == 0 {
                    *node = self.nodes[self.child::<CATS>(*node, row)];
                    walking = true;
                }
            }
            if !walking {
                return nodes.map(|n| n.value);
            }
        }
    }

    #[inline]
    fn child<const CATS: bool>(&self, node: Node, row: &[f32]) -> usize {
        let x = row[(node.feature & FEATURE_MASK) as usize];
        let right = if x.is_nan() {
            node.feature & DEFAULT_LEFT == 0
        } else if CATS && node.feature & CATEGORICAL != 0 {
            self.in_category_set(node.cats, x)
        } else {
            // Thresholds are not NaN (checked at build), so this is `!(x < value)`.
            x >= node.value
        };
        (node.left + u32::from(right)) as usize
    }

    /// XGBoost's `Decision`: categories in the split's set go right; anything
    /// else, including invalid categories, goes left.
    fn in_category_set(&self, range: u32, x: f32) -> bool {
        if !(0.0..MAX_CATEGORY).contains(&x) {
            return false;
        }
        let Some(&(start, len)) = self.cat_ranges.get(range as usize) else { return false };
        let (start, len) = (start as usize, len as usize);
        self.categories.get(start..start + len).is_some_and(|set| set.binary_search(&(x as u32)).is_ok())
    }

    /// Bytes held by the arrays (their capacity, not their length).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>()
            + (self.roots.capacity() + self.groups.capacity() + self.categories.capacity()) * size_of::<u32>()
            + self.cat_ranges.capacity() * size_of::<(u32, u32)>()
    }
}
