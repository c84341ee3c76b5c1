//! The report: its public types, the five output files, and writing them as a folder.
//!
//! Rendering is deterministic (rows sorted as SPEC states, amounts with exactly
//! `currency_scale` decimals, `\n` line ends), so the same inputs give byte-identical files.
//! A folder is written to a temporary sibling and renamed into place: a failed run leaves
//! nothing half-written, and an existing folder is never mixed with a new run's files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::finding::Finding;
use crate::money::Money;
use crate::time::Date;

/// The reconciliation of one cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Totals per program, input and output digests.
    pub summary: Summary,
    /// Every finding, in SPEC order.
    pub findings: Vec<Finding>,
    /// Net settlement per (merchant, program), in SPEC order.
    pub settlement: Vec<Settlement>,
    /// Every kept allocation with what is left of it, in SPEC order.
    pub balances: Vec<Balance>,
    /// Every rejected row, in SPEC order.
    pub rejects: Vec<Reject>,
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

/// A kept allocation and what is left of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The card.
    pub card_id: String,
    /// The program code.
    pub program: String,
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

/// A rejected row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The file's role name (`debits.csv`).
    pub file: String,
    /// The line where the record starts.
    pub line: u64,
    /// The first failing column (empty when the row as a whole is bad).
    pub column: String,
    /// Why, for a person.
    pub reason: String,
}

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
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
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

impl Report {
    /// The five output files, byte for byte as written to a folder. `summary.json` is last
    /// and holds the SHA-256 of the other four.
    pub fn files(&self) -> Vec<OutputFile> {
        let mut files = vec![
            OutputFile { name: "balances.csv", bytes: self.balances_csv().into_bytes() },
            OutputFile { name: "findings.csv", bytes: self.findings_csv().into_bytes() },
            OutputFile { name: "rejects.csv", bytes: self.rejects_csv().into_bytes() },
            OutputFile { name: "settlement.csv", bytes: self.settlement_csv().into_bytes() },
        ];
        let digests: BTreeMap<&str, String> = files.iter().map(|f| (f.name, sha256_hex(&f.bytes))).collect();
        files.push(OutputFile { name: "summary.json", bytes: self.summary_json(&digests).into_bytes() });
        files
    }

    fn findings_csv(&self) -> String {
        let mut out = String::with_capacity(64 + self.findings.len() * 96);
        row(&mut out, &["rule", "action", "subject", "txn_id", "card_id", "program", "line", "detail"]);
        let mut line = String::new();
        for f in &self.findings {
            line.clear();
            let _ = write!(line, "{}", f.line);
            let (rule, action, subject) = (f.rule.as_str(), f.action().as_str(), f.subject().as_str());
            row(&mut out, &[rule, action, subject, &f.txn_id, &f.card_id, &f.program, &line, &f.detail]);
        }
        out
    }

    fn settlement_csv(&self) -> String {
        let mut out = String::with_capacity(64 + self.settlement.len() * 48);
        row(&mut out, &["merchant_id", "program", "amount", "debits", "reversals"]);
        let mut n: [String; 3] = Default::default();
        for s in &self.settlement {
            format_into(&mut n, [&s.amount, &s.debits, &s.reversals]);
            row(&mut out, &[&s.merchant_id, &s.program, &n[0], &n[1], &n[2]]);
        }
        out
    }

    fn balances_csv(&self) -> String {
        let mut out = String::with_capacity(64 + self.balances.len() * 80);
        row(&mut out, &["card_id", "program", "valid_from", "valid_to", "allocated", "spent", "remaining"]);
        let mut n: [String; 5] = Default::default();
        for b in &self.balances {
            format_into(&mut n, [&b.valid_from, &b.valid_to, &b.allocated, &b.spent, &b.remaining]);
            row(&mut out, &[&b.card_id, &b.program, &n[0], &n[1], &n[2], &n[3], &n[4]]);
        }
        out
    }

    fn rejects_csv(&self) -> String {
        let mut out = String::with_capacity(64 + self.rejects.len() * 80);
        row(&mut out, &["file", "line", "column", "reason"]);
        let mut n: [String; 1] = Default::default();
        for r in &self.rejects {
            format_into(&mut n, [&r.line]);
            row(&mut out, &[&r.file, &n[0], &r.column, &r.reason]);
        }
        out
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

    /// Writes the five files into `dir`, which must not exist (or be empty) unless
    /// `replace` is set. The files are written to a temporary sibling folder first and
    /// renamed into place, so `dir` is never half-written.
    pub fn write(&self, dir: &Path, replace: bool) -> Result<(), Error> {
        write_folder(dir, &self.files(), replace)
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
    let shown = dir.display().to_string();
    let io = |source| Error::Io { path: shown.clone(), source };
    let existing = match std::fs::read_dir(dir) {
        Ok(mut entries) => Some(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    if existing == Some(false) && !replace {
        return Err(Error::Output {
            path: shown,
            reason: "the folder exists and is not empty (choose another, or replace it)".into(),
        });
    }
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
        for file in files {
            std::fs::write(temp.join(file.name), &file.bytes).map_err(io)?;
        }
        if existing.is_some() {
            let old = parent.join(format!(".{}.old-{stamp}", name.to_string_lossy()));
            std::fs::rename(dir, &old).map_err(io)?;
            std::fs::rename(&temp, dir).map_err(io)?;
            std::fs::remove_dir_all(&old).map_err(io)?;
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
