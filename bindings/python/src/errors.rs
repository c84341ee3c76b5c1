//! The exception hierarchy: one class per [`harmoni::Error`] variant under [`HarmoniError`],
//! and the guard that keeps Rust panics from reaching Python.
//!
//! Every exception carries `code` (the core's stable code), `file`, `line` and `column`
//! (where they apply, else `None`) and `reason`; `str(error)` is the core's message, the
//! same text the command line prints.

use std::panic::{catch_unwind, AssertUnwindSafe};

use harmoni::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

create_exception!(harmoni, HarmoniError, PyException, "Base class of every error Harmoni raises.");
create_exception!(harmoni, IoError, HarmoniError, "A file could not be read or written.");
create_exception!(harmoni, RulebookError, HarmoniError, "The rulebook is not valid: the whole run is refused.");
create_exception!(
    harmoni,
    FileError,
    HarmoniError,
    "An input as a whole is unusable: missing or repeated column, no header, unterminated quote, a table column that cannot be read as text."
);
create_exception!(
    harmoni,
    BadRowError,
    HarmoniError,
    "Strict mode: the first bad row, with the reason rejects.csv would hold."
);
create_exception!(harmoni, LimitError, HarmoniError, "Input goes beyond one of Harmoni's limits.");
create_exception!(
    harmoni,
    OutputError,
    HarmoniError,
    "The output folder cannot be used (it exists and is not empty, say)."
);
create_exception!(
    harmoni,
    CancelledError,
    HarmoniError,
    "The run was cancelled (the progress callback returned False)."
);
create_exception!(
    harmoni,
    InternalError,
    HarmoniError,
    "A bug in Harmoni (an invariant failed, or a panic was caught): no report is produced."
);

/// The error classes, with the attributes every instance has set to their defaults on the
/// class itself (so `HarmoniError.line` exists, as the stubs say).
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let classes = [
        py.get_type::<HarmoniError>(),
        py.get_type::<IoError>(),
        py.get_type::<RulebookError>(),
        py.get_type::<FileError>(),
        py.get_type::<BadRowError>(),
        py.get_type::<LimitError>(),
        py.get_type::<OutputError>(),
        py.get_type::<CancelledError>(),
        py.get_type::<InternalError>(),
    ];
    let base = &classes[0];
    base.setattr("code", "")?;
    base.setattr("reason", "")?;
    for attribute in ["file", "line", "column"] {
        base.setattr(attribute, py.None())?;
    }
    for class in classes {
        module.add(class.name()?, class)?;
    }
    Ok(())
}

/// The Python class of a core error. One exhaustive list of the variants: a variant added to
/// the core fails to compile here until it has its class.
fn class_of<'py>(py: Python<'py>, error: &Error) -> Bound<'py, PyType> {
    match error {
        Error::Io { .. } => py.get_type::<IoError>(),
        Error::Rulebook { .. } => py.get_type::<RulebookError>(),
        Error::File { .. } => py.get_type::<FileError>(),
        Error::BadRow { .. } => py.get_type::<BadRowError>(),
        Error::Limit { .. } => py.get_type::<LimitError>(),
        Error::Output { .. } => py.get_type::<OutputError>(),
        Error::Cancelled => py.get_type::<CancelledError>(),
        Error::Internal(_) => py.get_type::<InternalError>(),
    }
}

/// The reason alone, without the location the message starts with.
fn reason_of(error: &Error) -> String {
    match error {
        Error::Rulebook { reason, .. }
        | Error::File { reason, .. }
        | Error::BadRow { reason, .. }
        | Error::Limit { reason, .. }
        | Error::Output { reason, .. } => reason.clone(),
        Error::Io { source, .. } => source.to_string(),
        Error::Internal(reason) => reason.clone(),
        Error::Cancelled => error.to_string(),
    }
}

/// A core error as a Python exception of its class, with its attributes set.
pub fn to_py_err(py: Python<'_>, error: &Error) -> PyErr {
    let class = class_of(py, error);
    let built = (|| -> PyResult<PyErr> {
        let instance = class.call1((error.to_string(),))?;
        instance.setattr("code", error.code())?;
        instance.setattr("reason", reason_of(error))?;
        let (file, line, column) = match (error, error.location()) {
            (_, Some(at)) => (Some(at.file.clone()), at.line, at.column.clone()),
            (Error::Io { path, .. } | Error::Output { path, .. }, None) => (Some(path.clone()), None, None),
            _ => (None, None, None),
        };
        instance.setattr("file", file)?;
        instance.setattr("line", line)?;
        instance.setattr("column", column)?;
        Ok(PyErr::from_value(instance))
    })();
    built.unwrap_or_else(|failed| failed)
}

/// Runs `f`, turning a panic into [`Error::Internal`]: no panic ever crosses into Python
/// (pyo3 would raise `PanicException`, a `BaseException` that `except Exception` misses).
pub fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(Error::Internal(format!("panic: {what}")))
    })
}
