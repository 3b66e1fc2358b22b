//! Validation rules and limits mirrored from MLflow.
