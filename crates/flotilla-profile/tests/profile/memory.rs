//! Memory stays bounded whatever the input's size: a stream far bigger than the batch budget is
//! profiled with the process's peak resident memory growing by a fraction of it. (nextest runs
//! each test in its own process, so the peak is this test's.)

use std::io::Read;

use flotilla_profile::{ContentType, Profiler, ProfilerConfig};

use crate::common::table;

/// A CSV generated as it is read: `rows` rows, never held whole.
struct CsvStream {
    rows: usize,
    next: usize,
    buf: Vec<u8>,
    at: usize,
    row: Vec<u8>,
}

impl Read for CsvStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.next >= self.rows {
                return Ok(0);
            }
            self.buf.clear();
            self.at = 0;
            if self.next == 0 {
                self.buf.extend_from_slice(b"id,value,label,padding\n");
            }
            let end = (self.next + 1000).min(self.rows);
            for i in self.next..end {
                self.row.clear();
                self.row.extend_from_slice(format!("{i},{}.25,label-{},", i % 1013, i % 37).as_bytes());
                self.row.extend_from_slice(&[b'p'; 200]);
                self.row.push(b'\n');
                self.buf.extend_from_slice(&self.row);
            }
            self.next = end;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_csv_stream_many_times_the_batch_budget_keeps_memory_bounded() {
    let rows = 300_000; // ~72 MB of CSV
    let config = ProfilerConfig { batch_rows: 4096, batch_bytes: 1 << 20, ..ProfilerConfig::default() };
    let before = peak_rss_kb();
    let stream = CsvStream { rows, next: 0, buf: Vec::new(), at: 0, row: Vec::new() };
    let p = Profiler::new(config).profile(stream, ContentType::Csv).unwrap();
    let grown_mb = (peak_rss_kb().saturating_sub(before)) as f64 / 1024.0;
    eprintln!("peak resident memory grew by {grown_mb:.1} MB");
    assert_eq!(p.rows, rows as u64);
    assert_eq!(p.feature("padding").unwrap().rows, rows as u64);
    assert!(grown_mb < 24.0, "peak memory grew by {grown_mb:.1} MB for a ~72 MB input");
}

#[test]
fn a_parquet_file_bigger_than_a_batch_is_read_batch_by_batch() {
    let t = table(100_000, 9);
    let bytes = t.parquet(0..100_000, 30_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    std::fs::write(&path, &bytes).unwrap();
    let p = Profiler::new(ProfilerConfig { batch_rows: 1000, ..ProfilerConfig::default() })
        .profile_file(std::fs::File::open(&path).unwrap(), ContentType::Parquet)
        .unwrap();
    assert_eq!(p.rows, 100_000);
    assert_eq!(p.feature("x").unwrap().rows, 100_000);
    let whole = Profiler::default().profile(&bytes[..], ContentType::Parquet).unwrap();
    assert_eq!(
        p.feature("x").unwrap().numeric().unwrap().moments.count,
        whole.feature("x").unwrap().numeric().unwrap().moments.count
    );
}
