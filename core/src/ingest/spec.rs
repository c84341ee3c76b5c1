//! What each file's rows are, and how a record becomes one: the row types, and per file a
//! [`RowSpec`] that checks a record's fields column by column in SPEC order (the first
//! failing column names the reject) and keeps the ids the row needs in its chunk's arena.

use bumpalo::Bump;

use crate::csvread::{self, Span};
use crate::limits;
use crate::money::{self, Minor};
use crate::names::{self, MerchantNo, Numbering};
use crate::row_ids::{printable_ascii, RowIds};
use crate::rulebook::{parse_mcc, Channel, ProgramId, Rulebook};
use crate::time::{parse_instant, Date, Instant};

use super::FileKind;

/// A card's grant for a program over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allocation<'a> {
    pub line: u64,
    /// `card_id`, `beneficiary_id` and `household_id` (empty when not given).
    ids: RowIds<'a, 3>,
    pub program: ProgramId,
    pub valid_from: Date,
    pub valid_to: Date,
    pub amount: Minor,
}

// A balance is a kept allocation while the cards are worked: 80 bytes with what is left.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Allocation<'_>>() == 64);

impl<'a> Allocation<'a> {
    /// `card_id`.
    pub(crate) fn card(&self) -> &'a [u8] {
        self.ids.get::<0>()
    }

    /// `beneficiary_id`.
    pub(crate) fn beneficiary(&self) -> &'a [u8] {
        self.ids.get::<1>()
    }

    /// `household_id`: empty when not given.
    pub(crate) fn household(&self) -> &'a [u8] {
        self.ids.get::<2>()
    }

    /// An allocation as parsed from its values, for tests.
    #[cfg(test)]
    pub(crate) fn new(
        line: u64,
        ids: RowIds<'a, 3>,
        program: ProgramId,
        (valid_from, valid_to): (Date, Date),
        amount: Minor,
    ) -> Allocation<'a> {
        Allocation { line, ids, program, valid_from, valid_to, amount }
    }

    /// Everything but the line: identical allocations have equal values. The values the row
    /// holds are compared first, as a card's allocations nearly always differ in one of
    /// them; the ids are read from the arena only when they do not (perf at 10M debits put
    /// 1% of samples in comparing them first, a cache miss each). Every field is named, so a
    /// new one cannot be left out.
    pub(crate) fn same_values(&self, other: &Allocation<'_>) -> bool {
        let Allocation { line: _, ids, program, valid_from, valid_to, amount } = *self;
        (program, valid_from, valid_to, amount) == (other.program, other.valid_from, other.valid_to, other.amount)
            && ids == other.ids
    }
}

/// A debit or a reversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Debit,
    Reversal,
}

/// A row of debits.csv (a debit or a reversal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Debit<'a> {
    pub line: u64,
    /// `txn_id`, `original_txn_id` (empty on a debit: the column is ignored there),
    /// `card_id` and `terminal_id` (empty on a reversal that names none).
    ids: RowIds<'a, 4>,
    pub kind: Kind,
    pub program: ProgramId,
    pub amount: Minor,
    pub instant: Instant,
    /// The merchant id's number in the file's [`Names`](crate::names::Names) (the empty
    /// id's, on a reversal that names none).
    pub merchant: MerchantNo,
    pub channel: Option<Channel>,
    pub mcc: Option<u16>,
    pub atc: Option<u16>,
}

// 10M debits are held at once: 16 bytes more per row is 160 MB more at the peak. (On
// wasm32 pointers, and so ids, are half the size.)
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Debit<'_>>() == 80);

impl<'a> Debit<'a> {
    /// `txn_id`.
    pub(crate) fn txn(&self) -> &'a [u8] {
        self.ids.get::<0>()
    }

    /// `original_txn_id`: empty on a debit.
    pub(crate) fn original(&self) -> &'a [u8] {
        self.ids.get::<1>()
    }

    /// `card_id`.
    pub(crate) fn card(&self) -> &'a [u8] {
        self.ids.get::<2>()
    }

    /// `terminal_id`: empty on a reversal that names none.
    pub(crate) fn terminal(&self) -> &'a [u8] {
        self.ids.get::<3>()
    }

    /// Every field of the spec equal (parsed values, not text)?
    pub(crate) fn same_values(&self, other: &Debit<'_>) -> bool {
        Debit { line: 0, ..*self } == Debit { line: 0, ..*other }
    }

    /// Event order: by instant, then debits before reversals, then `txn_id` bytewise.
    pub(crate) fn event_key(&self) -> (Instant, Kind, &[u8]) {
        (self.instant, self.kind, self.txn())
    }
}

/// A row of merchants.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Merchant<'a> {
    pub line: u64,
    pub merchant: &'a [u8],
    pub programs: Vec<ProgramId>,
}

/// How one kind of row is read: its columns in SPEC order, and a parser over them.
pub(crate) trait RowSpec: Sync {
    type Row<'a>: Send;
    const KIND: FileKind;
    /// Columns in SPEC order, with whether each is optional.
    const COLUMNS: &'static [(&'static str, bool)];
    /// Parses a row, numbering the ids it names by number in `names` (its chunk's); on
    /// failure, the index (in COLUMNS) of the first failing column and why.
    fn parse<'a>(
        &self,
        fields: &Fields<'a, '_>,
        line: u64,
        names: &mut Numbering<'a>,
    ) -> Result<Self::Row<'a>, (usize, String)>;
    /// Places a row of a chunk in the file: `newlines` come before the chunk, and `numbers`
    /// are the file's numbers of the chunk's ([`names::merge`]).
    fn place(row: &mut Self::Row<'_>, newlines: u64, numbers: &[u32]);
}

/// The fields of one record, by SPEC column index: values borrowed for the record (`'r`),
/// ids copied into the chunk's arena (`'a`).
pub(crate) struct Fields<'a, 'r> {
    pub(super) data: &'r [u8],
    pub(super) spans: &'r [Span],
    pub(super) map: &'r [Option<usize>],
    /// Where the record's quoted values with `""` escapes are undone.
    pub(super) scratch: &'r Bump,
    /// Where the ids the row keeps are copied.
    pub(super) arena: &'a Bump,
}

impl<'a, 'r> Fields<'a, 'r> {
    /// The value of SPEC column `col` (empty for an absent optional column).
    #[inline]
    pub(crate) fn get(&self, col: usize) -> Result<&'r [u8], (usize, String)> {
        let Some(index) = self.map[col] else { return Ok(b"") };
        let span = self.spans[index];
        if span.malformed {
            return Err((
                col,
                "malformed quotes: a quote inside an unquoted field, or text after a closing quote".into(),
            ));
        }
        Ok(csvread::field_bytes(self.data, span, self.scratch))
    }

    /// An id (1 to 64 bytes of printable ASCII), checked but not kept.
    pub(crate) fn checked_id(&self, col: usize) -> Result<&'r [u8], (usize, String)> {
        let value = self.get(col)?;
        check_id(value).map_err(|reason| (col, reason))?;
        Ok(value)
    }

    /// An id, or empty, checked but not kept.
    pub(crate) fn checked_optional_id(&self, col: usize) -> Result<&'r [u8], (usize, String)> {
        let value = self.get(col)?;
        if !value.is_empty() {
            check_id(value).map_err(|reason| (col, reason))?;
        }
        Ok(value)
    }

    /// A value (checked) kept in the chunk's arena: the row then does not borrow the input.
    pub(crate) fn keep(&self, value: &[u8]) -> &'a [u8] {
        if value.is_empty() {
            return b"";
        }
        self.arena.alloc_slice_copy(value)
    }
}

#[inline]
fn check_id(value: &[u8]) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty, expected an id".into());
    }
    if value.len() > limits::ID_BYTES_MAX {
        return Err(format!("id is {} bytes long, at most {} allowed", value.len(), limits::ID_BYTES_MAX));
    }
    if !printable_ascii(value) {
        return Err(if std::str::from_utf8(value).is_err() {
            "not valid UTF-8".into()
        } else {
            format!("'{}' has a character outside printable ASCII", money::show(value))
        });
    }
    Ok(())
}

fn program(rulebook: &Rulebook, fields: &Fields<'_, '_>, col: usize) -> Result<ProgramId, (usize, String)> {
    let code = fields.get(col)?;
    rulebook.program_id(code).ok_or_else(|| (col, format!("unknown program '{}'", money::show(code))))
}

fn money_at(rulebook: &Rulebook, fields: &Fields<'_, '_>, col: usize) -> Result<Minor, (usize, String)> {
    money::parse_money(fields.get(col)?, rulebook.currency_scale).map_err(|reason| (col, reason))
}

/// allocations.csv
pub(crate) struct AllocationSpec<'r>(pub &'r Rulebook);

impl RowSpec for AllocationSpec<'_> {
    type Row<'a> = Allocation<'a>;
    const KIND: FileKind = FileKind::Allocations;
    const COLUMNS: &'static [(&'static str, bool)] = &[
        ("card_id", false),
        ("beneficiary_id", false),
        ("household_id", true),
        ("program", false),
        ("valid_from", false),
        ("valid_to", false),
        ("amount", false),
    ];

    fn parse<'a>(
        &self,
        f: &Fields<'a, '_>,
        line: u64,
        _: &mut Numbering<'a>,
    ) -> Result<Allocation<'a>, (usize, String)> {
        let card = f.checked_id(0)?;
        let beneficiary = f.checked_id(1)?;
        let household = f.checked_optional_id(2)?;
        let program = program(self.0, f, 3)?;
        let valid_from = Date::parse(f.get(4)?).map_err(|r| (4, r))?;
        let valid_to = Date::parse(f.get(5)?).map_err(|r| (5, r))?;
        if valid_to < valid_from {
            return Err((5, format!("valid_to {valid_to} is before valid_from {valid_from}")));
        }
        let amount = money_at(self.0, f, 6)?;
        let ids = RowIds::keep(f.arena, [card, beneficiary, household]);
        Ok(Allocation { line, ids, program, valid_from, valid_to, amount })
    }

    fn place(row: &mut Allocation<'_>, newlines: u64, _: &[u32]) {
        row.line += newlines;
    }
}

/// debits.csv
pub(crate) struct DebitSpec<'r>(pub &'r Rulebook);

impl RowSpec for DebitSpec<'_> {
    type Row<'a> = Debit<'a>;
    const KIND: FileKind = FileKind::Debits;
    const COLUMNS: &'static [(&'static str, bool)] = &[
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

    fn parse<'a>(
        &self,
        f: &Fields<'a, '_>,
        line: u64,
        names: &mut Numbering<'a>,
    ) -> Result<Debit<'a>, (usize, String)> {
        let txn = f.checked_id(0)?;
        let kind = match f.get(1)? {
            b"" | b"debit" => Kind::Debit,
            b"reversal" => Kind::Reversal,
            other => return Err((1, format!("type '{}' must be debit, reversal or empty", money::show(other)))),
        };
        let original = match kind {
            Kind::Debit => &b""[..],
            Kind::Reversal => {
                if f.get(2)?.is_empty() {
                    return Err((2, "required on a reversal: the txn_id of the debit it reverses".into()));
                }
                f.checked_id(2)?
            }
        };
        let card = f.checked_id(3)?;
        let program = program(self.0, f, 4)?;
        let amount = money_at(self.0, f, 5)?;
        let instant = parse_instant(f.get(6)?, self.0.timezone).map_err(|r| (6, r))?;
        let (merchant, terminal) = match kind {
            Kind::Debit => (f.checked_id(7)?, f.checked_id(8)?),
            Kind::Reversal => (f.checked_optional_id(7)?, f.checked_optional_id(8)?),
        };
        let channel =
            match (f.get(9)?, kind) {
                (b"", Kind::Reversal) => None,
                (b"", Kind::Debit) => return Err((9, "empty, expected one of atm, pos, qr, transfer".into())),
                (text, _) => Some(Channel::parse(text).ok_or_else(|| {
                    (9, format!("channel '{}' is not one of atm, pos, qr, transfer", money::show(text)))
                })?),
            };
        let mcc = match f.get(10)? {
            b"" => None,
            text => Some(parse_mcc(text).ok_or_else(|| (10, format!("mcc '{}' is not 4 digits", money::show(text))))?),
        };
        let atc =
            match f.get(11)? {
                b"" => None,
                text => Some(parse_atc(text).ok_or_else(|| {
                    (11, format!("atc '{}' is not a whole number from 0 to 65535", money::show(text)))
                })?),
            };
        // Kept last, so that the arena and the table hold no id of a rejected row.
        let ids = RowIds::keep(f.arena, [txn, original, card, terminal]);
        let merchant = names.number(merchant, f.arena);
        Ok(Debit { line, ids, kind, program, amount, instant, merchant, channel, mcc, atc })
    }

    fn place(row: &mut Debit<'_>, newlines: u64, numbers: &[u32]) {
        row.line += newlines;
        row.merchant = names::renumber(row.merchant, numbers);
    }
}

fn parse_atc(text: &[u8]) -> Option<u16> {
    if !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = &text[text.iter().position(|&b| b != b'0').unwrap_or(text.len())..];
    if digits.len() > 5 {
        return None;
    }
    let value = digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    u16::try_from(value).ok()
}

/// merchants.csv
pub(crate) struct MerchantSpec<'r>(pub &'r Rulebook);

impl RowSpec for MerchantSpec<'_> {
    type Row<'a> = Merchant<'a>;
    const KIND: FileKind = FileKind::Merchants;
    const COLUMNS: &'static [(&'static str, bool)] = &[("merchant_id", false), ("programs", false)];

    fn parse<'a>(&self, f: &Fields<'a, '_>, line: u64, _: &mut Numbering<'a>) -> Result<Merchant<'a>, (usize, String)> {
        let merchant = f.checked_id(0)?;
        let list = f.get(1)?;
        let mut programs = Vec::new();
        if !list.is_empty() {
            for code in list.split(|&b| b == b';') {
                if code.is_empty() {
                    return Err((1, format!("'{}' has an empty program code", money::show(list))));
                }
                let id =
                    self.0.program_id(code).ok_or_else(|| (1, format!("unknown program '{}'", money::show(code))))?;
                programs.push(id);
            }
        }
        programs.sort_unstable();
        programs.dedup();
        Ok(Merchant { line, merchant: f.keep(merchant), programs })
    }

    fn place(row: &mut Merchant<'_>, newlines: u64, _: &[u32]) {
        row.line += newlines;
    }
}
