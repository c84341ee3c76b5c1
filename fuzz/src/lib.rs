//! Shared code of the harmoni fuzz targets: [`harness`] runs an input and checks the report
//! (it is also replayed by `core/tests/hostile.rs`), [`case`] builds the structured inputs of
//! the `differential` target.

pub mod case;
pub mod harness;
