//! Ingest: the three CSV files into typed rows, and every bad row into a reject.
//!
//! Columns are found by header name. Each row is checked column by column in SPEC order and
//! the first failing column names the reject ([`spec`]: the rows and their checks; this
//! module: cutting a file into chunks and parsing them in parallel). A row is either used or
//! rejected, so rows read = rows used + rows rejected, per file. The ids a row keeps are
//! copied into its chunk's arena, so the rows do not hold on to the input: a file given by
//! path is read a window at a time and never held whole ([`crate::source`]).
//!
//! Parallel parsing is speculative: the file is cut at line ends into chunks ([`plan_chunks`]
//! avoids cuts inside quoted fields), each chunk is parsed as if a record started there, then
//! the cuts are checked in order; a cut that fell inside a quoted field (a quoted line break)
//! is parsed again from where the previous chunk really ended. Well-formed files almost
//! never need that, and the result never depends on the number of chunks.

mod spec;

use bumpalo::Bump;

use crate::csvread::{self, Cursor};
use crate::error::{Error, Location};
use crate::limits;
use crate::money;
use crate::names::{self, Names, Numbering};
use crate::parallel;
use crate::rejects::Collector;
use crate::source::Text;
use crate::table::Table;

use spec::Fields;
pub(crate) use spec::{Allocation, AllocationSpec, Debit, DebitSpec, Kind, Merchant, MerchantSpec, RowSpec};

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

/// What one chunk of a file yields.
struct ChunkOut<'a, R> {
    rows: Vec<R>,
    names: Numbering<'a>,
    rejects: Collector,
    rows_read: u64,
    /// Where the chunk's last record ended (and the blank lines after it, up to the next).
    end: usize,
    /// Line ends from the chunk's start to `end`.
    newlines: u64,
    unterminated: Option<csvread::Unterminated>,
}

impl<R> ChunkOut<'_, R> {
    /// Nothing read yet, from `start`.
    fn empty(start: usize) -> Self {
        ChunkOut {
            rows: Vec::new(),
            names: Numbering::default(),
            rejects: Collector::default(),
            rows_read: 0,
            end: start,
            newlines: 0,
            unterminated: None,
        }
    }
}

/// Parses one file in parallel chunks. `file` names it in errors; `arenas` hold the rows' ids
/// and must outlive the rows (`text` need not).
pub(crate) fn parse_file<'a, S: RowSpec>(
    spec: &S,
    file: &str,
    text: Text<'_>,
    arenas: &'a mut Vec<Bump>,
    threads: usize,
) -> Result<(Parsed<'a, S::Row<'a>>, Collector), Error> {
    let header = read_header::<S>(file, text)?;
    let (body, header_newlines) = (header.body, header.newlines);
    let plans = plan_chunks(text, body, threads)?;
    arenas.clear();
    arenas.resize_with(plans.len() + 1, Bump::new);
    let (spare, chunk_arenas) = arenas.split_last_mut().expect("one arena per chunk and a spare");
    let spare: &'a Bump = spare;
    let items: Vec<_> = plans.iter().zip(chunk_arenas.iter_mut()).map(|(p, a)| (p.start, p.stop, a)).collect();
    let outs =
        parallel::map(threads, items, |(start, stop, arena)| parse_chunk(spec, text, start, stop, &header, arena));
    let mut outs = outs.into_iter().collect::<Result<Vec<_>, Error>>()?;

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
                ChunkOut::empty(expected)
            } else {
                parse_chunk(spec, text, expected, plan.stop, &header, spare)?
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

/// Where a chunk's records start, and where its parse really ended.
struct ChunkPlan {
    start: usize,
    stop: usize,
}

/// Cuts the body of a file (from `body`) into about `threads * 4` ranges at line ends. Record
/// boundaries are a guess that [`parse_file`] verifies; the guess avoids cuts inside quoted
/// fields: a cut is kept only where the count of quotes before it is even (in a well-formed
/// file every quoted field holds an even number of them). Without that, a file of multi-line
/// quoted fields would be parsed as a pile of bogus one-line rows before being parsed again.
/// A file read in windows is read once more for the count (from the page cache, on every
/// thread: about 0.1 s at 10M debits).
fn plan_chunks(text: Text<'_>, body: usize, threads: usize) -> Result<Vec<ChunkPlan>, Error> {
    let len = text.len();
    let step = ((len - body) / threads.max(1).saturating_mul(4)).max(text.window_bytes().min(1 << 16));
    let mut buf = Vec::new();
    let mut candidates = vec![body];
    let mut cut = body + step;
    while cut < len {
        match text.scan(cut, len, &mut buf, |window, at| memchr::memchr(b'\n', window).map(|i| at + i + 1))? {
            Some(start) if start < len => candidates.push(start),
            _ => break,
        }
        cut = candidates[candidates.len() - 1] + step;
    }
    let ranges: Vec<(usize, usize)> = candidates.windows(2).map(|w| (w[0], w[1])).collect();
    let quotes = parallel::map(threads, ranges, |(from, to)| {
        let mut quotes = 0;
        text.scan(from, to, &mut Vec::new(), |window, _| {
            quotes += memchr::memchr_iter(b'"', window).count();
            None::<()>
        })
        .map(|_| quotes)
    });
    let mut starts = vec![body];
    let mut odd = false;
    for (k, quotes) in quotes.into_iter().enumerate() {
        odd ^= quotes? % 2 == 1;
        let (start, next) = (candidates[k + 1], candidates.get(k + 2).copied().unwrap_or(len));
        let start = if odd { past_quoted_line_end(text, start, next, &mut buf)? } else { Some(start) };
        starts.extend(start.filter(|&s| s < len));
    }
    let stops = starts.iter().skip(1).copied().chain([len]);
    Ok(starts.iter().zip(stops).map(|(&start, stop)| ChunkPlan { start, stop }).collect())
}

/// From `at`, inside a quoted field (odd quote count), the position after the first line end
/// where the count turns even again: the start of the next record, if it is before `to`.
fn past_quoted_line_end(text: Text<'_>, at: usize, to: usize, buf: &mut Vec<u8>) -> Result<Option<usize>, Error> {
    let mut odd = true;
    text.scan(at, to, buf, |window, base| {
        let mut pos = 0;
        while let Some(i) = memchr::memchr2(b'"', b'\n', &window[pos..]) {
            pos += i + 1;
            match window[pos - 1] {
                b'"' => odd = !odd,
                _ if !odd => return Some(base + pos),
                _ => {}
            }
        }
        None
    })
}

/// Parses the records that start in `[start, stop)`, reading `text` a window at a time. A
/// window's records are taken up to the last one that ends before the window does; the next
/// window starts where that one ended (a record longer than a window doubles it).
fn parse_chunk<'a, S: RowSpec>(
    spec: &S,
    text: Text<'_>,
    start: usize,
    stop: usize,
    header: &Header,
    arena: &'a Bump,
) -> Result<ChunkOut<'a, S::Row<'a>>, Error> {
    let mut spans = Vec::with_capacity(header.fields + 1);
    let fields_expected = header.fields;
    let mut scratch = Bump::new();
    let mut buf = Vec::new();
    let mut out = ChunkOut::empty(start);
    let mut size = text.window_bytes();
    loop {
        // The window, and where its records' line ends count from.
        let (from, newlines) = (out.end, out.newlines);
        let to = from.saturating_add(size).min(text.len());
        let last = to == text.len();
        let data = text.window(from, to, &mut buf)?;
        let mut cursor = Cursor::new(data, 0, limits::COLUMNS_MAX);
        loop {
            if !cursor.skip_blank_lines(stop.saturating_sub(from)) {
                // No record starts before `stop` in the window: the blank lines skipped are whole.
                (out.end, out.newlines) = (from + cursor.pos, newlines + cursor.newlines);
                if last || out.end >= stop {
                    out.names.parsed();
                    return Ok(out);
                }
                break;
            }
            let (at, count) = match cursor.read_record(&mut spans) {
                Ok(found) if last || cursor.pos < data.len() => found,
                Err(open) if last => {
                    let newlines_before = newlines + open.newlines_before;
                    out.unterminated = Some(csvread::Unterminated { at: from + open.at, newlines_before });
                    out.names.parsed();
                    return Ok(out);
                }
                // Perhaps cut by the window's end: read whole from the next window.
                _ => break,
            };
            out.rows_read += 1;
            let line = newlines + at.newlines_before + 1;
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
            (out.end, out.newlines) = (from + cursor.pos, newlines + cursor.newlines);
        }
        if out.end == from {
            size = size.saturating_mul(2);
        }
    }
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

/// Finds the header and maps the SPEC columns to their positions, reading as much of the
/// file as that takes.
fn read_header<S: RowSpec>(file: &str, text: Text<'_>) -> Result<Header, Error> {
    let mut buf = Vec::new();
    let mut size = text.window_bytes();
    loop {
        let to = size.min(text.len());
        let data = text.window(0, to, &mut buf)?;
        if let Some(header) = header_in::<S>(file, data, to == text.len())? {
            return Ok(header);
        }
        size = size.saturating_mul(2);
    }
}

/// The header in `data`, the file's first bytes (all of them if `last`); none when it takes
/// more bytes to tell.
fn header_in<S: RowSpec>(file: &str, data: &[u8], last: bool) -> Result<Option<Header>, Error> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if !last && data.len() < BOM.len() {
        return Ok(None);
    }
    let start = if data.starts_with(BOM) { BOM.len() } else { 0 };
    let mut cursor = Cursor::new(data, start, limits::COLUMNS_MAX + 1);
    let expected: Vec<&str> = S::COLUMNS.iter().map(|(name, _)| *name).collect();
    if !cursor.skip_blank_lines(data.len()) {
        if !last {
            return Ok(None);
        }
        return Err(Error::file(
            file,
            None,
            format!("the file is empty: expected a header with {}", expected.join(", ")),
        ));
    }
    let mut spans = Vec::new();
    let (at, fields) = match cursor.read_record(&mut spans) {
        Ok(found) if last || cursor.pos < data.len() => found,
        Err(open) if last => {
            return Err(Error::file(file, Some(open.newlines_before + 1), "unterminated quote in the header"))
        }
        _ => return Ok(None),
    };
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
    Ok(Some(Header { map, fields, body: cursor.pos, newlines: cursor.newlines }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::Rulebook;

    use proptest::prelude::*;

    /// What parsing a file gave: rows (with merchants by name), rows read, rejects; or the
    /// error.
    fn parsed(text: Text<'_>, threads: usize) -> String {
        let rulebook = Rulebook::from_json("rulebook.json", br#"{"programs": [{"code": "P"}]}"#).expect("valid");
        let mut arenas = Vec::new();
        match parse_file(&DebitSpec(&rulebook), "debits.csv", text, &mut arenas, threads) {
            Ok((parsed, rejects)) => {
                let rows: Vec<_> =
                    parsed.rows.iter().map(|d| (d, money::show(parsed.names[d.merchant.index()]))).collect();
                format!("{rows:?}\n{} read\n{:?}", parsed.rows_read, rejects.finish())
            }
            Err(err) => err.to_string(),
        }
    }

    /// A debits.csv of `records` (each a list of fields, written as they are), with line ends
    /// `\n` or `\r\n`, blank lines, and maybe a byte-order mark and a last line end.
    fn file(bom: bool, records: &[(Vec<&str>, bool, u8)], last_line_end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(b"\xEF\xBB\xBF");
        }
        out.extend(b"txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n");
        for (k, (fields, crlf, blank)) in records.iter().enumerate() {
            out.extend(fields.join(",").as_bytes());
            if k + 1 < records.len() || last_line_end {
                out.extend(if *crlf { &b"\r\n"[..] } else { b"\n" });
            }
            for _ in 0..*blank {
                out.extend(if *crlf { &b"\r\n"[..] } else { b"\n" });
            }
        }
        out
    }

    fn record() -> impl Strategy<Value = (Vec<&'static str>, bool, u8)> {
        let pick = |values: &'static [&'static str]| proptest::sample::select(values);
        let fields = (
            pick(&["T1", "T2", "\"T\"\"3\"", "\"T\n4\"", "T5\""]),
            pick(&["", "debit", "reversal"]),
            pick(&["", "T1", "\"T\r\n9\""]),
            pick(&["C1", "\"C1\"", "C2"]),
            pick(&["P", "\"P\"", "X"]),
            pick(&["1", "2.50", "x"]),
            pick(&["2022-08-01T10:00:00Z", "2022-08-01T10:00:00+07:00"]),
            pick(&["M1", "\"M\"\"1\"", "M2", ""]),
            pick(&["E1", "E2", "\"E\n3\"", "\"\nE4\"", "\"E5\r\n\"", ""]),
            pick(&["pos", "atm", "", "pos,extra"]),
        );
        let fields = fields.prop_map(|f| vec![f.0, f.1, f.2, f.3, f.4, f.5, f.6, f.7, f.8, f.9]);
        (fields, any::<bool>(), prop_oneof![8 => Just(0u8), 1 => 1u8..3])
    }

    #[test]
    #[cfg(unix)]
    fn chunks_do_not_start_inside_quoted_fields_in_memory_or_read_in_windows() {
        // Every row has a quoted note spanning many lines: a cut that falls inside a note moves
        // on to the end of that record.
        let mut data = b"a,b\n".to_vec();
        for i in 0..400 {
            data.extend_from_slice(format!("{i},\"").as_bytes());
            for _ in 0..200 {
                data.extend_from_slice(b"note \"\"line\"\"\n");
            }
            data.extend_from_slice(b"\"\n");
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = crate::source::OpenFile::for_test(dir.path(), &data, 4096);
        for text in [Text::Bytes(&data), Text::File(&file)] {
            let plans = plan_chunks(text, 4, 4).expect("planned");
            assert!(plans.len() > 1, "the file is long enough to cut");
            for plan in &plans {
                let quotes_before = data[..plan.start].iter().filter(|&&b| b == b'"').count();
                assert_eq!(quotes_before % 2, 0, "a chunk starts outside quotes");
                assert!(data[plan.start..].first().is_some_and(u8::is_ascii_digit), "a chunk starts at a record");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A file read in windows (of any size, down to a byte, cutting records, quoted line
        /// ends, `\r\n` pairs and the header anywhere, and chunks of a few bytes) parses
        /// exactly as its bytes in memory do, whatever the threads.
        #[test]
        #[cfg(unix)]
        fn a_file_read_in_windows_parses_as_its_bytes_do(
            bom in any::<bool>(),
            records in proptest::collection::vec(record(), 0..40),
            last_line_end in any::<bool>(),
            unterminated in proptest::bool::weighted(0.1),
            window in prop_oneof![1usize..20, 20usize..300],
            threads in 1usize..4,
        ) {
            let mut bytes = file(bom, &records, last_line_end);
            if unterminated {
                bytes.extend(b"T9,debit,,C1,P,1,2022-08-01T10:00:00Z,M1,\"E1");
            }
            let expected = parsed(Text::Bytes(&bytes), 1);
            let dir = tempfile::tempdir().expect("a temporary folder");
            let open = crate::source::OpenFile::for_test(dir.path(), &bytes, window);
            prop_assert_eq!(parsed(Text::File(&open), threads), expected);
        }
    }
}
