//! Rules 2 to 4 that look at one card at a time: debit checks, the balance walk with
//! reversals, `NEAR_DUPLICATE` and `VELOCITY`; also identical allocations (rule 1).
//!
//! Rows are sharded by card, so every card is worked on whole by one thread. A card's rows
//! are put in event order (instant, debits before reversals, `txn_id`), its allocations in
//! draw order (`valid_to`, `valid_from`, `amount`, `beneficiary_id`, `household_id`) per
//! program; then one pass in event order applies checks, draws, overdrafts and reversals.

use crate::error::{Error, Location};
use crate::finding::{Found, Rule};
use crate::ingest::{Allocation, Debit, FileKind, Kind};
use crate::limits;
use crate::money::{Minor, Money, Sum};
use crate::rulebook::{ProgramId, Rulebook};
use crate::summary::Tally;
use crate::time::Instant;

/// Which programs each merchant is registered for (merchants.csv).
pub(crate) type Registry<'a> = crate::shard::Map<&'a [u8], Vec<ProgramId>>;

/// What the card stage reads besides the rows.
pub(crate) struct Ctx<'r, 'a> {
    pub rulebook: &'r Rulebook,
    pub registry: &'r Registry<'a>,
}

/// A settled debit that took most of its available balance: input to `BULK_DRAIN`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Drain<'a> {
    pub terminal: &'a [u8],
    pub card: &'a [u8],
    pub txn: &'a [u8],
    pub program: ProgramId,
    pub line: u64,
    pub instant: Instant,
}

/// Net settlement of one (merchant, program) in the making.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SettleAcc {
    pub gross: Sum,
    pub reversed: Sum,
    pub debits: u64,
    pub reversals: u64,
}

/// What one shard of cards yields.
pub(crate) struct ShardOut<'a> {
    pub findings: Vec<Found<'a>>,
    /// Reversals whose original is not a row of their card: (finding index, original).
    pub orphans: Vec<(usize, &'a [u8])>,
    pub settlement: crate::shard::Map<(&'a [u8], ProgramId), SettleAcc>,
    pub drains: Vec<Drain<'a>>,
    /// Kept allocations with what is left of them.
    pub balances: Vec<(Allocation<'a>, Minor)>,
    pub tallies: Vec<Tally>,
}

/// Works one shard: `debit_ids` are the in-play rows of debits.csv of its cards,
/// `allocation_ids` all their parsed allocations.
pub(crate) fn shard<'a>(
    ctx: &Ctx<'_, 'a>,
    debits: &[Debit<'a>],
    mut debit_ids: Vec<u32>,
    allocations: &[Allocation<'a>],
    mut allocation_ids: Vec<u32>,
) -> Result<ShardOut<'a>, Error> {
    debit_ids.sort_unstable_by(|&a, &b| {
        let (x, y) = (&debits[a as usize], &debits[b as usize]);
        x.card.cmp(y.card).then_with(|| x.event_key().cmp(&y.event_key()))
    });
    allocation_ids.sort_unstable_by(|&a, &b| {
        let (x, y) = (&allocations[a as usize], &allocations[b as usize]);
        draw_key(x).cmp(&draw_key(y)).then(a.cmp(&b))
    });
    let mut out = ShardOut {
        findings: Vec::new(),
        orphans: Vec::new(),
        settlement: crate::shard::map(),
        drains: Vec::new(),
        balances: Vec::new(),
        tallies: vec![Tally::default(); ctx.rulebook.programs.len()],
    };
    let kept = keep_first_allocations(allocations, &allocation_ids, &mut out.findings);
    let (mut d, mut a) = (0, 0);
    while d < debit_ids.len() || a < kept.len() {
        let card = match (debit_ids.get(d), kept.get(a)) {
            (Some(&i), Some(alloc)) => debits[i as usize].card.min(alloc.card),
            (Some(&i), None) => debits[i as usize].card,
            (None, Some(alloc)) => alloc.card,
            (None, None) => unreachable!(),
        };
        let d_end = d + debit_ids[d..].iter().take_while(|&&i| debits[i as usize].card == card).count();
        let a_end = a + kept[a..].iter().take_while(|x| x.card == card).count();
        if a_end - a > limits::ALLOCATIONS_PER_CARD_MAX {
            return Err(Error::Limit {
                at: Location { file: FileKind::Allocations.name().into(), line: None, column: Some("card_id".into()) },
                reason: format!(
                    "card {} has {} allocations, at most {} allowed",
                    String::from_utf8_lossy(card),
                    a_end - a,
                    limits::ALLOCATIONS_PER_CARD_MAX
                ),
            });
        }
        let events: Vec<&Debit<'a>> = debit_ids[d..d_end].iter().map(|&i| &debits[i as usize]).collect();
        Card::new(ctx, &events, &kept[a..a_end]).run(&mut out)?;
        d = d_end;
        a = a_end;
    }
    Ok(out)
}

/// Allocations sort by card, program, then draw order (line last, for identical copies).
fn draw_key<'x>(
    a: &Allocation<'x>,
) -> (&'x [u8], ProgramId, crate::time::Date, crate::time::Date, Minor, &'x [u8], &'x [u8]) {
    (a.card, a.program, a.valid_to, a.valid_from, a.amount, a.beneficiary, a.household)
}

/// Rule 1 for allocations: identical rows are adjacent in draw order; the first by line is
/// kept, the others are `DUPLICATE_ALLOCATION` and ignored.
fn keep_first_allocations<'a>(
    all: &[Allocation<'a>],
    sorted: &[u32],
    findings: &mut Vec<Found<'a>>,
) -> Vec<Allocation<'a>> {
    let mut kept: Vec<Allocation<'a>> = Vec::with_capacity(sorted.len());
    for &i in sorted {
        let row = all[i as usize];
        match kept.last() {
            Some(last) if last.same_values(&row) => findings.push(Found {
                rule: Rule::DuplicateAllocation,
                txn: b"",
                card: row.card,
                program: row.program,
                line: row.line,
                detail: "identical copy of an earlier allocation row; the first copy is kept".into(),
            }),
            _ => kept.push(row),
        }
    }
    kept
}

/// One card: its events in event order and its kept allocations (by program, draw order).
struct Card<'c, 'r, 'a> {
    ctx: &'c Ctx<'r, 'a>,
    events: &'c [&'c Debit<'a>],
    allocations: &'c [Allocation<'a>],
    /// Per event: named by a hold finding of rule 2 (or `OVERDRAFT`).
    held: Vec<bool>,
    /// Per event: a settled debit.
    settled: Vec<bool>,
    /// Per event: what is left of a debit after applied reversals.
    left: Vec<Minor>,
    /// Per allocation: what is left of it.
    remaining: Vec<Minor>,
    /// Draws of settled debits, (allocation, amount), in draw order per debit.
    draws: Vec<(u32, Minor)>,
    /// Per event: its draws are `draws[start..top]` (top shrinks as reversals give back).
    draw_range: Vec<(u32, u32)>,
}

impl<'c, 'r, 'a> Card<'c, 'r, 'a> {
    fn new(ctx: &'c Ctx<'r, 'a>, events: &'c [&'c Debit<'a>], allocations: &'c [Allocation<'a>]) -> Self {
        let n = events.len();
        Card {
            ctx,
            events,
            allocations,
            held: vec![false; n],
            settled: vec![false; n],
            left: events.iter().map(|e| e.amount).collect(),
            remaining: allocations.iter().map(|a| a.amount).collect(),
            draws: Vec::new(),
            draw_range: vec![(0, 0); n],
        }
    }

    fn run(mut self, out: &mut ShardOut<'a>) -> Result<(), Error> {
        self.atc_replay(out);
        for i in 0..self.events.len() {
            if self.events[i].kind == Kind::Debit {
                self.check(i, out);
            }
        }
        self.walk(out)?;
        self.near_duplicate(out);
        self.velocity(out);
        self.close(out)
    }

    fn found(&self, i: usize, rule: Rule, detail: String) -> Found<'a> {
        let e = self.events[i];
        Found { rule, txn: e.txn, card: e.card, program: e.program, line: e.line, detail }
    }

    fn money(&self, minor: Minor) -> Money {
        Money::of(minor, self.ctx.rulebook.currency_scale)
    }

    fn code(&self, program: ProgramId) -> &str {
        self.ctx.rulebook.program(program).code()
    }

    /// The card's allocations of `program`.
    fn range(&self, program: ProgramId) -> std::ops::Range<usize> {
        let start = self.allocations.partition_point(|a| a.program < program);
        let end = self.allocations.partition_point(|a| a.program <= program);
        start..end
    }

    fn valid_at(&self, k: usize, at: Instant) -> bool {
        let a = &self.allocations[k];
        let tz = self.ctx.rulebook.timezone;
        Instant::start_of(a.valid_from, tz) <= at && at < Instant::start_of(a.valid_to, tz).plus_seconds(86_400)
    }

    /// `ATC_REPLAY`: debits of the card sharing a non-empty atc, every one of them.
    fn atc_replay(&mut self, out: &mut ShardOut<'a>) {
        let mut atcs: Vec<(u16, usize)> = (0..self.events.len())
            .filter(|&i| self.events[i].kind == Kind::Debit)
            .filter_map(|i| self.events[i].atc.map(|atc| (atc, i)))
            .collect();
        atcs.sort_unstable();
        for group in atcs.chunk_by(|x, y| x.0 == y.0).filter(|g| g.len() > 1) {
            for &(atc, i) in group {
                self.held[i] = true;
                let detail = format!("atc {atc} is used by {} debits of this card", group.len());
                out.findings.push(self.found(i, Rule::AtcReplay, detail));
            }
        }
    }

    /// Rule 2 checks of one debit; every one that applies is reported.
    fn check(&mut self, i: usize, out: &mut ShardOut<'a>) {
        let e = self.events[i];
        let program = self.ctx.rulebook.program(e.program);
        let code = program.code();
        let mut found: Vec<(Rule, String)> = Vec::new();
        let range = self.range(e.program);
        if range.is_empty() {
            found.push((Rule::NoAllocation, format!("the card has no allocation for {code}")));
        } else if !range.clone().any(|k| self.valid_at(k, e.instant)) {
            found.push((Rule::OutsidePeriod, format!("no allocation for {code} is valid at {}", e.instant)));
        }
        if let Some(channel) = e.channel.filter(|c| !program.allows_channel(*c)) {
            found.push((Rule::ChannelNotAllowed, format!("channel {} is not allowed for {code}", channel.as_str())));
        }
        if !program.allows_mcc(e.mcc) {
            let detail = match e.mcc {
                Some(mcc) => format!("mcc {mcc:04} is not allowed for {code}"),
                None => format!("no mcc, and {code} allows only listed mccs"),
            };
            found.push((Rule::MccNotAllowed, detail));
        }
        if program.registered_merchants_only() {
            let registered = self.ctx.registry.get(e.merchant).is_some_and(|p| p.binary_search(&e.program).is_ok());
            if !registered {
                let detail = format!("merchant {} is not registered for {code}", String::from_utf8_lossy(e.merchant));
                found.push((Rule::MerchantNotRegistered, detail));
            }
        }
        if let Some(max) = program.max_debit_minor().filter(|max| e.amount > *max) {
            let detail = format!("amount {} is above max_debit {} of {code}", self.money(e.amount), self.money(max));
            found.push((Rule::OverLimit, detail));
        }
        for (rule, detail) in found {
            self.held[i] = true;
            out.findings.push(self.found(i, rule, detail));
        }
    }

    /// Rule 3: the balance walk in event order.
    fn walk(&mut self, out: &mut ShardOut<'a>) -> Result<(), Error> {
        let has_reversals = self.events.iter().any(|e| e.kind == Kind::Reversal);
        let mut by_txn: Vec<(&[u8], usize)> = Vec::new();
        if has_reversals {
            by_txn = self.events.iter().enumerate().map(|(i, e)| (e.txn, i)).collect();
            by_txn.sort_unstable();
        }
        for i in 0..self.events.len() {
            match self.events[i].kind {
                Kind::Debit if self.held[i] => {}
                Kind::Debit => self.settle_or_overdraft(i, out),
                Kind::Reversal => {
                    let original = self.events[i].original;
                    let found = by_txn.binary_search_by(|(txn, _)| txn.cmp(&original)).ok().map(|k| by_txn[k].1);
                    self.reverse(i, found, out)?;
                }
            }
        }
        Ok(())
    }

    fn settle_or_overdraft(&mut self, i: usize, out: &mut ShardOut<'a>) {
        let e = self.events[i];
        let valid: Vec<usize> = self.range(e.program).filter(|&k| self.valid_at(k, e.instant)).collect();
        let available: Minor = valid.iter().map(|&k| self.remaining[k]).sum();
        if e.amount > available {
            self.held[i] = true;
            let detail =
                format!("amount {} is above the available balance {}", self.money(e.amount), self.money(available));
            out.findings.push(self.found(i, Rule::Overdraft, detail));
            return;
        }
        self.settled[i] = true;
        let start = self.draws.len() as u32;
        let mut due = e.amount;
        for k in valid {
            if due == 0 {
                break;
            }
            let take = due.min(self.remaining[k]);
            if take > 0 {
                self.remaining[k] -= take;
                self.draws.push((k as u32, take));
                due -= take;
            }
        }
        self.draw_range[i] = (start, self.draws.len() as u32);
        if self.ctx.rulebook.bulk_drain_ratio.at_most(e.amount, available) {
            out.drains.push(Drain {
                terminal: e.terminal,
                card: e.card,
                txn: e.txn,
                program: e.program,
                line: e.line,
                instant: e.instant,
            });
        }
    }

    /// A reversal: applied, `ORPHAN_REVERSAL` or `REVERSAL_EXCEEDS`. `original` is the event
    /// of the card with the named `txn_id`, if any.
    fn reverse(&mut self, i: usize, original: Option<usize>, out: &mut ShardOut<'a>) -> Result<(), Error> {
        let e = self.events[i];
        let shown = String::from_utf8_lossy(e.original);
        let Some(j) = original else {
            out.orphans.push((out.findings.len(), e.original));
            out.findings.push(self.found(i, Rule::OrphanReversal, String::new()));
            return Ok(());
        };
        let o = self.events[j];
        let orphan = if o.kind == Kind::Reversal {
            Some(format!("original {shown} is a reversal, not a debit"))
        } else if o.program != e.program {
            Some(format!("original {shown} is a debit of program {}", self.code(o.program)))
        } else if j > i {
            Some(format!("original {shown} comes later in event order"))
        } else {
            None
        };
        if let Some(detail) = orphan {
            out.findings.push(self.found(i, Rule::OrphanReversal, detail));
            return Ok(());
        }
        if e.amount > self.left[j] {
            let detail = format!(
                "amount {} is above what is left of {shown} ({})",
                self.money(e.amount),
                self.money(self.left[j])
            );
            out.findings.push(self.found(i, Rule::ReversalExceeds, detail));
            return Ok(());
        }
        self.left[j] -= e.amount;
        let tally = &mut out.tallies[usize::from(e.program)];
        tally.reversals_applied += 1;
        if self.settled[j] {
            tally.reversed_settled += Sum::from(e.amount);
            let acc = out.settlement.entry((o.merchant, o.program)).or_default();
            acc.reversed += Sum::from(e.amount);
            acc.reversals += 1;
            self.give_back(j, e.amount)
        } else {
            tally.reversed_held += Sum::from(e.amount);
            Ok(())
        }
    }

    /// Gives `amount` back to the allocations debit `j` drew from, the last drawn first.
    fn give_back(&mut self, j: usize, mut amount: Minor) -> Result<(), Error> {
        let (start, mut top) = self.draw_range[j];
        while amount > 0 && top > start {
            let (k, drawn) = &mut self.draws[top as usize - 1];
            let back = amount.min(*drawn);
            *drawn -= back;
            self.remaining[*k as usize] += back;
            amount -= back;
            if *drawn == 0 {
                top -= 1;
            }
        }
        self.draw_range[j].1 = top;
        if amount > 0 {
            return Err(Error::Internal("a reversal gave back more than its debit drew".into()));
        }
        Ok(())
    }

    /// `NEAR_DUPLICATE`: same merchant and amount as the previous such debit of the card, at
    /// most `near_duplicate_seconds` before it.
    fn near_duplicate(&self, out: &mut ShardOut<'a>) {
        let seconds = self.ctx.rulebook.near_duplicate_seconds;
        let mut keyed: Vec<(&[u8], Minor, usize)> = (0..self.events.len())
            .filter(|&i| self.events[i].kind == Kind::Debit)
            .map(|i| (self.events[i].merchant, self.events[i].amount, i))
            .collect();
        keyed.sort_unstable();
        for pair in keyed.windows(2) {
            let ((m0, a0, p), (m1, a1, i)) = (pair[0], pair[1]);
            if m0 == m1 && a0 == a1 && self.events[p].instant >= self.events[i].instant.minus_seconds(seconds) {
                let detail = format!(
                    "same merchant and amount as {} at most {seconds} s earlier",
                    String::from_utf8_lossy(self.events[p].txn)
                );
                out.findings.push(self.found(i, Rule::NearDuplicate, detail));
            }
        }
    }

    /// `VELOCITY`: more than `max_debits` debits of the card in the window up to this one.
    fn velocity(&self, out: &mut ShardOut<'a>) {
        let rulebook = self.ctx.rulebook;
        let debits: Vec<usize> = (0..self.events.len()).filter(|&i| self.events[i].kind == Kind::Debit).collect();
        let mut low = 0;
        for (k, &i) in debits.iter().enumerate() {
            let from = self.events[i].instant.minus_seconds(rulebook.velocity_window_seconds);
            while self.events[debits[low]].instant < from {
                low += 1;
            }
            let count = (k - low + 1) as u64;
            if count > rulebook.velocity_max_debits {
                let detail = format!(
                    "{count} debits of this card within {} s up to this one, more than {}",
                    rulebook.velocity_window_seconds, rulebook.velocity_max_debits
                );
                out.findings.push(self.found(i, Rule::Velocity, detail));
            }
        }
    }

    /// Tallies, settlement and balances of the card.
    fn close(self, out: &mut ShardOut<'a>) -> Result<(), Error> {
        for (i, e) in self.events.iter().enumerate().filter(|(_, e)| e.kind == Kind::Debit) {
            let tally = &mut out.tallies[usize::from(e.program)];
            if self.settled[i] {
                tally.debits_settled += 1;
                tally.settled_gross += Sum::from(e.amount);
                let acc = out.settlement.entry((e.merchant, e.program)).or_default();
                acc.gross += Sum::from(e.amount);
                acc.debits += 1;
            } else {
                tally.debits_held += 1;
                tally.held_gross += Sum::from(e.amount);
            }
        }
        for (a, &remaining) in self.allocations.iter().zip(&self.remaining) {
            if remaining > a.amount {
                return Err(Error::Internal(format!("allocation on line {} has more left than granted", a.line)));
            }
            let tally = &mut out.tallies[usize::from(a.program)];
            tally.allocations += 1;
            tally.allocated += Sum::from(a.amount);
            tally.remaining += Sum::from(remaining);
            out.balances.push((*a, remaining));
        }
        Ok(())
    }
}
