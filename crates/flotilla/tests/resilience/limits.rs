//! (filled in by the limits class tests)
