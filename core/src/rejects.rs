//! Rejected rows, kept compact.
//!
//! A damaged or hostile file can be nothing but bad rows of two bytes each (`x` and a line
//! end), and SPEC lists every one in `rejects.csv`. So a rejected row takes 16 bytes, and
//! rows that fail the same way share one reason text. A reason that quotes the row's own
//! value (`unknown program '…'`) is a text of its own: 16 bytes more and its characters, all
//! texts back to back in one buffer. Only the first [`SHARED_REASONS_MAX`] distinct texts are
//! looked up for sharing, so that a file of distinct reasons does not build a map of them.

use std::collections::HashMap;

use crate::ingest::FileKind;
use crate::rows;

/// Every rejected row of a run, sorted by file and line (SPEC order).
///
/// Iterate it (or [`get`](Self::get) one row) to see each as a [`Reject`].
///
/// ```
/// # use harmoni::{reconcile, Inputs, Options, Rulebook, Source};
/// # let rulebook = Rulebook::from_json("rulebook.json", br#"{"programs": [{"code": "BPNTD"}]}"#)?;
/// let inputs = Inputs {
///     allocations: Source::from_bytes("allocations.csv",
///         "card_id,beneficiary_id,program,valid_from,valid_to,amount\nC1,B1,BPNTD,2022-08-01,2022-08-31,-5\n"),
///     debits: Source::from_bytes("debits.csv",
///         "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n"),
///     merchants: None,
/// };
/// let report = reconcile(&rulebook, &inputs, &Options::default())?;
/// let reject = report.rejects.get(0).expect("one bad row");
/// assert_eq!((reject.file, reject.line, reject.column), ("allocations.csv", 2, "amount"));
/// assert!(reject.reason.starts_with("'-5' is not an amount"));
/// # Ok::<(), harmoni::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Rejects {
    rows: Vec<Row>,
    reasons: Texts,
}

/// Distinct reasons looked up for sharing: the common ones come first (a file that fails one
/// way fails so from its first bad rows), and the map stays a few hundred kilobytes.
const SHARED_REASONS_MAX: usize = 4096;

/// Texts back to back in one buffer, each named by its number.
#[derive(Clone, Debug, Default)]
struct Texts {
    text: String,
    /// Where each text starts, and its length.
    spans: Vec<(usize, u32)>,
}

impl Texts {
    fn add(&mut self, text: &str) -> u32 {
        // 2^32 texts would take more than 100 GB here (a row of 2 bytes or more, and 16 bytes
        // for it and 16 for its text's span, each), so memory runs out long before.
        let id = u32::try_from(self.spans.len()).expect("fewer than 2^32 distinct reasons");
        // A reason is one line about one field: its length is far below 2^32.
        let len = u32::try_from(text.len()).expect("a reason is short");
        self.spans.push((self.text.len(), len));
        self.text.push_str(text);
        id
    }

    fn get(&self, id: u32) -> &str {
        let (start, len) = self.spans[id as usize];
        &self.text[start..start + len as usize]
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

/// One rejected row, as `rejects.csv` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reject<'a> {
    /// The file's role name (`debits.csv`).
    pub file: &'static str,
    /// The line where the record starts.
    pub line: u64,
    /// The first failing column (empty when the row as a whole is bad).
    pub column: &'static str,
    /// Why, for a person.
    pub reason: &'a str,
}

/// A rejected row in 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    line: u64,
    /// Number of the reason in `Rejects::reasons`.
    reason: u32,
    file: FileKind,
    /// 0 for none, else 1 + the column's index in the file's SPEC columns.
    column: u8,
}

const _: () = assert!(std::mem::size_of::<Row>() == 16);

impl Rejects {
    /// Rows rejected in one file.
    pub(crate) fn count(&self, file: FileKind) -> u64 {
        self.rows.iter().filter(|r| r.file == file).count() as u64
    }

    /// The first rejected row (in SPEC order).
    pub fn first(&self) -> Option<Reject<'_>> {
        self.get(0)
    }

    /// The first rejected row and its file's kind.
    pub(crate) fn first_of_kind(&self) -> Option<(FileKind, Reject<'_>)> {
        self.rows.first().map(|row| (row.file, self.view(row)))
    }

    fn view(&self, row: &Row) -> Reject<'_> {
        let column = match row.column {
            0 => "",
            c => row.file.columns()[usize::from(c) - 1].0,
        };
        Reject { file: row.file.name(), line: row.line, column, reason: self.reasons.get(row.reason) }
    }
}

/// The rows of [`Rejects`], in SPEC order.
pub type RejectIter<'a> = rows::Iter<'a, Rejects>;

rows::table!(Rejects, Reject, "rejected row");

/// Rejected rows being collected (one chunk of a file, or the whole run): reasons are
/// shared as they come, so a million rows failing the same way keep one text.
#[derive(Default)]
pub(crate) struct Collector {
    rows: Vec<Row>,
    reasons: Texts,
    /// The first [`SHARED_REASONS_MAX`] distinct reasons, to their numbers.
    shared: HashMap<Box<str>, u32, Keyed>,
}

/// ahash with keys drawn per map from std's random source: the texts come from the input, so
/// the keys must be secret (unlike the fixed-seed hashing that shards rows), and std's own
/// SipHash was a third of the time of a file of distinct bad rows.
struct Keyed(ahash::RandomState);

impl Default for Keyed {
    fn default() -> Keyed {
        use std::hash::{BuildHasher, Hasher};
        let std = std::collections::hash_map::RandomState::new();
        let key = |n: u64| {
            let mut hasher = std.build_hasher();
            hasher.write_u64(n);
            hasher.finish()
        };
        Keyed(ahash::RandomState::with_seeds(key(0), key(1), key(2), key(3)))
    }
}

impl std::hash::BuildHasher for Keyed {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

impl Collector {
    /// Adds a row of `file` rejected at `line`, for `column` (an index in the file's SPEC
    /// columns; none when the row as a whole is bad).
    pub(crate) fn push(&mut self, file: FileKind, line: u64, column: Option<usize>, reason: String) {
        let reason = self.intern(&reason);
        let column = column.map_or(0, |c| u8::try_from(c + 1).expect("SPEC files have a few columns"));
        self.rows.push(Row { line, reason, file, column });
    }

    fn intern(&mut self, reason: &str) -> u32 {
        if let Some(&id) = self.shared.get(reason) {
            return id;
        }
        let id = self.reasons.add(reason);
        if self.shared.len() < SHARED_REASONS_MAX {
            self.shared.insert(reason.into(), id);
        }
        id
    }

    /// Moves every row `lines` lines further down (a chunk's lines are counted from its start).
    pub(crate) fn shift_lines(&mut self, lines: u64) {
        for row in &mut self.rows {
            row.line += lines;
        }
    }

    /// Moves `other`'s rows after this one's.
    pub(crate) fn append(&mut self, other: Collector) {
        if self.rows.is_empty() && self.reasons.len() == 0 {
            // Taken whole: a file of nothing but bad rows is not copied.
            *self = other;
            return;
        }
        let theirs: Vec<u32> = (0..other.reasons.len() as u32).map(|id| self.intern(other.reasons.get(id))).collect();
        self.rows.extend(other.rows.into_iter().map(|row| Row { reason: theirs[row.reason as usize], ..row }));
    }

    /// The rows, sorted by file and line.
    pub(crate) fn finish(self) -> Rejects {
        let Collector { mut rows, reasons, .. } = self;
        rows.sort_unstable_by_key(|r| (r.file, r.line));
        Rejects { rows, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(rejects: &Rejects) -> Vec<(&str, u64, &str, &str)> {
        rejects.iter().map(|r| (r.file, r.line, r.column, r.reason)).collect()
    }

    #[test]
    fn rows_failing_the_same_way_share_one_reason() {
        let mut rows = Collector::default();
        for line in 2..1002 {
            rows.push(FileKind::Debits, line, None, "1 field, expected 8 as in the header".to_owned());
        }
        let rejects = rows.finish();
        assert_eq!((rejects.len(), rejects.reasons.len()), (1000, 1));
        assert_eq!(rejects.get(999).unwrap().line, 1001);
    }

    #[test]
    fn only_the_first_distinct_reasons_are_looked_up_for_sharing() {
        let mut rows = Collector::default();
        let n = SHARED_REASONS_MAX as u64 + 10;
        for line in 0..n {
            rows.push(FileKind::Merchants, line, Some(1), format!("unknown program '{line:x}'"));
        }
        // The first text is shared; one past the map is stored again.
        rows.push(FileKind::Merchants, n, Some(1), "unknown program '0'".to_owned());
        rows.push(FileKind::Merchants, n + 1, Some(1), format!("unknown program '{:x}'", n - 1));
        let rejects = rows.finish();
        assert_eq!((rejects.len() as u64, rejects.reasons.len() as u64), (n + 2, n + 1));
        assert_eq!(rejects.get(n as usize).unwrap().reason, "unknown program '0'");
        assert_eq!(rejects.get(n as usize + 1).unwrap().reason, rejects.get(n as usize - 1).unwrap().reason);
        assert_eq!(rejects.get(4097).unwrap().reason, "unknown program '1001'");
    }

    #[test]
    fn chunks_append_in_order_with_their_lines_shifted_and_reasons_merged() {
        let mut first = Collector::default();
        first.push(FileKind::Debits, 3, Some(0), "empty, expected an id".to_owned());
        first.push(FileKind::Debits, 5, None, "2 fields".to_owned());
        let mut second = Collector::default();
        second.push(FileKind::Debits, 1, None, "2 fields".to_owned());
        second.push(FileKind::Debits, 2, Some(5), "'x' is not an amount".to_owned());
        second.shift_lines(10);
        let mut allocations = Collector::default();
        allocations.push(FileKind::Allocations, 9, Some(6), "'-5' is not an amount".to_owned());
        allocations.append(first);
        allocations.append(second);
        let rejects = allocations.finish();
        assert_eq!(
            shown(&rejects),
            [
                ("allocations.csv", 9, "amount", "'-5' is not an amount"),
                ("debits.csv", 3, "txn_id", "empty, expected an id"),
                ("debits.csv", 5, "", "2 fields"),
                ("debits.csv", 11, "", "2 fields"),
                ("debits.csv", 12, "amount", "'x' is not an amount"),
            ]
        );
        assert_eq!(rejects.reasons.len(), 4);
        assert_eq!((rejects.count(FileKind::Debits), rejects.count(FileKind::Merchants)), (4, 0));
        assert_eq!(rejects.first_of_kind().map(|(kind, r)| (kind, r.line)), Some((FileKind::Allocations, 9)));
        assert_eq!(rejects.iter().next_back(), rejects.get(4));
    }
}
