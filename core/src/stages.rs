//! Each stage of [`crate::reconcile`] run alone, for the criterion benches only.
//!
//! **Not a stable API**: hidden from the docs, it changes with the engine and no caller but
//! `benches/` may use it. It holds no logic of its own: every function calls the engine's
//! own stage function, so a bench times exactly the code a run executes.
//!
//! Rows borrow the arenas their ids are copied into, so a bench keeps an [`Arenas`] (and the
//! [`Inputs`]) alive, builds a [`Parsed`] once, outside the timed region,
//! and hands each stage what the stage before it produced. Stages that consume their input
//! (the cards take the identity outcome, the report takes everything) get a fresh one from a
//! clone or a re-run made outside the timed region (criterion's `iter_batched`).

use crate::cards::Registry;
use crate::engine::{self, Ingested, Inputs};
use crate::error::Error;
use crate::finding::FoundList;
use crate::ingest::{self, AllocationSpec, DebitSpec, MerchantSpec};
use crate::report::Report;
use crate::rulebook::Rulebook;
use crate::{beneficiary, drain, identity};

/// Storage for the ids the parser keeps, one per input file; must outlive the rows.
#[derive(Default)]
pub struct Arenas([Vec<bumpalo::Bump>; 3]);

/// An input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum File {
    /// allocations.csv
    Allocations,
    /// debits.csv
    Debits,
    /// merchants.csv
    Merchants,
}

impl File {
    /// Every input file, in the order a run parses them.
    pub const ALL: [File; 3] = [File::Allocations, File::Debits, File::Merchants];

    /// A short name for bench ids.
    pub fn as_str(self) -> &'static str {
        match self {
            File::Allocations => "allocations",
            File::Debits => "debits",
            File::Merchants => "merchants",
        }
    }

    /// The file's length in bytes in `inputs` (0 when there is no merchants file).
    pub fn len(self, inputs: &Inputs) -> usize {
        match self {
            File::Allocations => inputs.allocations.text().len(),
            File::Debits => inputs.debits.text().len(),
            File::Merchants => inputs.merchants.as_ref().map_or(0, |m| m.text().len()),
        }
    }
}

/// One parsed file (opaque).
pub struct Rows<'a>(RowsOf<'a>);

enum RowsOf<'a> {
    Allocations(ingest::Parsed<'a, ingest::Allocation<'a>>),
    Debits(ingest::Parsed<'a, ingest::Debit<'a>>),
    Merchants(ingest::Parsed<'a, ingest::Merchant<'a>>),
}

impl Rows<'_> {
    /// Rows read, used or rejected.
    pub fn rows_read(&self) -> u64 {
        match &self.0 {
            RowsOf::Allocations(p) => p.rows_read,
            RowsOf::Debits(p) => p.rows_read,
            RowsOf::Merchants(p) => p.rows_read,
        }
    }
}

/// Parses one input file alone (reject mode, as a run does by default), on `threads`.
/// Uses (and first empties) that file's arenas in `arenas`.
pub fn parse<'a>(
    rulebook: &Rulebook,
    inputs: &'a Inputs,
    file: File,
    arenas: &'a mut Arenas,
    threads: usize,
) -> Result<Rows<'a>, Error> {
    let [allocation_arena, debit_arena, merchant_arena] = &mut arenas.0;
    let (a, d) = (&inputs.allocations, &inputs.debits);
    Ok(Rows(match (file, &inputs.merchants) {
        (File::Allocations, _) => RowsOf::Allocations(
            ingest::parse_file(&AllocationSpec(rulebook), a.name(), a.text(), allocation_arena, threads)?.0,
        ),
        (File::Debits, _) => {
            RowsOf::Debits(ingest::parse_file(&DebitSpec(rulebook), d.name(), d.text(), debit_arena, threads)?.0)
        }
        (File::Merchants, Some(m)) => RowsOf::Merchants(
            ingest::parse_file(&MerchantSpec(rulebook), m.name(), m.text(), merchant_arena, threads)?.0,
        ),
        (File::Merchants, None) => RowsOf::Merchants(ingest::Parsed::default()),
    }))
}

/// The three files parsed as a run parses them, and the merchant registry: the input of
/// every later stage. Cloning it is how a bench gets a fresh input for [`Parsed::assemble`].
#[derive(Clone)]
pub struct Parsed<'a> {
    rulebook: &'a Rulebook,
    ingested: Ingested<'a>,
    registry: Registry,
}

/// The outcome of identity (rule 1), the input of the card stage (opaque).
pub struct Identity(identity::Identity);

/// What the card stage produced, merged over shards (opaque).
#[derive(Clone)]
pub struct Walked<'a>(engine::Walked<'a>);

impl<'a> Walked<'a> {
    /// Adds the findings of a later stage, as a run does before the report.
    pub fn add(&mut self, findings: Findings) {
        self.0.found.append(findings.0);
    }

    /// Settled debits that took most of their balance: the rows bulk drain looks at.
    pub fn drains(&self) -> usize {
        self.0.drains.len()
    }

    /// Kept allocations: the rows the beneficiary rules look at.
    pub fn allocations_kept(&self) -> usize {
        self.0.balances.len()
    }
}

/// Findings of one stage (opaque).
pub struct Findings(FoundList);

impl<'a> Parsed<'a> {
    /// Parses all three files (reject mode) and builds the registry, as a run does.
    pub fn new(
        rulebook: &'a Rulebook,
        inputs: &'a Inputs,
        arenas: &'a mut Arenas,
        threads: usize,
    ) -> Result<Parsed<'a>, Error> {
        let ingested = engine::ingest_all(rulebook, inputs, false, threads, &mut arenas.0)?;
        let registry = engine::registry(ingested.merchants.as_ref(), &ingested.debits.names);
        Ok(Parsed { rulebook, ingested, registry })
    }

    /// Rows parsed from debits.csv (rejects excluded).
    pub fn debits(&self) -> usize {
        self.ingested.debits.rows.len()
    }

    /// Rows parsed from allocations.csv (rejects excluded).
    pub fn allocations(&self) -> usize {
        self.ingested.allocations.rows.len()
    }

    /// Identity (rule 1) over the parsed debits.
    pub fn identity(&self, threads: usize) -> Identity {
        Identity(identity::debits(&self.ingested.debits.rows, self.rulebook.programs.len(), threads))
    }

    /// The card stage (checks, balance walk and review rules, fused per card), sharding
    /// and merging included.
    pub fn cards(&self, identity: Identity, threads: usize) -> Result<Walked<'a>, Error> {
        engine::walk_cards(self.rulebook, &self.registry, &self.ingested, identity.0, threads).map(Walked)
    }

    /// `BULK_DRAIN` over the drains the card stage found.
    pub fn bulk_drain(&self, walked: &Walked<'a>, threads: usize) -> Findings {
        Findings(drain::bulk_drain(self.rulebook, &walked.0.drains, threads))
    }

    /// The beneficiary rules over the kept allocations (taking them from the walk, as a run
    /// does, is part of the stage).
    pub fn beneficiaries(&self, walked: &Walked<'a>, threads: usize) -> Findings {
        Findings(beneficiary::duplicates(self.rulebook, &walked.0.balances, threads))
    }

    /// Settlement, conservation and the report's rows (give it a walk to which the findings of
    /// bulk drain and beneficiaries were [added](Walked::add)). Consumes its inputs, as a run
    /// does.
    pub fn assemble(self, walked: Walked<'a>, threads: usize) -> Result<Report, Error> {
        engine::assemble(self.rulebook, self.ingested, walked.0, threads)
    }
}
