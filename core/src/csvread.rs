//! RFC 4180 records, read from any position (the chunks of [`crate::ingest`] are parsed in
//! parallel).
//!
//! Why not the `csv` crate for reading: it accepts an unterminated quote silently (reading to
//! the end of the file), which SPEC makes an error for the whole run, and it cannot start in
//! the middle of a file, which parallel parsing needs. This reader is a small state machine
//! over bytes; the `csv` crate stays as the test oracle it is checked against.

use memchr::memchr;

/// A field of a record, as a byte range of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// Quoted, and holding `""` escapes to undo.
    pub escaped: bool,
    /// A quote inside an unquoted field, or text after a closing quote.
    pub malformed: bool,
}

/// A record's position: the number of line ends before it in the chunk, and its length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordAt {
    pub newlines_before: u64,
    /// Bytes from the record's start to its end.
    pub len: usize,
}

/// An unterminated quote: the byte position where the quoted field opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unterminated {
    pub at: usize,
    pub newlines_before: u64,
}

/// Reads records from `data[pos..]`, counting line ends.
pub(crate) struct Cursor<'d> {
    data: &'d [u8],
    pub pos: usize,
    pub newlines: u64,
    columns_max: usize,
}

impl<'d> Cursor<'d> {
    pub(crate) fn new(data: &'d [u8], pos: usize, columns_max: usize) -> Cursor<'d> {
        Cursor { data, pos, newlines: 0, columns_max }
    }

    /// Skips blank lines (`\n` or `\r\n` alone) starting before `stop`; returns false when
    /// no record starts before `stop`.
    pub(crate) fn skip_blank_lines(&mut self, stop: usize) -> bool {
        loop {
            if self.pos >= stop || self.pos >= self.data.len() {
                return false;
            }
            match self.data[self.pos] {
                b'\n' => {
                    self.pos += 1;
                    self.newlines += 1;
                }
                b'\r' if self.data.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.newlines += 1;
                }
                _ => return true,
            }
        }
    }

    /// Reads one record starting at `pos` (not blank) into `fields`. Fields beyond
    /// `columns_max` are counted in the return value's field count but not stored.
    pub(crate) fn read_record(&mut self, fields: &mut Vec<Span>) -> Result<(RecordAt, usize), Unterminated> {
        self.read_record_with(fields, true)
    }

    /// [`read_record`](Self::read_record), its fields first read a word at a time while they
    /// can be (`by_words`), then field by field: either way, the same record.
    fn read_record_with(&mut self, fields: &mut Vec<Span>, by_words: bool) -> Result<(RecordAt, usize), Unterminated> {
        let (start, newlines_before) = (self.pos, self.newlines);
        fields.clear();
        let mut count = 0usize;
        if !(by_words && self.read_plain_fields(fields, &mut count)) {
            self.read_fields(fields, &mut count)?;
        }
        Ok((RecordAt { newlines_before, len: self.pos - start }, count))
    }

    /// Keeps a field read (up to `columns_max` of them), and counts it.
    #[inline]
    fn keep(fields: &mut Vec<Span>, count: &mut usize, columns_max: usize, span: Span) {
        *count += 1;
        if fields.len() < columns_max {
            fields.push(span);
        }
    }

    /// Reads fields from `pos` a word at a time, as [`next_special`] reads one field but
    /// once for them all: each `,` found ends a field and the line feed the record. True
    /// once the record is read; false at the start of a field it leaves to
    /// [`read_fields`](Self::read_fields): one holding a quote, or one that reaches the
    /// data's last 7 bytes (only whole words are read). Searching again for each field was
    /// most of the time that reading records took (perf at 10M debits: `read_field` and
    /// `read_record` 7.5% of samples); nearly every record has no quote.
    #[inline]
    fn read_plain_fields(&mut self, fields: &mut Vec<Span>, count: &mut usize) -> bool {
        let (data, columns_max) = (self.data, self.columns_max);
        let mut keep = |start, end| {
            Self::keep(fields, count, columns_max, Span { start, end, escaped: false, malformed: false });
        };
        // Where the field being read starts.
        let mut field = self.pos;
        let mut at = field;
        'words: while let Some(word) = data.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
            let mut hits = specials(u64::from_le_bytes(*word));
            while hits != 0 {
                // Bits above a special byte may be false hits (see `specials`): the byte decides.
                let pos = at + (hits.trailing_zeros() / 8) as usize;
                hits &= hits - 1;
                match data[pos] {
                    b',' => {
                        keep(field, pos);
                        field = pos + 1;
                    }
                    b'\n' => {
                        keep(field, before_line_end(data, field, pos));
                        self.pos = pos + 1;
                        self.newlines += 1;
                        return true;
                    }
                    b'"' => break 'words,
                    _ => {}
                }
            }
            at += 8;
        }
        self.pos = field;
        false
    }

    /// Reads fields from `pos` one at a time, quoted or not, to the end of the record.
    fn read_fields(&mut self, fields: &mut Vec<Span>, count: &mut usize) -> Result<(), Unterminated> {
        loop {
            let span = self.read_field()?;
            Self::keep(fields, count, self.columns_max, span);
            match self.data.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.newlines += 1;
                    return Ok(());
                }
                Some(b'\r') => {
                    // Only reached as part of "\r\n" after a field (read_field stops there).
                    self.pos += 2;
                    self.newlines += 1;
                    return Ok(());
                }
                None => return Ok(()),
                Some(_) => unreachable!("read_field stops at a separator or the end"),
            }
        }
    }

    fn read_field(&mut self) -> Result<Span, Unterminated> {
        let data = self.data;
        if data.get(self.pos) == Some(&b'"') {
            return self.read_quoted();
        }
        let start = self.pos;
        let mut pos = next_special(data, start);
        // A quote inside an unquoted field: malformed; the field still ends at a separator.
        let malformed = data.get(pos) == Some(&b'"');
        if malformed {
            pos += data[pos..].iter().position(|&b| b == b',' || b == b'\n').unwrap_or(data.len() - pos);
        }
        let end = if data.get(pos) == Some(&b'\n') { before_line_end(data, start, pos) } else { pos };
        self.pos = end; // at the separator, at "\r\n" or at the end: read_fields takes each
        Ok(Span { start, end, escaped: false, malformed })
    }

    fn read_quoted(&mut self) -> Result<Span, Unterminated> {
        let data = self.data;
        let open = Unterminated { at: self.pos, newlines_before: self.newlines };
        let start = self.pos + 1;
        let mut pos = start;
        let mut escaped = false;
        let end = loop {
            let Some(i) = memchr(b'"', &data[pos..]) else { return Err(open) };
            self.newlines += memchr::memchr_iter(b'\n', &data[pos..pos + i]).count() as u64;
            let quote = pos + i;
            if data.get(quote + 1) == Some(&b'"') {
                escaped = true;
                pos = quote + 2;
            } else {
                pos = quote + 1;
                break quote;
            }
        };
        self.pos = pos;
        match data.get(pos) {
            None | Some(b',' | b'\n') => Ok(Span { start, end, escaped, malformed: false }),
            Some(b'\r') if data.get(pos + 1) == Some(&b'\n') => Ok(Span { start, end, escaped, malformed: false }),
            Some(_) => {
                // Text after the closing quote: keep reading to the separator, flag the field.
                let rest = self.read_field()?;
                Ok(Span { start, end: rest.end, escaped, malformed: true })
            }
        }
    }
}

/// Where an unquoted field from `start` ends when a line feed at `newline` ends its record:
/// before a `\r` just ahead of the line feed, as `"\r\n"` ends a record as a line feed
/// alone does (both readers trim it here).
#[inline]
fn before_line_end(data: &[u8], start: usize, newline: usize) -> usize {
    if newline > start && data[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    }
}

/// The position of the first `,`, line feed or `"` in `data[from..]` (`data.len()` if none).
/// Fields are short, so this reads eight bytes at a time as a word and finds the special
/// bytes with word arithmetic (SWAR), instead of either a byte loop or a vector search whose
/// set-up costs more than a field: at 1M debits it took read_field from 12 instructions a
/// byte to about 8.5 (callgrind).
#[inline]
fn next_special(data: &[u8], from: usize) -> usize {
    let mut pos = from;
    while let Some(word) = data.get(pos..).and_then(|rest| rest.first_chunk::<8>()) {
        let hits = specials(u64::from_le_bytes(*word));
        if hits != 0 {
            return pos + (hits.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    pos + data
        .get(pos..)
        .unwrap_or_default()
        .iter()
        .position(|&b| matches!(b, b',' | b'\n' | b'"'))
        .unwrap_or(data.len().saturating_sub(pos))
}

/// The high bit of each byte of `word` (read little-endian) that is a `,`, a line feed or a
/// `"`, and possibly of bytes above the first such one (borrows): the lowest set bit is
/// always exact, and no special byte is missed.
#[inline]
fn specials(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit set in each zero byte of `x`, and possibly in bytes above the first zero.
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zeros(word ^ (ONES * u64::from(b',')))
        | zeros(word ^ (ONES * u64::from(b'\n')))
        | zeros(word ^ (ONES * u64::from(b'"')))
}

/// The bytes of a field, with `""` escapes undone into `arena` when needed.
#[inline]
pub(crate) fn field_bytes<'a>(data: &'a [u8], span: Span, arena: &'a bumpalo::Bump) -> &'a [u8] {
    let raw = &data[span.start..span.end];
    if !span.escaped {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        out.push(raw[i]);
        i += if raw[i] == b'"' && raw.get(i + 1) == Some(&b'"') { 2 } else { 1 };
    }
    arena.alloc_slice_copy(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<(u64, Vec<String>)>, Unterminated> {
        let data = text.as_bytes();
        let arena = bumpalo::Bump::new();
        let mut cursor = Cursor::new(data, 0, 1024);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while cursor.skip_blank_lines(data.len()) {
            let (at, _) = cursor.read_record(&mut fields)?;
            let values = fields
                .iter()
                .map(|s| {
                    let v = String::from_utf8(field_bytes(data, *s, &arena).to_vec()).unwrap();
                    if s.malformed {
                        format!("!{v}")
                    } else {
                        v
                    }
                })
                .collect();
            out.push((at.newlines_before + 1, values));
        }
        Ok(out)
    }

    fn row(line: u64, fields: &[&str]) -> (u64, Vec<String>) {
        (line, fields.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn field_ends_are_found_exactly_whatever_the_bytes_around_them() {
        // Neighbours of the special bytes and bytes with the high bit set are where word
        // arithmetic could go wrong (borrows, signed bytes).
        let fillers = [b'a', b'+', b'-', b'!', b'#', b'\t', 0x0B, 0x00, 0x01, 0x7F, 0x80, 0xAC, 0xFF];
        for len in 0..24 {
            for &filler in &fillers {
                for special in [None, Some(b','), Some(b'\n'), Some(b'"')] {
                    for at in 0..len.max(1) {
                        let mut data = vec![filler; len];
                        if let (Some(b), true) = (special, at < len) {
                            data[at] = b;
                        }
                        for from in 0..=len {
                            let naive = (from..len).find(|&i| matches!(data[i], b',' | b'\n' | b'"')).unwrap_or(len);
                            assert_eq!(next_special(&data, from), naive, "{data:?} from {from}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn quoting_line_ends_and_blank_lines() {
        let got = records("a,b\r\n\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\n\nlast,").unwrap();
        assert_eq!(
            got,
            vec![
                row(1, &["a", "b"]),
                row(3, &["x,1", "say \"hi\""]),
                row(4, &["multi\nline", "z"]),
                row(7, &["last", ""]),
            ]
        );
    }

    #[test]
    fn a_lone_carriage_return_is_data_and_no_final_newline_is_fine() {
        assert_eq!(records("a\rb,c").unwrap(), vec![row(1, &["a\rb", "c"])]);
        assert_eq!(records("\"a\"\r\n").unwrap(), vec![row(1, &["a"])]);
    }

    #[test]
    fn malformed_quotes_are_flagged_not_fatal() {
        assert_eq!(
            records("5\" screen,x\n\"ab\"c,y\n").unwrap(),
            vec![row(1, &["!5\" screen", "x"]), row(2, &["!ab\"c", "y"])]
        );
    }

    #[test]
    fn an_unterminated_quote_is_reported_where_it_opened() {
        let err = records("a,b\nc,\"open\nmore\n").unwrap_err();
        assert_eq!(err, Unterminated { at: 6, newlines_before: 1 });
    }

    #[test]
    fn extra_fields_are_counted_beyond_the_limit() {
        let data = b"a,b,c,d\n";
        let mut cursor = Cursor::new(data, 0, 2);
        let mut fields = Vec::new();
        let (_, count) = cursor.read_record(&mut fields).unwrap();
        assert_eq!((fields.len(), count), (2, 4));
    }

    /// Every record of `data` read from `from` (word by word where it can be, or only field by
    /// field), told as text: where each starts and its line ends before, its fields and field
    /// count, and where the cursor ends; or the unterminated quote.
    fn all_records(data: &[u8], from: usize, columns_max: usize, by_words: bool) -> Vec<String> {
        let mut cursor = Cursor::new(data, from, columns_max);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while cursor.skip_blank_lines(data.len()) {
            let start = cursor.pos;
            match cursor.read_record_with(&mut fields, by_words) {
                Ok((at, count)) => {
                    let (before, len, newlines) = (at.newlines_before, at.len, cursor.newlines);
                    let end = cursor.pos;
                    out.push(format!("at {start}+{len} after {before}: {count} {fields:?}, to {end} after {newlines}"));
                }
                Err(open) => {
                    out.push(format!("{open:?}"));
                    break;
                }
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Records read a word at a time where they can be are read exactly as field by field:
        /// any bytes (quotes anywhere, `\r` alone or before `\n`, the bytes one above each
        /// special byte, which word arithmetic can mistake for one), from any position, with
        /// any column limit.
        #[test]
        fn plain_records_read_as_field_by_field_does(
            data in proptest::collection::vec(
                proptest::sample::select(b"ab,,,\n\n\r\"-#\x0b\x01\xff".to_vec()), 0..120),
            from in 0usize..16,
            columns_max in 1usize..6,
        ) {
            let from = from.min(data.len());
            proptest::prop_assert_eq!(
                all_records(&data, from, columns_max, true),
                all_records(&data, from, columns_max, false)
            );
        }

        /// Well-formed records (fields quoted where they hold a quote, a comma or a line
        /// end, or are a record's only field and empty) read as the `csv` crate reads them:
        /// empty fields anywhere, `\n` or `\r\n` after each record, and the last line end
        /// there or not.
        #[test]
        fn well_formed_records_read_as_the_csv_crate_does(
            records in proptest::collection::vec((
                proptest::collection::vec(
                    proptest::collection::vec(proptest::sample::select(b"ab-#,\"\n\r1".to_vec()), 0..12), 1..6),
                proptest::bool::ANY,
            ), 1..8),
            last_line_end in proptest::bool::ANY,
        ) {
            let mut data = Vec::new();
            for (k, (record, crlf)) in records.iter().enumerate() {
                let fields: Vec<Vec<u8>> = record.iter().map(|field| {
                    let alone_and_empty = record.len() == 1 && field.is_empty();
                    if field.iter().any(|b| b",\"\n\r".contains(b)) || alone_and_empty {
                        let mut quoted = vec![b'"'];
                        for &b in field {
                            quoted.extend(if b == b'"' { &b"\"\""[..] } else { std::slice::from_ref(&b) });
                        }
                        quoted.push(b'"');
                        quoted
                    } else {
                        field.clone()
                    }
                }).collect();
                data.extend(fields.join(&b","[..]));
                if k + 1 < records.len() || last_line_end {
                    data.extend(if *crlf { &b"\r\n"[..] } else { b"\n" });
                }
            }
            let arena = bumpalo::Bump::new();
            let mut cursor = Cursor::new(&data, 0, 64);
            let mut spans = Vec::new();
            let mut ours = Vec::new();
            while cursor.skip_blank_lines(data.len()) {
                cursor.read_record(&mut spans).expect("terminated");
                ours.push(spans.iter().map(|s| field_bytes(&data, *s, &arena).to_vec()).collect::<Vec<_>>());
            }
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&data[..]);
            let theirs: Vec<Vec<Vec<u8>>> = reader
                .byte_records()
                .map(|r| r.expect("well formed").iter().map(<[u8]>::to_vec).collect())
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
