//! Estimators on the real pickles of `crate::pickle`'s test data.
