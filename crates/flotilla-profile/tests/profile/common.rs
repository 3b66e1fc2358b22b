//! Deterministic test data and writers for the profiler's tests.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of 4 uniforms), mean 100, sd ~ 29.
    pub fn normalish(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() * 50.0
    }
}

/// A table of `rows`: `x` float (some NaN, some null), `n` integer, `city` string (skewed, some
/// null) and `flag` boolean, as column vectors.
pub struct Table {
    pub x: Vec<Option<f64>>,
    pub n: Vec<i64>,
    pub city: Vec<Option<String>>,
    pub flag: Vec<bool>,
}

pub fn table(rows: usize, seed: u64) -> Table {
    let mut rng = Rng::new(seed);
    let mut t = Table {
        x: Vec::with_capacity(rows),
        n: Vec::with_capacity(rows),
        city: Vec::with_capacity(rows),
        flag: Vec::with_capacity(rows),
    };
    for i in 0..rows {
        let u = rng.unit();
        t.x.push(if u < 0.01 {
            None
        } else if u < 0.02 {
            Some(f64::NAN)
        } else {
            Some(rng.normalish() * 1e3 + 1e6)
        });
        t.n.push((rng.next_u64() % 1000) as i64 - 500);
        let c = rng.unit();
        // city-0 holds 20 % of the rows, then a long tail of ~5000 names.
        t.city.push(if c < 0.05 {
            None
        } else if c < 0.25 {
            Some("city-0".to_owned())
        } else {
            Some(format!("city-{}", ((c * c * c) * 5000.0) as u64))
        });
        t.flag.push(i % 3 == 0);
    }
    t
}

impl Table {
    pub fn len(&self) -> usize {
        self.n.len()
    }

    pub fn csv(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        let mut out = String::from("x,n,city,flag\n");
        for i in range {
            let x = match self.x[i] {
                None => String::new(),
                Some(v) if v.is_nan() => "NaN".into(),
                Some(v) => format!("{v:?}"),
            };
            let city = self.city[i].clone().unwrap_or_default();
            out.push_str(&format!("{x},{},{city},{}\n", self.n[i], self.flag[i]));
        }
        out.into_bytes()
    }

    pub fn batch(&self, range: std::ops::Range<usize>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("n", DataType::Int64, false),
            Field::new("city", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(self.x[range.clone()].to_vec())),
            Arc::new(Int64Array::from(self.n[range.clone()].to_vec())),
            Arc::new(StringArray::from(self.city[range.clone()].to_vec())),
            Arc::new(arrow_array::BooleanArray::from(self.flag[range].to_vec())),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    pub fn parquet(&self, range: std::ops::Range<usize>, row_group_rows: usize) -> Vec<u8> {
        let batch = self.batch(range);
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(row_group_rows))
            .build();
        let mut out = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        out
    }

    pub fn ipc(&self, range: std::ops::Range<usize>, batch_rows: usize) -> Vec<u8> {
        let batch = self.batch(range);
        let mut out = Vec::new();
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
        let mut at = 0;
        while at < batch.num_rows() {
            let len = batch_rows.min(batch.num_rows() - at);
            writer.write(&batch.slice(at, len)).unwrap();
            at += len;
        }
        writer.finish().unwrap();
        out
    }

    /// The finite, non-NaN values of `x`, sorted.
    pub fn sorted_x(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        let mut v: Vec<f64> = self.x[range].iter().flatten().copied().filter(|v| !v.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// The fraction of `sorted` at or below `q`.
pub fn rank_of(sorted: &[f64], q: f64) -> f64 {
    sorted.partition_point(|v| *v <= q) as f64 / sorted.len() as f64
}

pub fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}
