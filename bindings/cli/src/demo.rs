//! The demo data set, built into the binary: a Kediri-like city of a few hundred cards over
//! August 2022 on which every rule of SPEC fires at least once, with a handful of bad rows.
//!
//! The files in `examples/data/demo/` are exactly what the generator writes for
//! [`config()`] (a test checks it); to make them again:
//!
//! ```text
//! cargo run --release -p harmoni-cli -- generate --cards 300 --debits 2500 --seed 2022 \
//!     --out examples/data/demo --replace
//! ```

use harmoni::{Inputs, Rulebook, Source};

/// rulebook.json of the demo.
pub const RULEBOOK: &[u8] = include_bytes!("../../../examples/data/demo/rulebook.json");
/// allocations.csv of the demo.
pub const ALLOCATIONS: &[u8] = include_bytes!("../../../examples/data/demo/allocations.csv");
/// debits.csv of the demo.
pub const DEBITS: &[u8] = include_bytes!("../../../examples/data/demo/debits.csv");
/// merchants.csv of the demo.
pub const MERCHANTS: &[u8] = include_bytes!("../../../examples/data/demo/merchants.csv");

/// The generator settings the demo files come from.
pub fn config() -> crate::generate::Config {
    crate::generate::Config::new(300, 2500, 2022)
}

/// The demo's rulebook.
pub fn rulebook() -> Rulebook {
    Rulebook::from_json("rulebook.json", RULEBOOK).expect("the demo rulebook is valid")
}

/// The demo's three CSV files.
pub fn inputs() -> Inputs {
    Inputs {
        allocations: Source::from_bytes("allocations.csv", ALLOCATIONS),
        debits: Source::from_bytes("debits.csv", DEBITS),
        merchants: Some(Source::from_bytes("merchants.csv", MERCHANTS)),
    }
}
