//! (filled in by the model_files class tests)
