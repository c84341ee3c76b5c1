//! Shared set-up of the benches: generated inputs, made once per size and kept in memory.

use harmoni::{Inputs, Rulebook, Source};
use harmoni_cli::generate::{generate, Config};

/// A generated cycle, ready to reconcile.
pub struct Cycle {
    /// The rulebook.
    pub rulebook: Rulebook,
    /// The three CSV files.
    pub inputs: Inputs,
    /// Bytes of all CSV inputs (for throughput).
    pub bytes: u64,
}

/// Generates `debits` debits over `cards` cards (seed 1, the generator's default programs).
pub fn cycle(cards: u64, debits: u64) -> Cycle {
    let data = generate(&Config::new(cards, debits, 1)).expect("the generator accepts these sizes");
    let rulebook = Rulebook::from_json("rulebook.json", &data.rulebook).expect("the generated rulebook is valid");
    let bytes = (data.allocations.len() + data.debits.len() + data.merchants.len()) as u64;
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", data.allocations),
        debits: Source::from_bytes("debits.csv", data.debits),
        merchants: Some(Source::from_bytes("merchants.csv", data.merchants)),
    };
    Cycle { rulebook, inputs, bytes }
}
