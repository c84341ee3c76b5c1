//! Small structured cycles (see `harmoni_fuzz::case`): threads 1 and 4 give byte-identical
//! files, conservation and bookkeeping hold, reordered rows change nothing but lines, and the
//! report agrees with the sequential reference of `core/tests/reference/mod.rs`.
//!
//! With `HARMONI_FUZZ_BUNDLE=<path>` set, the rendered input is written to that file before
//! it runs (how a crash becomes a committed `fuzz/regressions/differential/*.bundle`).
#![no_main]

use harmoni_fuzz::case::{check_against_reference, Case};
use harmoni_fuzz::harness::differential;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let (rendered, expected) = case.build();
    if let Some(path) = std::env::var_os("HARMONI_FUZZ_BUNDLE") {
        std::fs::write(path, rendered.to_bundle()).expect("writing the bundle");
    }
    if let Some(report) = differential(&rendered) {
        check_against_reference(&report, &expected);
    }
});
