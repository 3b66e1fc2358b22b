//! The entry point: a [`Profiler`] reads one input of a [`ContentType`] and returns its [`Profile`].

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::rc::Rc;

use crate::{Profile, ProfileError};

/// The formats the profiler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `text/csv`: a header line, then records; types inferred.
    Csv,
    /// `application/vnd.apache.parquet`.
    Parquet,
    /// `application/vnd.apache.arrow.stream`: the Arrow IPC streaming format.
    ArrowStream,
}

impl ContentType {
    /// Reads a `Content-Type` header value (parameters such as `; charset=utf-8` are ignored).
    pub fn from_mime(value: &str) -> Result<ContentType, ProfileError> {
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" => Ok(ContentType::Csv),
            "application/vnd.apache.parquet" | "application/x-parquet" | "application/parquet" => {
                Ok(ContentType::Parquet)
            }
            "application/vnd.apache.arrow.stream" => Ok(ContentType::ArrowStream),
            _ => Err(ProfileError::UnsupportedContentType(value.to_owned())),
        }
    }

    /// Guesses from a file name's extension (`.csv`, `.parquet`, `.arrows`/`.arrow`).
    pub fn from_path(path: &std::path::Path) -> Result<ContentType, ProfileError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(ContentType::Csv),
            "parquet" | "pq" => Ok(ContentType::Parquet),
            "arrows" | "arrow" => Ok(ContentType::ArrowStream),
            _ => Err(ProfileError::UnsupportedContentType(format!("a file named {}", path.display()))),
        }
    }

    /// The canonical MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::Csv => "text/csv",
            ContentType::Parquet => "application/vnd.apache.parquet",
            ContentType::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }
}

/// The profiler's limits. Memory stays within about `batch_bytes` + `memory_budget` + the
/// sketches (≤ 16 KB a column) whatever the input's size.
#[derive(Debug, Clone)]
pub struct ProfilerConfig {
    /// Inputs with more columns are refused.
    pub max_columns: usize,
    /// Rows per batch (CSV records buffered, Arrow record batch size for Parquet).
    pub batch_rows: usize,
    /// Bytes of CSV records buffered per batch.
    pub batch_bytes: usize,
    /// The longest CSV record, in bytes.
    pub max_record_bytes: usize,
    /// The largest Parquet column chunk or Arrow IPC message.
    pub memory_budget: usize,
}

impl Default for ProfilerConfig {
    fn default() -> Self {
        ProfilerConfig {
            max_columns: 10_000,
            batch_rows: 8192,
            batch_bytes: 16 << 20,
            max_record_bytes: 8 << 20,
            memory_budget: 256 << 20,
        }
    }
}

/// Profiles inputs under a [`ProfilerConfig`]. Blocking: run it on a blocking thread.
#[derive(Debug, Clone, Default)]
pub struct Profiler {
    pub config: ProfilerConfig,
}

impl Profiler {
    pub fn new(config: ProfilerConfig) -> Profiler {
        Profiler { config }
    }

    /// Profiles a stream. Parquet, whose footer comes last, is spooled to a temporary file first.
    pub fn profile(&self, reader: impl Read, content_type: ContentType) -> Result<Profile, ProfileError> {
        match content_type {
            ContentType::Csv => crate::csv::profile_csv(&self.config, reader),
            ContentType::ArrowStream => crate::arrow::profile_ipc_stream(&self.config, reader),
            ContentType::Parquet => {
                let mut spool = tempfile::tempfile()?;
                let mut reader = reader;
                io::copy(&mut reader, &mut spool)?;
                crate::arrow::profile_parquet(&self.config, spool)
            }
        }
    }

    /// Profiles a file.
    pub fn profile_file(&self, file: File, content_type: ContentType) -> Result<Profile, ProfileError> {
        match content_type {
            ContentType::Parquet => crate::arrow::profile_parquet(&self.config, file),
            ContentType::Csv | ContentType::ArrowStream => {
                self.profile(io::BufReader::with_capacity(1 << 16, file), content_type)
            }
        }
    }
}

/// Counts the bytes read since the caller last marked a boundary (a record, a batch), and fails
/// the read once that passes a limit: what keeps one endless CSV record or one giant Arrow message
/// from being buffered whole.
pub(crate) struct BoundedReader<R> {
    inner: R,
    bounds: Bounds,
    limit: u64,
}

/// The shared counters of a [`BoundedReader`]: bytes read, and bytes read at the last boundary.
#[derive(Clone, Default)]
pub(crate) struct Bounds {
    read: Rc<Cell<u64>>,
    mark: Rc<Cell<u64>>,
}

impl Bounds {
    /// Marks a boundary: everything read so far belongs to finished records or batches.
    pub(crate) fn mark(&self) {
        self.mark.set(self.read.get());
    }
}

/// The marker error a [`BoundedReader`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} bytes without a boundary")]
pub(crate) struct PastLimit(pub u64);

impl<R> BoundedReader<R> {
    pub(crate) fn new(inner: R, limit: usize) -> (BoundedReader<R>, Bounds) {
        let bounds = Bounds::default();
        (BoundedReader { inner, bounds: bounds.clone(), limit: limit as u64 }, bounds)
    }
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (read, mark) = (self.bounds.read.get(), self.bounds.mark.get());
        if read.saturating_sub(mark) > self.limit {
            return Err(io::Error::other(PastLimit(self.limit)));
        }
        // Never read further past the boundary than the limit allows.
        let room = (self.limit + 1).saturating_sub(read.saturating_sub(mark));
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX)).max(1);
        let n = self.inner.read(&mut buf[..want])?;
        self.bounds.read.set(read + n as u64);
        Ok(n)
    }
}

/// Whether an I/O error is a [`BoundedReader`]'s.
pub(crate) fn is_past_limit(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<PastLimit>())
}
