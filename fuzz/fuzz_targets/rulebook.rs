//! Arbitrary bytes as the rulebook: an error of kind `rulebook` or `limit`, or a rulebook
//! that passes its own checks and runs on the fixed valid files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| harmoni_fuzz::harness::rulebook(bytes));
