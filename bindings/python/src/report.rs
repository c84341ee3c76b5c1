//! `Report`: the outcome of a run. `summary.json` is rendered while the run still has the
//! GIL released, so `summary` is that file itself, as a dict with `decimal.Decimal` amounts.
//! `write` streams the folder as the command line does, and `files` renders the five files
//! the first time it is asked (the other outputs are not held in memory until then).

use std::path::PathBuf;
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use harmoni::{Error, OutputFile};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::errors::{guarded, to_py_err};
use crate::tables::{self, Kind, Table};

/// The reconciliation of one cycle.
#[pyclass(module = "harmoni", name = "Report", frozen)]
pub struct Report {
    report: harmoni::Report,
    summary: OutputFile,
    files: OnceLock<Vec<OutputFile>>,
    tables: [OnceLock<RecordBatch>; 4],
}

impl Report {
    pub fn new(report: harmoni::Report, summary: OutputFile) -> Report {
        Report { report, summary, files: OnceLock::new(), tables: Default::default() }
    }

    fn table(&self, py: Python<'_>, kind: Kind) -> PyResult<Table> {
        let slot = &self.tables[kind as usize];
        if let Some(batch) = slot.get() {
            return Ok(Table::new(kind, batch.clone()));
        }
        let built = py.detach(|| {
            guarded(|| tables::build(&self.report, kind).map_err(|e| Error::Internal(format!("{}: {e}", kind.file()))))
        });
        let batch = built.map_err(|e| to_py_err(py, &e))?;
        Ok(Table::new(kind, slot.get_or_init(|| batch).clone()))
    }
}

/// `summary.json` as Python values; strings under `programs` and `totals` are amounts and
/// become `decimal.Decimal` (exactly their text).
fn to_python<'py>(
    py: Python<'py>,
    value: &serde_json::Value,
    amounts: bool,
    decimal: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => decimal.call1((n.to_string(),))?,
        },
        Value::String(s) if amounts => decimal.call1((s.as_str(),))?,
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item, amounts, decimal)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item, amounts, decimal)?)?;
            }
            dict.into_any()
        }
    })
}

#[pymethods]
impl Report {
    /// `summary.json` as a dict: per program and in `totals`, amounts are `decimal.Decimal`
    /// (`allocated`, `settled`, `held`, `remaining`, ...), counts are ints.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let value: serde_json::Value = serde_json::from_slice(&self.summary.bytes)
            .map_err(|e| to_py_err(py, &Error::Internal(format!("summary.json: {e}"))))?;
        let decimal = py.import("decimal")?.getattr("Decimal")?;
        let dict = PyDict::new(py);
        if let serde_json::Value::Object(map) = &value {
            for (key, item) in map {
                let amounts = key == "programs" || key == "totals";
                dict.set_item(key, to_python(py, item, amounts, &decimal)?)?;
            }
        }
        Ok(dict)
    }

    /// Every finding (`findings.csv`).
    #[getter]
    fn findings(&self, py: Python<'_>) -> PyResult<Table> {
        self.table(py, Kind::Findings)
    }

    /// Net settlement per merchant and program (`settlement.csv`).
    #[getter]
    fn settlement(&self, py: Python<'_>) -> PyResult<Table> {
        self.table(py, Kind::Settlement)
    }

    /// Every kept allocation and what is left of it (`balances.csv`).
    #[getter]
    fn balances(&self, py: Python<'_>) -> PyResult<Table> {
        self.table(py, Kind::Balances)
    }

    /// Every rejected row (`rejects.csv`).
    #[getter]
    fn rejects(&self, py: Python<'_>) -> PyResult<Table> {
        self.table(py, Kind::Rejects)
    }

    /// The five output files by name, byte for byte as `write` and the command line write them.
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let files = match self.files.get() {
            Some(files) => files,
            None => {
                let rendered = py.detach(|| guarded(|| Ok(self.report.files()))).map_err(|e| to_py_err(py, &e))?;
                self.files.get_or_init(|| rendered)
            }
        };
        let dict = PyDict::new(py);
        for file in files {
            dict.set_item(file.name, PyBytes::new(py, &file.bytes))?;
        }
        Ok(dict)
    }

    /// Writes the output folder, exactly as the command line does: `path` must not exist or
    /// be empty unless `replace` is true; the folder is written to a temporary sibling and
    /// renamed into place, so it is never half-written.
    #[pyo3(signature = (path, *, replace = false))]
    fn write(&self, py: Python<'_>, path: PathBuf, replace: bool) -> PyResult<()> {
        let report = &self.report;
        py.detach(|| guarded(|| report.write(&path, replace))).map_err(|e| to_py_err(py, &e))
    }

    fn __repr__(&self) -> String {
        let totals = &self.report.summary.totals;
        format!(
            "<harmoni.Report settled={} held={} findings={} settlement={} balances={} rejects={}>",
            totals.settled,
            totals.held,
            self.report.findings.len(),
            self.report.settlement.len(),
            self.report.balances.len(),
            self.report.rejects.len()
        )
    }
}
