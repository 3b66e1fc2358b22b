//! The LightGBM text format split into its header and its `Tree=` blocks of
//! `key=value` lines, each value kept with its line number for error messages.
//!
//! Only the part up to `end of trees` is read: the feature importances, the
//! `parameters:` section and the `pandas_categorical:` trailer that follow do
//! not change what the model computes.

use std::fmt::Display;
use std::str::FromStr;

use crate::InferError;

/// An `InvalidModel` error that names the line of the model file.
pub(super) fn invalid(line: usize, what: impl Display) -> InferError {
    InferError::InvalidModel(format!("LightGBM model, line {line}: {what}"))
}

/// One `key=value` line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field<'a> {
    pub line: usize,
    /// The `Tree=N` the line belongs to; `None` in the header.
    pub tree: Option<usize>,
    pub key: &'a str,
    pub value: &'a str,
}

impl Field<'_> {
    /// An error about this field, naming its line and tree.
    pub fn err(&self, what: impl Display) -> InferError {
        match self.tree {
            Some(tree) => invalid(self.line, format_args!("Tree={tree} {}{what}", self.key)),
            None => invalid(self.line, format_args!("{}{what}", self.key)),
        }
    }

    /// The value as one number.
    pub fn scalar<T: FromStr>(&self) -> Result<T, InferError> {
        self.value.trim().parse().map_err(|_| self.err(format_args!(": '{}' is not a valid number", self.value.trim())))
    }

    /// The value as a space-separated list of numbers; `len` is how many the
    /// rest of the model says there must be.
    pub fn list<T: FromStr>(&self, len: Option<usize>) -> Result<Vec<T>, InferError> {
        let mut out = Vec::new();
        for (i, token) in self.value.split_ascii_whitespace().enumerate() {
            let v = token.parse().map_err(|_| self.err(format_args!("[{i}]: '{token}' is not a valid number")))?;
            out.push(v);
        }
        match len {
            Some(want) if out.len() != want => {
                Err(self.err(format_args!(": expected {want} values, found {}", out.len())))
            }
            Some(_) | None => Ok(out),
        }
    }
}

/// The lines before the first tree: `tree`, `version=v4`, `num_class=...`.
#[derive(Debug, Default)]
pub(super) struct Header<'a> {
    pub fields: Vec<Field<'a>>,
    /// The bare `average_output` line that random-forest mode writes.
    pub average_output: bool,
}

/// One `Tree=N` block.
#[derive(Debug)]
pub(super) struct TreeBlock<'a> {
    /// The line of `Tree=N`.
    pub line: usize,
    pub index: usize,
    pub fields: Vec<Field<'a>>,
}

#[derive(Debug)]
pub(super) struct Text<'a> {
    pub header: Header<'a>,
    pub trees: Vec<TreeBlock<'a>>,
    /// The line of `end of trees`.
    pub end_line: usize,
}

/// Looks a key up among the fields of a header or a tree.
pub(super) fn find<'f, 'a>(fields: &'f [Field<'a>], key: &str) -> Option<&'f Field<'a>> {
    fields.iter().find(|f| f.key == key)
}

fn push_field<'a>(fields: &mut Vec<Field<'a>>, field: Field<'a>) -> Result<(), InferError> {
    if let Some(first) = find(fields, field.key) {
        return Err(field.err(format_args!(" given twice (first on line {})", first.line)));
    }
    fields.push(field);
    Ok(())
}

/// Splits the model text into header and trees. Fails on anything that is not
/// the shape LightGBM writes; values are checked later, where their meaning is
/// known.
pub(super) fn split(text: &str) -> Result<Text<'_>, InferError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
    let first = lines.by_ref().find(|(_, l)| !l.trim().is_empty());
    match first {
        Some((_, "tree")) => {}
        Some((line, other)) => {
            let shown: String = other.chars().take(40).collect();
            return Err(invalid(line, format_args!("expected 'tree' (a LightGBM text model), found '{shown}'")));
        }
        None => return Err(InferError::InvalidModel("LightGBM model file is empty".into())),
    }
    let mut header = Header::default();
    let mut trees: Vec<TreeBlock<'_>> = Vec::new();
    for (line, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        if l == "end of trees" {
            return Ok(Text { header, trees, end_line: line });
        }
        if let Some(index) = l.strip_prefix("Tree=") {
            let index: usize =
                index.trim().parse().map_err(|_| invalid(line, format_args!("'{l}' is not 'Tree=<n>'")))?;
            if index != trees.len() {
                return Err(invalid(line, format_args!("Tree={index} where Tree={} was expected", trees.len())));
            }
            trees.push(TreeBlock { line, index, fields: Vec::new() });
            continue;
        }
        match (l.split_once('='), trees.last_mut()) {
            (Some((key, value)), Some(tree)) => {
                push_field(&mut tree.fields, Field { line, tree: Some(tree.index), key: key.trim(), value })?;
            }
            (Some((key, value)), None) => {
                push_field(&mut header.fields, Field { line, tree: None, key: key.trim(), value })?
            }
            (None, None) if l == "average_output" => header.average_output = true,
            // Other bare header lines are flags of later versions that do
            // not change predictions, or we would not know them anyway.
            (None, None) => {}
            (None, Some(tree)) => {
                return Err(invalid(line, format_args!("unexpected '{l}' in Tree={}", tree.index)));
            }
        }
    }
    Err(InferError::InvalidModel("LightGBM model ends before 'end of trees' (truncated file?)".into()))
}
