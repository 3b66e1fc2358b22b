//! (filled in by the registry class tests)
