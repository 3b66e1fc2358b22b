//! (filled in by the connections class tests)
