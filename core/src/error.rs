//! Operating failures: the run could not produce a report.
//!
//! Findings (what the rules say about rows) are data in the report, never errors; a bad row
//! is a reject, and an error only in strict mode. Each variant carries what a person needs to
//! find the problem: the file, and where they apply the line and column.

use std::fmt;

/// Where in a file something went wrong. Lines count from 1 (the header of a CSV file is
/// line 1); columns are column names for CSV files and character positions for JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as the caller named it (a path, or the role name for in-memory input).
    pub file: String,
    /// The line where the record or value starts, when known.
    pub line: Option<u64>,
    /// The column name (CSV) or position (JSON), when known.
    pub column: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        Ok(())
    }
}

/// Why a run failed. Deliberately not `#[non_exhaustive]`: every front door maps each
/// variant in one exhaustive `match` (an exception class, an exit code), so a new variant
/// fails to compile until it is mapped everywhere.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The rulebook is not valid: the whole run is refused.
    #[error("rulebook {at}: {reason}")]
    Rulebook {
        /// Where (line and character column of the JSON, when known).
        at: Location,
        /// What was expected and what was found.
        reason: String,
    },
    /// A CSV file as a whole is unusable: missing or repeated column, no header, an
    /// unterminated quote.
    #[error("{at}: {reason}")]
    File {
        /// Where.
        at: Location,
        /// What was expected and what was found.
        reason: String,
    },
    /// Strict mode: the first bad row, with the message `rejects.csv` would have held.
    #[error("{at}: {reason}")]
    BadRow {
        /// Where: file, line, and the first failing column (none when the row as a whole is bad).
        at: Location,
        /// The reason, as in `rejects.csv`.
        reason: String,
    },
    /// Input goes beyond one of the limits in [`crate::limits`].
    #[error("{at}: {reason}")]
    Limit {
        /// Where.
        at: Location,
        /// Which limit, and the value found.
        reason: String,
    },
    /// The output folder cannot be used (it exists and is not empty, say).
    #[error("output {path}: {reason}")]
    Output {
        /// The output folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// The caller asked the run to stop (Ctrl-C, a cancelled browser job).
    #[error("the run was cancelled")]
    Cancelled,
    /// A bug in Harmoni: an invariant such as conservation failed. No report is produced,
    /// because a wrong report is worse than none.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// A stable, lower-case code for the variant, used by the bindings (`err.code` in JS).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Rulebook { .. } => "rulebook",
            Error::File { .. } => "file",
            Error::BadRow { .. } => "bad_row",
            Error::Limit { .. } => "limit",
            Error::Output { .. } => "output",
            Error::Cancelled => "cancelled",
            Error::Internal(_) => "internal",
        }
    }

    /// The location the error names, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Rulebook { at, .. }
            | Error::File { at, .. }
            | Error::BadRow { at, .. }
            | Error::Limit { at, .. } => Some(at),
            _ => None,
        }
    }

    pub(crate) fn file(file: &str, line: Option<u64>, reason: impl Into<String>) -> Error {
        Error::File { at: Location { file: file.to_owned(), line, column: None }, reason: reason.into() }
    }

    pub(crate) fn limit(file: &str, line: Option<u64>, reason: impl Into<String>) -> Error {
        Error::Limit { at: Location { file: file.to_owned(), line, column: None }, reason: reason.into() }
    }
}

/// Short for `Result<T, harmoni::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
