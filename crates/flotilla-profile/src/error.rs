//! The one error type of the profiler: every bad input names the line, row group or column.

use crate::FeatureType;

/// What went wrong while profiling an input or decoding a stored profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The content type is none of CSV, Parquet or Arrow IPC stream (HTTP maps it to 415).
    #[error(
        "unsupported content type {0:?}: expected text/csv, application/vnd.apache.parquet or application/vnd.apache.arrow.stream"
    )]
    UnsupportedContentType(String),
    /// The input has more columns than the profiler's configured limit.
    #[error("the input has {found} columns, more than the limit of {max}")]
    TooManyColumns { found: usize, max: usize },
    /// Two columns share a name, so their profiles could not be told apart.
    #[error("column {column:?} appears more than once")]
    DuplicateColumn { column: String },
    /// The CSV input is empty: not even a header line.
    #[error("the CSV input is empty: it has no header line")]
    EmptyCsv,
    /// A CSV record has a different number of fields than the header.
    #[error("CSV line {line}: {found} fields where the header has {expected}")]
    RaggedCsvRow { line: u64, expected: usize, found: usize },
    /// A CSV record could not be read (bad UTF-8, a broken quote, ...).
    #[error("CSV line {line}: {message}")]
    MalformedCsv { line: u64, message: String },
    /// A CSV field longer than the configured limit (a missing closing quote swallows the file).
    #[error("CSV line {line}: a record of more than {max} bytes")]
    CsvRecordTooLong { line: u64, max: usize },
    /// A CSV value does not fit the type the column's earlier values established.
    #[error(
        "CSV line {line}, column {column:?}: value {value:?} is not {expected}, the type of the column's earlier values"
    )]
    TypeChanged { line: u64, column: String, expected: FeatureType, value: String },
    /// The Parquet file could not be read (truncated, corrupt, an unsupported codec, ...).
    #[error("Parquet: {0}")]
    Parquet(String),
    /// A Parquet row group (read whole, column chunk by column chunk) is over the memory budget.
    #[error(
        "Parquet row group {row_group}, column {column:?}: a column chunk of {bytes} bytes is more than the memory budget of {budget} bytes"
    )]
    ParquetChunkTooLarge { row_group: usize, column: String, bytes: i64, budget: usize },
    /// The Arrow IPC stream could not be read.
    #[error("Arrow IPC stream: {0}")]
    ArrowIpc(String),
    /// An Arrow IPC record batch larger than the memory budget.
    #[error("Arrow IPC stream: record batch {batch} is more than the memory budget of {budget} bytes")]
    ArrowBatchTooLarge { batch: u64, budget: usize },
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// Two profiles disagree on a column's type.
    #[error("profiles do not merge: column {column:?} is {left} in one and {right} in the other")]
    MergeTypeMismatch { column: String, left: FeatureType, right: FeatureType },
    /// Two profiles do not have the same columns.
    #[error("profiles do not merge: column {column:?} is in only one of them")]
    MergeColumnMismatch { column: String },
    /// Stored profile bytes could not be decoded.
    #[error("profile bytes: {0}")]
    CorruptProfile(String),
}

/// How a caller should answer a [`ProfileError`]: the HTTP layer maps these to 415, 400 and 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The content type is not one the profiler reads.
    UnsupportedMediaType,
    /// The input (or a profile sent by a client) is bad: the message names the problem.
    BadInput,
    /// Reading the input failed for a reason that is not the input's fault.
    Internal,
}

impl ProfileError {
    /// The class of answer this error deserves.
    pub fn class(&self) -> ErrorClass {
        match self {
            ProfileError::UnsupportedContentType(_) => ErrorClass::UnsupportedMediaType,
            ProfileError::TooManyColumns { .. }
            | ProfileError::DuplicateColumn { .. }
            | ProfileError::EmptyCsv
            | ProfileError::RaggedCsvRow { .. }
            | ProfileError::MalformedCsv { .. }
            | ProfileError::CsvRecordTooLong { .. }
            | ProfileError::TypeChanged { .. }
            | ProfileError::Parquet(_)
            | ProfileError::ParquetChunkTooLarge { .. }
            | ProfileError::ArrowIpc(_)
            | ProfileError::ArrowBatchTooLarge { .. }
            | ProfileError::MergeTypeMismatch { .. }
            | ProfileError::MergeColumnMismatch { .. }
            | ProfileError::CorruptProfile(_) => ErrorClass::BadInput,
            ProfileError::Io(_) => ErrorClass::Internal,
        }
    }
}
