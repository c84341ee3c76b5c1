//! A second, independent reading of SPEC.md (v1.1), for the properties in `properties.rs`.
//!
//! Written from the SPEC text, not from the engine: simple, sequential and naive (O(n^2) and
//! worse, on purpose), so that a disagreement with `harmoni::reconcile` points at one of the
//! two readings. It takes rows that are already parsed (ids as text, money as minor units,
//! instants as nanoseconds since 1970 UTC, dates as days since 1970) with their line
//! numbers, and gives findings (without the free-text detail), settlement rows, balance rows
//! and per-program money, all as text comparable to the engine's `Report`.
//!
//! Readings taken where SPEC leaves room (the engine takes the same ones):
//! - `original_txn_id` is "ignored on a debit", so two debit rows differing only there are
//!   copies, not a conflict (rule 1);
//! - rules 2 and 4 look only at rows in play after rule 1 (no copies, no conflicting rows),
//!   `ATC_REPLAY` included;
//! - a reversal on the same card, program and instant as its original comes after it (debits
//!   before reversals), so it may apply.
//!
//! The second half renders rows to CSV text (shuffled columns, optional columns left out,
//! quoting, blank lines, `\r\n`, a byte-order mark, extra columns) and tells the line where
//! each record starts, writes the output CSV files as SPEC describes them, and has the
//! calendar arithmetic all that needs.

use std::collections::{BTreeMap, BTreeSet};

/// Nanoseconds in a second.
pub const NANOS: i128 = 1_000_000_000;
/// Seconds in a day.
pub const DAY_SECONDS: i64 = 86_400;

// ------------------------------------------------------------------------------------------
// Parsed inputs
// ------------------------------------------------------------------------------------------

/// One program of the rulebook, with SPEC defaults already applied.
#[derive(Clone, Debug)]
pub struct RefProgram {
    pub code: String,
    /// `None`: all channels.
    pub channels: Option<Vec<String>>,
    /// `None`: any mcc.
    pub mcc: Option<Vec<String>>,
    /// Minor units.
    pub max_debit: Option<i128>,
    pub registered_merchants_only: bool,
    pub per_household: bool,
}

/// The rulebook, with SPEC defaults already applied.
#[derive(Clone, Debug)]
pub struct RefRulebook {
    pub currency_scale: u32,
    /// Offset east of UTC in seconds (`+07:00` is 25200).
    pub timezone_seconds: i64,
    pub near_duplicate_seconds: i64,
    pub velocity_max_debits: u64,
    pub velocity_window_seconds: i64,
    pub bulk_min_cards: u64,
    pub bulk_window_seconds: i64,
    /// `drain_ratio` = mantissa / 10^scale.
    pub drain_ratio_mantissa: i128,
    pub drain_ratio_scale: u32,
    pub programs: Vec<RefProgram>,
}

impl RefRulebook {
    fn program(&self, code: &str) -> &RefProgram {
        self.programs.iter().find(|p| p.code == code).expect("rows name programs of the rulebook")
    }

    /// 00:00 of `date` in the rulebook's timezone, as nanoseconds UTC.
    fn start_of(&self, date: i64) -> i128 {
        i128::from(date * DAY_SECONDS - self.timezone_seconds) * NANOS
    }
}

/// A good row of allocations.csv.
#[derive(Clone, Debug)]
pub struct AllocationRow {
    pub line: u64,
    pub card_id: String,
    pub beneficiary_id: String,
    pub household_id: String,
    pub program: String,
    /// Days since 1970-01-01.
    pub valid_from: i64,
    pub valid_to: i64,
    /// Minor units.
    pub amount: i128,
}

impl AllocationRow {
    fn same_values(&self, other: &AllocationRow) -> bool {
        (&self.card_id, &self.beneficiary_id, &self.household_id, &self.program)
            == (&other.card_id, &other.beneficiary_id, &other.household_id, &other.program)
            && (self.valid_from, self.valid_to, self.amount) == (other.valid_from, other.valid_to, other.amount)
    }

    /// Draw order: (`valid_to`, `valid_from`, `amount`, `beneficiary_id`, `household_id`).
    fn draw_key(&self) -> (i64, i64, i128, &str, &str) {
        (self.valid_to, self.valid_from, self.amount, &self.beneficiary_id, &self.household_id)
    }

    fn overlaps(&self, other: &AllocationRow) -> bool {
        self.valid_from <= other.valid_to && other.valid_from <= self.valid_to
    }
}

/// A good row of debits.csv (a debit or a reversal).
#[derive(Clone, Debug)]
pub struct DebitRow {
    pub line: u64,
    pub txn_id: String,
    pub reversal: bool,
    /// Ignored on a debit.
    pub original_txn_id: String,
    pub card_id: String,
    pub program: String,
    /// Minor units.
    pub amount: i128,
    /// Nanoseconds since 1970, UTC.
    pub instant: i128,
    pub merchant_id: String,
    pub terminal_id: String,
    pub channel: String,
    pub mcc: Option<String>,
    pub atc: Option<u32>,
}

impl DebitRow {
    /// "equal values in every field of the spec": parsed values; `original_txn_id` only
    /// where it means something (a reversal), since SPEC says it is ignored on a debit.
    fn same_values(&self, o: &DebitRow) -> bool {
        let original_matters = self.reversal || o.reversal;
        self.txn_id == o.txn_id
            && self.reversal == o.reversal
            && (!original_matters || self.original_txn_id == o.original_txn_id)
            && (&self.card_id, &self.program, self.amount, self.instant)
                == (&o.card_id, &o.program, o.amount, o.instant)
            && (&self.merchant_id, &self.terminal_id, &self.channel) == (&o.merchant_id, &o.terminal_id, &o.channel)
            && (&self.mcc, self.atc) == (&o.mcc, o.atc)
    }

    /// Event order: by instant, then debits before reversals, then `txn_id` bytewise.
    fn event_key(&self) -> (i128, bool, &[u8]) {
        (self.instant, self.reversal, self.txn_id.as_bytes())
    }
}

/// A good row of merchants.csv.
#[derive(Clone, Debug)]
pub struct MerchantRow {
    pub line: u64,
    pub merchant_id: String,
    pub programs: Vec<String>,
}

// ------------------------------------------------------------------------------------------
// Outputs, as text
// ------------------------------------------------------------------------------------------

/// A finding without its detail; the field order is the SPEC sort order of findings.csv.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingRow {
    pub subject: String,
    pub card_id: String,
    pub program: String,
    pub txn_id: String,
    pub rule: String,
    pub line: u64,
    pub action: String,
}

/// A row of settlement.csv.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SettlementRow {
    pub merchant_id: String,
    pub program: String,
    pub amount: String,
    pub debits: u64,
    pub reversals: u64,
}

/// A row of balances.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceRow {
    pub card_id: String,
    pub program: String,
    pub valid_from: String,
    pub valid_to: String,
    pub allocated: String,
    pub spent: String,
    pub remaining: String,
}

/// The money of one program in summary.json (`settled` and `held` net).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProgramMoney {
    pub program: String,
    pub allocated: String,
    pub settled: String,
    pub held: String,
    pub remaining: String,
    pub settled_gross: String,
    pub held_gross: String,
    pub reversed_settled: String,
    pub reversed_held: String,
}

/// What the reference says about one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefReport {
    pub findings: Vec<FindingRow>,
    pub settlement: Vec<SettlementRow>,
    pub balances: Vec<BalanceRow>,
    /// Sorted by program code.
    pub programs: Vec<ProgramMoney>,
}

/// The action of a rule, as SPEC gives it next to the rule.
pub fn action_of(rule: &str) -> &'static str {
    match rule {
        "DUPLICATE_TXN" => "drop",
        "CONFLICTING_TXN"
        | "ATC_REPLAY"
        | "NO_ALLOCATION"
        | "OUTSIDE_PERIOD"
        | "CHANNEL_NOT_ALLOWED"
        | "MCC_NOT_ALLOWED"
        | "MERCHANT_NOT_REGISTERED"
        | "OVER_LIMIT"
        | "OVERDRAFT" => "hold",
        _ => "review",
    }
}

fn debit_finding(rule: &str, d: &DebitRow) -> FindingRow {
    FindingRow {
        subject: "debit".into(),
        card_id: d.card_id.clone(),
        program: d.program.clone(),
        txn_id: d.txn_id.clone(),
        rule: rule.into(),
        line: d.line,
        action: action_of(rule).into(),
    }
}

fn allocation_finding(rule: &str, a: &AllocationRow) -> FindingRow {
    FindingRow {
        subject: "allocation".into(),
        card_id: a.card_id.clone(),
        program: a.program.clone(),
        txn_id: String::new(),
        rule: rule.into(),
        line: a.line,
        action: action_of(rule).into(),
    }
}

// ------------------------------------------------------------------------------------------
// The rules
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Identity {
    Kept,
    Copy,
    Conflict,
}

/// What step 3 made of a debit.
#[derive(Clone, Debug, Default)]
struct DebitState {
    settled: bool,
    /// (index into the kept allocations, amount still drawn), in draw order.
    draws: Vec<(usize, i128)>,
    /// The amount less the reversals applied so far.
    left: i128,
    /// Its available balance when it settled.
    available: i128,
}

#[derive(Clone, Copy, Debug, Default)]
struct Money {
    allocated: i128,
    remaining: i128,
    settled_gross: i128,
    held_gross: i128,
    reversed_settled: i128,
    reversed_held: i128,
}

/// Rule 1 for debits.csv: what becomes of each row.
fn identity(debits: &[DebitRow]) -> Vec<Identity> {
    debits
        .iter()
        .map(|d| {
            let group: Vec<&DebitRow> = debits.iter().filter(|e| e.txn_id == d.txn_id).collect();
            let all_equal = group.iter().all(|e| group.iter().all(|f| e.same_values(f)));
            if !all_equal {
                Identity::Conflict
            } else if group.iter().any(|e| e.line < d.line) {
                Identity::Copy
            } else {
                Identity::Kept
            }
        })
        .collect()
}

/// Rule 2 for one kept debit: every check that applies.
fn checks(
    rb: &RefRulebook,
    d: &DebitRow,
    kept_debits: &[&DebitRow],
    allocations: &[&AllocationRow],
    registered: &BTreeSet<(String, String)>,
) -> Vec<&'static str> {
    let mut rules = Vec::new();
    let replayed =
        d.atc.is_some() && kept_debits.iter().any(|e| e.txn_id != d.txn_id && e.card_id == d.card_id && e.atc == d.atc);
    if replayed {
        rules.push("ATC_REPLAY");
    }
    let own: Vec<&&AllocationRow> =
        allocations.iter().filter(|a| a.card_id == d.card_id && a.program == d.program).collect();
    if own.is_empty() {
        rules.push("NO_ALLOCATION");
    } else if !own.iter().any(|a| valid_at(rb, a, d.instant)) {
        rules.push("OUTSIDE_PERIOD");
    }
    let program = rb.program(&d.program);
    if program.channels.as_ref().is_some_and(|c| !c.contains(&d.channel)) {
        rules.push("CHANNEL_NOT_ALLOWED");
    }
    if let Some(list) = &program.mcc {
        if !d.mcc.as_ref().is_some_and(|m| list.contains(m)) {
            rules.push("MCC_NOT_ALLOWED");
        }
    }
    if program.registered_merchants_only && !registered.contains(&(d.merchant_id.clone(), d.program.clone())) {
        rules.push("MERCHANT_NOT_REGISTERED");
    }
    if program.max_debit.is_some_and(|m| d.amount > m) {
        rules.push("OVER_LIMIT");
    }
    rules
}

fn valid_at(rb: &RefRulebook, a: &AllocationRow, instant: i128) -> bool {
    rb.start_of(a.valid_from) <= instant && instant < rb.start_of(a.valid_to + 1)
}

/// The state of one run of the reference, step by step.
struct Ledger<'r> {
    rb: &'r RefRulebook,
    debits: &'r [DebitRow],
    identity: Vec<Identity>,
    allocations: Vec<&'r AllocationRow>,
    /// Per kept allocation: what is left of it.
    remaining: Vec<i128>,
    /// Per kept debit (by row index) once checked or walked.
    state: BTreeMap<usize, DebitState>,
    /// (merchant, program) -> (net amount, settled debits, reversals applied to them).
    settlement: BTreeMap<(String, String), (i128, u64, u64)>,
    money: BTreeMap<String, Money>,
    findings: Vec<FindingRow>,
}

/// Runs every rule of SPEC over good rows and gives the report as text.
pub fn reconcile(
    rb: &RefRulebook,
    allocations: &[AllocationRow],
    debits: &[DebitRow],
    merchants: &[MerchantRow],
) -> RefReport {
    let mut ledger = Ledger {
        rb,
        debits,
        identity: identity(debits),
        allocations: Vec::new(),
        remaining: Vec::new(),
        state: BTreeMap::new(),
        settlement: BTreeMap::new(),
        money: rb.programs.iter().map(|p| (p.code.clone(), Money::default())).collect(),
        findings: Vec::new(),
    };
    ledger.keep_first_allocations(allocations);
    ledger.report_identity();
    let registered: BTreeSet<(String, String)> =
        merchants.iter().flat_map(|m| m.programs.iter().map(|p| (m.merchant_id.clone(), p.clone()))).collect();
    ledger.check_debits(&registered);
    ledger.walk();
    let kept_debits = ledger.kept_debits();
    let review = review(rb, debits, &kept_debits, &ledger.state);
    ledger.findings.extend(review);
    let beneficiaries = beneficiaries(rb, &ledger.allocations);
    ledger.findings.extend(beneficiaries);
    ledger.into_report()
}

impl<'r> Ledger<'r> {
    fn kept(&self, i: usize) -> bool {
        self.identity[i] == Identity::Kept
    }

    /// The debits (not reversals) in play after rule 1.
    fn kept_debits(&self) -> Vec<&'r DebitRow> {
        let debits = self.debits;
        (0..debits.len()).filter(|&i| self.kept(i) && !debits[i].reversal).map(|i| &debits[i]).collect()
    }

    /// Rule 1, allocations: identical rows after the first are ignored.
    fn keep_first_allocations(&mut self, allocations: &'r [AllocationRow]) {
        for a in allocations {
            if allocations.iter().any(|b| b.line < a.line && b.same_values(a)) {
                self.findings.push(allocation_finding("DUPLICATE_ALLOCATION", a));
            } else {
                self.allocations.push(a);
                self.remaining.push(a.amount);
            }
        }
    }

    /// Rule 1, debits and reversals: copies dropped, conflicts held (a debit counts as held).
    fn report_identity(&mut self) {
        for (d, id) in self.debits.iter().zip(&self.identity) {
            match id {
                Identity::Copy => self.findings.push(debit_finding("DUPLICATE_TXN", d)),
                Identity::Conflict => {
                    self.findings.push(debit_finding("CONFLICTING_TXN", d));
                    if !d.reversal {
                        self.money.get_mut(&d.program).unwrap().held_gross += d.amount;
                    }
                }
                Identity::Kept => {}
            }
        }
    }

    /// Rule 2: a debit with any finding is held, before the walk.
    fn check_debits(&mut self, registered: &BTreeSet<(String, String)>) {
        let kept_debits = self.kept_debits();
        for (i, d) in self.debits.iter().enumerate() {
            if !self.kept(i) || d.reversal {
                continue;
            }
            let rules = checks(self.rb, d, &kept_debits, &self.allocations, registered);
            if !rules.is_empty() {
                self.state.insert(i, DebitState { left: d.amount, ..DebitState::default() });
            }
            self.findings.extend(rules.into_iter().map(|r| debit_finding(r, d)));
        }
    }

    /// Rule 3: the balance walk, all (card, program) at once (they do not interact), over
    /// the debits not held by rule 2 and all reversals in play.
    fn walk(&mut self) {
        let debits = self.debits;
        let mut events: Vec<usize> = (0..debits.len()).filter(|&i| self.kept(i)).collect();
        events.sort_by(|&a, &b| debits[a].event_key().cmp(&debits[b].event_key()));
        for i in events {
            if debits[i].reversal {
                self.reverse(i);
            } else if !self.state.contains_key(&i) {
                self.settle_or_overdraft(i);
            }
        }
        for (&i, st) in &self.state {
            let m = self.money.get_mut(&debits[i].program).unwrap();
            if st.settled {
                m.settled_gross += debits[i].amount;
            } else {
                m.held_gross += debits[i].amount;
            }
        }
    }

    /// A debit draws from the allocations valid at its instant in draw order, or is an
    /// `OVERDRAFT` when their remaining amounts (its available balance) are too small.
    fn settle_or_overdraft(&mut self, i: usize) {
        let (e, rb) = (&self.debits[i], self.rb);
        let mut valid: Vec<usize> = (0..self.allocations.len())
            .filter(|&k| {
                let a = self.allocations[k];
                a.card_id == e.card_id && a.program == e.program && valid_at(rb, a, e.instant)
            })
            .collect();
        valid.sort_by(|&x, &y| self.allocations[x].draw_key().cmp(&self.allocations[y].draw_key()));
        let available: i128 = valid.iter().map(|&k| self.remaining[k]).sum();
        if e.amount > available {
            self.findings.push(debit_finding("OVERDRAFT", e));
            self.state.insert(i, DebitState { left: e.amount, ..DebitState::default() });
            return;
        }
        let mut need = e.amount;
        let mut draws = Vec::new();
        for k in valid {
            let take = need.min(self.remaining[k]);
            if take > 0 {
                self.remaining[k] -= take;
                need -= take;
                draws.push((k, take));
            }
        }
        assert_eq!(need, 0);
        self.state.insert(i, DebitState { settled: true, draws, left: e.amount, available });
        let s = self.settlement.entry((e.merchant_id.clone(), e.program.clone())).or_default();
        s.0 += e.amount;
        s.1 += 1;
    }

    /// A reversal: its original must be a debit in play (not a copy, not in conflict, not a
    /// reversal) of the same card and program, earlier in event order, with enough left.
    fn reverse(&mut self, i: usize) {
        let (e, debits) = (&self.debits[i], self.debits);
        let original = (0..debits.len()).find(|&j| {
            let o = &debits[j];
            self.kept(j)
                && o.txn_id == e.original_txn_id
                && !o.reversal
                && (&o.card_id, &o.program) == (&e.card_id, &e.program)
                && o.event_key() < e.event_key()
        });
        let Some(j) = original else {
            self.findings.push(debit_finding("ORPHAN_REVERSAL", e));
            return;
        };
        let st = self.state.get_mut(&j).expect("an earlier debit has been checked or walked");
        if e.amount > st.left {
            self.findings.push(debit_finding("REVERSAL_EXCEEDS", e));
            return;
        }
        st.left -= e.amount;
        let o = &debits[j];
        let m = self.money.get_mut(&o.program).unwrap();
        if !st.settled {
            m.reversed_held += e.amount;
            return;
        }
        // Give back to the allocations it drew from, the last drawn first.
        let mut back = e.amount;
        for (k, drawn) in st.draws.iter_mut().rev() {
            let give = back.min(*drawn);
            *drawn -= give;
            self.remaining[*k] += give;
            back -= give;
        }
        assert_eq!(back, 0);
        m.reversed_settled += e.amount;
        let s = self.settlement.get_mut(&(o.merchant_id.clone(), o.program.clone())).unwrap();
        s.0 -= e.amount;
        s.2 += 1;
    }

    /// Settlement, balances and per-program money as the report writes them.
    fn into_report(mut self) -> RefReport {
        let scale = self.rb.currency_scale;
        self.findings.sort();
        for (a, r) in self.allocations.iter().zip(&self.remaining) {
            let m = self.money.get_mut(&a.program).unwrap();
            m.allocated += a.amount;
            m.remaining += r;
        }
        let mut order: Vec<usize> = (0..self.allocations.len()).collect();
        order.sort_by(|&x, &y| {
            let (a, b) = (self.allocations[x], self.allocations[y]);
            (&a.card_id, &a.program, a.draw_key()).cmp(&(&b.card_id, &b.program, b.draw_key()))
        });
        let balances = order
            .into_iter()
            .map(|k| {
                let (a, remaining) = (self.allocations[k], self.remaining[k]);
                BalanceRow {
                    card_id: a.card_id.clone(),
                    program: a.program.clone(),
                    valid_from: format_date(a.valid_from),
                    valid_to: format_date(a.valid_to),
                    allocated: format_money(a.amount, scale),
                    spent: format_money(a.amount - remaining, scale),
                    remaining: format_money(remaining, scale),
                }
            })
            .collect();
        let settlement = self
            .settlement
            .into_iter()
            .map(|((merchant_id, program), (amount, debits, reversals))| SettlementRow {
                merchant_id,
                program,
                amount: format_money(amount, scale),
                debits,
                reversals,
            })
            .collect();
        let programs = self.money.into_iter().map(|(program, m)| m.as_text(program, scale)).collect();
        RefReport { findings: self.findings, settlement, balances, programs }
    }
}

impl Money {
    fn as_text(&self, program: String, scale: u32) -> ProgramMoney {
        ProgramMoney {
            program,
            allocated: format_money(self.allocated, scale),
            settled: format_money(self.settled_gross - self.reversed_settled, scale),
            held: format_money(self.held_gross - self.reversed_held, scale),
            remaining: format_money(self.remaining, scale),
            settled_gross: format_money(self.settled_gross, scale),
            held_gross: format_money(self.held_gross, scale),
            reversed_settled: format_money(self.reversed_settled, scale),
            reversed_held: format_money(self.reversed_held, scale),
        }
    }
}

/// Rule 4: near duplicates, velocity and bulk drains, over the kept debits.
fn review(
    rb: &RefRulebook,
    debits: &[DebitRow],
    kept_debits: &[&DebitRow],
    state: &BTreeMap<usize, DebitState>,
) -> Vec<FindingRow> {
    let mut findings = Vec::new();
    let near = i128::from(rb.near_duplicate_seconds) * NANOS;
    let velocity_window = i128::from(rb.velocity_window_seconds) * NANOS;
    for d in kept_debits {
        let near_duplicate = kept_debits.iter().any(|e| {
            e.txn_id != d.txn_id
                && (&e.card_id, &e.merchant_id, e.amount) == (&d.card_id, &d.merchant_id, d.amount)
                && e.event_key() < d.event_key()
                && d.instant - e.instant <= near
        });
        if near_duplicate {
            findings.push(debit_finding("NEAR_DUPLICATE", d));
        }
        let in_window = kept_debits
            .iter()
            .filter(|e| {
                e.card_id == d.card_id && e.event_key() <= d.event_key() && e.instant >= d.instant - velocity_window
            })
            .count();
        if in_window as u64 > rb.velocity_max_debits {
            findings.push(debit_finding("VELOCITY", d));
        }
    }

    // BULK_DRAIN: drains are settled debits with amount >= ratio * available balance.
    let ten = 10i128.pow(rb.drain_ratio_scale);
    let drains: Vec<&DebitRow> = state
        .iter()
        .filter(|(&i, st)| st.settled && debits[i].amount * ten >= rb.drain_ratio_mantissa * st.available)
        .map(|(&i, _)| &debits[i])
        .collect();
    let window = i128::from(rb.bulk_window_seconds) * NANOS;
    for d in &drains {
        // Every window [s, s + W] with s <= t <= s + W: the drains inside change only where s
        // or s + W meets a drain, so these starts give every distinct window.
        let at_terminal: Vec<&&DebitRow> = drains.iter().filter(|e| e.terminal_id == d.terminal_id).collect();
        let mut starts: Vec<i128> = vec![d.instant - window, d.instant];
        starts.extend(at_terminal.iter().flat_map(|e| [e.instant, e.instant - window]));
        let flagged = starts.into_iter().filter(|&s| s <= d.instant && d.instant <= s + window).any(|s| {
            let cards: BTreeSet<&str> = at_terminal
                .iter()
                .filter(|e| s <= e.instant && e.instant <= s + window)
                .map(|e| e.card_id.as_str())
                .collect();
            cards.len() as u64 >= rb.bulk_min_cards
        });
        if flagged {
            findings.push(debit_finding("BULK_DRAIN", d));
        }
    }
    findings
}

/// Rule 5 over the kept allocations.
fn beneficiaries(rb: &RefRulebook, kept: &[&AllocationRow]) -> Vec<FindingRow> {
    let mut findings = Vec::new();
    for a in kept {
        if kept.iter().any(|b| {
            b.beneficiary_id == a.beneficiary_id && b.program == a.program && b.card_id != a.card_id && a.overlaps(b)
        }) {
            findings.push(allocation_finding("DUPLICATE_BENEFICIARY", a));
        }
        let per_household = rb.program(&a.program).per_household;
        if per_household
            && !a.household_id.is_empty()
            && kept.iter().any(|b| {
                b.household_id == a.household_id
                    && b.program == a.program
                    && b.beneficiary_id != a.beneficiary_id
                    && a.overlaps(b)
            })
        {
            findings.push(allocation_finding("DUPLICATE_HOUSEHOLD", a));
        }
    }
    findings
}

/// Per program, the debits left after dropping duplicate copies (conflicting ones
/// included): the left side of a conservation equation of SPEC.
pub fn debits_left_by_program(debits: &[DebitRow]) -> BTreeMap<String, i128> {
    let identity = identity(debits);
    let mut out = BTreeMap::new();
    for (d, id) in debits.iter().zip(identity) {
        if !d.reversal && id != Identity::Copy {
            *out.entry(d.program.clone()).or_insert(0) += d.amount;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Text: money, dates, instants
// ------------------------------------------------------------------------------------------

/// Minor units with exactly `scale` decimals (`-150` at 2 is `-1.50`).
pub fn format_money(minor: i128, scale: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let p = 10u128.pow(scale);
    if scale == 0 {
        format!("{sign}{m}")
    } else {
        format!("{sign}{}.{:0width$}", m / p, m % p, width = scale as usize)
    }
}

/// Money as a person might write it: `decimals` fractional digits (at least the ones needed,
/// at most `scale`), with `leading_zeros` zeros in front.
pub fn write_money(minor: i128, scale: u32, decimals: u32, leading_zeros: usize) -> String {
    let p = 10i128.pow(scale);
    let (whole, mut frac) = (minor / p, minor % p);
    let mut needed = scale;
    while needed > 0 && frac % 10 == 0 {
        frac /= 10;
        needed -= 1;
    }
    let decimals = decimals.clamp(needed, scale);
    let zeros = "0".repeat(leading_zeros);
    if decimals == 0 {
        return format!("{zeros}{whole}");
    }
    let frac = (minor % p) / 10i128.pow(scale - decimals);
    format!("{zeros}{whole}.{frac:0width$}", width = decimals as usize)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `+HH:MM` / `-HH:MM` / `Z` of an offset in seconds.
pub fn format_offset(seconds: i64) -> String {
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// How to write an instant.
#[derive(Clone, Copy, Debug)]
pub struct InstantStyle {
    /// RFC 3339; `false`: naive `YYYY-MM-DD HH:MM:SS` in `offset_seconds` (the rulebook's timezone).
    pub rfc3339: bool,
    /// The offset written (or, for naive, the rulebook's).
    pub offset_seconds: i64,
    /// Write `Z` as `+00:00`.
    pub zero_as_numeric: bool,
    pub lower_case: bool,
    /// Fractional digits to write (0 to 9; more are used when the nanoseconds need them).
    pub fraction_digits: u32,
}

/// Writes an instant (nanoseconds UTC) in a style SPEC accepts.
pub fn write_instant(instant: i128, style: InstantStyle) -> String {
    let secs = i64::try_from(instant.div_euclid(NANOS)).unwrap();
    let nanos = instant.rem_euclid(NANOS) as u32;
    let local = secs + style.offset_seconds;
    let (date, time) = (local.div_euclid(DAY_SECONDS), local.rem_euclid(DAY_SECONDS));
    let (y, mo, d) = civil_from_days(date);
    let (h, mi, s) = (time / 3600, time % 3600 / 60, time % 60);
    if !style.rfc3339 {
        assert_eq!(nanos, 0, "naive instants are written without a fraction");
        return format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    }
    let mut digits = style.fraction_digits.min(9);
    while digits < 9 && nanos % 10u32.pow(9 - digits) != 0 {
        digits += 1;
    }
    let fraction = if digits == 0 {
        String::new()
    } else {
        format!(".{:0width$}", nanos / 10u32.pow(9 - digits), width = digits as usize)
    };
    let offset = match (style.offset_seconds, style.zero_as_numeric) {
        (0, true) => "+00:00".to_string(),
        (o, _) => format_offset(o),
    };
    let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{offset}");
    if style.lower_case {
        text.to_lowercase()
    } else {
        text
    }
}

// ------------------------------------------------------------------------------------------
// CSV rendering
// ------------------------------------------------------------------------------------------

/// allocations.csv columns in SPEC order, and whether each is optional.
pub const ALLOCATION_COLUMNS: [(&str, bool); 7] = [
    ("card_id", false),
    ("beneficiary_id", false),
    ("household_id", true),
    ("program", false),
    ("valid_from", false),
    ("valid_to", false),
    ("amount", false),
];

/// debits.csv columns in SPEC order, and whether each is optional.
pub const DEBIT_COLUMNS: [(&str, bool); 12] = [
    ("txn_id", false),
    ("type", true),
    ("original_txn_id", true),
    ("card_id", false),
    ("program", false),
    ("amount", false),
    ("timestamp", false),
    ("merchant_id", false),
    ("terminal_id", false),
    ("channel", false),
    ("mcc", true),
    ("atc", true),
];

/// merchants.csv columns.
pub const MERCHANT_COLUMNS: [(&str, bool); 2] = [("merchant_id", false), ("programs", false)];

/// A record's number of fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Right,
    OneMore,
    OneLess,
}

/// One record as text, fields in SPEC column order (bytes: a bad row may hold invalid UTF-8).
#[derive(Clone, Debug)]
pub struct TextRow {
    pub fields: Vec<Vec<u8>>,
    pub shape: Shape,
}

impl TextRow {
    pub fn new(fields: Vec<String>) -> TextRow {
        TextRow { fields: fields.into_iter().map(String::into_bytes).collect(), shape: Shape::Right }
    }
}

/// A rendered CSV file.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// The line where each row's record starts, in row order.
    pub lines: Vec<u64>,
}

/// A small deterministic generator for layout choices (splitmix64).
#[derive(Clone, Debug)]
pub struct Mix(pub u64);

impl Mix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn needs_quotes(field: &[u8]) -> bool {
    field.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

fn push_field(out: &mut Vec<u8>, field: &[u8], quote: bool) {
    if quote || needs_quotes(field) {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Contents of an extra column: ignored by SPEC "whatever they hold".
const EXTRA_VALUES: [&[u8]; 8] = [
    b"",
    b"catatan",
    b"a,b",
    b"baris satu\nbaris dua",
    b"\"kutip\"",
    b"\xff\xfe bukan utf-8",
    "\u{2713} ok".as_bytes(),
    b" ",
];
/// Names of an extra column: not a SPEC name (names are case-sensitive and not trimmed).
const EXTRA_NAMES: [&str; 4] = ["note", "Amount", " amount", "amount "];

/// A long extra field with quoted line ends, so that a file passes the size where the engine
/// cuts it into chunks and the cuts fall inside records.
fn padding(mix: &mut Mix) -> Vec<u8> {
    let lines = 400 + mix.below(1200);
    let mut out = Vec::with_capacity(lines * 24);
    for i in 0..lines {
        out.extend_from_slice(format!("isian \"{i}\", panjang").as_bytes());
        out.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
    }
    out
}

/// Renders rows as a CSV file. `seed` 0 is the plain layout (SPEC column order, every
/// column, `\n`, quoting only where needed); any other seed shuffles columns, leaves out
/// optional columns that are empty in every row, adds an extra column (now and then with
/// long multi-line values), a byte-order mark, `\r\n`, blank lines, needless quotes, and may
/// leave the last line unterminated.
pub fn render_csv(columns: &[(&str, bool)], rows: &[TextRow], seed: u64) -> Rendered {
    let mut mix = Mix(seed);
    let plain = seed == 0;
    // Which columns, in which order; usize::MAX is the extra column.
    let mut order: Vec<usize> = (0..columns.len())
        .filter(|&c| {
            let empty_everywhere = rows.iter().all(|r| r.fields[c].is_empty());
            plain || !(columns[c].1 && empty_everywhere && mix.one_in(2))
        })
        .collect();
    let padded = !plain && mix.one_in(6);
    if padded || (!plain && mix.one_in(3)) {
        order.push(usize::MAX);
    }
    if !plain {
        for i in (1..order.len()).rev() {
            order.swap(i, mix.below(i + 1));
        }
    }
    let extra_name = EXTRA_NAMES[mix.below(EXTRA_NAMES.len())];
    let bom = !plain && mix.one_in(4);
    let end: &[u8] = if !plain && mix.one_in(3) { b"\r\n" } else { b"\n" };
    let quote_often = !plain && mix.one_in(4);
    let blank_often = !plain && mix.one_in(3);
    let unterminated = !plain && mix.one_in(4);

    let mut out = Vec::new();
    if bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    for (i, &c) in order.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let name = if c == usize::MAX { extra_name } else { columns[c].0 };
        push_field(&mut out, name.as_bytes(), quote_often && mix.one_in(3));
    }
    out.extend_from_slice(end);
    let mut line = 2u64;
    let mut lines = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        while blank_often && mix.one_in(3) {
            out.extend_from_slice(end);
            line += 1;
        }
        lines.push(line);
        let start = out.len();
        let mut fields: Vec<Vec<u8>> = order
            .iter()
            .map(|&c| {
                if c == usize::MAX && padded {
                    padding(&mut mix)
                } else if c == usize::MAX {
                    EXTRA_VALUES[mix.below(EXTRA_VALUES.len())].to_vec()
                } else {
                    row.fields[c].clone()
                }
            })
            .collect();
        match row.shape {
            Shape::Right => {}
            Shape::OneMore => fields.push(b"lebih".to_vec()),
            Shape::OneLess => {
                fields.pop();
            }
        }
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // A record of one empty field would be a blank line: quote it.
            let alone_and_empty = fields.len() == 1 && f.is_empty();
            push_field(&mut out, f, alone_and_empty || (quote_often && mix.one_in(3)));
        }
        line += 1 + out[start..].iter().filter(|&&b| b == b'\n').count() as u64;
        let last = n + 1 == rows.len();
        if !(last && unterminated) {
            out.extend_from_slice(end);
        }
    }
    if blank_often && !unterminated && mix.one_in(2) {
        out.extend_from_slice(end);
    }
    Rendered { bytes: out, lines }
}

/// A CSV file as SPEC wants outputs: a header, `\n` line ends, quoting only where needed.
pub fn output_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |fields: &[&str]| {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_field(&mut out, f.as_bytes(), false);
        }
        out.push(b'\n');
    };
    line(header);
    for row in rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

impl RefReport {
    /// findings.csv, with the engine's free-text details (one per finding, in order).
    pub fn findings_csv(&self, details: &[String]) -> Vec<u8> {
        let rows: Vec<Vec<String>> = self
            .findings
            .iter()
            .zip(details)
            .map(|(f, detail)| {
                let line = f.line.to_string();
                [&f.rule, &f.action, &f.subject, &f.txn_id, &f.card_id, &f.program, &line, detail]
                    .map(|s| s.to_string())
                    .to_vec()
            })
            .collect();
        output_csv(&["rule", "action", "subject", "txn_id", "card_id", "program", "line", "detail"], &rows)
    }

    /// settlement.csv.
    pub fn settlement_csv(&self) -> Vec<u8> {
        let rows: Vec<Vec<String>> = self
            .settlement
            .iter()
            .map(|s| {
                vec![
                    s.merchant_id.clone(),
                    s.program.clone(),
                    s.amount.clone(),
                    s.debits.to_string(),
                    s.reversals.to_string(),
                ]
            })
            .collect();
        output_csv(&["merchant_id", "program", "amount", "debits", "reversals"], &rows)
    }

    /// balances.csv.
    pub fn balances_csv(&self) -> Vec<u8> {
        let rows: Vec<Vec<String>> = self
            .balances
            .iter()
            .map(|b| {
                [&b.card_id, &b.program, &b.valid_from, &b.valid_to, &b.allocated, &b.spent, &b.remaining]
                    .map(|s| s.to_string())
                    .to_vec()
            })
            .collect();
        output_csv(&["card_id", "program", "valid_from", "valid_to", "allocated", "spent", "remaining"], &rows)
    }
}
