//! Per-program totals, and the conservation check run on every run.
//!
//! Totals are tallied on two independent paths (identity counts every debit left after
//! dropping copies; the card walk counts what it settled and held; settlement sums per
//! merchant), so the conservation equations of SPEC compare different computations. A
//! failure is a bug: the run fails with an internal error rather than publish a wrong report.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::money::{Money, Sum};
use crate::report::{ProgramSummary, Settlement};
use crate::rulebook::Rulebook;

/// Money and counts of one program, as tallied by the stages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub allocated: Sum,
    pub remaining: Sum,
    pub allocations: u64,
    /// Debits left after dropping copies (conflicting ones included), from identity.
    pub debits_gross: Sum,
    pub debits: u64,
    pub settled_gross: Sum,
    pub debits_settled: u64,
    pub held_gross: Sum,
    pub debits_held: u64,
    pub reversed_settled: Sum,
    pub reversed_held: Sum,
    pub reversals_applied: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.allocated += o.allocated;
        self.remaining += o.remaining;
        self.allocations += o.allocations;
        self.debits_gross += o.debits_gross;
        self.debits += o.debits;
        self.settled_gross += o.settled_gross;
        self.debits_settled += o.debits_settled;
        self.held_gross += o.held_gross;
        self.debits_held += o.debits_held;
        self.reversed_settled += o.reversed_settled;
        self.reversed_held += o.reversed_held;
        self.reversals_applied += o.reversals_applied;
    }

    /// Adds per-program tallies into `into`.
    pub(crate) fn add_all(into: &mut [Tally], from: &[Tally]) {
        for (a, b) in into.iter_mut().zip(from) {
            a.add(b);
        }
    }
}

/// Checks conservation for every program and builds the per-program summaries and totals.
/// `settlement` is the sorted settlement; `findings` counts findings per (program, rule).
pub(crate) fn summarize(
    rulebook: &Rulebook,
    tallies: &[Tally],
    settlement: &[Settlement],
    findings: &[BTreeMap<String, u64>],
) -> Result<(Vec<ProgramSummary>, ProgramSummary), Error> {
    let scale = rulebook.currency_scale;
    let mut settled_by_merchants: BTreeMap<&str, Sum> = BTreeMap::new();
    for s in settlement {
        *settled_by_merchants.entry(&s.program).or_default() += s.amount.minor();
    }
    let mut programs = Vec::with_capacity(tallies.len());
    let mut total = Tally::default();
    let mut total_findings: BTreeMap<String, u64> = BTreeMap::new();
    for (id, t) in tallies.iter().enumerate() {
        let code = rulebook.programs[id].code();
        let settled = t.settled_gross - t.reversed_settled;
        let held = t.held_gross - t.reversed_held;
        let by_merchants = settled_by_merchants.get(code).copied().unwrap_or_default();
        let checks = [
            ("allocated = remaining + settled (net)", t.allocated == t.remaining + settled),
            ("debits = settled (gross) + held (gross)", t.debits_gross == t.settled_gross + t.held_gross),
            ("debit count = settled + held", t.debits == t.debits_settled + t.debits_held),
            ("settled (net) = sum of settlement", settled == by_merchants),
            ("held (net) >= 0", held >= Sum::ZERO),
            ("remaining <= allocated", t.remaining <= t.allocated && t.remaining >= Sum::ZERO),
        ];
        if let Some((what, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(Error::Internal(format!("conservation failed for program {code}: {what}")));
        }
        total.add(t);
        for (rule, n) in &findings[id] {
            *total_findings.entry(rule.clone()).or_default() += n;
        }
        programs.push(program_summary(code, t, scale, findings[id].clone()));
    }
    let totals = program_summary("", &total, scale, total_findings);
    Ok((programs, totals))
}

fn program_summary(code: &str, t: &Tally, scale: u32, findings: BTreeMap<String, u64>) -> ProgramSummary {
    let money = |minor: Sum| Money::new(minor, scale);
    ProgramSummary {
        program: code.to_owned(),
        allocated: money(t.allocated),
        settled: money(t.settled_gross - t.reversed_settled),
        held: money(t.held_gross - t.reversed_held),
        remaining: money(t.remaining),
        settled_gross: money(t.settled_gross),
        held_gross: money(t.held_gross),
        reversed_settled: money(t.reversed_settled),
        reversed_held: money(t.reversed_held),
        allocations: t.allocations,
        debits: t.debits,
        debits_settled: t.debits_settled,
        debits_held: t.debits_held,
        reversals_applied: t.reversals_applied,
        findings,
    }
}
