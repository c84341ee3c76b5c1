//! Ingest: the three CSV files into typed rows, and every bad row into a reject.
//!
//! Columns are found by header name. Each row is checked column by column in SPEC order and
//! the first failing column names the reject. A row is either used or rejected, so rows read
//! = rows used + rows rejected, per file. The ids a row keeps are copied into its chunk's
//! arena, so the rows do not hold on to the input: a caller may let the input go once it is
//! parsed (a mapped file's pages are given back as they are read, see [`crate::engine`]).

use std::path::Path;

use bumpalo::Bump;

use crate::csvread::{self, Cursor, Span};
use crate::error::{Error, Location};
use crate::limits;
use crate::money::{self, Minor};
use crate::names::{self, MerchantNo, Names, Numbering};
use crate::parallel;
use crate::rejects::Collector;
use crate::rulebook::{parse_mcc, Channel, ProgramId, Rulebook};
use crate::table::Table;
use crate::time::{parse_instant, Date, Instant};

/// The role of an input file. Its name is what reports show, whatever the path was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FileKind {
    Allocations,
    Debits,
    Merchants,
}

impl FileKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FileKind::Allocations => "allocations.csv",
            FileKind::Debits => "debits.csv",
            FileKind::Merchants => "merchants.csv",
        }
    }

    /// The file's SPEC columns, in SPEC order.
    pub(crate) fn columns(self) -> &'static [(&'static str, bool)] {
        match self {
            FileKind::Allocations => AllocationSpec::COLUMNS,
            FileKind::Debits => DebitSpec::COLUMNS,
            FileKind::Merchants => MerchantSpec::COLUMNS,
        }
    }
}

/// A card's grant for a program over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allocation<'a> {
    pub line: u64,
    pub card: &'a [u8],
    pub beneficiary: &'a [u8],
    pub household: &'a [u8],
    pub program: ProgramId,
    pub valid_from: Date,
    pub valid_to: Date,
    pub amount: Minor,
}

impl Allocation<'_> {
    /// Everything but the line: identical allocations have equal values.
    pub(crate) fn same_values(&self, other: &Allocation<'_>) -> bool {
        Allocation { line: 0, ..*self } == Allocation { line: 0, ..*other }
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
    pub txn: &'a [u8],
    pub kind: Kind,
    /// Empty on a debit (the column is ignored there).
    pub original: &'a [u8],
    pub card: &'a [u8],
    pub program: ProgramId,
    pub amount: Minor,
    pub instant: Instant,
    /// The merchant id's number in the file's [`Names`] (the empty id's, on a reversal that
    /// names none).
    pub merchant: MerchantNo,
    pub terminal: &'a [u8],
    pub channel: Option<Channel>,
    pub mcc: Option<u16>,
    pub atc: Option<u16>,
}

// 10M debits are held at once: 16 bytes more per row is 160 MB more at the peak. (On
// wasm32 pointers, and so ids, are half the size.)
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Debit<'_>>() == 128);

impl Debit<'_> {
    /// Every field of the spec equal (parsed values, not text)?
    pub(crate) fn same_values(&self, other: &Debit<'_>) -> bool {
        Debit { line: 0, ..*self } == Debit { line: 0, ..*other }
    }

    /// Event order: by instant, then debits before reversals, then `txn_id` bytewise.
    pub(crate) fn event_key(&self) -> (Instant, Kind, &[u8]) {
        (self.instant, self.kind, self.txn)
    }
}

/// A row of merchants.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Merchant<'a> {
    pub line: u64,
    pub merchant: &'a [u8],
    pub programs: Vec<ProgramId>,
}

/// One file, parsed.
#[derive(Clone)]
pub(crate) struct Parsed<'a, R> {
    pub rows: Table<R>,
    pub rows_read: u64,
    /// The ids the rows name by number: the merchant ids of debits.csv (none in other files).
    pub names: Names<'a>,
}

impl<R> Default for Parsed<'_, R> {
    fn default() -> Self {
        Parsed { rows: Table::default(), rows_read: 0, names: Names::new() }
    }
}

/// Reads a whole file, refusing one above `bytes_max`.
pub(crate) fn read_file(path: &Path, bytes_max: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    // Sized once from the file's length (when known), rather than grown by doubling: at 10M
    // debits that is 1.2 GB not copied again.
    let expected = file.metadata().map_or(0, |m| m.len()).min(bytes_max.saturating_add(1));
    let mut bytes = read_in_pieces(&file, expected).unwrap_or_default();
    // The rest (all of it, unless read in pieces): a reservation that fails (a sparse file)
    // is not an error, the read then grows the buffer.
    let _ = bytes.try_reserve_exact(usize::try_from(expected).unwrap_or(0).saturating_sub(bytes.len()));
    let limit = bytes_max.saturating_add(1).saturating_sub(bytes.len() as u64);
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > bytes_max {
        return Err(Error::limit(
            &path.display().to_string(),
            None,
            format!("the file is larger than {bytes_max} bytes"),
        ));
    }
    Ok(bytes)
}

/// Files from this size up are read in pieces at once, one per core (at most 4).
#[cfg_attr(not(unix), allow(dead_code))]
const PIECES_FROM_BYTES: u64 = 16 << 20;

/// The first `len` bytes of a large file, read in pieces on several threads, with the file's
/// position left after them; none when the file is small, on one core, or shorter than
/// `len` by now. Reading is mostly the kernel copying the page cache into fresh pages of the
/// buffer, one page fault each: at 1M debits 120 ms on one thread while the others waited.
#[cfg(unix)]
fn read_in_pieces(mut file: &std::fs::File, len: u64) -> Option<Vec<u8>> {
    use std::io::Seek;
    use std::os::unix::fs::FileExt;
    let threads = parallel::file_threads();
    if len < PIECES_FROM_BYTES || threads < 2 {
        return None;
    }
    // Zeroed memory comes straight from the system: no page is touched before its piece. A
    // size that cannot be had is asked for fallibly first, as the growing read does.
    let len_bytes = usize::try_from(len).ok()?;
    Vec::<u8>::new().try_reserve_exact(len_bytes).ok()?;
    let mut bytes = vec![0u8; len_bytes];
    let piece = bytes.len().div_ceil(threads);
    let pieces: Vec<(u64, &mut [u8])> =
        bytes.chunks_mut(piece).enumerate().map(|(k, chunk)| ((k * piece) as u64, chunk)).collect();
    let read = parallel::map(threads, pieces, |(at, chunk)| file.read_exact_at(chunk, at).is_ok());
    if !read.iter().all(|&ok| ok) {
        return None;
    }
    file.seek(std::io::SeekFrom::Start(len)).ok()?;
    Some(bytes)
}

#[cfg(not(unix))]
fn read_in_pieces(_file: &std::fs::File, _len: u64) -> Option<Vec<u8>> {
    None
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
    data: &'r [u8],
    spans: &'r [Span],
    map: &'r [Option<usize>],
    /// Where the record's quoted values with `""` escapes are undone.
    scratch: &'r Bump,
    /// Where the ids the row keeps are copied.
    arena: &'a Bump,
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

    /// An id, kept in the chunk's arena.
    pub(crate) fn id(&self, col: usize) -> Result<&'a [u8], (usize, String)> {
        self.checked_id(col).map(|value| self.keep(value))
    }

    /// Numbers a merchant id in the chunk's `names` (copied into the arena when new).
    pub(crate) fn number(&self, names: &mut Numbering<'a>, id: &[u8]) -> MerchantNo {
        names.number(id, self.arena)
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
    // Every byte in 0x20..=0x7E; folded without an early exit, so it is vectorised.
    if !value.iter().fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5F)) {
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
        let (card, beneficiary, household) = (f.keep(card), f.keep(beneficiary), f.keep(household));
        Ok(Allocation { line, card, beneficiary, household, program, valid_from, valid_to, amount })
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
        let (txn, original, card, terminal) = (f.keep(txn), f.keep(original), f.keep(card), f.keep(terminal));
        let merchant = f.number(names, merchant);
        Ok(Debit { line, txn, kind, original, card, program, amount, instant, merchant, terminal, channel, mcc, atc })
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
        let merchant = f.id(0)?;
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
        Ok(Merchant { line, merchant, programs })
    }

    fn place(row: &mut Merchant<'_>, newlines: u64, _: &[u32]) {
        row.line += newlines;
    }
}

/// What one chunk of a file yields.
struct ChunkOut<'a, R> {
    rows: Vec<R>,
    names: Numbering<'a>,
    rejects: Collector,
    rows_read: u64,
    /// Where the chunk's last record ended.
    end: usize,
    /// Line ends from the chunk's start to `end`.
    newlines: u64,
    unterminated: Option<csvread::Unterminated>,
}

/// Parses one file in parallel chunks. `file` names it in errors; `arenas` hold the rows' ids
/// and must outlive the rows (`data` need not).
pub(crate) fn parse_file<'a, S: RowSpec>(
    spec: &S,
    file: &str,
    data: &[u8],
    arenas: &'a mut Vec<Bump>,
    threads: usize,
) -> Result<(Parsed<'a, S::Row<'a>>, Collector), Error> {
    let data_start = if data.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let header = read_header::<S>(file, data, data_start)?;
    let (body, header_newlines) = (header.body, header.newlines);
    let plans = csvread::plan_chunks(data, body, threads);
    arenas.clear();
    arenas.resize_with(plans.len() + 1, Bump::new);
    let (spare, chunk_arenas) = arenas.split_last_mut().expect("one arena per chunk and a spare");
    let spare: &'a Bump = spare;
    let items: Vec<_> = plans.iter().zip(chunk_arenas.iter_mut()).map(|(p, a)| (p.start, p.stop, a)).collect();
    let mut outs =
        parallel::map(threads, items, |(start, stop, arena)| parse_chunk(spec, data, start, stop, &header, arena));

    let mut rows_read = 0;
    let mut rejects = Collector::default();
    let mut expected = body;
    let mut newlines = header_newlines;
    // Per chunk: its rows with the line ends before it (its rows' lines count from there),
    // and apart, the merchant ids it numbered.
    let mut chunks = Vec::with_capacity(outs.len());
    let mut numberings = Vec::with_capacity(outs.len());
    for (k, plan) in plans.iter().enumerate() {
        if plan.start != expected {
            // The cut fell inside a record (a quoted line end): parse again from where the
            // previous chunk really ended.
            outs[k] = if expected >= plan.stop {
                ChunkOut {
                    rows: Vec::new(),
                    names: Numbering::default(),
                    rejects: Collector::default(),
                    rows_read: 0,
                    end: expected,
                    newlines: 0,
                    unterminated: None,
                }
            } else {
                parse_chunk(spec, data, expected, plan.stop, &header, spare)
            };
        }
        let out = &mut outs[k];
        if let Some(open) = out.unterminated {
            let line = newlines + open.newlines_before + 1;
            return Err(Error::file(
                file,
                Some(line),
                format!("unterminated quote: the quoted field opened on line {line} never closes"),
            ));
        }
        out.rejects.shift_lines(newlines);
        chunks.push((std::mem::take(&mut out.rows), newlines));
        numberings.push(std::mem::take(&mut out.names));
        rejects.append(std::mem::take(&mut out.rejects));
        newlines += out.newlines;
        expected = out.end;
        rows_read += out.rows_read;
    }
    if rows_read > limits::ROWS_MAX as u64 {
        return Err(Error::limit(file, None, format!("{rows_read} rows, at most {} allowed", limits::ROWS_MAX)));
    }
    drop(outs);
    let (names, numbers) = names::merge(numberings);
    let chunks = chunks.into_iter().zip(numbers).collect();
    let chunks =
        parallel::map(threads, chunks, |((mut rows, newlines), numbers): ((Vec<S::Row<'a>>, u64), Vec<u32>)| {
            for row in &mut rows {
                S::place(row, newlines, &numbers);
            }
            rows
        });
    Ok((Parsed { rows: Table::new(chunks), rows_read, names }, rejects))
}

fn parse_chunk<'a, S: RowSpec>(
    spec: &S,
    data: &[u8],
    start: usize,
    stop: usize,
    header: &Header,
    arena: &'a Bump,
) -> ChunkOut<'a, S::Row<'a>> {
    let mut cursor = Cursor::new(data, start, limits::COLUMNS_MAX);
    let mut spans = Vec::with_capacity(header.fields + 1);
    let fields_expected = header.fields;
    let mut scratch = Bump::new();
    let mut out = ChunkOut {
        rows: Vec::new(),
        names: Numbering::default(),
        rejects: Collector::default(),
        rows_read: 0,
        end: start,
        newlines: 0,
        unterminated: None,
    };
    while cursor.skip_blank_lines(stop) {
        let (at, count) = match cursor.read_record(&mut spans) {
            Ok(found) => found,
            Err(open) => {
                out.unterminated = Some(open);
                break;
            }
        };
        out.rows_read += 1;
        let line = at.newlines_before + 1;
        if at.len > limits::RECORD_BYTES_MAX {
            let reason = format!("the row is {} bytes long, at most {} allowed", at.len, limits::RECORD_BYTES_MAX);
            out.rejects.push(S::KIND, line, None, reason);
        } else if count != fields_expected {
            let plural = if count == 1 { "" } else { "s" };
            let reason = format!("{count} field{plural}, expected {fields_expected} as in the header");
            out.rejects.push(S::KIND, line, None, reason);
        } else {
            let fields = Fields { data, spans: &spans, map: &header.map, scratch: &scratch, arena };
            let parsed = spec.parse(&fields, line, &mut out.names);
            scratch.reset();
            match parsed {
                Ok(row) => {
                    if out.rows.is_empty() {
                        reserve_rows(&mut out.rows, stop - start, at.len);
                    }
                    out.rows.push(row)
                }
                Err((col, reason)) => out.rejects.push(S::KIND, line, Some(col), reason),
            }
        }
    }
    out.end = cursor.pos;
    out.newlines = cursor.newlines;
    out
}

/// Room for a chunk's rows, guessed when its first row parses, from that record's length, so
/// that the rows are not copied by growing the vector from empty. The guess counts at least
/// as many bytes of input per row as a row takes in memory, so the reservation is never more
/// than the chunk's size (plus one row), whatever the file; a reservation that cannot be had
/// is skipped, and the vector grows as it would have.
fn reserve_rows<R>(rows: &mut Vec<R>, chunk_bytes: usize, first_len: usize) {
    let per_row = first_len.max(std::mem::size_of::<R>()).max(1);
    let _ = rows.try_reserve(chunk_bytes / per_row + 1);
}

/// Where the SPEC columns are in a file's records.
struct Header {
    /// Per SPEC column, its index in the record (none for an absent optional column).
    map: Vec<Option<usize>>,
    /// Fields in the header: every record must have as many.
    fields: usize,
    /// Where the first record after the header starts.
    body: usize,
    /// Line ends before `body`.
    newlines: u64,
}

/// Finds the header and maps the SPEC columns to their positions.
fn read_header<S: RowSpec>(file: &str, data: &[u8], start: usize) -> Result<Header, Error> {
    let mut cursor = Cursor::new(data, start, limits::COLUMNS_MAX + 1);
    let expected: Vec<&str> = S::COLUMNS.iter().map(|(name, _)| *name).collect();
    if !cursor.skip_blank_lines(data.len()) {
        return Err(Error::file(
            file,
            None,
            format!("the file is empty: expected a header with {}", expected.join(", ")),
        ));
    }
    let mut spans = Vec::new();
    let (at, fields) = cursor
        .read_record(&mut spans)
        .map_err(|open| Error::file(file, Some(open.newlines_before + 1), "unterminated quote in the header"))?;
    let line = Some(at.newlines_before + 1);
    if fields > limits::COLUMNS_MAX {
        return Err(Error::limit(
            file,
            line,
            format!("the header has {fields} columns, at most {} allowed", limits::COLUMNS_MAX),
        ));
    }
    let arena = Bump::new();
    let names: Vec<&[u8]> = spans.iter().map(|s| csvread::field_bytes(data, *s, &arena)).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::file(file, line, format!("column '{}' appears twice in the header", money::show(w[0]))));
    }
    let mut map = Vec::with_capacity(S::COLUMNS.len());
    for (name, optional) in S::COLUMNS {
        let index = names.iter().position(|n| *n == name.as_bytes());
        if index.is_none() && !optional {
            return Err(Error::File {
                at: Location { file: file.to_owned(), line, column: Some((*name).to_owned()) },
                reason: format!("missing column '{name}': the header must name {}", expected.join(", ")),
            });
        }
        map.push(index);
    }
    Ok(Header { map, fields, body: cursor.pos, newlines: cursor.newlines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_reads_whole_in_pieces_and_its_limit_still_holds() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("large.csv");
        // Above PIECES_FROM_BYTES, of a length no piece count divides, every byte telling
        // where it is, so a piece read at the wrong offset shows.
        let len = (PIECES_FROM_BYTES + 12_345) as usize;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("written");
        assert!(read_file(&path, u64::MAX).expect("read") == data);
        assert!(read_file(&path, len as u64).expect("read at the limit") == data);
        let err = read_file(&path, len as u64 - 1).expect_err("one byte over");
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
