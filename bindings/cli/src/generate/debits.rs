//! The chunk's rows of debits.csv.
//!
//! Ordinary spending never overdraws: a card's debits of a program share at most this
//! month's allocation (which is valid all month), so every overdraft, hold and review in the
//! data comes from a planned pattern or an injected row (see `anomalies`). Rows are planned
//! per chunk of cards against an exact budget (`--debits` spread over chunks by card share),
//! then sorted by time, as a bank's daily files are.

use super::cards::{Card, Grant, CHUNK_CARDS};
use super::rng::{Purpose, Rng};
use super::rows::{Atc, Place, Role, Row};
use super::text::{Out, TimeStyle};
use super::world::World;

/// Spending at merchants (units of Rp 500) or cash at ATMs (units of Rp 50,000 notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Cash,
    Shop,
}

impl Mode {
    pub(crate) fn unit(self) -> u64 {
        match self {
            Mode::Cash => 50_000,
            Mode::Shop => 500,
        }
    }
}

/// Local hours of the day, weighted by how busy they are.
const HOUR_WEIGHTS: [u64; 24] = [0, 0, 0, 0, 0, 1, 3, 6, 8, 9, 9, 8, 8, 7, 7, 7, 8, 8, 7, 6, 4, 2, 1, 0];

/// Rows of debits.csv that chunk `chunk` holds: its cards' share of `--debits`.
pub(crate) fn chunk_budget(world: &World, chunk: u64) -> u64 {
    let start = chunk * CHUNK_CARDS;
    let end = (start + CHUNK_CARDS).min(world.cards);
    let share = |cards: u64| (u128::from(world.debits) * u128::from(cards) / u128::from(world.cards)) as u64;
    share(end) - share(start)
}

/// One chunk's debits in the making.
pub(crate) struct Chunk<'w> {
    pub(crate) world: &'w World,
    pub(crate) chunk: u64,
    pub(crate) cards: &'w [Card],
    pub(crate) rng: Rng,
    pub(crate) rows: Vec<Row>,
    pub(crate) budget: u64,
    /// Per card: busy with a planned pattern (kept out of ordinary spending).
    pub(crate) special: Vec<bool>,
    /// Rows held by a rule-2 anomaly, for reversals of held debits.
    pub(crate) held: Vec<usize>,
    next_txn: u64,
    atc_assigned: bool,
}

/// Appends the chunk's rows of debits.csv.
pub(crate) fn debits_csv(world: &World, chunk: u64, cards: &[Card], out: &mut Out) {
    let budget = chunk_budget(world, chunk);
    let mut c = Chunk {
        world,
        chunk,
        cards,
        rng: Rng::new(world.seed, Purpose::Debits, chunk),
        rows: Vec::with_capacity(budget as usize),
        budget,
        special: vec![false; cards.len()],
        held: Vec::new(),
        next_txn: 0,
        atc_assigned: false,
    };
    let counts = super::anomalies::Counts::for_budget(budget);
    c.patterns(&counts);
    c.unenrolled();
    let reserved = counts.single_rows() + counts.referencing_rows();
    let ordinary = budget.saturating_sub(c.rows.len() as u64 + reserved);
    c.ordinary(ordinary);
    c.singles(&counts);
    c.assign_atc();
    c.referencing(&counts);
    c.fill();
    debug_assert_eq!(c.rows.len() as u64, budget);
    c.rows.sort_by_key(|r| r.at_ms);
    for row in &c.rows {
        row.write(world, out);
    }
}

impl<'w> Chunk<'w> {
    pub(crate) fn room(&self) -> bool {
        (self.rows.len() as u64) < self.budget
    }

    pub(crate) fn txn(&mut self) -> u64 {
        self.next_txn += 1;
        self.chunk << 24 | self.next_txn
    }

    /// A txn number no row of the data set has (for reversals of unknown debits).
    pub(crate) fn unused_txn(&mut self) -> u64 {
        self.chunk << 24 | 1 << 23 | self.rng.below(1 << 22)
    }

    /// How card `card` spends `grant`: where the program allows both, half the holders take
    /// cash at ATMs and half pay at merchants.
    pub(crate) fn mode(&self, card: u64, grant: &Grant) -> Mode {
        let program = self.world.programs[grant.program];
        let coin = (card ^ grant.program as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63 == 1;
        match (program.atm, program.shop) {
            (true, false) => Mode::Cash,
            (true, true) if coin => Mode::Cash,
            _ => Mode::Shop,
        }
    }

    /// The most rows card `card` can spend `grant` in: one per unit of money at a shop, at
    /// most 3 withdrawals at ATMs. Ordinary spending always leaves one unit (a Rp 50,000
    /// note at ATMs), so it never empties a card, which `BULK_DRAIN` would see at a busy ATM,
    /// and a voided debit of one unit (see `fill`) never overdraws.
    pub(crate) fn capacity(&self, card: u64, grant: &Grant) -> u64 {
        let mode = self.mode(card, grant);
        let units = (grant.amount / mode.unit()).saturating_sub(1);
        match mode {
            Mode::Shop => units,
            Mode::Cash => units.min(3),
        }
    }

    /// A random moment of day `day` of the cycle (0-based; may lie outside it), at a busy
    /// hour; with milliseconds for QRIS.
    pub(crate) fn moment(&mut self, day: i64, place: Place) -> i64 {
        let hour = self.rng.weighted(&HOUR_WEIGHTS) as i64;
        let second = day * 86_400 + hour * 3600 + self.rng.below(3600) as i64;
        let millis = if matches!(place, Place::Qr(_)) { self.rng.range(1, 999) as i64 } else { 0 };
        super::world::MONTH_START_MS + second * 1000 + millis
    }

    /// A clean place for a debit of `program` in `mode`: the card's usual merchants or ATM
    /// most of the time.
    pub(crate) fn place(&mut self, program: usize, mode: Mode, card: u64) -> Place {
        let usual = self.rng.chance(800);
        let spread = (card.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as usize;
        match mode {
            Mode::Cash => {
                let atms = self.world.atms.len();
                let a = if usual { spread % atms } else { self.rng.below(atms as u64) as usize };
                Place::Atm(a as u32)
            }
            Mode::Shop => {
                let list = &self.world.eligible[program];
                let m = if usual {
                    list[(spread + 7919 * self.rng.below(3) as usize) % list.len()]
                } else {
                    *self.rng.pick(list)
                };
                self.at_merchant(m)
            }
        }
    }

    /// Pays at merchant `m` by EDC or, where it has one, QRIS.
    pub(crate) fn at_merchant(&mut self, m: u32) -> Place {
        let merchant = &self.world.merchants[m as usize];
        if merchant.qr.is_some() && self.rng.chance(350) {
            Place::Qr(m)
        } else {
            Place::Edc(m, self.rng.below(merchant.edc.len() as u64) as u8)
        }
    }

    fn style(&mut self, at_ms: i64) -> TimeStyle {
        match self.rng.below(100) {
            0 | 1 => TimeStyle::Zulu,
            2 if at_ms % 1000 == 0 => TimeStyle::Naive,
            _ => TimeStyle::Local,
        }
    }

    /// Adds a debit and returns its row index.
    pub(crate) fn debit(
        &mut self,
        card: u64,
        program: usize,
        amount: u64,
        at_ms: i64,
        place: Place,
        role: Role,
    ) -> usize {
        let chip = matches!(place, Place::Atm(_) | Place::Edc(..));
        let row = Row {
            at_ms,
            style: self.style(at_ms),
            txn: self.txn(),
            original: None,
            card,
            program,
            amount,
            cents: matches!(place, Place::Atm(_)),
            place,
            mcc: place.mcc(self.world),
            atc: if chip && !self.atc_assigned { Atc::Next } else { Atc::None },
            role,
            bad: None,
        };
        self.rows.push(row);
        self.rows.len() - 1
    }

    /// Adds a reversal of row `target` (on the target's card unless `card` says otherwise);
    /// most name the original's merchant and terminal, some leave them empty.
    pub(crate) fn reversal(&mut self, target: usize, card: Option<u64>, amount: u64, at_ms: i64, role: Role) -> usize {
        let t = &self.rows[target];
        let (original, program, place) = (t.txn, t.program, t.place);
        let card = card.unwrap_or(t.card);
        let place = if self.rng.chance(700) { place } else { Place::None };
        self.reversal_of(original, card, program, place, amount, at_ms, role)
    }

    /// Adds a reversal naming txn number `original`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reversal_of(
        &mut self,
        original: u64,
        card: u64,
        program: usize,
        place: Place,
        amount: u64,
        at_ms: i64,
        role: Role,
    ) -> usize {
        let row = Row {
            at_ms,
            style: if self.rng.chance(20) { TimeStyle::Zulu } else { TimeStyle::Local },
            txn: self.txn(),
            original: Some(original),
            card,
            program,
            amount,
            cents: true,
            place,
            mcc: None,
            atc: Atc::None,
            role,
            bad: None,
        };
        self.rows.push(row);
        self.rows.len() - 1
    }

    /// `parts` positive multiples of `unit` adding up to at most `units * unit`, about
    /// `fraction` per mille of it (`parts <= units`).
    pub(crate) fn split(&mut self, units: u64, parts: u64, fraction: u64, unit: u64) -> Vec<u64> {
        let total = (units * fraction / 1000).clamp(parts, units.max(parts));
        let weights: Vec<u64> = (0..parts).map(|_| self.rng.range(1, 4)).collect();
        let sum: u64 = weights.iter().sum();
        weights.iter().map(|w| (1 + (total - parts) * w / sum.max(1)) * unit).collect()
    }

    /// A moment on days `first..=last` of the cycle for each place, sorted by time.
    fn moments(&mut self, places: Vec<Place>, first: i64, last: i64) -> Vec<(i64, Place)> {
        let mut at: Vec<(i64, Place)> = places
            .into_iter()
            .map(|place| {
                let day = first + self.rng.below((last - first + 1) as u64) as i64;
                (self.moment(day, place), place)
            })
            .collect();
        at.sort_by_key(|m| m.0);
        at
    }

    /// Ordinary spending of `rows` rows over the enrolled cards without a pattern, by how
    /// active each holder is; a card never gets more debits than its balance can pay.
    fn ordinary(&mut self, rows: u64) {
        let n = self.cards.len();
        let mut caps = vec![0u64; n];
        let mut weights = vec![0u64; n];
        for (j, card) in self.cards.iter().enumerate() {
            if card.enrolled && !self.special[j] {
                caps[j] = card.grants.iter().map(|g| self.capacity(card.index, g)).sum();
                weights[j] = card.activity * card.grants.len() as u64;
            }
        }
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return;
        }
        let mut counts: Vec<u64> = (0..n).map(|j| (rows * weights[j] / total).min(caps[j])).collect();
        let mut left = rows - counts.iter().sum::<u64>();
        while left > 0 {
            let start = self.rng.below(n as u64) as usize;
            let before = left;
            for j in (start..n).chain(0..start) {
                if left > 0 && counts[j] < caps[j] && weights[j] > 0 {
                    counts[j] += 1;
                    left -= 1;
                }
            }
            if left == before {
                break; // every card is at its limit: `fill` tops the chunk up
            }
        }
        for (j, &count) in counts.iter().enumerate() {
            if count > 0 {
                self.card_rows(j, count);
            }
        }
    }

    /// `count` rows of card `j` across its grants.
    fn card_rows(&mut self, j: usize, count: u64) {
        let card = &self.cards[j];
        let caps: Vec<u64> = card.grants.iter().map(|g| self.capacity(card.index, g)).collect();
        let mut per = vec![0u64; caps.len()];
        let mut k = self.rng.below(caps.len() as u64) as usize;
        for _ in 0..count {
            while per[k] >= caps[k] {
                k = (k + 1) % caps.len();
            }
            per[k] += 1;
            k = (k + 1) % caps.len();
        }
        for (g, &rows) in per.iter().enumerate() {
            if rows > 0 {
                self.grant_rows(j, g, rows);
            }
        }
    }

    /// `rows` rows of one grant: debits sharing at most its allocation, some reversed.
    fn grant_rows(&mut self, j: usize, g: usize, rows: u64) {
        let card = &self.cards[j];
        let grant = &card.grants[g];
        let (index, program, mode) = (card.index, grant.program, self.mode(card.index, grant));
        // One unit always stays on the card (see `capacity`).
        let units = grant.amount / mode.unit() - 1;
        let reversals = (1..rows).filter(|_| self.rng.chance(12)).count() as u64;
        let reversals = reversals.min(rows / 2);
        let debits = rows - reversals;
        let fraction = self.rng.range(600, 1000);
        let amounts = self.split(units, debits, fraction, mode.unit());
        let places: Vec<Place> = (0..debits).map(|_| self.place(program, mode, index)).collect();
        let first_day = if mode == Mode::Cash { 0 } else { self.rng.below(3) as i64 };
        let moments = self.moments(places, first_day, 30);
        let start = self.rows.len();
        for (&amount, &(at, place)) in amounts.iter().zip(&moments) {
            self.debit(index, program, amount, at, place, Role::Plain);
        }
        for r in 0..reversals as usize {
            let target = start + r * (debits as usize) / (reversals as usize);
            let t = &self.rows[target];
            let (amount, at) = (t.amount, t.at_ms);
            let unit = mode.unit();
            let back = if amount > unit && self.rng.chance(400) {
                unit * self.rng.range(1, amount / unit - 1)
            } else {
                amount
            };
            let later = at + 1000 * self.rng.range(120, 3 * 86_400) as i64;
            self.rows[target].role = Role::Fixed;
            self.reversal(target, None, back, later, Role::Reversal);
        }
    }

    /// Debits of cards that were issued but never enrolled: every one is `NO_ALLOCATION`.
    fn unenrolled(&mut self) {
        for j in 0..self.cards.len() {
            let card = &self.cards[j];
            if card.enrolled || card.grants.is_empty() {
                continue;
            }
            let (index, grant) = (card.index, card.grants[0].clone());
            let mode = self.mode(index, &grant);
            for _ in 0..self.rng.range(1, 3) {
                if !self.room() {
                    return;
                }
                let place = self.place(grant.program, mode, index);
                let day = self.rng.below(31) as i64;
                let at = self.moment(day, place);
                let amount = mode.unit() * self.rng.range(1, 4) * if mode == Mode::Shop { 40 } else { 1 };
                self.debit(index, grant.program, amount, at, place, Role::Anomaly);
            }
        }
    }

    /// Gives every chip debit (EDC, ATM) its card's next EMV counter value, in time order.
    fn assign_atc(&mut self) {
        let mut order: Vec<u32> = (0..self.rows.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (self.rows[i as usize].card, self.rows[i as usize].at_ms, i));
        let cards: Vec<u64> = order.iter().map(|&i| self.rows[i as usize].card).collect();
        let mut start = 0;
        while start < order.len() {
            let end = start + cards[start..].iter().take_while(|&&c| c == cards[start]).count();
            let mut next = self.rng.range(1, 3000) as u16;
            for &i in &order[start..end] {
                let row = &mut self.rows[i as usize];
                if row.atc == Atc::Next {
                    row.atc = Atc::Value(next);
                    next = next.wrapping_add(1);
                }
            }
            start = end;
        }
        self.atc_assigned = true;
    }

    /// Tops the chunk up to its budget when the cards cannot spend more (a cash-only program
    /// with many debits per card) or an anomaly found nothing to use: debits voided a few
    /// seconds later (an ATM that failed to dispense, a payment the terminal timed out),
    /// which move no money, on cards without a pattern.
    fn fill(&mut self) {
        let pool: Vec<usize> = (0..self.cards.len()).filter(|&j| self.cards[j].enrolled && !self.special[j]).collect();
        while self.room() {
            let j = match pool.len() {
                0 => self.rng.below(self.cards.len() as u64) as usize,
                n => pool[self.rng.below(n as u64) as usize],
            };
            let card = &self.cards[j];
            let Some(grant) = card.grants.first() else { continue };
            let (index, program, mode) = (card.index, grant.program, self.mode(card.index, grant));
            let place = self.place(program, mode, index);
            let day = self.rng.below(31) as i64;
            let at = self.moment(day, place);
            let i = self.debit(index, program, mode.unit(), at, place, Role::Fixed);
            if self.room() {
                let later = at + 1000 * self.rng.range(20, 50) as i64;
                self.reversal(i, None, mode.unit(), later, Role::Fixed);
            }
        }
    }
}
