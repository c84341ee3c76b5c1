//! `reconcile`: converts the inputs, calls the core once with the GIL released, renders the
//! output files, and converts the outcome.
//!
//! While the engine runs, other Python threads keep running. Between stages (and between the
//! batches of a table input) the run briefly takes the GIL back to let Python handle
//! signals: Ctrl-C raises `KeyboardInterrupt` at the next stage, and nothing is written.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatchReader;
use harmoni::{Error, Inputs, Location, Observer, Options, Source, Stage};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes};
use pyo3_arrow::input::AnyRecordBatch;

use crate::errors::{guarded, to_py_err};
use crate::report::Report;
use crate::rulebook::Rulebook;

/// One input as given: a path, bytes, or an Arrow stream (a DataFrame or table).
enum Input {
    Path(PathBuf),
    Bytes(Vec<u8>),
    Arrow(Box<dyn RecordBatchReader + Send>),
}

impl Input {
    /// `role` is the file the input stands for (`debits.csv`), used in messages.
    fn extract(role: &str, value: &Bound<'_, PyAny>) -> PyResult<Input> {
        let py = value.py();
        if let Ok(bytes) = value.cast::<PyBytes>() {
            return Ok(Input::Bytes(bytes.as_bytes().to_vec()));
        }
        if let Ok(bytes) = value.cast::<PyByteArray>() {
            return Ok(Input::Bytes(bytes.to_vec()));
        }
        if let Ok(path) = value.extract::<PathBuf>() {
            return Ok(Input::Path(path));
        }
        if value.hasattr("__arrow_c_stream__")? || value.hasattr("__arrow_c_array__")? {
            let reader = value.extract::<AnyRecordBatch>().and_then(AnyRecordBatch::into_reader).map_err(|cause| {
                let reason = format!("the table could not be exported through the Arrow C stream interface: {cause}");
                let error = Error::File { at: Location { file: role.to_owned(), line: None, column: None }, reason };
                let err = to_py_err(py, &error);
                err.set_cause(py, Some(cause));
                err
            })?;
            return Ok(Input::Arrow(reader));
        }
        let type_name = value.get_type().fully_qualified_name()?.to_string();
        let hint = if type_name.starts_with("pandas.") {
            " (pandas 2.2 or later exports DataFrames; with an older pandas pass pyarrow.Table.from_pandas(df))"
        } else if type_name == "polars.lazyframe.frame.LazyFrame" {
            " (collect() the LazyFrame first)"
        } else {
            ""
        };
        Err(PyTypeError::new_err(format!(
            "{role}: expected a path, bytes, or a table with the Arrow PyCapsule interface \
             (pandas, polars or pyarrow), got {type_name}{hint}"
        )))
    }

    /// The bytes the core reads. Runs without the GIL.
    fn load(self, role: &str, threads: usize, watch: &Watch) -> Result<Source, Error> {
        match self {
            Input::Path(path) => Source::from_path(path),
            Input::Bytes(bytes) => Ok(Source::from_bytes(role, bytes)),
            Input::Arrow(reader) => {
                let bytes = crate::csv::from_arrow(role, reader, threads, || watch.go_on())?;
                Ok(Source::from_bytes(role, bytes))
            }
        }
    }
}

/// The run's observer: tells the progress callback each stage, lets Python handle signals
/// between stages, and remembers the Python exception that stopped the run.
struct Watch {
    progress: Option<Py<PyAny>>,
    stopped: AtomicBool,
    pending: Mutex<Option<PyErr>>,
}

impl Watch {
    fn stop(&self, error: Option<PyErr>) {
        if let Some(error) = error {
            let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.get_or_insert(error);
        }
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// `Err(Cancelled)` once the run must stop.
    fn go_on(&self) -> Result<(), Error> {
        if self.cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    fn take_pending(&self) -> Option<PyErr> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

impl Observer for Watch {
    fn stage(&self, stage: Stage) {
        let Some(progress) = &self.progress else { return };
        Python::attach(|py| match progress.call1(py, (stage.as_str(),)) {
            Ok(answer)
                if answer.bind(py).is_instance_of::<PyBool>() && !answer.bind(py).is_truthy().unwrap_or(true) =>
            {
                self.stop(None);
            }
            Ok(_) => {}
            Err(error) => self.stop(Some(error)),
        });
    }

    fn cancelled(&self) -> bool {
        if self.stopped.load(Ordering::SeqCst) {
            return true;
        }
        if let Err(signal) = Python::attach(|py| py.check_signals()) {
            self.stop(Some(signal));
        }
        self.stopped.load(Ordering::SeqCst)
    }
}

/// Reconciles one cycle (SPEC "Rules") and returns the report.
///
/// `rulebook` is a `Rulebook`, a path or a dict. `allocations`, `debits` and `merchants`
/// are each a path, `bytes`, or a table with the Arrow PyCapsule interface (a pandas,
/// polars or pyarrow DataFrame/Table). `threads`: 0 uses every core; the report is the same
/// whatever the number. `strict`: the first bad row raises `BadRowError` instead of being
/// rejected. `progress` is called with each stage's name as it starts; returning `False`
/// cancels the run (`CancelledError`).
#[pyfunction]
#[pyo3(signature = (rulebook, allocations, debits, merchants = None, *, threads = 0, strict = false, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn reconcile(
    py: Python<'_>,
    rulebook: &Bound<'_, PyAny>,
    allocations: &Bound<'_, PyAny>,
    debits: &Bound<'_, PyAny>,
    merchants: Option<&Bound<'_, PyAny>>,
    threads: usize,
    strict: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Report> {
    let rulebook = Rulebook::resolve(rulebook)?;
    let allocations = Input::extract("allocations.csv", allocations)?;
    let debits = Input::extract("debits.csv", debits)?;
    let merchants = merchants.filter(|m| !m.is_none()).map(|m| Input::extract("merchants.csv", m)).transpose()?;
    let watch = Arc::new(Watch { progress, stopped: AtomicBool::new(false), pending: Mutex::new(None) });
    let options = Options { threads, strict, observer: Some(Arc::clone(&watch) as Arc<dyn Observer>) };
    let outcome = py.detach(|| {
        guarded(|| {
            let inputs = Inputs {
                allocations: allocations.load("allocations.csv", threads, &watch)?,
                debits: debits.load("debits.csv", threads, &watch)?,
                merchants: merchants.map(|m| m.load("merchants.csv", threads, &watch)).transpose()?,
            };
            let report = harmoni::reconcile(&rulebook, &inputs, &options)?;
            watch.go_on()?;
            let summary = report.summary_file();
            Ok((report, summary))
        })
    });
    match outcome {
        Ok((report, summary)) => Ok(Report::new(report, summary)),
        Err(error) => Err(match (&error, watch.take_pending()) {
            (Error::Cancelled, Some(pending)) => pending,
            _ => to_py_err(py, &error),
        }),
    }
}
