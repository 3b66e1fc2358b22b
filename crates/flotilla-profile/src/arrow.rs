//! Arrow record batches profiled column by column, from Parquet files and Arrow IPC streams.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::feature::{FeatureProfile, FeatureType};
use crate::profiler::{BoundedReader, is_past_limit};
use crate::{Profile, ProfileError, ProfilerConfig};

pub(crate) fn profile_parquet(config: &ProfilerConfig, file: File) -> Result<Profile, ProfileError> {
    let parquet = |e: parquet::errors::ParquetError| ProfileError::Parquet(e.to_string());
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let mut profile = profile_for(config, builder.schema())?;
    let metadata = builder.metadata().clone();
    for (row_group, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let bytes = column.compressed_size();
            if bytes < 0 || bytes as u64 > config.memory_budget as u64 {
                return Err(ProfileError::ParquetChunkTooLarge {
                    row_group,
                    column: column.column_path().string(),
                    bytes,
                    budget: config.memory_budget,
                });
            }
        }
    }
    let reader = builder.with_batch_size(config.batch_rows.max(1)).build().map_err(parquet)?;
    let mut scratch = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ProfileError::Parquet(e.to_string()))?;
        update(&mut profile, &batch, &mut scratch);
    }
    Ok(profile)
}

pub(crate) fn profile_ipc_stream(config: &ProfilerConfig, reader: impl Read) -> Result<Profile, ProfileError> {
    let (reader, bounds) = BoundedReader::new(reader, config.memory_budget);
    let ipc_error = |e: arrow_schema::ArrowError, batch: u64| {
        if let arrow_schema::ArrowError::IoError(_, io) = &e
            && is_past_limit(io)
        {
            return ProfileError::ArrowBatchTooLarge { batch, budget: config.memory_budget };
        }
        ProfileError::ArrowIpc(e.to_string())
    };
    let stream = arrow_ipc::reader::StreamReader::try_new(reader, None).map_err(|e| ipc_error(e, 0))?;
    bounds.mark();
    let mut profile = profile_for(config, &stream.schema())?;
    let mut scratch = Vec::new();
    for (index, batch) in stream.enumerate() {
        let batch = batch.map_err(|e| ipc_error(e, index as u64 + 1))?;
        bounds.mark();
        update(&mut profile, &batch, &mut scratch);
    }
    Ok(profile)
}

/// An empty profile with the schema's columns, once their count and names are checked.
fn profile_for(config: &ProfilerConfig, schema: &Schema) -> Result<Profile, ProfileError> {
    let fields = schema.fields();
    if fields.len() > config.max_columns {
        return Err(ProfileError::TooManyColumns { found: fields.len(), max: config.max_columns });
    }
    let mut seen = HashSet::with_capacity(fields.len());
    for f in fields {
        if !seen.insert(f.name().as_str()) {
            return Err(ProfileError::DuplicateColumn { column: f.name().clone() });
        }
    }
    Ok(Profile::with_columns(fields.iter().map(|f| (f.name().clone(), feature_type_of(f.data_type())))))
}

/// How an Arrow type is profiled.
#[expect(clippy::wildcard_enum_match_arm, reason = "arrow's DataType: every type not named is counted, not sketched")]
fn feature_type_of(data_type: &DataType) -> FeatureType {
    match data_type {
        DataType::Null => FeatureType::Null,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => FeatureType::Integer,
        DataType::Float32 | DataType::Float64 => FeatureType::Float,
        DataType::Boolean => FeatureType::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => FeatureType::String,
        DataType::Dictionary(_, values) if matches!(values.as_ref(), DataType::Utf8 | DataType::LargeUtf8) => {
            FeatureType::String
        }
        _ => FeatureType::Other,
    }
}

/// Adds one record batch (whose schema is the profile's) to the profile.
pub(crate) fn update(profile: &mut Profile, batch: &RecordBatch, scratch: &mut Vec<f64>) {
    for (feature, array) in profile.features.iter_mut().zip(batch.columns()) {
        update_column(feature, array.as_ref(), scratch);
    }
    profile.rows += batch.num_rows() as u64;
}

macro_rules! numbers {
    ($array:expr, $t:ty, $out:expr) => {
        $out.extend($array.as_primitive::<$t>().iter().flatten().map(|v| v as f64))
    };
}

#[expect(clippy::wildcard_enum_match_arm, reason = "arrow's DataType: every type not named is counted, not sketched")]
fn update_column(feature: &mut FeatureProfile, array: &dyn Array, scratch: &mut Vec<f64>) {
    let nulls = array.logical_null_count() as u64;
    let values = array.len() as u64 - nulls;
    feature.update_nulls(nulls);
    match feature.feature_type {
        FeatureType::Integer | FeatureType::Float => {
            scratch.clear();
            match array.data_type() {
                DataType::Int8 => numbers!(array, Int8Type, scratch),
                DataType::Int16 => numbers!(array, Int16Type, scratch),
                DataType::Int32 => numbers!(array, Int32Type, scratch),
                DataType::Int64 => numbers!(array, Int64Type, scratch),
                DataType::UInt8 => numbers!(array, UInt8Type, scratch),
                DataType::UInt16 => numbers!(array, UInt16Type, scratch),
                DataType::UInt32 => numbers!(array, UInt32Type, scratch),
                DataType::UInt64 => numbers!(array, UInt64Type, scratch),
                DataType::Float32 => numbers!(array, Float32Type, scratch),
                DataType::Float64 => numbers!(array, Float64Type, scratch),
                _ => {}
            }
            feature.update_numbers(scratch);
        }
        FeatureType::Boolean => {
            let bools = array.as_boolean();
            let trues = bools.true_count() as u64;
            if trues > 0 {
                feature.update_category("true", trues);
            }
            if values > trues {
                feature.update_category("false", values - trues);
            }
        }
        FeatureType::String => match array.data_type() {
            DataType::Utf8 => strings(feature, array.as_string::<i32>().iter()),
            DataType::LargeUtf8 => strings(feature, array.as_string::<i64>().iter()),
            DataType::Utf8View => strings(feature, array.as_string_view().iter()),
            DataType::Dictionary(..) => dictionary(feature, array),
            _ => feature.update_unsketched(values),
        },
        FeatureType::Null | FeatureType::Other => feature.update_unsketched(values),
    }
}

fn strings<'a>(feature: &mut FeatureProfile, values: impl Iterator<Item = Option<&'a str>>) {
    for value in values.flatten() {
        feature.update_category(value, 1);
    }
}

/// A dictionary column: each distinct value sketched once with its count.
#[expect(clippy::wildcard_enum_match_arm, reason = "arrow's DataType: every type not named is counted, not sketched")]
fn dictionary(feature: &mut FeatureProfile, array: &dyn Array) {
    let Some(dict) = array.as_any_dictionary_opt() else {
        return;
    };
    let mut counts = vec![0u64; dict.values().len()];
    let keys = dict.keys();
    for (i, key) in dict.normalized_keys().into_iter().enumerate() {
        if keys.is_valid(i) && key < counts.len() {
            counts[key] += 1;
        }
    }
    let values = dict.values();
    let value_at = |i: usize| -> Option<&str> {
        match values.data_type() {
            DataType::Utf8 => values.as_string_opt::<i32>().map(|s| s.value(i)),
            DataType::LargeUtf8 => values.as_string_opt::<i64>().map(|s| s.value(i)),
            _ => None,
        }
    };
    for (i, &count) in counts.iter().enumerate() {
        if count > 0
            && values.is_valid(i)
            && let Some(value) = value_at(i)
        {
            feature.update_category(value, count);
        }
    }
}
