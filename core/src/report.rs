//! The report: its public types, the five output files, and writing them as a folder.
//!
//! Rendering is deterministic (rows sorted as SPEC states, amounts with exactly
//! `currency_scale` decimals, `\n` line ends), so the same inputs give byte-identical files.
//! A folder is written to a temporary sibling and renamed into place: a failed run leaves
//! nothing half-written, and an existing folder is never mixed with a new run's files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::finding::Findings;
use crate::money::{Minor, Money};
use crate::parallel;
use crate::rejects::Rejects;
use crate::rows;
use crate::rulebook::ProgramId;
use crate::time::Date;

/// The reconciliation of one cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Totals per program, input and output digests.
    pub summary: Summary,
    /// Every finding, in SPEC order.
    pub findings: Findings,
    /// Net settlement per (merchant, program), in SPEC order.
    pub settlement: Vec<Settlement>,
    /// Every kept allocation with what is left of it, in SPEC order.
    pub balances: Balances,
    /// Every rejected row, in SPEC order.
    pub rejects: Rejects,
}

/// Totals of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Decimals of every amount.
    pub currency_scale: u32,
    /// One entry per rulebook program (zeros where nothing happened), sorted by code.
    pub programs: Vec<ProgramSummary>,
    /// The sum over programs (its `program` is empty).
    pub totals: ProgramSummary,
    /// Per input file (allocations.csv, debits.csv and, when given, merchants.csv).
    pub inputs: Vec<InputSummary>,
    /// SHA-256 of the rulebook's bytes.
    pub rulebook_sha256: String,
}

/// Money and counts of one program (or of all: the totals).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ProgramSummary {
    /// The program code.
    pub program: String,
    /// Sum of kept allocations.
    pub allocated: Money,
    /// Settled debits less the reversals applied to them (net).
    pub settled: Money,
    /// Held debits less the reversals applied to them (net).
    pub held: Money,
    /// What is left on the kept allocations.
    pub remaining: Money,
    /// Settled debits before reversals.
    pub settled_gross: Money,
    /// Held debits (conflicting ones included) before reversals.
    pub held_gross: Money,
    /// Reversals applied to settled debits.
    pub reversed_settled: Money,
    /// Reversals applied to held debits.
    pub reversed_held: Money,
    /// Kept allocations.
    pub allocations: u64,
    /// Debits left after dropping duplicate copies (conflicting ones included).
    pub debits: u64,
    /// Settled debits.
    pub debits_settled: u64,
    /// Held debits.
    pub debits_held: u64,
    /// Reversals applied.
    pub reversals_applied: u64,
    /// Findings per rule code (only rules that fired).
    pub findings: BTreeMap<String, u64>,
}

/// Rows and digest of one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSummary {
    /// The file's role name (`debits.csv`), whatever its path.
    pub file: String,
    /// Records read (the header and blank lines are not records).
    pub rows_read: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
}

/// Net settlement of one merchant for one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The merchant.
    pub merchant_id: String,
    /// The program code.
    pub program: String,
    /// Settled debits less the reversals applied to them.
    pub amount: Money,
    /// Settled debits.
    pub debits: u64,
    /// Reversals applied to them.
    pub reversals: u64,
}

/// A kept allocation and what is left of it: a view of one row of [`Balances`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance<'a> {
    /// The card.
    pub card_id: &'a str,
    /// The program code.
    pub program: &'a str,
    /// First valid day.
    pub valid_from: Date,
    /// Last valid day.
    pub valid_to: Date,
    /// The allocation's amount.
    pub allocated: Money,
    /// Drawn by settled debits, less what reversals gave back.
    pub spent: Money,
    /// `allocated - spent`.
    pub remaining: Money,
}

/// Every kept allocation with what is left of it, in SPEC order of balances.csv, read as
/// [`Balance`] views.
///
/// There is one row per kept allocation (1.26 million at 10 million debits), so rows are
/// packed as [`Findings`] are: 64 bytes each and the card ids in one text, where a row of
/// owned strings and three [`Money`] values took about 270 bytes with its strings, and two
/// allocations (making them was most of the report stage's time).
#[derive(Clone, Default)]
pub struct Balances {
    rows: Vec<Kept>,
    /// The card ids, one after the other.
    text: String,
    /// Program codes by [`ProgramId`].
    programs: Vec<Box<str>>,
    scale: u32,
}

/// One kept allocation: what [`Balance`] shows, with its card id in the text of its table.
#[derive(Clone, Copy, Debug)]
struct Kept {
    allocated: Minor,
    remaining: Minor,
    /// Where the card id starts.
    card: usize,
    card_len: u32,
    valid_from: Date,
    valid_to: Date,
    program: ProgramId,
}

// 1.26 million of them at 10 million debits.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Kept>() == 64);

impl Balances {
    /// No rows yet, for a rulebook whose program codes are `programs` (by id) and whose
    /// amounts have `scale` decimals.
    pub(crate) fn new(programs: Vec<Box<str>>, scale: u32) -> Balances {
        Balances { rows: Vec::new(), text: String::new(), programs, scale }
    }

    /// Adds a row after the others: an allocation of `allocated` minor units of which
    /// `remaining` is left.
    pub(crate) fn push(
        &mut self,
        card: &[u8],
        program: ProgramId,
        valid: (Date, Date),
        allocated: Minor,
        remaining: Minor,
    ) {
        let start = self.text.len();
        crate::rows::push_id(&mut self.text, card);
        let card_len = u32::try_from(self.text.len() - start).expect("an id is short");
        let (valid_from, valid_to) = valid;
        self.rows.push(Kept { allocated, remaining, card: start, card_len, valid_from, valid_to, program });
    }

    /// The rows of `parts`, one part after the other (parts of one rulebook's report, whose
    /// programs and scale the first part gives), or none without a part.
    pub(crate) fn concat(parts: Vec<Balances>) -> Option<Balances> {
        let mut parts = parts.into_iter();
        let mut all = parts.next()?;
        let rest: Vec<Balances> = parts.collect();
        all.rows.reserve_exact(rest.iter().map(|p| p.rows.len()).sum());
        all.text.reserve_exact(rest.iter().map(|p| p.text.len()).sum());
        for part in rest {
            let shift = all.text.len();
            all.rows.extend(part.rows.iter().map(|row| Kept { card: row.card + shift, ..*row }));
            all.text.push_str(&part.text);
        }
        Some(all)
    }

    fn view(&self, row: &Kept) -> Balance<'_> {
        Balance {
            card_id: &self.text[row.card..row.card + row.card_len as usize],
            program: &self.programs[usize::from(row.program)],
            valid_from: row.valid_from,
            valid_to: row.valid_to,
            allocated: Money::of(row.allocated, self.scale),
            spent: Money::of(row.allocated - row.remaining, self.scale),
            remaining: Money::of(row.remaining, self.scale),
        }
    }
}

/// The rows of [`Balances`], in SPEC order.
pub type BalanceIter<'a> = rows::Iter<'a, Balances>;

rows::table!(Balances, Balance, "balance");

/// One output file: its name in the folder and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// `summary.json`, `findings.csv`, `settlement.csv`, `balances.csv` or `rejects.csv`.
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Formats values into reused buffers (no allocation per row).
fn format_into<const N: usize>(buffers: &mut [String; N], values: [&dyn std::fmt::Display; N]) {
    for (buffer, value) in buffers.iter_mut().zip(values) {
        buffer.clear();
        let _ = write!(buffer, "{value}");
    }
}

/// Appends a CSV field, quoted only where needed.
fn field(out: &mut String, value: &str) {
    if value.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn row(out: &mut String, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, v);
    }
    out.push('\n');
}

/// Renders CSV rows into a byte sink, one line at a time through a reused buffer.
struct CsvOut<'w> {
    line: String,
    out: &'w mut dyn io::Write,
}

impl CsvOut<'_> {
    fn row(&mut self, values: &[&str]) -> io::Result<()> {
        self.line.clear();
        row(&mut self.line, values);
        self.out.write_all(self.line.as_bytes())
    }
}

/// Rows of balances.csv rendered as one piece of work (about 1.2 MB of text).
const BALANCES_PER_BLOCK: usize = 16_384;

/// The four CSV files, in the order [`Report::files`] lists them; `summary.json` follows.
const CSV_FILES: [&str; 4] = ["balances.csv", "findings.csv", "rejects.csv", "settlement.csv"];

impl Report {
    /// The names of the five output files, in the order [`files`](Self::files) lists them.
    pub const FILE_NAMES: [&'static str; 5] = [CSV_FILES[0], CSV_FILES[1], CSV_FILES[2], CSV_FILES[3], "summary.json"];
}

/// A writer that hashes what it passes on.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: io::Write> io::Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl Report {
    /// The five output files, byte for byte as written to a folder. `summary.json` is last
    /// and holds the SHA-256 of the other four.
    ///
    /// The files are built in memory; [`write`](Self::write) streams them to disk instead.
    /// Either way balances.csv, most of the bytes, is rendered on up to 4 cores (one on
    /// wasm32).
    pub fn files(&self) -> Vec<OutputFile> {
        let mut files = Vec::with_capacity(CSV_FILES.len() + 1);
        let digests = self
            .render_csvs(
                |name| Ok(Vec::with_capacity(self.csv_size_hint(name))),
                |name, bytes| {
                    files.push(OutputFile { name, bytes });
                    Ok(())
                },
            )
            .expect("rendering into memory cannot fail");
        files.push(OutputFile { name: "summary.json", bytes: self.summary_json(&digests).into_bytes() });
        files
    }

    /// Writes the five files into `dir`, which must not exist (or be empty) unless
    /// `replace` is set. The files are written to a temporary sibling folder first and
    /// renamed into place, so `dir` is never half-written.
    ///
    /// Each CSV file is rendered straight to disk and hashed as it goes, so memory does
    /// not grow with the size of the output (balances.csv is rendered on up to 4 cores, one
    /// block of 16,384 rows each at a time).
    pub fn write(&self, dir: &Path, replace: bool) -> Result<(), Error> {
        write_folder_with(dir, replace, |temp| {
            let digests = self.render_csvs(
                |name| Ok(io::BufWriter::with_capacity(1 << 16, std::fs::File::create(temp.join(name))?)),
                |_, out| out.into_inner().map(drop).map_err(io::IntoInnerError::into_error),
            )?;
            std::fs::write(temp.join("summary.json"), self.summary_json(&digests))
        })
    }

    /// What [`write`](Self::write) checks of `dir` before it writes anything: `dir` must not
    /// exist or be empty, unless `replace` is set. A caller that is about to run a long
    /// reconciliation checks this first, so that a folder in the way is told at once rather
    /// than after the run (`write` checks again).
    pub fn check_folder(dir: &Path, replace: bool) -> Result<(), Error> {
        folder_exists(dir, replace).map(drop)
    }

    /// `summary.json` alone, byte for byte as [`files`](Self::files) gives it: the other four
    /// files are rendered only to be hashed, never held in memory.
    pub fn summary_file(&self) -> OutputFile {
        let digests = self.render_csvs(|_| Ok(io::sink()), |_, _| Ok(())).expect("rendering into a sink cannot fail");
        OutputFile { name: "summary.json", bytes: self.summary_json(&digests).into_bytes() }
    }

    /// Renders the four CSV files, each into the writer `open` gives for it, then handed to
    /// `done`; the bytes are hashed on the way. Returns the digests by name, for summary.json.
    fn render_csvs<W: io::Write>(
        &self,
        mut open: impl FnMut(&'static str) -> io::Result<W>,
        mut done: impl FnMut(&'static str, W) -> io::Result<()>,
    ) -> io::Result<BTreeMap<&'static str, String>> {
        let mut digests = BTreeMap::new();
        for name in CSV_FILES {
            let mut out = Hashing { inner: open(name)?, hasher: Sha256::new() };
            self.render_csv(name, &mut out)?;
            digests.insert(name, hex(&out.hasher.finalize()));
            done(name, out.inner)?;
        }
        Ok(digests)
    }

    /// Bytes a CSV file will take, roughly: its vector is sized once.
    fn csv_size_hint(&self, name: &str) -> usize {
        64 + match name {
            "balances.csv" => self.balances.len() * 80,
            "findings.csv" => self.findings.len() * 96,
            "rejects.csv" => self.rejects.len() * 64,
            _ => self.settlement.len() * 48,
        }
    }

    /// Renders one of [`CSV_FILES`] into `out`.
    fn render_csv(&self, name: &str, out: &mut dyn io::Write) -> io::Result<()> {
        let mut out = CsvOut { line: String::new(), out };
        match name {
            "balances.csv" => self.balances_csv(&mut out),
            "findings.csv" => self.findings_csv(&mut out),
            "rejects.csv" => self.rejects_csv(&mut out),
            _ => self.settlement_csv(&mut out),
        }
    }

    fn findings_csv(&self, out: &mut CsvOut<'_>) -> io::Result<()> {
        out.row(&["rule", "action", "subject", "txn_id", "card_id", "program", "line", "detail"])?;
        let mut line = String::new();
        for f in &self.findings {
            line.clear();
            let _ = write!(line, "{}", f.line);
            let (rule, action, subject) = (f.rule.as_str(), f.action().as_str(), f.subject().as_str());
            out.row(&[rule, action, subject, f.txn_id, f.card_id, f.program, &line, f.detail])?;
        }
        Ok(())
    }

    fn settlement_csv(&self, out: &mut CsvOut<'_>) -> io::Result<()> {
        out.row(&["merchant_id", "program", "amount", "debits", "reversals"])?;
        let mut n: [String; 3] = Default::default();
        for s in &self.settlement {
            format_into(&mut n, [&s.amount, &s.debits, &s.reversals]);
            out.row(&[&s.merchant_id, &s.program, &n[0], &n[1], &n[2]])?;
        }
        Ok(())
    }

    /// balances.csv is most of a report's bytes (9 of 11 MB at 1M debits, one row per
    /// allocation), so its rows are rendered in blocks on up to 4 cores, a block each at a time,
    /// and written in order.
    fn balances_csv(&self, out: &mut CsvOut<'_>) -> io::Result<()> {
        out.row(&["card_id", "program", "valid_from", "valid_to", "allocated", "spent", "remaining"])?;
        let threads = parallel::file_threads();
        let blocks = parallel::blocks(self.balances.len(), BALANCES_PER_BLOCK);
        for window in blocks.chunks(threads) {
            let texts = parallel::map(threads, window.to_vec(), |(start, end)| {
                let mut text = String::with_capacity((end - start) * 80);
                for b in self.balances.iter().skip(start).take(end - start) {
                    // Dates and amounts are digits, dashes and points: never quoted.
                    field(&mut text, b.card_id);
                    text.push(',');
                    field(&mut text, b.program);
                    for date in [b.valid_from, b.valid_to] {
                        text.push(',');
                        date.push_to(&mut text);
                    }
                    for amount in [b.allocated, b.spent, b.remaining] {
                        text.push(',');
                        amount.push_to(&mut text);
                    }
                    text.push('\n');
                }
                text
            });
            for text in texts {
                out.out.write_all(text.as_bytes())?;
            }
        }
        Ok(())
    }

    fn rejects_csv(&self, out: &mut CsvOut<'_>) -> io::Result<()> {
        out.row(&["file", "line", "column", "reason"])?;
        let mut n: [String; 1] = Default::default();
        for r in &self.rejects {
            format_into(&mut n, [&r.line]);
            out.row(&[r.file, &n[0], r.column, r.reason])?;
        }
        Ok(())
    }

    fn summary_json(&self, outputs: &BTreeMap<&str, String>) -> String {
        let s = &self.summary;
        let programs: serde_json::Map<String, serde_json::Value> =
            s.programs.iter().map(|p| (p.program.clone(), program_json(p))).collect();
        let inputs: serde_json::Map<String, serde_json::Value> = s
            .inputs
            .iter()
            .map(|i| {
                let value = json!({
                    "rows_read": i.rows_read,
                    "rows_rejected": i.rows_rejected,
                    "rows_used": i.rows_read - i.rows_rejected,
                    "sha256": i.sha256,
                });
                (i.file.clone(), value)
            })
            .collect();
        let value = json!({
            "engine": { "name": "harmoni", "version": env!("CARGO_PKG_VERSION"), "spec": "1.1" },
            "currency_scale": s.currency_scale,
            "programs": programs,
            "totals": program_json(&s.totals),
            "rulebook": { "sha256": s.rulebook_sha256 },
            "inputs": inputs,
            "outputs": outputs,
        });
        let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always serializes");
        text.push('\n');
        text
    }
}

fn program_json(p: &ProgramSummary) -> serde_json::Value {
    json!({
        "allocated": p.allocated.to_string(),
        "settled": p.settled.to_string(),
        "held": p.held.to_string(),
        "remaining": p.remaining.to_string(),
        "settled_gross": p.settled_gross.to_string(),
        "held_gross": p.held_gross.to_string(),
        "reversed_settled": p.reversed_settled.to_string(),
        "reversed_held": p.reversed_held.to_string(),
        "allocations": p.allocations,
        "debits": p.debits,
        "debits_settled": p.debits_settled,
        "debits_held": p.debits_held,
        "reversals_applied": p.reversals_applied,
        "findings": p.findings,
    })
}

/// Writes `files` into a new folder at `dir`, atomically (see [`Report::write`]).
pub fn write_folder(dir: &Path, files: &[OutputFile], replace: bool) -> Result<(), Error> {
    write_folder_with(dir, replace, |temp| {
        for file in files {
            std::fs::write(temp.join(file.name), &file.bytes)?;
        }
        Ok(())
    })
}

/// Whether `dir` exists, once [`Report::check_folder`]'s check has passed.
fn folder_exists(dir: &Path, replace: bool) -> Result<bool, Error> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(Error::Io { path: dir.display().to_string(), source }),
    };
    if !empty && !replace {
        return Err(Error::Output {
            path: dir.display().to_string(),
            reason: "the folder exists and is not empty (choose another, or replace it)".into(),
        });
    }
    Ok(true)
}

/// Creates a temporary sibling of `dir`, lets `fill` write the files into it, then renames it
/// into place (replacing an existing `dir` only when `replace` is set).
fn write_folder_with(dir: &Path, replace: bool, fill: impl FnOnce(&Path) -> io::Result<()>) -> Result<(), Error> {
    let existing = folder_exists(dir, replace)?;
    let shown = dir.display().to_string();
    let io = |source| Error::Io { path: shown.clone(), source };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name =
        dir.file_name().ok_or_else(|| Error::Output { path: shown.clone(), reason: "not a folder name".into() })?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    let temp = parent.join(format!(".{}.tmp-{stamp}", name.to_string_lossy()));
    let result = (|| {
        std::fs::create_dir(&temp).map_err(io)?;
        fill(&temp).map_err(io)?;
        if existing {
            let old = parent.join(format!(".{}.old-{stamp}", name.to_string_lossy()));
            std::fs::rename(dir, &old).map_err(io)?;
            if let Err(e) = std::fs::rename(&temp, dir) {
                // Put the previous folder back: a failed run leaves things as they were.
                let _ = std::fs::rename(&old, dir);
                return Err(io(e));
            }
            // The new folder is in place: failing now would report a run that succeeded. A
            // folder that cannot be removed stays as a hidden `.NAME.old-*` sibling.
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&temp, dir).map_err(io)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_where_needed() {
        let mut out = String::new();
        row(&mut out, &["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n");
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn a_non_empty_folder_is_not_mixed_with_a_new_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let files = [OutputFile { name: "a.csv", bytes: b"x\n".to_vec() }];
        write_folder(&out, &files, false).unwrap();
        assert_eq!(std::fs::read(out.join("a.csv")).unwrap(), b"x\n");
        let err = write_folder(&out, &files, false).unwrap_err();
        assert_eq!(err.code(), "output");
        let other = [OutputFile { name: "b.csv", bytes: b"y\n".to_vec() }];
        write_folder(&out, &other, true).unwrap();
        assert!(!out.join("a.csv").exists() && out.join("b.csv").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary folder is left behind");
    }
}
