//! Arbitrary bytes as merchants.csv, with the fixed valid rulebook and other files: no panic,
//! and every check of `harmoni_fuzz::harness` holds.
#![no_main]

use harmoni_fuzz::harness::{csv_file, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| csv_file(Role::Merchants, bytes));
