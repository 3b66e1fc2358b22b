//! Sketch sizes: ≤ 8 KB per numeric feature, ≤ 16 KB per categorical one, at a million rows.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use flotilla_profile::{ContentType, Profile, Profiler};

use crate::common::Rng;

const ROWS: usize = 1_000_000;

fn stream(name: &str, array: ArrayRef) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, array.data_type().clone(), true)]));
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).unwrap();
    let batch = RecordBatch::try_new(schema.clone(), vec![array]).unwrap();
    let mut at = 0;
    while at < batch.num_rows() {
        let len = 65_536.min(batch.num_rows() - at);
        w.write(&batch.slice(at, len)).unwrap();
        at += len;
    }
    w.finish().unwrap();
    out
}

/// Bytes a one-feature profile's feature takes: the whole profile less its empty envelope.
fn feature_bytes(p: &Profile) -> usize {
    p.to_bytes().len() - Profile::default().to_bytes().len()
}

#[test]
fn a_numeric_feature_fits_in_8_kb() {
    let mut rng = Rng::new(42);
    let values: Vec<f64> = (0..ROWS).map(|_| rng.unit() * 1e9).collect();
    let bytes = stream("x", Arc::new(Float64Array::from(values)));
    let p = Profiler::default().profile(&bytes[..], ContentType::ArrowStream).unwrap();
    let size = feature_bytes(&p);
    eprintln!("numeric feature at {ROWS} rows: {size} bytes");
    assert!(size <= 8 * 1024, "numeric feature: {size} bytes");
    assert!(size > 1024, "numeric feature: {size} bytes holds a KLL sketch");
}

#[test]
fn a_categorical_feature_of_long_distinct_texts_fits_in_16_kb() {
    let mut rng = Rng::new(43);
    // Half the rows spread over 10 heavy values, half distinct, all ~300 bytes: the HLL at full
    // size and every frequent-items slot holding an item cut to 96 bytes.
    let pad = "é".repeat(145);
    let values: Vec<String> = (0..ROWS / 2)
        .map(|i| if i % 2 == 0 { format!("heavy-{}-{pad}", i % 20) } else { format!("{i}-{}-{pad}", rng.next_u64()) })
        .collect();
    let bytes = stream("text", Arc::new(StringArray::from(values)));
    let p = Profiler::default().profile(&bytes[..], ContentType::ArrowStream).unwrap();
    let size = feature_bytes(&p);
    eprintln!("categorical feature: {size} bytes");
    assert!(size <= 16 * 1024, "categorical feature: {size} bytes");
    let summary = p.summary();
    let category = summary.features[0].category.as_ref().unwrap();
    let truth = (ROWS / 4 + 10) as f64;
    assert!(category.distinct_lower <= truth && truth <= category.distinct_upper);
    assert!(category.top.iter().all(|t| t.value.len() <= 96));
    let heavy = category.top.iter().take(10).filter(|t| t.value.starts_with("heavy-")).count();
    assert_eq!(heavy, 10, "the heavy values lead: {:?}", category.top);
}
