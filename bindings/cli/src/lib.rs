//! The `harmoni` command line, as a library: the commands ([`cli`]), the summary they print
//! ([`summary`]), the demo data built into the binary ([`demo`]), and the synthetic data
//! generator ([`generate`]) that benches and tests call directly.
//!
//! Like every binding, it converts, calls [`harmoni::reconcile`] once, and converts back:
//! no rule and no arithmetic on money live here.

pub mod cli;
pub mod demo;
pub mod generate;
pub mod summary;

/// Exit codes of the `harmoni` binary (also in `--help` and bindings/cli/README.md).
pub mod exit {
    /// Success; findings do not change it.
    pub const SUCCESS: u8 = 0;
    /// Usage error: unknown command or flag, a missing or bad value (clap's code too).
    pub const USAGE: u8 = 2;
    /// Input error: a file cannot be read, a bad rulebook, an unusable CSV file, a bad row
    /// in strict mode, or a limit.
    pub const INPUT: u8 = 3;
    /// Output error: the output folder exists and is not empty, or cannot be written.
    pub const OUTPUT: u8 = 4;
    /// Internal error: a bug in harmoni.
    pub const INTERNAL: u8 = 5;
    /// Cancelled by Ctrl-C (128 + SIGINT).
    pub const CANCELLED: u8 = 130;
}
