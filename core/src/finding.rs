//! Findings: what the rules say about rows. Data in the report, never errors.

use std::fmt;

use crate::ingest::{Allocation, Debit};
use crate::rows;
use crate::rulebook::ProgramId;

/// What a finding does to the row it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The debit is not settled and does not reduce any balance; a reversal is not applied.
    Hold,
    /// Reported for a person to look at; nothing is held.
    Review,
    /// A resent copy, ignored from here on.
    Drop,
}

impl Action {
    /// The SPEC name (`hold`, `review`, `drop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Review => "review",
            Action::Drop => "drop",
        }
    }
}

/// Which file a finding's row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// A row of allocations.csv.
    Allocation,
    /// A row of debits.csv (a debit or a reversal).
    Debit,
}

impl Subject {
    /// The SPEC name (`allocation`, `debit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Allocation => "allocation",
            Subject::Debit => "debit",
        }
    }
}

/// A rule of SPEC, by its stable code. New rules are added, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A resent identical copy of a debits.csv row.
    DuplicateTxn,
    /// Rows sharing a `txn_id` with different values.
    ConflictingTxn,
    /// An identical copy of an allocation row.
    DuplicateAllocation,
    /// Debits of one card reusing an EMV transaction counter.
    AtcReplay,
    /// The card has no allocation for the program.
    NoAllocation,
    /// No allocation of the program is valid at the debit's instant.
    OutsidePeriod,
    /// The program does not allow the debit's channel.
    ChannelNotAllowed,
    /// The program does not allow the debit's merchant category.
    MccNotAllowed,
    /// The merchant is not registered for the program.
    MerchantNotRegistered,
    /// The amount is above the program's `max_debit`.
    OverLimit,
    /// The amount is above the available balance.
    Overdraft,
    /// A reversal with no valid original.
    OrphanReversal,
    /// A reversal larger than what is left of its original.
    ReversalExceeds,
    /// Same card, merchant and amount shortly after another debit.
    NearDuplicate,
    /// Too many debits of a card within the window.
    Velocity,
    /// Many cards emptied at one terminal within the window.
    BulkDrain,
    /// One beneficiary holding overlapping allocations on several cards.
    DuplicateBeneficiary,
    /// One household receiving a per-household program under several beneficiaries.
    DuplicateHousehold,
}

impl Rule {
    /// Every rule, in SPEC order.
    pub const ALL: [Rule; 18] = [
        Rule::DuplicateTxn,
        Rule::ConflictingTxn,
        Rule::DuplicateAllocation,
        Rule::AtcReplay,
        Rule::NoAllocation,
        Rule::OutsidePeriod,
        Rule::ChannelNotAllowed,
        Rule::MccNotAllowed,
        Rule::MerchantNotRegistered,
        Rule::OverLimit,
        Rule::Overdraft,
        Rule::OrphanReversal,
        Rule::ReversalExceeds,
        Rule::NearDuplicate,
        Rule::Velocity,
        Rule::BulkDrain,
        Rule::DuplicateBeneficiary,
        Rule::DuplicateHousehold,
    ];

    /// The SPEC code (`OVERDRAFT`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::DuplicateTxn => "DUPLICATE_TXN",
            Rule::ConflictingTxn => "CONFLICTING_TXN",
            Rule::DuplicateAllocation => "DUPLICATE_ALLOCATION",
            Rule::AtcReplay => "ATC_REPLAY",
            Rule::NoAllocation => "NO_ALLOCATION",
            Rule::OutsidePeriod => "OUTSIDE_PERIOD",
            Rule::ChannelNotAllowed => "CHANNEL_NOT_ALLOWED",
            Rule::MccNotAllowed => "MCC_NOT_ALLOWED",
            Rule::MerchantNotRegistered => "MERCHANT_NOT_REGISTERED",
            Rule::OverLimit => "OVER_LIMIT",
            Rule::Overdraft => "OVERDRAFT",
            Rule::OrphanReversal => "ORPHAN_REVERSAL",
            Rule::ReversalExceeds => "REVERSAL_EXCEEDS",
            Rule::NearDuplicate => "NEAR_DUPLICATE",
            Rule::Velocity => "VELOCITY",
            Rule::BulkDrain => "BULK_DRAIN",
            Rule::DuplicateBeneficiary => "DUPLICATE_BENEFICIARY",
            Rule::DuplicateHousehold => "DUPLICATE_HOUSEHOLD",
        }
    }

    /// The rule with SPEC code `code`.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// What a finding of this rule does.
    pub fn action(self) -> Action {
        match self {
            Rule::DuplicateTxn => Action::Drop,
            Rule::ConflictingTxn
            | Rule::AtcReplay
            | Rule::NoAllocation
            | Rule::OutsidePeriod
            | Rule::ChannelNotAllowed
            | Rule::MccNotAllowed
            | Rule::MerchantNotRegistered
            | Rule::OverLimit
            | Rule::Overdraft => Action::Hold,
            Rule::DuplicateAllocation
            | Rule::OrphanReversal
            | Rule::ReversalExceeds
            | Rule::NearDuplicate
            | Rule::Velocity
            | Rule::BulkDrain
            | Rule::DuplicateBeneficiary
            | Rule::DuplicateHousehold => Action::Review,
        }
    }

    /// Which file the rule's rows come from.
    pub fn subject(self) -> Subject {
        match self {
            Rule::DuplicateAllocation | Rule::DuplicateBeneficiary | Rule::DuplicateHousehold => Subject::Allocation,
            _ => Subject::Debit,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every finding of a run, in SPEC order (`findings.csv`).
///
/// A hostile file can make several findings per row of a few dozen bytes, so they are kept
/// packed, from when a stage raises them to the report: 40 bytes each plus their texts (a
/// detail, and the row's ids, stored once for the findings a row raises together).
/// Iterate it (or [`get`](Self::get) one) to see each as a [`Finding`].
///
/// ```
/// # use harmoni::{reconcile, Action, Inputs, Options, Rulebook, Source};
/// # let rulebook = Rulebook::from_json("rulebook.json", br#"{"programs": [{"code": "BPNTD"}]}"#)?;
/// let inputs = Inputs {
///     allocations: Source::from_bytes("allocations.csv",
///         "card_id,beneficiary_id,program,valid_from,valid_to,amount\n"),
///     debits: Source::from_bytes("debits.csv",
///         "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n\
///          T1,C1,BPNTD,1000,2022-08-06T10:15:00Z,M1,EDC1,pos\n"),
///     merchants: None,
/// };
/// let report = reconcile(&rulebook, &inputs, &Options::default())?;
/// let finding = report.findings.get(0).expect("one finding");
/// assert_eq!((finding.rule.as_str(), finding.txn_id, finding.line), ("NO_ALLOCATION", "T1", 2));
/// assert_eq!(finding.action(), Action::Hold);
/// assert_eq!(finding.detail, "the card has no allocation for BPNTD");
/// # Ok::<(), harmoni::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Findings {
    rows: Vec<Found>,
    text: String,
    /// Program codes by [`ProgramId`].
    programs: Vec<Box<str>>,
}

/// One finding, as `findings.csv` shows it: a rule, the row it names, and a detail for a
/// person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Finding<'a> {
    /// The rule.
    pub rule: Rule,
    /// The row's `txn_id` (empty for an allocation).
    pub txn_id: &'a str,
    /// The row's `card_id`.
    pub card_id: &'a str,
    /// The row's program code.
    pub program: &'a str,
    /// The row's line in its file.
    pub line: u64,
    /// Free text for a person.
    pub detail: &'a str,
}

impl Finding<'_> {
    /// What the finding does (`hold`, `review`, `drop`).
    pub fn action(&self) -> Action {
        self.rule.action()
    }

    /// Which file the row comes from.
    pub fn subject(&self) -> Subject {
        self.rule.subject()
    }

    /// SPEC order of findings.csv: (subject, card_id, program, txn_id, rule, line).
    pub(crate) fn sort_key(&self) -> (Subject, &str, &str, &str, &'static str, u64) {
        (self.subject(), self.card_id, self.program, self.txn_id, self.rule.as_str(), self.line)
    }
}

impl Findings {
    /// The findings of `list` in the order of `order` (a permutation of its indices: the
    /// `j`-th finding is `order[j]` of the list), rearranged in place, for a rulebook whose
    /// program codes are `programs` (by id).
    pub(crate) fn new(list: FoundList, order: Vec<usize>, programs: Vec<Box<str>>) -> Findings {
        let FoundList { mut rows, text } = list;
        permute(&mut rows, order);
        Findings { rows, text, programs }
    }

    fn view(&self, found: &Found) -> Finding<'_> {
        let (txn_id, card_id) = found.ids(&self.text);
        Finding {
            rule: found.rule,
            txn_id,
            card_id,
            program: &self.programs[usize::from(found.program)],
            line: found.line,
            detail: found.detail(&self.text),
        }
    }
}

/// The rows of [`Findings`], in SPEC order.
pub type FindingIter<'a> = rows::Iter<'a, Findings>;

rows::table!(Findings, Finding, "finding");

/// Rearranges `items` so that the `j`-th is the `order[j]`-th of before, in place (following
/// each cycle of the permutation), so that the items are never held twice.
fn permute<T: Copy>(items: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        if order[start] == DONE {
            continue;
        }
        let first = items[start];
        let mut to = start;
        loop {
            let from = std::mem::replace(&mut order[to], DONE);
            if from == start {
                items[to] = first;
                break;
            }
            items[to] = items[from];
            to = from;
        }
    }
}

/// A finding in 40 bytes (32 on wasm32): its rule, program and line, and where its ids and detail are in
/// the text of the [`FoundList`] or [`Findings`] that holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    pub line: u64,
    /// Where the row's `txn_id`, then its `card_id`, start.
    ids: usize,
    detail: usize,
    txn_len: u32,
    card_len: u32,
    detail_len: u32,
    pub program: ProgramId,
    pub rule: Rule,
}

// 32 on wasm32, where offsets are 4 bytes.
const _: () = assert!(std::mem::size_of::<Found>() <= 40);

impl Found {
    /// `(txn_id, card_id)` in `text`.
    fn ids<'t>(&self, text: &'t str) -> (&'t str, &'t str) {
        let card = self.ids + self.txn_len as usize;
        (&text[self.ids..card], &text[card..card + self.card_len as usize])
    }

    fn detail<'t>(&self, text: &'t str) -> &'t str {
        &text[self.detail..self.detail + self.detail_len as usize]
    }
}

/// The row a finding names: its ids, program and line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowId<'a> {
    pub txn: &'a [u8],
    pub card: &'a [u8],
    pub program: ProgramId,
    pub line: u64,
}

impl<'a> From<&Debit<'a>> for RowId<'a> {
    fn from(row: &Debit<'a>) -> RowId<'a> {
        RowId { txn: row.txn(), card: row.card(), program: row.program, line: row.line }
    }
}

impl<'a> From<&Allocation<'a>> for RowId<'a> {
    fn from(row: &Allocation<'a>) -> RowId<'a> {
        RowId { txn: b"", card: row.card(), program: row.program, line: row.line }
    }
}

/// Findings being collected (by a stage, a batch of shards, or the whole run), packed as the report
/// keeps them: ids and details written into one text, not a `String` each.
#[derive(Clone, Debug, Default)]
pub(crate) struct FoundList {
    pub rows: Vec<Found>,
    text: String,
}

impl FoundList {
    /// Adds a finding of `rule` on `row`. The row's ids are written again only if they differ
    /// from the previous finding's (a row's findings are mostly raised together).
    pub(crate) fn push(&mut self, rule: Rule, row: RowId<'_>, detail: fmt::Arguments<'_>) {
        // Ids are at most `limits::ID_BYTES_MAX` bytes.
        let len = |n: usize| u32::try_from(n).expect("an id is short");
        let shared = self.rows.last().filter(|last| {
            let (txn, card) = last.ids(&self.text);
            txn.as_bytes() == row.txn && card.as_bytes() == row.card
        });
        let (ids, txn_len, card_len) = match shared {
            Some(last) => (last.ids, last.txn_len, last.card_len),
            None => {
                let ids = self.text.len();
                crate::rows::push_id(&mut self.text, row.txn);
                let card = self.text.len();
                crate::rows::push_id(&mut self.text, row.card);
                (ids, len(card - ids), len(self.text.len() - card))
            }
        };
        let (detail, detail_len) = self.write(detail);
        let RowId { program, line, .. } = row;
        self.rows.push(Found { line, ids, detail, txn_len, card_len, detail_len, program, rule });
    }

    /// Replaces the detail of the `k`-th finding.
    pub(crate) fn set_detail(&mut self, k: usize, detail: fmt::Arguments<'_>) {
        (self.rows[k].detail, self.rows[k].detail_len) = self.write(detail);
    }

    fn write(&mut self, detail: fmt::Arguments<'_>) -> (usize, u32) {
        use fmt::Write as _;
        let start = self.text.len();
        // Writing to a `String` cannot fail.
        let _ = self.text.write_fmt(detail);
        // A detail quotes at most two ids and a few numbers.
        (start, u32::try_from(self.text.len() - start).expect("a detail is short"))
    }

    /// `(txn_id, card_id)` of `found`, one of this list's findings.
    pub(crate) fn ids(&self, found: &Found) -> (&str, &str) {
        found.ids(&self.text)
    }

    /// Moves `other`'s findings after this one's.
    pub(crate) fn append(&mut self, other: FoundList) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.rows.extend(other.rows.into_iter().map(|f| Found { ids: f.ids + base, detail: f.detail + base, ..f }));
    }

    /// The lists as one, grown from the largest in place: a hostile file's findings are most
    /// of a run's memory, and copying them into a new list would hold them twice.
    pub(crate) fn gather(mut lists: Vec<FoundList>) -> FoundList {
        let Some(largest) = (0..lists.len()).max_by_key(|&i| lists[i].rows.len()) else {
            return FoundList::default();
        };
        let mut all = lists.swap_remove(largest);
        all.rows.reserve_exact(lists.iter().map(|l| l.rows.len()).sum());
        all.text.reserve_exact(lists.iter().map(|l| l.text.len()).sum());
        for list in lists {
            all.append(list);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_sort_as_text() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_code(rule.as_str()), Some(rule));
        }
        assert_eq!(Rule::from_code("overdraft"), None);
        assert!(Subject::Allocation.as_str() < Subject::Debit.as_str());
        assert!(Subject::Allocation < Subject::Debit);
    }

    fn row<'a>(txn: &'a str, card: &'a str, line: u64) -> RowId<'a> {
        RowId { txn: txn.as_bytes(), card: card.as_bytes(), program: 1, line }
    }

    #[test]
    fn lists_keep_details_through_append_gather_and_a_late_detail() {
        let mut shard = FoundList::default();
        shard.push(Rule::Overdraft, row("T1", "C1", 2), format_args!("amount {} is above {}", 5, 4));
        shard.push(Rule::OrphanReversal, row("R1", "C1", 3), format_args!(""));
        let mut other = FoundList::default();
        other.push(Rule::Velocity, row("T9", "C2", 9), format_args!("{} debits", 7));
        let mut list = FoundList::gather(vec![other, FoundList::default(), shard]);
        list.set_detail(1, format_args!("original {} {}", "D0", "is not in debits.csv"));
        let findings = Findings::new(list, vec![2, 0, 1], vec!["A".into(), "BPNTD".into()]);
        let shown: Vec<_> =
            findings.iter().map(|f| (f.rule, f.txn_id, f.card_id, f.program, f.line, f.detail)).collect();
        assert_eq!(
            shown,
            [
                (Rule::Velocity, "T9", "C2", "BPNTD", 9, "7 debits"),
                (Rule::Overdraft, "T1", "C1", "BPNTD", 2, "amount 5 is above 4"),
                (Rule::OrphanReversal, "R1", "C1", "BPNTD", 3, "original D0 is not in debits.csv"),
            ]
        );
        assert_eq!(findings.iter().next_back(), findings.get(2));
        assert_eq!(findings.get(3), None);
    }

    #[test]
    fn permute_in_place_matches_a_copy_for_every_order_of_five() {
        fn orders(n: usize) -> Vec<Vec<usize>> {
            if n == 0 {
                return vec![Vec::new()];
            }
            let mut all = Vec::new();
            for shorter in orders(n - 1) {
                for at in 0..n {
                    let mut order = shorter.clone();
                    order.insert(at, n - 1);
                    all.push(order);
                }
            }
            all
        }
        let all = orders(5);
        assert_eq!(all.len(), 120);
        for order in all {
            let items = ['a', 'b', 'c', 'd', 'e'];
            let copied: Vec<char> = order.iter().map(|&i| items[i]).collect();
            let mut permuted = items;
            permute(&mut permuted, order.clone());
            assert_eq!(permuted[..], copied[..], "{order:?}");
        }
    }

    #[test]
    fn a_rows_several_findings_store_its_ids_once() {
        let mut list = FoundList::default();
        for rule in [Rule::NoAllocation, Rule::ChannelNotAllowed, Rule::OverLimit] {
            list.push(rule, row("T1", "C1", 2), format_args!("x"));
        }
        list.push(Rule::NoAllocation, row("T2", "C1", 3), format_args!("x"));
        let findings = Findings::new(list, (0..4).collect(), vec!["A".into(), "B".into()]);
        assert_eq!(findings.rows[0].ids, findings.rows[2].ids);
        assert_ne!(findings.rows[2].ids, findings.rows[3].ids);
        // Four details of one byte, and "T1C1" and "T2C1" once each.
        assert_eq!(findings.text.len(), 4 + 8);
        assert_eq!(findings.get(3).map(|f| (f.txn_id, f.card_id)), Some(("T2", "C1")));
    }
}
