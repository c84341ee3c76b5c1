//! # harmoni for Python
//!
//! The extension module `harmoni._harmoni`, re-exported by the `harmoni` package. It stays
//! thin: each function converts its inputs, calls one core function with the GIL released,
//! and converts the result. No rule and no arithmetic on money live here.
//!
//! - `run`: `reconcile(rulebook, allocations, debits, merchants, threads=, strict=,
//!   progress=)`; inputs are paths, bytes, or Arrow tables (`csv` writes those as the CSV
//!   text the core reads).
//! - `report`: `Report`: `summary` (a dict, amounts as `decimal.Decimal`), four `tables`
//!   (Arrow PyCapsule streams), `files()`, `write(path)`.
//! - `rulebook`: `Rulebook.from_path / from_json / from_dict`.
//! - `errors`: one exception class per core error variant, and the panic guard.

mod csv;
mod errors;
mod report;
mod rulebook;
mod run;
mod tables;

use pyo3::prelude::*;

/// Raises `InternalError` from inside the panic guard: the test suite checks that a panic in
/// Rust reaches Python as `harmoni.InternalError`, never as pyo3's `PanicException`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    py.detach(|| errors::guarded(|| -> Result<(), harmoni::Error> { panic!("a test asked for a panic") }))
        .map_err(|e| errors::to_py_err(py, &e))
}

/// The extension module.
#[pymodule]
fn _harmoni(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<rulebook::Rulebook>()?;
    module.add_class::<report::Report>()?;
    module.add_class::<tables::Table>()?;
    module.add_function(wrap_pyfunction!(run::reconcile, module)?)?;
    // Not in `__all__`: a test hook, not API.
    module.setattr("_panic_for_tests", wrap_pyfunction!(_panic_for_tests, module)?)?;
    errors::register(module)?;
    Ok(())
}
