//! (filled in by the decoders class tests)
