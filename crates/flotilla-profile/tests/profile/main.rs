//! The profiler on real files: merge equals whole, sketch budgets, bad inputs, bounded memory.

mod bad_input;
mod budget;
mod common;
mod memory;
mod merge;
