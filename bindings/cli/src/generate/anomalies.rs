//! What the generator injects, at small rates, so that every rule has work: planned
//! patterns (velocity bursts, near duplicates, bulk-drain agents), single rows that break a
//! debit check, and rows that copy or name other rows (resent copies, conflicting txn ids,
//! ATC replays, reversals that are orphans, too large, or of held debits), and bad rows.
//!
//! Counts scale with the chunk's rows; a chunk of at least [`MINIMA_FROM_ROWS`] rows gets at
//! least one of each, so a small data set such as the demo still fires every rule.

use super::cards::{Card, Grant};
use super::debits::{Chunk, Mode};
use super::rows::{Atc, Place, Role, BAD_KINDS};
use super::text::TimeStyle;
use super::world::{MONTH_DAYS, MONTH_START_MS};

/// A chunk with at least this many rows gets at least one of every anomaly.
pub(crate) const MINIMA_FROM_ROWS: u64 = 400;

/// How many of each anomaly a chunk gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counts {
    copies: u64,
    conflicts: u64,
    replays: u64,
    no_allocation: u64,
    outside: u64,
    channel: u64,
    mcc: u64,
    unregistered: u64,
    over_limit: u64,
    overdraft: u64,
    held_reversals: u64,
    orphans_missing: u64,
    orphans_other: u64,
    exceeds: u64,
    bad: u64,
    near_duplicates: u64,
    velocity: u64,
    agents: u64,
}

impl Counts {
    pub(crate) fn for_budget(rows: u64) -> Counts {
        // (per 100,000 rows, at least)
        let rate = |per_100k: u64, min: u64| {
            let x = rows * per_100k / 100_000;
            if rows >= MINIMA_FROM_ROWS {
                x.max(min)
            } else {
                x
            }
        };
        Counts {
            copies: rate(300, 3),
            conflicts: rate(30, 1),
            replays: rate(30, 1),
            no_allocation: rate(50, 1),
            outside: rate(50, 2),
            channel: rate(50, 1),
            mcc: rate(50, 2),
            unregistered: rate(50, 1),
            over_limit: rate(30, 1),
            overdraft: rate(50, 1),
            held_reversals: rate(20, 1),
            orphans_missing: rate(20, 1),
            orphans_other: rate(20, 1),
            exceeds: rate(20, 1),
            bad: rate(10, 3),
            near_duplicates: rate(100, 1),
            velocity: rate(10, 1),
            agents: rows / 200_000 + u64::from(rows >= MINIMA_FROM_ROWS),
        }
    }

    /// Rows the single anomalies add.
    pub(crate) fn single_rows(&self) -> u64 {
        self.no_allocation
            + self.outside
            + self.channel
            + self.mcc
            + self.unregistered
            + self.over_limit
            + self.overdraft
            + self.orphans_missing
            + self.bad
    }

    /// Rows the anomalies that name other rows add.
    pub(crate) fn referencing_rows(&self) -> u64 {
        self.copies + self.conflicts + self.replays + self.held_reversals + self.orphans_other + self.exceeds
    }
}

/// An anomaly maker: makes the `k`-th anomaly of its kind in the chunk.
type Make<'w> = fn(&mut Chunk<'w>, u64);

const MONTH_END_MS: i64 = MONTH_START_MS + MONTH_DAYS * 86_400_000;

impl Chunk<'_> {
    /// A random enrolled card (without a pattern, when `free`) and the first of its grants
    /// that `ok` accepts.
    fn find_card(&mut self, free: bool, ok: impl Fn(&Chunk<'_>, &Card, &Grant) -> bool) -> Option<(usize, usize)> {
        let n = self.cards.len();
        let start = self.rng.below(n as u64) as usize;
        (start..n).chain(0..start).find_map(|j| {
            let card = &self.cards[j];
            if !card.enrolled || (free && self.special[j]) {
                return None;
            }
            card.grants.iter().position(|g| ok(self, card, g)).map(|g| (j, g))
        })
    }

    /// A random row that `ok` accepts.
    fn find_row(&mut self, ok: impl Fn(&super::rows::Row) -> bool) -> Option<usize> {
        let n = self.rows.len();
        if n == 0 {
            return None;
        }
        let start = self.rng.below(n as u64) as usize;
        (start..n).chain(0..start).find(|&i| ok(&self.rows[i]))
    }

    fn plain_debit(&mut self) -> Option<usize> {
        self.find_row(|r| r.role == Role::Plain && !r.is_reversal())
    }

    fn room_for(&self, rows: u64) -> bool {
        self.rows.len() as u64 + rows <= self.budget
    }

    fn small_amount(&mut self, mode: Mode) -> u64 {
        match mode {
            Mode::Shop => 500 * self.rng.range(20, 200),
            Mode::Cash => 50_000 * self.rng.range(1, 2),
        }
    }

    pub(crate) fn patterns(&mut self, counts: &Counts) {
        for _ in 0..counts.velocity {
            self.velocity();
        }
        for _ in 0..counts.near_duplicates {
            self.near_duplicate();
        }
        for _ in 0..counts.agents {
            self.agent();
        }
    }

    fn shop_card(&mut self, units_min: u64) -> Option<(usize, usize)> {
        self.find_card(true, |c, card, g| c.mode(card.index, g) == Mode::Shop && g.amount / 500 >= units_min)
    }

    /// `VELOCITY`: a holder (or someone with the card) buys at many warungs within an hour.
    fn velocity(&mut self) {
        let count = self.rng.range(12, 14);
        if !self.room_for(count) {
            return;
        }
        let Some((j, g)) = self.shop_card(count) else { return };
        self.special[j] = true;
        let (index, grant) = (self.cards[j].index, self.cards[j].grants[g].clone());
        let day = self.rng.range(1, 27) as i64;
        let base = MONTH_START_MS + (day * 86_400 + self.rng.range(9, 18) as i64 * 3600) * 1000;
        let mut offsets: Vec<i64> = (0..count).map(|_| self.rng.below(3300) as i64 * 1000).collect();
        offsets.sort_unstable();
        let fraction = self.rng.range(500, 900);
        let amounts = self.split(grant.amount / 500, count, fraction, 500);
        for (amount, offset) in amounts.into_iter().zip(offsets) {
            let m = *self.rng.pick(&self.world.eligible[grant.program]);
            let place = self.at_merchant(m);
            let millis = if matches!(place, Place::Qr(_)) { self.rng.range(1, 999) as i64 } else { 0 };
            self.debit(index, grant.program, amount, base + offset + millis, place, Role::Fixed);
        }
    }

    /// `NEAR_DUPLICATE`: the cashier charges the card twice within a minute.
    fn near_duplicate(&mut self) {
        let count = self.rng.range(2, 4);
        if !self.room_for(count) {
            return;
        }
        let Some((j, g)) = self.shop_card(count) else { return };
        self.special[j] = true;
        let (index, grant) = (self.cards[j].index, self.cards[j].grants[g].clone());
        let fraction = self.rng.range(400, 900);
        let amounts = self.split(grant.amount / 500, count, fraction, 500);
        let mut days: Vec<i64> = (0..count).map(|_| self.rng.range(0, 30) as i64).collect();
        days.sort_unstable();
        let mut last = (0, Place::None, 0);
        for (k, (&amount, &day)) in amounts.iter().zip(&days).enumerate() {
            let (place, at, amount) = if k + 1 == count as usize {
                let (at, place, previous) = last;
                (place, at + self.rng.range(5, 55) as i64 * 1000, previous)
            } else {
                let place = self.place(grant.program, Mode::Shop, index);
                let amount = if k + 2 == count as usize { amount.min(amounts[k + 1]) } else { amount };
                (place, self.moment(day, place), amount)
            };
            self.debit(index, grant.program, amount, at, place, Role::Fixed);
            last = (at, place, amount);
        }
    }

    /// `BULK_DRAIN`: an agent holding several holders' cards and PINs empties them at one
    /// terminal in the small hours, late in the month.
    fn agent(&mut self) {
        let programs = &self.world.programs;
        let cash = programs.iter().position(|p| p.atm && !p.shop);
        let (program, mode) = match cash {
            Some(p) => (p, Mode::Cash),
            None => match programs.iter().position(|p| p.shop) {
                Some(p) => (p, Mode::Shop),
                None => return,
            },
        };
        let want = self.rng.range(6, 8) as usize;
        let mut victims: Vec<(usize, usize)> = Vec::new();
        let n = self.cards.len();
        let start = self.rng.below(n as u64) as usize;
        for j in (start..n).chain(0..start) {
            let card = &self.cards[j];
            if victims.len() == want || !card.enrolled || self.special[j] {
                continue;
            }
            let g = card
                .grants
                .iter()
                .position(|g| g.program == program && g.carryover == 0 && self.mode(card.index, g) == mode);
            if let Some(g) = g {
                victims.push((j, g));
            }
        }
        let priors: Vec<u64> = victims.iter().map(|_| self.rng.range(0, 3)).collect();
        let cost: u64 = priors.iter().map(|p| p + 1).sum();
        if victims.len() < 5 || !self.room_for(cost) {
            return;
        }
        let terminal = match mode {
            Mode::Cash => Place::Atm(self.rng.below(self.world.atms.len() as u64) as u32),
            Mode::Shop => Place::Edc(*self.rng.pick(&self.world.eligible[program]), 0),
        };
        let day = self.rng.range(20, 29) as i64;
        let start_ms = MONTH_START_MS + (day * 86_400 + self.rng.range(1800, 10_800) as i64) * 1000;
        let mut offsets: Vec<i64> = victims.iter().map(|_| self.rng.below(1500) as i64 * 1000).collect();
        offsets.sort_unstable();
        for (((j, g), prior), offset) in victims.into_iter().zip(priors).zip(offsets) {
            self.special[j] = true;
            let (index, amount) = (self.cards[j].index, self.cards[j].grants[g].amount);
            let units = amount / mode.unit();
            let fraction = self.rng.range(300, 700);
            let spent = self.split(units, prior, fraction, mode.unit());
            for &part in &spent {
                let place = self.place(program, mode, index);
                let day = self.rng.range(0, day as u64 - 2) as i64;
                let at = self.moment(day, place);
                self.debit(index, program, part, at, place, Role::Fixed);
            }
            let left = amount - spent.iter().sum::<u64>();
            self.debit(index, program, left, start_ms + offset, terminal, Role::Fixed);
        }
    }
}

impl Chunk<'_> {
    pub(crate) fn singles(&mut self, counts: &Counts) {
        let kinds: [(u64, Make<'_>); 9] = [
            (counts.no_allocation, Self::no_allocation),
            (counts.outside, Self::outside_period),
            (counts.channel, Self::wrong_channel),
            (counts.mcc, Self::wrong_mcc),
            (counts.unregistered, Self::unregistered),
            (counts.over_limit, Self::over_limit),
            (counts.overdraft, Self::overdraft),
            (counts.orphans_missing, Self::orphan_missing),
            (counts.bad, Self::bad_row),
        ];
        for (count, make) in kinds {
            for k in 0..count {
                if self.room() {
                    make(self, k);
                }
            }
        }
    }

    /// A debit of `grant`'s program on card `j` at a clean place, `held` when some rule-2
    /// check will hold it (a target for a reversal of a held debit).
    fn anomaly(&mut self, j: usize, program: usize, mode: Mode, amount: u64, day: i64, place: Option<Place>) -> usize {
        let index = self.cards[j].index;
        let place = place.unwrap_or_else(|| self.place(program, mode, index));
        let at = self.moment(day, place);
        self.debit(index, program, amount, at, place, Role::Anomaly)
    }

    fn any_day(&mut self) -> i64 {
        self.rng.below(MONTH_DAYS as u64) as i64
    }

    /// `NO_ALLOCATION`: a debit of a program the card has no allocation for.
    fn no_allocation(&mut self, _: u64) {
        let programs = self.world.programs.len();
        let missing = |card: &Card| (0..programs).find(|&p| card.grants.iter().all(|g| g.program != p));
        let Some((j, _)) = self.find_card(false, |_, card, _| missing(card).is_some()) else { return };
        let program = missing(&self.cards[j]).expect("found above");
        let mode = if self.world.programs[program].shop { Mode::Shop } else { Mode::Cash };
        let (amount, day) = (self.small_amount(mode), self.any_day());
        self.anomaly(j, program, mode, amount, day, None);
    }

    /// `OUTSIDE_PERIOD`: in the small hours of 1 September (some written in UTC, where it still
    /// reads 31 August), or on 31 July for a card with nothing carried over.
    fn outside_period(&mut self, k: u64) {
        let before = k % 2 == 1;
        let Some((j, g)) = self.find_card(false, |_, _, g| !before || g.carryover == 0) else { return };
        let grant = self.cards[j].grants[g].clone();
        let mode = self.mode(self.cards[j].index, &grant);
        let amount = self.small_amount(mode);
        let i = self.anomaly(j, grant.program, mode, amount, if before { -1 } else { MONTH_DAYS }, None);
        if !before {
            let row = &mut self.rows[i];
            row.at_ms = MONTH_END_MS + self.rng.range(300, 6 * 3600) as i64 * 1000 + row.at_ms % 1000;
            row.style = if self.rng.chance(500) { TimeStyle::Zulu } else { TimeStyle::Local };
        }
    }

    /// `CHANNEL_NOT_ALLOWED`: food aid taken as cash at an ATM, or elderly cash aid spent at
    /// a shop.
    fn wrong_channel(&mut self, _: u64) {
        let world = self.world;
        let Some((j, g)) = self.find_card(false, |_, _, g| {
            let p = world.programs[g.program];
            !p.atm || !p.shop
        }) else {
            return;
        };
        let program = self.cards[j].grants[g].program;
        let (mode, place) = if self.world.programs[program].atm {
            let m = self.rng.below(self.world.merchants.len() as u64) as u32;
            (Mode::Shop, self.at_merchant(m))
        } else {
            (Mode::Cash, Place::Atm(self.rng.below(self.world.atms.len() as u64) as u32))
        };
        let (amount, day) = (self.small_amount(mode), self.any_day());
        let i = self.anomaly(j, program, mode, amount, day, Some(place));
        self.held.push(i);
    }

    /// `MCC_NOT_ALLOWED`: food aid at a pharmacy, eatery or fertilizer kiosk, or by QRIS
    /// with no merchant category.
    fn wrong_mcc(&mut self, k: u64) {
        let world = self.world;
        let Some((j, g)) = self.find_card(false, |_, _, g| {
            world.programs[g.program].mcc.is_some() && !world.wrong_mcc[g.program].is_empty()
        }) else {
            return;
        };
        let program = self.cards[j].grants[g].program;
        let place = if k % 2 == 0 {
            let m = *self.rng.pick(&self.world.wrong_mcc[program]);
            self.at_merchant(m)
        } else {
            Place::Qr(0) // merchant 0 always takes QRIS
        };
        let (amount, day) = (self.small_amount(Mode::Shop), self.any_day());
        let i = self.anomaly(j, program, Mode::Shop, amount, day, Some(place));
        if k % 2 == 1 {
            self.rows[i].mcc = None;
        }
        self.held.push(i);
    }

    /// `MERCHANT_NOT_REGISTERED`: a grocery that sells food but is not registered for the
    /// program.
    fn unregistered(&mut self, _: u64) {
        let world = self.world;
        let Some((j, g)) = self.find_card(false, |_, _, g| {
            world.programs[g.program].registered_merchants_only && !world.unregistered[g.program].is_empty()
        }) else {
            return;
        };
        let program = self.cards[j].grants[g].program;
        let m = *self.rng.pick(&self.world.unregistered[program]);
        let place = self.at_merchant(m);
        let (amount, day) = (self.small_amount(Mode::Shop), self.any_day());
        let i = self.anomaly(j, program, Mode::Shop, amount, day, Some(place));
        self.held.push(i);
    }

    /// `OVER_LIMIT`: one debit above the program's `max_debit`.
    fn over_limit(&mut self, _: u64) {
        let world = self.world;
        let Some((j, g)) = self.find_card(false, |_, _, g| world.programs[g.program].max_debit_rupiah.is_some()) else {
            return;
        };
        let grant = self.cards[j].grants[g].clone();
        let mode = self.mode(self.cards[j].index, &grant);
        let max = self.world.programs[grant.program].max_debit_rupiah.expect("found above");
        let amount = max + mode.unit() * self.rng.range(1, if mode == Mode::Shop { 400 } else { 4 });
        let day = self.any_day();
        let i = self.anomaly(j, grant.program, mode, amount, day, None);
        self.held.push(i);
    }

    /// `OVERDRAFT`: more than every allocation of the program together.
    fn overdraft(&mut self, _: u64) {
        let world = self.world;
        let fits = |g: &Grant| {
            let max = world.programs[g.program].max_debit_rupiah.unwrap_or(u64::MAX);
            g.amount + g.carryover + 100_000 <= max
        };
        let Some((j, g)) = self.find_card(false, |_, _, g| fits(g)) else { return };
        let grant = self.cards[j].grants[g].clone();
        let mode = self.mode(self.cards[j].index, &grant);
        let amount = grant.amount + grant.carryover + 50_000 * self.rng.range(1, 2);
        let day = self.any_day();
        self.anomaly(j, grant.program, mode, amount, day, None);
    }

    /// `ORPHAN_REVERSAL`: a reversal of a debit that is not in the file (last cycle's).
    fn orphan_missing(&mut self, _: u64) {
        let Some((j, g)) = self.find_card(false, |_, _, _| true) else { return };
        let grant = self.cards[j].grants[g].clone();
        let index = self.cards[j].index;
        let mode = self.mode(index, &grant);
        let place = self.place(grant.program, mode, index);
        let (amount, day) = (self.small_amount(mode), self.any_day());
        let at = self.moment(day, place);
        let original = self.unused_txn();
        self.reversal_of(original, index, grant.program, place, amount, at, Role::Anomaly);
    }

    /// A row that breaks the file contract (see `Row::write` for the kinds).
    fn bad_row(&mut self, k: u64) {
        let Some((j, g)) = self.find_card(false, |_, _, _| true) else { return };
        let grant = self.cards[j].grants[g].clone();
        let mode = self.mode(self.cards[j].index, &grant);
        let (amount, day) = (self.small_amount(mode), self.any_day());
        let i = self.anomaly(j, grant.program, mode, amount, day, None);
        self.rows[i].bad = Some(((self.chunk + k) % u64::from(BAD_KINDS)) as u8);
    }

    pub(crate) fn referencing(&mut self, counts: &Counts) {
        let kinds: [(u64, Make<'_>); 6] = [
            (counts.copies, Self::resent_copy),
            (counts.conflicts, Self::conflicting),
            (counts.replays, Self::atc_replay),
            (counts.held_reversals, Self::held_reversal),
            (counts.orphans_other, Self::orphan_other_card),
            (counts.exceeds, Self::reversal_exceeds),
        ];
        for (count, make) in kinds {
            for k in 0..count {
                if self.room() {
                    make(self, k);
                }
            }
        }
    }

    /// `DUPLICATE_TXN`: a row sent twice, sometimes written differently (`.00`, UTC) with
    /// the same values.
    fn resent_copy(&mut self, _: u64) {
        let Some(i) = self.find_row(|r| matches!(r.role, Role::Plain | Role::Reversal)) else { return };
        self.rows[i].role = Role::Fixed;
        let mut copy = self.rows[i].clone();
        copy.role = Role::Anomaly;
        if self.rng.chance(300) {
            copy.cents = !copy.cents;
        }
        if self.rng.chance(200) {
            copy.style = match copy.style {
                TimeStyle::Local => TimeStyle::Zulu,
                TimeStyle::Zulu => TimeStyle::Local,
                TimeStyle::Naive => TimeStyle::Naive,
            };
        }
        self.rows.push(copy);
    }

    /// `CONFLICTING_TXN`: the switch reuses a txn id for another card's debit.
    fn conflicting(&mut self, _: u64) {
        let Some(target) = self.plain_debit() else { return };
        let (txn, card, at) = (self.rows[target].txn, self.rows[target].card, self.rows[target].at_ms);
        let Some((j, g)) = self.find_card(false, |_, c, _| c.index != card) else { return };
        self.rows[target].role = Role::Fixed;
        let grant = self.cards[j].grants[g].clone();
        let mode = self.mode(self.cards[j].index, &grant);
        let amount = self.small_amount(mode);
        let i = self.anomaly(j, grant.program, mode, amount, 0, None);
        let row = &mut self.rows[i];
        row.txn = txn;
        row.at_ms = at + 1000 * self.rng.range(60, 3600) as i64 + row.at_ms % 1000;
    }

    /// `ATC_REPLAY`: a cloned card replays a chip debit's counter elsewhere, days later.
    fn atc_replay(&mut self, _: u64) {
        let Some(target) = self.find_row(|r| r.role == Role::Plain && matches!(r.atc, Atc::Value(_))) else {
            return;
        };
        self.rows[target].role = Role::Fixed;
        let t = self.rows[target].clone();
        let mode = if matches!(t.place, Place::Atm(_)) { Mode::Cash } else { Mode::Shop };
        let place = match mode {
            Mode::Cash => Place::Atm(self.rng.below(self.world.atms.len() as u64) as u32),
            Mode::Shop => {
                let m = *self.rng.pick(&self.world.eligible[t.program]);
                Place::Edc(m, 0)
            }
        };
        let later = (t.at_ms + 1000 * self.rng.range(600, 5 * 86_400) as i64).min(MONTH_END_MS - 1000);
        let amount = self.small_amount(mode);
        let i = self.debit(t.card, t.program, amount, later.max(t.at_ms + 1000), place, Role::Anomaly);
        self.rows[i].atc = t.atc;
    }

    /// A reversal of a debit some rule-2 check holds: it lowers the held amount.
    fn held_reversal(&mut self, _: u64) {
        if self.held.is_empty() {
            return;
        }
        let target = self.held.swap_remove(self.rng.below(self.held.len() as u64) as usize);
        let (amount, at) = (self.rows[target].amount, self.rows[target].at_ms);
        let later = at + 1000 * self.rng.range(600, 7200) as i64;
        self.reversal(target, None, amount, later, Role::Anomaly);
    }

    /// `ORPHAN_REVERSAL`: a reversal on one card of another card's debit.
    fn orphan_other_card(&mut self, _: u64) {
        let Some(target) = self.plain_debit() else { return };
        let t = self.rows[target].clone();
        let Some((j, _)) = self.find_card(false, |_, c, _| c.index != t.card) else { return };
        self.rows[target].role = Role::Fixed;
        let later = t.at_ms + 1000 * self.rng.range(600, 86_400) as i64;
        self.reversal_of(t.txn, self.cards[j].index, t.program, Place::None, t.amount, later, Role::Anomaly);
    }

    /// `REVERSAL_EXCEEDS`: a refund larger than the debit it reverses.
    fn reversal_exceeds(&mut self, _: u64) {
        let Some(target) = self.plain_debit() else { return };
        self.rows[target].role = Role::Fixed;
        let (amount, at) = (self.rows[target].amount, self.rows[target].at_ms);
        let unit = if matches!(self.rows[target].place, Place::Atm(_)) { 50_000 } else { 500 };
        let later = at + 1000 * self.rng.range(600, 86_400) as i64;
        let extra = unit * self.rng.range(1, 10);
        self.reversal(target, None, amount + extra, later, Role::Anomaly);
    }
}
