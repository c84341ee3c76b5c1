//! Rules 2 to 4 that look at one card at a time: debit checks, the balance walk with
//! reversals, `NEAR_DUPLICATE` and `VELOCITY`; also identical allocations (rule 1).
//!
//! Rows are sharded by card, so every card is worked on whole by one thread. A card's rows
//! are put in event order (instant, debits before reversals, `txn_id`), its allocations in
//! draw order (`valid_to`, `valid_from`, `amount`, `beneficiary_id`, `household_id`) per
//! program; then one pass in event order applies checks, draws, overdrafts and reversals.

use crate::error::{Error, Location};
use crate::finding::{FoundList, Rule};
use crate::ingest::{Allocation, Debit, FileKind, Kind};
use crate::limits;
use crate::money::{Minor, Money, Sum};
use crate::names::{MerchantNo, Names};
use crate::rulebook::{ProgramId, Rulebook};
use crate::settle::Sums;
use crate::shard::{prefix, ByHash, HeadKeyed, Headed, Shard};
use crate::summary::Tally;
use crate::table::Table;
use crate::time::Instant;
use std::collections::HashMap;
use std::fmt;

/// Kept allocations with what is left of them, as the card stage's batches listed them.
pub(crate) type KeptAllocations<'a> = Table<(Allocation<'a>, Minor)>;

/// Per merchant of debits.csv, by [`MerchantNo`]: the programs merchants.csv registers it
/// for, sorted, each merchant's after the one before in one vector. Checking a debit reads two
/// small arrays (at 10M debits, 25,000 merchants: about 250 KB); with a vector per merchant
/// it read a vector's header, then its heap block, two cache misses (perf annotate: a third
/// of `cards::shard`'s samples, 2% of all).
#[derive(Clone, Debug)]
pub(crate) struct Registry {
    /// Where each merchant's programs start in `programs`; one more entry, the end.
    starts: Vec<usize>,
    programs: Vec<ProgramId>,
}

impl Registry {
    /// From each merchant's programs, in merchant number order (each list sorted, no
    /// repeats).
    pub(crate) fn new(per_merchant: impl Iterator<Item = Vec<ProgramId>>) -> Registry {
        let mut registry = Registry { starts: vec![0], programs: Vec::new() };
        for programs in per_merchant {
            debug_assert!(programs.windows(2).all(|w| w[0] < w[1]));
            registry.programs.extend(programs);
            registry.starts.push(registry.programs.len());
        }
        registry
    }

    /// Is `merchant` registered for `program`?
    pub(crate) fn registered(&self, merchant: MerchantNo, program: ProgramId) -> bool {
        let m = merchant.index();
        self.programs[self.starts[m]..self.starts[m + 1]].binary_search(&program).is_ok()
    }
}

/// What the card stage reads besides the rows.
pub(crate) struct Ctx<'r, 'a> {
    pub rulebook: &'r Rulebook,
    pub registry: &'r Registry,
    /// The merchant ids of debits.csv, by [`MerchantNo`].
    pub merchants: &'r Names<'a>,
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

/// What a batch of shards of cards yields.
pub(crate) struct ShardOut<'a> {
    pub findings: FoundList,
    /// Reversals whose original is not a row of their card: (finding index, original, card).
    pub orphans: Vec<(usize, &'a [u8], &'a [u8])>,
    pub drains: Vec<Drain<'a>>,
    /// Kept allocations with what is left of them, in [`balance_order`] once the batch is
    /// done ([`ShardOut::finish`]).
    pub balances: Vec<(Allocation<'a>, Minor)>,
    /// Once the batch is done, the [`prefix`] of each balance's card, for the report's merge
    /// ([`merged_balance_keys`]).
    pub heads: Vec<u128>,
    pub tallies: Vec<Tally>,
}

impl ShardOut<'_> {
    /// Nothing yet, for `programs` programs.
    pub(crate) fn new(programs: usize) -> Self {
        ShardOut {
            findings: FoundList::default(),
            orphans: Vec::new(),
            drains: Vec::new(),
            balances: Vec::new(),
            heads: Vec::new(),
            tallies: vec![Tally::default(); programs],
        }
    }

    /// Puts the balances in [`balance_order`] on the batch's own thread: the report then
    /// merges a few sorted runs rather than sorting every balance on one thread. Sorted on
    /// small keys ([`balance_keys`]), then moved in place to where the keys say (the keys, 32
    /// bytes a balance, are the only copy); the keys' heads are kept for the merge.
    pub(crate) fn finish(&mut self) {
        let balances = &mut self.balances;
        let mut keys = balance_keys(balances.iter().map(|(a, _)| a), |i| &balances[i].0);
        permute(balances, &mut keys, |key| &mut key.1);
        self.heads = keys.iter().map(|&(head, _)| head).collect();
    }
}

/// Puts `items` in the order `order` gives in place: what was at `position(&mut order[k])`
/// goes to `k`. Those positions are a permutation, and are used up (they end as `0, 1, 2,
/// ...`).
fn permute<T, K>(items: &mut [T], order: &mut [K], position: impl Fn(&mut K) -> &mut u32) {
    debug_assert_eq!(items.len(), order.len());
    for start in 0..items.len() {
        // Each cycle of the permutation is followed once from its first position; placed
        // positions are marked by pointing at themselves.
        let mut k = start;
        while *position(&mut order[k]) as usize != k {
            let from = std::mem::replace(position(&mut order[k]), k as u32) as usize;
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// Works one shard into `out`: `debit_ids` are the in-play rows of debits.csv of its cards,
/// `allocation_ids` all their parsed allocations, each with its card's hashed id. Settled
/// debits and applied reversals of settled debits are added to `sums` (the sums of the
/// thread working the shard, `engine::walk_cards`).
pub(crate) fn shard<'a>(
    ctx: &Ctx<'_, 'a>,
    debits: &Table<Debit<'a>>,
    debit_ids: Shard<HeadKeyed>,
    allocations: &Table<Allocation<'a>>,
    allocation_ids: Shard<HeadKeyed>,
    out: &mut ShardOut<'a>,
    sums: &mut Sums,
) -> Result<(), Error> {
    // Cards are worked in any order (every output is sorted later); what matters is that each
    // card's rows are together, then in event order and draw order. The map compares card
    // ids by the heads taken when the rows were sharded: it reads no id of at most 16 bytes
    // (perf at 10M debits put 5% of all samples in reading them here, a cache miss each).
    let capacity = allocation_ids.len() / 2 + debit_ids.len() / 8;
    let mut cards: HashMap<Headed<'a>, u32, ByHash> = HashMap::with_capacity_and_hasher(capacity, ByHash::default());
    let mut card_of = |key: Headed<'a>| {
        let next = cards.len() as u32;
        *cards.entry(key).or_insert(next)
    };
    let debit_cards: Vec<u32> =
        debit_ids.iter().map(|k| card_of(k.headed(|row| debits[row as usize].card()))).collect();
    let allocation_cards: Vec<u32> =
        allocation_ids.iter().map(|k| card_of(k.headed(|row| allocations[row as usize].card()))).collect();
    let count = cards.len();
    drop(cards);
    let (debit_ids, allocation_ids) = (debit_ids.rows(), allocation_ids.rows());
    let (debit_order, debit_starts) = group(&debit_ids, &debit_cards, count);
    let (allocation_order, allocation_starts) = group(&allocation_ids, &allocation_cards, count);
    // The shard's rows copied together, card after card, in one tight loop of independent
    // loads: the rows are then read from cache, not one cache miss at a time.
    let debits: Vec<Debit<'a>> = debit_order.iter().map(|&i| debits[i as usize]).collect();
    let allocations: Vec<Allocation<'a>> = allocation_order.iter().map(|&i| allocations[i as usize]).collect();
    let mut events: Vec<&Debit<'a>> = Vec::new();
    let mut kept: Vec<Allocation<'a>> = Vec::new();
    let mut ids: Vec<u32> = Vec::new();
    let mut scratch = Scratch::default();
    for c in 0..count {
        events.clear();
        events.extend(&debits[debit_starts[c]..debit_starts[c + 1]]);
        events.sort_unstable_by(|x, y| x.event_key().cmp(&y.event_key()));
        ids.clear();
        // In row order within the card, so equal draw keys keep their order by line.
        ids.extend(allocation_starts[c] as u32..allocation_starts[c + 1] as u32);
        ids.sort_unstable_by(|&a, &b| {
            let (x, y) = (&allocations[a as usize], &allocations[b as usize]);
            draw_key(x).cmp(&draw_key(y)).then(a.cmp(&b))
        });
        keep_first_allocations(&allocations, &ids, &mut kept, &mut out.findings);
        if kept.len() > limits::ALLOCATIONS_PER_CARD_MAX {
            return Err(Error::Limit {
                at: Location { file: FileKind::Allocations.name().into(), line: None, column: Some("card_id".into()) },
                reason: format!(
                    "card {} has {} allocations, at most {} allowed",
                    String::from_utf8_lossy(kept[0].card()),
                    kept.len(),
                    limits::ALLOCATIONS_PER_CARD_MAX
                ),
            });
        }
        Card::new(ctx, &events, &kept, &mut scratch, sums).run(out)?;
    }
    Ok(())
}

/// Rows grouped by their card number (a counting sort): the rows of card `c` are
/// `order[starts[c]..starts[c + 1]]`, in their original order.
fn group(ids: &[u32], cards: &[u32], count: usize) -> (Vec<u32>, Vec<usize>) {
    let mut starts = vec![0usize; count + 1];
    for &c in cards {
        starts[c as usize + 1] += 1;
    }
    for c in 0..count {
        starts[c + 1] += starts[c];
    }
    let mut next = starts.clone();
    let mut order = vec![0u32; ids.len()];
    for (&i, &c) in ids.iter().zip(cards) {
        order[next[c as usize]] = i;
        next[c as usize] += 1;
    }
    (order, starts)
}

/// A card's allocations sort by program, then draw order (identical copies by line, which
/// the caller compares last); balances.csv lists them in this order too.
pub(crate) fn draw_key<'x>(
    a: &Allocation<'x>,
) -> (ProgramId, crate::time::Date, crate::time::Date, Minor, &'x [u8], &'x [u8]) {
    (a.program, a.valid_to, a.valid_from, a.amount, a.beneficiary(), a.household())
}

/// The order of balances.csv: by card, then [`draw_key`]. Kept allocations of one card differ
/// in their draw keys (identical ones are `DUPLICATE_ALLOCATION`), so the order is total.
pub(crate) fn balance_order(x: &Allocation<'_>, y: &Allocation<'_>) -> std::cmp::Ordering {
    crate::shard::by_id(x.card(), y.card()).then_with(|| draw_key(x).cmp(&draw_key(y)))
}

/// The positions of `allocations` in [`balance_order`], each beside its card's first 16
/// bytes ([`prefix`], read once per allocation, in order): sorted on those 32-byte keys, then
/// each run of equal heads (a card's allocations, or cards sharing 16 bytes) in full order,
/// reading allocations by position through `at`. Sorting the allocations themselves compared
/// card ids through their pointers, a cache miss at every comparison (perf at 10M debits:
/// about 5% of all samples).
fn balance_keys<'x>(
    allocations: impl Iterator<Item = &'x Allocation<'x>>,
    at: impl Fn(usize) -> &'x Allocation<'x>,
) -> Vec<(u128, u32)> {
    let mut keys: Vec<(u128, u32)> = allocations.enumerate().map(|(i, a)| (prefix(a.card()), i as u32)).collect();
    keys.sort_unstable();
    for run in keys.chunk_by_mut(|x, y| x.0 == y.0).filter(|run| run.len() > 1) {
        run.sort_unstable_by(|x, y| balance_order(at(x.1 as usize), at(y.1 as usize)));
    }
    keys
}

/// The positions of the batches' balances, numbered across batches, in [`balance_order`]:
/// `heads` are each batch's card heads as [`ShardOut::finish`] left them (each batch in
/// balance order, and no card in two batches). Sorting (head, position) merges the batches'
/// runs without reading a card id (reading them, a cache miss each, took 0.16 s at 10M
/// debits). Equal heads of one batch then stay in its order, which is right; a run of equal
/// heads from two batches or more (cards sharing their first 16 bytes) is put in full order,
/// reading allocations by position through `at`.
pub(crate) fn merged_balance_keys<'x>(
    heads: &[Vec<u128>],
    at: impl Fn(usize) -> &'x Allocation<'x>,
) -> Vec<(u128, u32)> {
    let mut keys: Vec<(u128, u32)> = heads.iter().flatten().enumerate().map(|(i, &h)| (h, i as u32)).collect();
    keys.sort();
    let ends: Vec<usize> = heads
        .iter()
        .scan(0, |end, batch| {
            *end += batch.len();
            Some(*end)
        })
        .collect();
    let batch_of = |key: &(u128, u32)| ends.partition_point(|&end| end <= key.1 as usize);
    // Positions in a run of equal heads ascend, so its first and last tell whether it spans
    // batches.
    let spans_batches = |run: &&mut [(u128, u32)]| run.len() > 1 && batch_of(&run[0]) != batch_of(&run[run.len() - 1]);
    for run in keys.chunk_by_mut(|x, y| x.0 == y.0).filter(spans_batches) {
        run.sort_unstable_by(|x, y| balance_order(at(x.1 as usize), at(y.1 as usize)));
    }
    keys
}

/// Rule 1 for allocations: identical rows are adjacent in draw order; the first by line is
/// kept, the others are `DUPLICATE_ALLOCATION` and ignored.
fn keep_first_allocations<'a>(
    all: &[Allocation<'a>],
    sorted: &[u32],
    kept: &mut Vec<Allocation<'a>>,
    findings: &mut FoundList,
) {
    kept.clear();
    for &i in sorted {
        let row = all[i as usize];
        match kept.last() {
            Some(last) if last.same_values(&row) => {
                let detail = format_args!("identical copy of an earlier allocation row; the first copy is kept");
                findings.push(Rule::DuplicateAllocation, (&row).into(), detail);
            }
            _ => kept.push(row),
        }
    }
}

/// Is `a` valid at `at`: in [`valid_from` 00:00, the day after `valid_to` 00:00), local time.
fn valid_at(ctx: &Ctx<'_, '_>, a: &Allocation<'_>, at: Instant) -> bool {
    let tz = ctx.rulebook.timezone;
    Instant::start_of(a.valid_from, tz) <= at && at < Instant::start_of(a.valid_to, tz).plus_seconds(86_400)
}

/// Per-card state, kept between cards so that a shard allocates it once.
#[derive(Default)]
struct Scratch {
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
    /// Event positions, for the review rules.
    positions: Vec<usize>,
    /// (atc, event), for `ATC_REPLAY`.
    atcs: Vec<(u16, usize)>,
    /// (`txn_id` order) event positions, for finding a reversal's original.
    by_txn: Vec<usize>,
}

/// Up to this many reversals, a card finds each one's original by reading its events (see
/// [`Card::walk`]): each event is compared at most 4 times, fewer than a sort by id takes
/// once a card has more than 16 events.
const REVERSALS_READ_MAX: usize = 4;

/// One card: its events in event order and its kept allocations (by program, draw order).
struct Card<'c, 'r, 'a> {
    ctx: &'c Ctx<'r, 'a>,
    events: &'c [&'c Debit<'a>],
    allocations: &'c [Allocation<'a>],
    s: &'c mut Scratch,
    /// Where settled debits, and applied reversals of them, are summed for the settlement.
    sums: &'c mut Sums,
}

impl<'c, 'r, 'a> Card<'c, 'r, 'a> {
    fn new(
        ctx: &'c Ctx<'r, 'a>,
        events: &'c [&'c Debit<'a>],
        allocations: &'c [Allocation<'a>],
        s: &'c mut Scratch,
        sums: &'c mut Sums,
    ) -> Self {
        let n = events.len();
        s.held.clear();
        s.held.resize(n, false);
        s.settled.clear();
        s.settled.resize(n, false);
        s.left.clear();
        s.left.extend(events.iter().map(|e| e.amount));
        s.remaining.clear();
        s.remaining.extend(allocations.iter().map(|a| a.amount));
        s.draws.clear();
        s.draw_range.clear();
        s.draw_range.resize(n, (0, 0));
        Card { ctx, events, allocations, s, sums }
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

    fn found(&self, out: &mut ShardOut<'a>, i: usize, rule: Rule, detail: fmt::Arguments<'_>) {
        out.findings.push(rule, self.events[i].into(), detail);
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

    /// `ATC_REPLAY`: debits of the card sharing a non-empty atc, every one of them.
    fn atc_replay(&mut self, out: &mut ShardOut<'a>) {
        let mut atcs = std::mem::take(&mut self.s.atcs);
        atcs.clear();
        atcs.extend(
            (0..self.events.len())
                .filter(|&i| self.events[i].kind == Kind::Debit)
                .filter_map(|i| self.events[i].atc.map(|atc| (atc, i))),
        );
        atcs.sort_unstable();
        for group in atcs.chunk_by(|x, y| x.0 == y.0).filter(|g| g.len() > 1) {
            for &(atc, i) in group {
                self.s.held[i] = true;
                let debits = group.len();
                self.found(out, i, Rule::AtcReplay, format_args!("atc {atc} is used by {debits} debits of this card"));
            }
        }
        self.s.atcs = atcs;
    }

    /// Rule 2 checks of one debit; every one that applies is reported.
    fn check(&mut self, i: usize, out: &mut ShardOut<'a>) {
        let (e, ctx, allocations) = (self.events[i], self.ctx, self.allocations);
        let program = ctx.rulebook.program(e.program);
        let code = program.code();
        let range = self.range(e.program);
        let held = &mut self.s.held[i];
        let mut found = |rule: Rule, detail: fmt::Arguments<'_>| {
            *held = true;
            out.findings.push(rule, e.into(), detail);
        };
        if range.is_empty() {
            found(Rule::NoAllocation, format_args!("the card has no allocation for {code}"));
        } else if !range.clone().any(|k| valid_at(ctx, &allocations[k], e.instant)) {
            let at = e.instant.in_zone(ctx.rulebook.timezone);
            found(Rule::OutsidePeriod, format_args!("no allocation for {code} is valid at {at}"));
        }
        if let Some(channel) = e.channel.filter(|c| !program.allows_channel(*c)) {
            let channel = channel.as_str();
            found(Rule::ChannelNotAllowed, format_args!("channel {channel} is not allowed for {code}"));
        }
        if !program.allows_mcc(e.mcc) {
            match e.mcc {
                Some(mcc) => found(Rule::MccNotAllowed, format_args!("mcc {mcc:04} is not allowed for {code}")),
                None => found(Rule::MccNotAllowed, format_args!("no mcc, and {code} allows only listed mccs")),
            }
        }
        if program.registered_merchants_only() && !ctx.registry.registered(e.merchant, e.program) {
            let merchant = String::from_utf8_lossy(ctx.merchants[e.merchant.index()]);
            found(Rule::MerchantNotRegistered, format_args!("merchant {merchant} is not registered for {code}"));
        }
        if let Some(max) = program.max_debit_minor().filter(|max| e.amount > *max) {
            let scale = ctx.rulebook.currency_scale;
            let (amount, max) = (Money::of(e.amount, scale), Money::of(max, scale));
            found(Rule::OverLimit, format_args!("amount {amount} is above max_debit {max} of {code}"));
        }
    }

    /// Rule 3: the balance walk in event order.
    fn walk(&mut self, out: &mut ShardOut<'a>) -> Result<(), Error> {
        // A reversal's original is the card's event with its `txn_id` (kept rows have unique
        // ids, rule 1). A card with a few reversals looks each one up by reading its events;
        // with more, the events are sorted by id once (at 10M debits, sorting every card with
        // a reversal was 3% of samples, most cards having one or two).
        let sorted = self.events.iter().filter(|e| e.kind == Kind::Reversal).count() > REVERSALS_READ_MAX;
        let mut by_txn = std::mem::take(&mut self.s.by_txn);
        by_txn.clear();
        if sorted {
            by_txn.extend(0..self.events.len());
            by_txn.sort_unstable_by(|&x, &y| self.events[x].txn().cmp(self.events[y].txn()));
        }
        for i in 0..self.events.len() {
            match self.events[i].kind {
                Kind::Debit if self.s.held[i] => {}
                Kind::Debit => self.settle_or_overdraft(i, out),
                Kind::Reversal => {
                    let original = self.events[i].original();
                    let found = if sorted {
                        by_txn.binary_search_by(|&k| self.events[k].txn().cmp(original)).ok().map(|k| by_txn[k])
                    } else {
                        self.events.iter().position(|e| e.txn() == original)
                    };
                    self.reverse(i, found, out)?;
                }
            }
        }
        self.s.by_txn = by_txn;
        Ok(())
    }

    fn settle_or_overdraft(&mut self, i: usize, out: &mut ShardOut<'a>) {
        let e = self.events[i];
        let (ctx, allocations) = (self.ctx, self.allocations);
        let valid = self.range(e.program).filter(|&k| valid_at(ctx, &allocations[k], e.instant));
        let available: Minor = valid.clone().map(|k| self.s.remaining[k]).sum();
        if e.amount > available {
            self.s.held[i] = true;
            let (amount, available) = (self.money(e.amount), self.money(available));
            self.found(
                out,
                i,
                Rule::Overdraft,
                format_args!("amount {amount} is above the available balance {available}"),
            );
            return;
        }
        self.s.settled[i] = true;
        let start = self.s.draws.len() as u32;
        let mut due = e.amount;
        for k in valid {
            if due == 0 {
                break;
            }
            let take = due.min(self.s.remaining[k]);
            if take > 0 {
                self.s.remaining[k] -= take;
                self.s.draws.push((k as u32, take));
                due -= take;
            }
        }
        self.s.draw_range[i] = (start, self.s.draws.len() as u32);
        if self.ctx.rulebook.bulk_drain_ratio.at_most(e.amount, available) {
            out.drains.push(Drain {
                terminal: e.terminal(),
                card: e.card(),
                txn: e.txn(),
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
        let shown = String::from_utf8_lossy(e.original());
        let Some(j) = original else {
            out.orphans.push((out.findings.rows.len(), e.original(), e.card()));
            // Explained from the whole file once every shard is done (engine.rs).
            self.found(out, i, Rule::OrphanReversal, format_args!(""));
            return Ok(());
        };
        let o = self.events[j];
        let orphan = Rule::OrphanReversal;
        if o.kind == Kind::Reversal {
            self.found(out, i, orphan, format_args!("original {shown} is a reversal, not a debit"));
            return Ok(());
        }
        if o.program != e.program {
            let code = self.code(o.program);
            self.found(out, i, orphan, format_args!("original {shown} is a debit of program {code}"));
            return Ok(());
        }
        if j > i {
            self.found(out, i, orphan, format_args!("original {shown} comes later in event order"));
            return Ok(());
        }
        if e.amount > self.s.left[j] {
            let (amount, left) = (self.money(e.amount), self.money(self.s.left[j]));
            let detail = format_args!("amount {amount} is above what is left of {shown} ({left})");
            self.found(out, i, Rule::ReversalExceeds, detail);
            return Ok(());
        }
        self.s.left[j] -= e.amount;
        let tally = &mut out.tallies[usize::from(e.program)];
        tally.reversals_applied += 1;
        if self.s.settled[j] {
            tally.reversed_settled += Sum::from(e.amount);
            self.sums.add(o.merchant, o.program, e.amount, true);
            self.give_back(j, e.amount)
        } else {
            tally.reversed_held += Sum::from(e.amount);
            Ok(())
        }
    }

    /// Gives `amount` back to the allocations debit `j` drew from, the last drawn first.
    fn give_back(&mut self, j: usize, mut amount: Minor) -> Result<(), Error> {
        let (start, mut top) = self.s.draw_range[j];
        while amount > 0 && top > start {
            let (k, drawn) = &mut self.s.draws[top as usize - 1];
            let back = amount.min(*drawn);
            *drawn -= back;
            self.s.remaining[*k as usize] += back;
            amount -= back;
            if *drawn == 0 {
                top -= 1;
            }
        }
        self.s.draw_range[j].1 = top;
        if amount > 0 {
            return Err(Error::Internal("a reversal gave back more than its debit drew".into()));
        }
        Ok(())
    }

    /// `NEAR_DUPLICATE`: same merchant and amount as the previous such debit of the card, at
    /// most `near_duplicate_seconds` before it.
    fn near_duplicate(&mut self, out: &mut ShardOut<'a>) {
        let seconds = self.ctx.rulebook.near_duplicate_seconds;
        let mut keyed = std::mem::take(&mut self.s.positions);
        keyed.clear();
        keyed.extend((0..self.events.len()).filter(|&i| self.events[i].kind == Kind::Debit));
        let key = |i: usize| (self.events[i].amount, self.events[i].merchant, i);
        keyed.sort_unstable_by_key(|&i| key(i));
        for pair in keyed.windows(2) {
            let ((a0, m0, p), (a1, m1, i)) = (key(pair[0]), key(pair[1]));
            if a0 == a1 && m0 == m1 && self.events[p].instant >= self.events[i].instant.minus_seconds(seconds) {
                let earlier = String::from_utf8_lossy(self.events[p].txn());
                let detail = format_args!("same merchant and amount as {earlier} at most {seconds} s earlier");
                self.found(out, i, Rule::NearDuplicate, detail);
            }
        }
        self.s.positions = keyed;
    }

    /// `VELOCITY`: more than `max_debits` debits of the card in the window up to this one.
    fn velocity(&mut self, out: &mut ShardOut<'a>) {
        let rulebook = self.ctx.rulebook;
        let mut debits = std::mem::take(&mut self.s.positions);
        debits.clear();
        debits.extend((0..self.events.len()).filter(|&i| self.events[i].kind == Kind::Debit));
        let mut low = 0;
        for (k, &i) in debits.iter().enumerate() {
            let from = self.events[i].instant.minus_seconds(rulebook.velocity_window_seconds);
            while self.events[debits[low]].instant < from {
                low += 1;
            }
            let count = (k - low + 1) as u64;
            if count > rulebook.velocity_max_debits {
                let (window, max) = (rulebook.velocity_window_seconds, rulebook.velocity_max_debits);
                let detail =
                    format_args!("{count} debits of this card within {window} s up to this one, more than {max}");
                self.found(out, i, Rule::Velocity, detail);
            }
        }
        self.s.positions = debits;
    }

    /// Tallies, settled rows and balances of the card.
    fn close(self, out: &mut ShardOut<'a>) -> Result<(), Error> {
        for (i, e) in self.events.iter().enumerate().filter(|(_, e)| e.kind == Kind::Debit) {
            let tally = &mut out.tallies[usize::from(e.program)];
            if self.s.settled[i] {
                tally.debits_settled += 1;
                tally.settled_gross += Sum::from(e.amount);
                self.sums.add(e.merchant, e.program, e.amount, false);
            } else {
                tally.debits_held += 1;
                tally.held_gross += Sum::from(e.amount);
            }
        }
        for (a, &remaining) in self.allocations.iter().zip(&self.s.remaining) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_ids::RowIds;
    use proptest::prelude::*;

    #[test]
    fn permute_moves_each_item_to_where_the_order_says() {
        // Cycles 0 -> 2 -> 1 -> 0 and 3 <-> 4, and 5 fixed.
        let mut items = ['a', 'b', 'c', 'd', 'e', 'f'];
        let mut order = [2, 0, 1, 4, 3, 5];
        permute(&mut items, &mut order, |k| k);
        assert_eq!(items, ['c', 'a', 'b', 'e', 'd', 'f']);
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn registry_tells_each_merchants_own_programs() {
        let registry = Registry::new([vec![], vec![0, 2], vec![1]].into_iter());
        let arena = bumpalo::Bump::new();
        let mut numbering = crate::names::Numbering::default();
        let merchants: Vec<MerchantNo> =
            [&b"M0"[..], b"M1", b"M2"].iter().map(|id| numbering.number(id, &arena)).collect();
        let at = |merchant: usize, program| registry.registered(merchants[merchant], program);
        assert_eq!([at(0, 0), at(0, 1), at(0, 2)], [false, false, false]);
        assert_eq!([at(1, 0), at(1, 1), at(1, 2)], [true, false, true]);
        assert_eq!([at(2, 0), at(2, 1), at(2, 2)], [false, true, false]);
    }

    /// How many [`allocations`] there are.
    const ALLOCATIONS: usize = 9;

    /// Kept allocations of four cards, three of them sharing their first 16 bytes, one with
    /// several allocations that differ in program, period, amount and owner (ids in `arena`).
    fn allocations(arena: &bumpalo::Bump) -> Vec<Allocation<'_>> {
        let date = |text: &str| crate::time::Date::parse(text.as_bytes()).expect("a date");
        let allocation = |line, card: &str, program, valid_to, amount, beneficiary: &str| {
            let ids = RowIds::keep(arena, [card.as_bytes(), beneficiary.as_bytes(), b""]);
            Allocation::new(line, ids, program, (date("2024-01-01"), date(valid_to)), amount)
        };
        let all = vec![
            allocation(2, "KHS0000000000001-B", 0, "2024-01-31", 100, "B1"),
            allocation(3, "KHS0000000000001-A", 1, "2024-01-31", 100, "B2"),
            allocation(4, "KHS0000000000001-A", 0, "2024-02-29", 100, "B2"),
            allocation(5, "C1", 1, "2024-01-31", 100, "B3"),
            allocation(6, "C1", 0, "2024-02-29", 100, "B3"),
            allocation(7, "C1", 0, "2024-01-31", 200, "B3"),
            allocation(8, "C1", 0, "2024-01-31", 100, "B4"),
            allocation(9, "C1", 0, "2024-01-31", 100, "B3"),
            allocation(10, "KHS0000000000001", 0, "2024-01-31", 100, "B5"),
        ];
        assert_eq!(all.len(), ALLOCATIONS);
        all
    }

    proptest! {
        #[test]
        fn finish_puts_balances_in_balance_order(
            order in Just((0..ALLOCATIONS).collect::<Vec<_>>()).prop_shuffle()
        ) {
            let arena = bumpalo::Bump::new();
            let all = allocations(&arena);
            let mut out = ShardOut::new(2);
            out.balances = order.iter().map(|&i| (all[i], Minor::from(i as u32))).collect();
            let mut expected = out.balances.clone();
            expected.sort_unstable_by(|(x, _), (y, _)| balance_order(x, y));
            out.finish();
            prop_assert_eq!(out.balances, expected);
        }

        /// The report's merge: each card's allocations in one of three batches (cards sharing
        /// their first 16 bytes may land in different batches, or the same), each batch
        /// finished, then merged through the heads alone.
        #[test]
        fn merged_keys_put_finished_batches_in_balance_order(
            order in Just((0..ALLOCATIONS).collect::<Vec<_>>()).prop_shuffle(),
            batch_of_card in proptest::collection::vec(0..3usize, 4),
        ) {
            let arena = bumpalo::Bump::new();
            let all = allocations(&arena);
            let cards: Vec<&[u8]> = {
                let mut cards: Vec<&[u8]> = all.iter().map(|a| a.card()).collect();
                cards.sort_unstable();
                cards.dedup();
                cards
            };
            prop_assert_eq!(cards.len(), batch_of_card.len());
            let mut outs: Vec<ShardOut<'_>> = (0..3).map(|_| ShardOut::new(2)).collect();
            for &i in &order {
                let batch = batch_of_card[cards.binary_search(&all[i].card()).expect("a card")];
                outs[batch].balances.push((all[i], Minor::from(i as u32)));
            }
            for out in &mut outs {
                out.finish();
            }
            let heads: Vec<Vec<u128>> = outs.iter().map(|out| out.heads.clone()).collect();
            let kept = KeptAllocations::new(outs.into_iter().map(|out| out.balances).collect());
            let merged: Vec<(Allocation<'_>, Minor)> =
                merged_balance_keys(&heads, |i| &kept[i].0).iter().map(|&(_, i)| kept[i as usize]).collect();
            let mut expected: Vec<(Allocation<'_>, Minor)> = kept.iter().copied().collect();
            expected.sort_unstable_by(|(x, _), (y, _)| balance_order(x, y));
            prop_assert_eq!(merged, expected);
        }

        #[test]
        fn permute_in_place_equals_gathering_a_copy(
            order in (0..60u32).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        ) {
            let items: Vec<u32> = (0..order.len() as u32).map(|i| 100 + i).collect();
            let gathered: Vec<u32> = order.iter().map(|&i| items[i as usize]).collect();
            let (mut permuted, mut order) = (items, order);
            permute(&mut permuted, &mut order, |k| k);
            prop_assert_eq!(permuted, gathered);
        }
    }
}
