//! Walking an [`Ensemble`]'s trees for one row and turning the leaves' votes
//! into scores and a label as onnxruntime does, its two-class special cases
//! included, in `f32` like onnxruntime for float attributes.

use super::ensemble::{Aggregate, Ensemble, Kind, Mode, Node, PostTransform};

/// Per-row scratch, reused across the rows of a batch.
pub(crate) struct Scratch {
    score: Vec<f32>,
    has: Vec<bool>,
}

impl Scratch {
    pub(crate) fn new(width: usize) -> Self {
        Self { score: vec![0.0; width], has: vec![false; width] }
    }
}

impl Ensemble {
    fn leaf(&self, root: usize, row: &[f32]) -> &Node {
        let mut node = &self.nodes[root];
        loop {
            let go_yes = |x: f32, split: bool| split || (node.missing_goes_true && x.is_nan());
            let yes = match node.mode {
                Mode::Leaf => return node,
                Mode::Leq => go_yes(row[node.feature], row[node.feature] <= node.threshold),
                Mode::Lt => go_yes(row[node.feature], row[node.feature] < node.threshold),
                Mode::Gte => go_yes(row[node.feature], row[node.feature] >= node.threshold),
                Mode::Gt => go_yes(row[node.feature], row[node.feature] > node.threshold),
                Mode::Eq => go_yes(row[node.feature], row[node.feature] == node.threshold),
                Mode::Neq => go_yes(row[node.feature], row[node.feature] != node.threshold),
            };
            node = &self.nodes[if yes { node.yes } else { node.no }];
        }
    }

    /// Sums (or takes the min/max of) every tree's votes for `row`.
    fn vote(&self, row: &[f32], aggregate: Aggregate, s: &mut Scratch) {
        s.score.iter_mut().for_each(|x| *x = 0.0);
        s.has.iter_mut().for_each(|x| *x = false);
        for &root in &self.roots {
            let leaf = self.leaf(root, row);
            for &(k, w) in &self.weights[leaf.start..leaf.end] {
                s.score[k] = match aggregate {
                    Aggregate::Sum | Aggregate::Average => s.score[k] + w,
                    Aggregate::Min if s.has[k] => s.score[k].min(w),
                    Aggregate::Max if s.has[k] => s.score[k].max(w),
                    Aggregate::Min | Aggregate::Max => w,
                };
                s.has[k] = true;
            }
        }
    }

    /// Scores for `row` into `out` (`width` values); the label for classifiers.
    pub(crate) fn row(&self, row: &[f32], s: &mut Scratch, out: &mut [f32]) -> Option<i64> {
        match &self.kind {
            Kind::Regressor { aggregate } => {
                self.vote(row, *aggregate, s);
                self.finish_regression(*aggregate, s, out);
                None
            }
            Kind::Classifier { labels, binary, all_positive } => {
                self.vote(row, Aggregate::Sum, s);
                Some(self.finish_classification(labels, *binary, *all_positive, s, out))
            }
        }
    }

    fn finish_regression(&self, aggregate: Aggregate, s: &Scratch, out: &mut [f32]) {
        let trees = self.roots.len() as f32;
        // One target takes a single base value; several take one each or none.
        let base = |k: usize| match (self.width, self.base_values.len()) {
            (1, 1) => self.base_values[0],
            (w, n) if w == n => self.base_values[k],
            _ => 0.0,
        };
        for (k, out) in out.iter_mut().enumerate() {
            *out = match aggregate {
                Aggregate::Sum => s.score[k] + base(k),
                Aggregate::Average => s.score[k] / trees + base(k),
                Aggregate::Min | Aggregate::Max if s.has[k] => s.score[k] + base(k),
                Aggregate::Min | Aggregate::Max => base(k),
            };
        }
    }

    fn finish_classification(
        &self,
        labels: &[i64],
        binary: bool,
        all_positive: bool,
        s: &mut Scratch,
        out: &mut [f32],
    ) -> i64 {
        let (score, has) = (&mut s.score, &mut s.has);
        if self.width > 2 {
            for (k, b) in self.base_values.iter().enumerate().take(self.width) {
                score[k] = if has[k] { score[k] + b } else { *b };
                has[k] = true;
            }
            let mut best: Option<usize> = None;
            for k in (0..self.width).filter(|k| has[*k]) {
                if best.is_none_or(|b| score[k] > score[b]) {
                    best = Some(k);
                }
            }
            transform(self.post, score, out);
            return labels[best.unwrap_or(0)];
        }
        // Two classes: onnxruntime keeps one score when only one class got
        // votes, and derives the other column from it.
        let mut fallback = Second::Keep;
        let mut single = false;
        match self.base_values.len() {
            2 if has[1] => {
                score[1] = self.base_values[1] + score[0];
                score[0] = -score[1];
            }
            2 => {
                score[1] += self.base_values[1];
                score[0] += self.base_values[0];
            }
            1 => {
                score[0] += self.base_values[0];
                single = !has[1];
            }
            0 => {
                fallback = Second::MixedNegative;
                single = !has[1];
            }
            _ => {}
        }
        let positive = match (single, has[1], has[0]) {
            (false, true, _) => score[1],
            (_, _, true) => score[0],
            (_, _, false) => 0.0,
        };
        let (second, label) = match (binary, all_positive) {
            (true, true) if positive > 0.5 => (Second::Complement, labels[1]),
            (true, true) => (Second::Complement, labels[0]),
            (true, false) if positive > 0.0 => (Second::MixedPositive, labels[1]),
            (true, false) => (Second::MixedNegative, labels[0]),
            (false, _) => (fallback, i64::from(positive > 0.0)),
        };
        if single {
            binary_scores(score[0], self.post, second, out);
        } else {
            transform(self.post, score, out);
        }
        label
    }
}

/// How onnxruntime fills the second column from a single binary score.
#[derive(Clone, Copy)]
enum Second {
    Keep,
    /// `[1 - s, s]`: votes are probabilities.
    Complement,
    /// `[-s, s]` (or logistic of both): margin for the positive class.
    MixedPositive,
    /// `[s, -s]` (or logistic of both).
    MixedNegative,
}

fn binary_scores(s: f32, post: PostTransform, second: Second, out: &mut [f32]) {
    let logistic = post == PostTransform::Logistic;
    let (a, b) = match second {
        Second::Complement => (1.0 - s, s),
        Second::MixedPositive | Second::MixedNegative if logistic => (sigmoid(-s), sigmoid(s)),
        Second::MixedPositive => (-s, s),
        Second::MixedNegative => (s, -s),
        Second::Keep => (s, 0.0),
    };
    out[0] = a;
    out[1] = b;
}

fn transform(post: PostTransform, scores: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&scores[..out.len()]);
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => out.iter_mut().for_each(|x| *x = sigmoid(*x)),
        PostTransform::Softmax => softmax(out, false),
        PostTransform::SoftmaxZero => softmax(out, true),
    }
}

/// onnxruntime's `ComputeLogistic`: symmetric, so large |x| stays exact.
fn sigmoid(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

/// `zero`: (near) zeros stay (near) zero, as onnxruntime's SOFTMAX_ZERO.
fn softmax(v: &mut [f32], zero: bool) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        if zero && x.abs() <= 1e-7 {
            *x *= (-max).exp();
        } else {
            *x = (*x - max).exp();
            sum += *x;
        }
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}
