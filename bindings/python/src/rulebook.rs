//! `Rulebook`: the core's rulebook, read from a path, a JSON text or a dict.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::errors::{guarded, to_py_err};

/// The name a rulebook given as text or a dict has in messages.
const RULEBOOK_NAME: &str = "rulebook.json";

/// The rules of a cycle (SPEC "Rulebook"): currency scale, timezone, programs and the
/// thresholds of the review rules. A bad rulebook raises `RulebookError` with its line and
/// column.
#[pyclass(module = "harmoni", name = "Rulebook", frozen)]
pub struct Rulebook {
    pub inner: Arc<harmoni::Rulebook>,
}

impl Rulebook {
    fn read(py: Python<'_>, name: &str, json: &[u8]) -> PyResult<Rulebook> {
        guarded(|| harmoni::Rulebook::from_json(name, json))
            .map(|inner| Rulebook { inner: Arc::new(inner) })
            .map_err(|e| to_py_err(py, &e))
    }

    /// A rulebook from what `reconcile` accepts: a `Rulebook`, a path, or a dict.
    pub fn resolve(value: &Bound<'_, PyAny>) -> PyResult<Arc<harmoni::Rulebook>> {
        let py = value.py();
        if let Ok(rulebook) = value.cast::<Rulebook>() {
            return Ok(Arc::clone(&rulebook.get().inner));
        }
        if value.is_instance_of::<PyDict>() {
            return Ok(Rulebook::from_dict(py, value)?.inner);
        }
        if let Ok(path) = value.extract::<PathBuf>() {
            if !value.is_instance_of::<PyBytes>() {
                return Ok(Rulebook::from_path(py, path)?.inner);
            }
        }
        Err(PyTypeError::new_err(format!(
            "rulebook: expected a harmoni.Rulebook, a path or a dict, got {}",
            value.get_type().name()?
        )))
    }
}

/// `json.dumps` help: a `decimal.Decimal` becomes its exact text (a JSON string, which the
/// rulebook accepts for every decimal).
#[pyfunction]
fn decimal_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let decimal = value.py().import("decimal")?.getattr("Decimal")?;
    if value.is_instance(&decimal)? {
        return value.str()?.extract();
    }
    Err(PyTypeError::new_err(format!("rulebook: {} values cannot be written as JSON", value.get_type().name()?)))
}

#[pymethods]
impl Rulebook {
    /// Reads a rulebook file (JSON).
    #[staticmethod]
    fn from_path(py: Python<'_>, path: PathBuf) -> PyResult<Rulebook> {
        guarded(|| harmoni::Rulebook::from_path(&path))
            .map(|inner| Rulebook { inner: Arc::new(inner) })
            .map_err(|e| to_py_err(py, &e))
    }

    /// Reads a rulebook from JSON text (`str` or UTF-8 `bytes`).
    #[staticmethod]
    fn from_json(py: Python<'_>, json: &Bound<'_, PyAny>) -> PyResult<Rulebook> {
        if let Ok(text) = json.cast::<PyString>() {
            return Rulebook::read(py, RULEBOOK_NAME, text.to_cow()?.as_bytes());
        }
        if let Ok(bytes) = json.cast::<PyBytes>() {
            return Rulebook::read(py, RULEBOOK_NAME, bytes.as_bytes());
        }
        Err(PyTypeError::new_err(format!("rulebook: expected JSON as str or bytes, got {}", json.get_type().name()?)))
    }

    /// Reads a rulebook from a dict shaped like the JSON. Decimals may be `decimal.Decimal`,
    /// strings or ints (a float is written as its shortest text, `0.9` as `0.9`).
    #[staticmethod]
    fn from_dict(py: Python<'_>, rulebook: &Bound<'_, PyAny>) -> PyResult<Rulebook> {
        if !rulebook.is_instance_of::<PyDict>() {
            return Err(PyTypeError::new_err(format!(
                "rulebook: expected a dict, got {}",
                rulebook.get_type().name()?
            )));
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("default", wrap_pyfunction!(decimal_text, py)?)?;
        kwargs.set_item("allow_nan", false)?;
        let json: String = py.import("json")?.getattr("dumps")?.call((rulebook,), Some(&kwargs))?.extract()?;
        Rulebook::read(py, RULEBOOK_NAME, json.as_bytes())
    }

    /// Decimals of every amount.
    #[getter]
    fn currency_scale(&self) -> u32 {
        self.inner.currency_scale()
    }

    /// The program codes, sorted.
    #[getter]
    fn programs(&self) -> Vec<String> {
        self.inner.programs().iter().map(|p| p.code().to_owned()).collect()
    }

    /// SHA-256 of the rulebook's bytes (as `summary.json` states it).
    #[getter]
    fn sha256(&self) -> &str {
        self.inner.sha256()
    }

    fn __repr__(&self) -> String {
        format!("<harmoni.Rulebook programs={:?} currency_scale={}>", self.programs(), self.inner.currency_scale())
    }
}
