//! Findings: what the rules say about rows. Data in the report, never errors.

use std::fmt;

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

/// One finding: a rule, the row it names, and a detail for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// The row's `txn_id` (empty for an allocation).
    pub txn_id: String,
    /// The row's `card_id`.
    pub card_id: String,
    /// The row's program code.
    pub program: String,
    /// The row's line in its file.
    pub line: u64,
    /// Free text for a person.
    pub detail: String,
}

impl Finding {
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
        (self.subject(), &self.card_id, &self.program, &self.txn_id, self.rule.as_str(), self.line)
    }
}

/// A finding inside the engine, borrowing its ids from the input.
#[derive(Clone, Debug)]
pub(crate) struct Found<'a> {
    pub rule: Rule,
    pub txn: &'a [u8],
    pub card: &'a [u8],
    pub program: crate::rulebook::ProgramId,
    pub line: u64,
    pub detail: String,
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
}
