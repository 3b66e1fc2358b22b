//! From `Tree=` blocks to the flat [`Forest`]: every array length, index,
//! child link and bitset range is checked here, so that evaluation cannot
//! index out of bounds or loop.

use super::parse::{Field, TreeBlock, find, invalid};
use super::tree::{Forest, LinearLeaf, Link, Node, Test, Tree};
use crate::InferError;

const CATEGORICAL: i64 = 1;
const DEFAULT_LEFT: i64 = 2;

/// Where a tree's error is reported: the `Tree=` line, or the field's own.
struct Ctx<'b, 'a> {
    block: &'b TreeBlock<'a>,
}

impl<'a> Ctx<'_, 'a> {
    fn field(&self, key: &str) -> Result<&Field<'a>, InferError> {
        find(&self.block.fields, key)
            .ok_or_else(|| invalid(self.block.line, format_args!("Tree={} has no '{key}='", self.block.index)))
    }

    fn list<T: std::str::FromStr>(&self, key: &str, len: usize) -> Result<Vec<T>, InferError> {
        self.field(key)?.list(Some(len))
    }

    fn err(&self, key: &str, what: impl std::fmt::Display) -> InferError {
        match find(&self.block.fields, key) {
            Some(f) => f.err(format_args!(": {what}")),
            None => invalid(self.block.line, format_args!("Tree={} {key}: {what}", self.block.index)),
        }
    }
}

fn link(n: usize) -> Result<Link, InferError> {
    Link::try_from(n).map_err(|_| InferError::InvalidModel("LightGBM model has more than 2^31 nodes or leaves".into()))
}

fn offset(n: usize) -> Result<u32, InferError> {
    u32::try_from(n).map_err(|_| InferError::InvalidModel("LightGBM model is too large (offset over 2^32)".into()))
}

impl Forest {
    /// Appends one tree, checking it against the model's feature count.
    pub fn push_tree(&mut self, block: &TreeBlock<'_>, num_features: usize) -> Result<(), InferError> {
        let ctx = Ctx { block };
        let num_leaves = ctx.field("num_leaves")?.scalar::<i64>()?;
        if num_leaves < 1 {
            return Err(ctx.err("num_leaves", format_args!("{num_leaves} is not a leaf count")));
        }
        let num_leaves = num_leaves as usize;
        let leaf_values: Vec<f64> = ctx.list("leaf_value", num_leaves)?;
        // Leaf values already include the learning rate (`Tree::Shrinkage`
        // scales them in training); the `shrinkage=` line is informational.
        let leaf_base = self.leaves.len();
        let root = if num_leaves == 1 { !link(leaf_base)? } else { self.push_nodes(&ctx, num_leaves, num_features)? };
        let linear_base = match find(&block.fields, "is_linear").map(Field::scalar::<u8>).transpose()? {
            None | Some(0) => None,
            Some(1) => Some(self.push_linear(&ctx, num_leaves, num_features)?),
            Some(other) => return Err(ctx.err("is_linear", format_args!("{other} is neither 0 nor 1"))),
        };
        self.leaves.extend_from_slice(&leaf_values);
        link(self.leaves.len())?;
        self.trees.push(Tree { root, leaf_base: offset(leaf_base)?, linear_base });
        Ok(())
    }

    fn push_nodes(&mut self, ctx: &Ctx<'_, '_>, num_leaves: usize, num_features: usize) -> Result<Link, InferError> {
        let n = num_leaves - 1;
        let split_feature: Vec<i64> = ctx.list("split_feature", n)?;
        let threshold: Vec<f64> = ctx.list("threshold", n)?;
        let decision_type: Vec<i64> = ctx.list("decision_type", n)?;
        let left_child: Vec<i64> = ctx.list("left_child", n)?;
        let right_child: Vec<i64> = ctx.list("right_child", n)?;
        let (boundaries, cat_base) = self.push_categories(ctx)?;
        let (node_base, leaf_base) = (self.nodes.len(), self.leaves.len());
        let child = |node: usize, key: &str, c: i64| -> Result<Link, InferError> {
            if c >= 0 {
                // LightGBM numbers a split's new node after its parent, so a
                // forward link also rules out cycles.
                let c = c as usize;
                if c <= node || c >= n {
                    return Err(ctx.err(key, format_args!("[{node}]={c} must be a node in {}..{n}", node + 1)));
                }
                link(node_base + c)
            } else {
                let leaf = !c as usize;
                if leaf >= num_leaves {
                    return Err(ctx.err(key, format_args!("[{node}]={c} names leaf {leaf} of {num_leaves}")));
                }
                Ok(!link(leaf_base + leaf)?)
            }
        };
        for i in 0..n {
            let feature = split_feature[i];
            if feature < 0 || feature as u64 >= num_features as u64 {
                return Err(ctx.err("split_feature", format_args!("[{i}]={feature} is not below {num_features}")));
            }
            let test = decision(ctx, i, decision_type[i], threshold[i], &boundaries, cat_base)?;
            let children = [child(i, "left_child", left_child[i])?, child(i, "right_child", right_child[i])?];
            self.nodes.push(Node { threshold: threshold[i], feature: feature as u32, children, test });
        }
        link(self.nodes.len())?;
        link(node_base)
    }

    /// Appends the tree's `cat_threshold` bitsets; returns `cat_boundaries`
    /// and where the bitsets start in [`Forest::cat_bits`].
    fn push_categories(&mut self, ctx: &Ctx<'_, '_>) -> Result<(Vec<usize>, u32), InferError> {
        let num_cat = match find(&ctx.block.fields, "num_cat") {
            Some(f) => f.scalar::<i64>()?,
            None => 0,
        };
        if num_cat < 0 {
            return Err(ctx.err("num_cat", format_args!("{num_cat} is negative")));
        }
        let cat_base = offset(self.cat_bits.len())?;
        if num_cat == 0 {
            return Ok((Vec::new(), cat_base));
        }
        let boundaries: Vec<i64> = ctx.list("cat_boundaries", num_cat as usize + 1)?;
        let bits: Vec<u32> = ctx.field("cat_threshold")?.list(None)?;
        let mut previous = 0;
        for (i, b) in boundaries.iter().enumerate() {
            if *b < previous || *b as u64 > bits.len() as u64 || (i == 0 && *b != 0) {
                return Err(ctx.err(
                    "cat_boundaries",
                    format_args!("[{i}]={b} must rise from 0 to at most {} (cat_threshold's length)", bits.len()),
                ));
            }
            previous = *b;
        }
        self.cat_bits.extend_from_slice(&bits);
        offset(self.cat_bits.len())?;
        Ok((boundaries.into_iter().map(|b| b as usize).collect(), cat_base))
    }

    /// Appends the leaves' linear models; returns where they start in
    /// [`Forest::linear`].
    fn push_linear(&mut self, ctx: &Ctx<'_, '_>, num_leaves: usize, num_features: usize) -> Result<u32, InferError> {
        let constants: Vec<f64> = ctx.list("leaf_const", num_leaves)?;
        let counts: Vec<u64> = ctx.list("num_features", num_leaves)?;
        let total = counts.iter().try_fold(0u64, |a, c| a.checked_add(*c));
        let total = total.and_then(|t| usize::try_from(t).ok()).ok_or_else(|| ctx.err("num_features", "overflows"))?;
        let features: Vec<i64> = ctx.list("leaf_features", total)?;
        let coeffs: Vec<f64> = ctx.list("leaf_coeff", total)?;
        if let Some((i, f)) = features.iter().enumerate().find(|(_, f)| **f < 0 || **f as u64 >= num_features as u64) {
            return Err(ctx.err("leaf_features", format_args!("[{i}]={f} is not below {num_features}")));
        }
        let base = offset(self.linear.len())?;
        let mut start = self.linear_features.len();
        for (constant, count) in constants.into_iter().zip(counts) {
            self.linear.push(LinearLeaf { constant, start: offset(start)?, len: offset(count as usize)? });
            start += count as usize;
        }
        self.linear_features.extend(features.into_iter().map(|f| f as u32));
        self.linear_coeffs.extend_from_slice(&coeffs);
        offset(self.linear_features.len())?;
        Ok(base)
    }
}

/// Decodes `decision_type`: bit 0 categorical, bit 1 default-left, bits 2-3
/// the missing type (0 None, 1 Zero, 2 NaN).
fn decision(
    ctx: &Ctx<'_, '_>,
    i: usize,
    decision: i64,
    threshold: f64,
    boundaries: &[usize],
    cat_base: u32,
) -> Result<Test, InferError> {
    if !(0..=255).contains(&decision) {
        return Err(ctx.err("decision_type", format_args!("[{i}]={decision} is not a byte")));
    }
    if decision & CATEGORICAL != 0 {
        // The threshold of a categorical split is the index of its bitset.
        let k = threshold as usize;
        if threshold.fract() != 0.0 || threshold < 0.0 || k >= boundaries.len().saturating_sub(1) {
            return Err(ctx.err(
                "threshold",
                format_args!(
                    "[{i}]={threshold} is not a category set below num_cat={}",
                    boundaries.len().saturating_sub(1)
                ),
            ));
        }
        let (start, end) = (boundaries[k], boundaries[k + 1]);
        return Ok(Test::InSet { start: cat_base + offset(start)?, words: offset(end - start)? });
    }
    let default_left = decision & DEFAULT_LEFT != 0;
    match (decision >> 2) & 3 {
        0 => Ok(Test::Le),
        1 => Ok(Test::LeZeroMissing { default_left }),
        2 => Ok(Test::LeNanMissing { default_left }),
        _ => Err(ctx.err("decision_type", format_args!("[{i}]={decision} has missing type 3, which does not exist"))),
    }
}
