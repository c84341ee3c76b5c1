//! What every fuzz target runs and checks, in one place.
//!
//! Each target calls one function here with its input; so does `core/tests/hostile.rs`, which
//! includes this file with `#[path]` and replays every committed input under
//! `fuzz/regressions/` through the same function. That is why this file uses only `std`,
//! `harmoni` and `serde_json` (a dependency of the core, so its tests can use it too).
//!
//! The checks, beyond "no panic, no hang":
//! - an error is an operating failure of the expected kind (`file`, `limit`, `rulebook`),
//!   never `internal` (a conservation failure) for any input;
//! - strict mode fails at exactly the first reject, with its message, or agrees with the
//!   lenient run when nothing is rejected;
//! - nothing is lost: rows read = rows used + rows rejected per file, each reject listed once,
//!   no rejected row named by a finding, every kept allocation in `balances.csv`;
//! - conservation recomputed from the public report (per program: allocated = remaining +
//!   settled (net), the debits = settled + held, settlement sums to settled (net), ...);
//! - outputs sorted as SPEC states, and `summary.json` naming the digests of the other files;
//! - the differential target: threads 1 and 4 give byte-identical files, and the same rows in
//!   reverse order give the same report but for line numbers and digests (its comparison with
//!   the sequential reference is in `case.rs`, which needs the structured case).

use std::collections::{BTreeMap, BTreeSet};

use harmoni::{reconcile, Error, Inputs, Options, Report, Rulebook, Source};

/// The fixed valid rulebook the CSV targets run with: both programs, every rule switched on.
pub const RULEBOOK: &str = r#"{
  "currency_scale": 2,
  "timezone": "+07:00",
  "near_duplicate_seconds": 60,
  "velocity": { "max_debits": 3, "window_seconds": 3600 },
  "bulk_drain": { "min_cards": 2, "window_seconds": 1800, "drain_ratio": "0.9" },
  "programs": [
    { "code": "BPNTD", "name": "Bantuan Pangan Non Tunai Daerah",
      "channels": ["pos", "qr"], "mcc": ["5411", "5499"], "max_debit": "300000",
      "registered_merchants_only": true, "per_household": true },
    { "code": "ASLUT", "name": "Asistensi Lanjut Usia" }
  ]
}
"#;

/// A valid allocations.csv for [`RULEBOOK`].
pub const ALLOCATIONS: &str = "\
card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount
C1,3571000000000001,KK1,BPNTD,2022-08-01,2022-08-31,200000
C1,3571000000000001,KK1,ASLUT,2022-08-01,2022-08-31,300000.50
C2,3571000000000002,KK1,BPNTD,2022-08-01,2022-08-31,200000
C2,3571000000000002,KK1,BPNTD,2022-08-01,2022-08-31,200000
C3,3571000000000001,,ASLUT,2022-08-10,2022-08-20,100000
";

/// A valid debits.csv for [`RULEBOOK`]: debits, a reversal, a duplicate, a conflict.
pub const DEBITS: &str = "\
txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc
T1,debit,,C1,BPNTD,150000,2022-08-06T10:15:00+07:00,M1,EDC1,pos,5411,1
T2,,,C1,BPNTD,100000,2022-08-07 10:15:00,M1,EDC1,pos,5411,2
R1,reversal,T1,C1,BPNTD,50000.00,2022-08-08T00:00:00Z,,,,,
T3,debit,,C2,BPNTD,200000,2022-08-06T10:20:00+07:00,M1,EDC1,qr,5499,
T4,debit,,C3,ASLUT,100000,2022-08-12T03:25:00Z,ATM9,ATM9,atm,,
T4,debit,,C3,ASLUT,100000,2022-08-12T03:25:00Z,ATM9,ATM9,atm,,
T5,debit,,C1,ASLUT,10,2022-08-12T03:25:00Z,M2,EDC2,pos,,7
T5,debit,,C1,ASLUT,11,2022-08-12T03:25:00Z,M2,EDC2,pos,,7
";

/// A valid merchants.csv for [`RULEBOOK`].
pub const MERCHANTS: &str = "\
merchant_id,programs
M1,BPNTD;ASLUT
M2,
M1,BPNTD
";

/// Which input file a target feeds with its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// allocations.csv
    Allocations,
    /// debits.csv
    Debits,
    /// merchants.csv
    Merchants,
}

impl Role {
    /// The role's file name, as reports show it.
    pub fn file(self) -> &'static str {
        match self {
            Role::Allocations => "allocations.csv",
            Role::Debits => "debits.csv",
            Role::Merchants => "merchants.csv",
        }
    }

    /// The fuzz target (and folder under `fuzz/regressions/`) of this role.
    pub fn target(self) -> &'static str {
        match self {
            Role::Allocations => "allocations_csv",
            Role::Debits => "debits_csv",
            Role::Merchants => "merchants_csv",
        }
    }

    /// The columns of SPEC, in SPEC order: a reject names one of these, or none.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Role::Allocations => {
                &["card_id", "beneficiary_id", "household_id", "program", "valid_from", "valid_to", "amount"]
            }
            Role::Debits => &[
                "txn_id",
                "type",
                "original_txn_id",
                "card_id",
                "program",
                "amount",
                "timestamp",
                "merchant_id",
                "terminal_id",
                "channel",
                "mcc",
                "atc",
            ],
            Role::Merchants => &["merchant_id", "programs"],
        }
    }

    fn of_file(file: &str) -> Option<Role> {
        [Role::Allocations, Role::Debits, Role::Merchants].into_iter().find(|r| r.file() == file)
    }
}

/// The fixed rulebook, parsed.
pub fn fixed_rulebook() -> Rulebook {
    Rulebook::from_json("rulebook.json", RULEBOOK.as_bytes()).expect("the fixed rulebook is valid")
}

/// The fixed valid files, with `bytes` in place of the file of `role`.
pub fn inputs_with(role: Role, bytes: &[u8]) -> Inputs {
    let file = |r: Role, text: &str| {
        Source::from_bytes(r.file(), if r == role { bytes.to_vec() } else { text.as_bytes().to_vec() })
    };
    Inputs {
        allocations: file(Role::Allocations, ALLOCATIONS),
        debits: file(Role::Debits, DEBITS),
        merchants: Some(file(Role::Merchants, MERCHANTS)),
    }
}

/// Target `allocations_csv`, `debits_csv` or `merchants_csv`: `bytes` as that file, the
/// others fixed and valid.
pub fn csv_file(role: Role, bytes: &[u8]) {
    let rulebook = fixed_rulebook();
    let _ = run_and_check(&rulebook, &inputs_with(role, bytes), 1);
}

/// Target `rulebook`: `bytes` as the rulebook; a rulebook that reads is run on the fixed
/// files.
pub fn rulebook(bytes: &[u8]) {
    match Rulebook::from_json("rulebook.json", bytes) {
        Ok(rulebook) => {
            check_rulebook(&rulebook);
            let inputs = inputs_with(Role::Allocations, ALLOCATIONS.as_bytes());
            let _ = run_and_check(&rulebook, &inputs, 1);
        }
        Err(e) => {
            assert!(matches!(e.code(), "rulebook" | "limit"), "unexpected error kind for a rulebook: {e:?}");
            assert_eq!(e.location().map(|at| at.file.as_str()), Some("rulebook.json"), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}

fn check_rulebook(rulebook: &Rulebook) {
    let codes: Vec<&str> = rulebook.programs().iter().map(|p| p.code()).collect();
    assert!(!codes.is_empty() && codes.len() <= harmoni::limits::PROGRAMS_MAX, "{} programs", codes.len());
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "program codes sorted and unique: {codes:?}");
    for code in &codes {
        let ok = !code.is_empty()
            && code.len() <= harmoni::limits::ID_BYTES_MAX
            && code.bytes().all(|b| (0x20..=0x7E).contains(&b) && b != b';');
        assert!(ok, "program code {code:?} is not an id without ';'");
    }
    assert!(rulebook.currency_scale() <= harmoni::limits::CURRENCY_SCALE_MAX);
}

/// The bytes of allocations.csv, debits.csv and (when there is one) merchants.csv.
pub type Files = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// One input of the differential target, rendered: the rulebook and the files as bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// rulebook.json
    pub rulebook: Vec<u8>,
    /// allocations.csv
    pub allocations: Vec<u8>,
    /// debits.csv
    pub debits: Vec<u8>,
    /// merchants.csv, when there is one.
    pub merchants: Option<Vec<u8>>,
    /// The same rows in another order (allocations, debits, merchants), when the case asks
    /// for the reordering check.
    pub reordered: Option<Files>,
}

/// The marker line that starts each part of a rendered case in a committed regression file.
const PART: &str = "#### harmoni-fuzz part: ";

impl Rendered {
    /// One text file holding every part (how `differential` regressions are committed, so a
    /// test can replay them without the `arbitrary` crate).
    pub fn to_bundle(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut part = |name: &str, bytes: &[u8]| {
            out.extend_from_slice(format!("{PART}{name} {}\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.push(b'\n');
        };
        part("rulebook.json", &self.rulebook);
        part("allocations.csv", &self.allocations);
        part("debits.csv", &self.debits);
        if let Some(m) = &self.merchants {
            part("merchants.csv", m);
        }
        if let Some((a, d, m)) = &self.reordered {
            part("reordered/allocations.csv", a);
            part("reordered/debits.csv", d);
            if let Some(m) = m {
                part("reordered/merchants.csv", m);
            }
        }
        out
    }

    /// Reads [`Rendered::to_bundle`]'s format back.
    pub fn from_bundle(mut bytes: &[u8]) -> Option<Rendered> {
        let mut parts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        while bytes.iter().any(|b| !b.is_ascii_whitespace()) {
            let end = bytes.iter().position(|&b| b == b'\n')?;
            let head = std::str::from_utf8(&bytes[..end]).ok()?.strip_prefix(PART)?;
            let (name, len) = head.rsplit_once(' ')?;
            let len: usize = len.parse().ok()?;
            let body = bytes.get(end + 1..end + 1 + len)?;
            parts.insert(name.to_owned(), body.to_vec());
            bytes = bytes.get(end + 2 + len..)?;
        }
        let reordered = match parts.remove("reordered/allocations.csv") {
            Some(a) => Some((a, parts.remove("reordered/debits.csv")?, parts.remove("reordered/merchants.csv"))),
            None => None,
        };
        Some(Rendered {
            rulebook: parts.remove("rulebook.json")?,
            allocations: parts.remove("allocations.csv")?,
            debits: parts.remove("debits.csv")?,
            merchants: parts.remove("merchants.csv"),
            reordered,
        })
    }

    fn inputs(allocations: &[u8], debits: &[u8], merchants: Option<&Vec<u8>>) -> Inputs {
        Inputs {
            allocations: Source::from_bytes("allocations.csv", allocations.to_vec()),
            debits: Source::from_bytes("debits.csv", debits.to_vec()),
            merchants: merchants.map(|m| Source::from_bytes("merchants.csv", m.clone())),
        }
    }
}

/// Target `differential`: threads 1 and 4 give byte-identical files; the checks of
/// [`run_and_check`] hold; the reordered rows (if any) give the same report but for lines.
/// Returns the report of the run with one thread, when there is one.
pub fn differential(case: &Rendered) -> Option<Report> {
    let rulebook = match Rulebook::from_json("rulebook.json", &case.rulebook) {
        Ok(r) => r,
        Err(e) => {
            assert!(matches!(e.code(), "rulebook" | "limit"), "{e:?}");
            return None;
        }
    };
    let inputs = Rendered::inputs(&case.allocations, &case.debits, case.merchants.as_ref());
    let one = run_and_check(&rulebook, &inputs, 1);
    let four = run(&rulebook, &inputs, 4, false);
    match (&one, &four) {
        (Ok(a), Ok(b)) => {
            assert!(a.files() == b.files(), "threads 1 and 4 gave different files");
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "threads 1 and 4 failed differently"),
        _ => panic!("threads 1 and 4 disagree: {one:?} / {four:?}"),
    }
    if let Some((a, d, m)) = &case.reordered {
        let other = run(&rulebook, &Rendered::inputs(a, d, m.as_ref()), 1, false);
        match (&one, &other) {
            (Ok(x), Ok(y)) => assert_eq!(without_lines(x), without_lines(y), "reordering rows changed the report"),
            (Err(x), Err(y)) => assert_eq!(x.code(), y.code(), "reordering rows changed the error: {x} / {y}"),
            _ => panic!("reordering rows changed the outcome: {one:?} / {other:?}"),
        }
    }
    one.ok()
}

/// A report with line numbers and input digests taken out, findings and rejects as sorted
/// multisets: what must not change when input rows are reordered.
fn without_lines(report: &Report) -> String {
    let mut summary = report.summary.clone();
    for input in &mut summary.inputs {
        input.sha256.clear();
    }
    let mut findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}|{}|{}|{}|{}", f.rule, f.txn_id, f.card_id, f.program, f.detail))
        .collect();
    findings.sort();
    let mut rejects: Vec<String> =
        report.rejects.iter().map(|r| format!("{}|{}|{}", r.file, r.column, r.reason)).collect();
    rejects.sort();
    format!("{summary:#?}\n{findings:#?}\n{rejects:#?}\n{:#?}\n{:#?}", report.settlement, report.balances)
}

/// Runs once with `threads`.
pub fn run(rulebook: &Rulebook, inputs: &Inputs, threads: usize, strict: bool) -> Result<Report, Error> {
    reconcile(rulebook, inputs, &Options { threads, strict, ..Options::default() })
}

/// Runs lenient and strict, and checks everything this module's header lists.
pub fn run_and_check(rulebook: &Rulebook, inputs: &Inputs, threads: usize) -> Result<Report, Error> {
    let lenient = run(rulebook, inputs, threads, false);
    let strict = run(rulebook, inputs, threads, true);
    match &lenient {
        Ok(report) => {
            check_report(rulebook, inputs, report);
            match (report.rejects.first(), &strict) {
                (None, Ok(again)) => assert!(again == report, "strict and lenient reports differ"),
                (None, Err(e)) => panic!("strict failed with no reject: {e:?}"),
                (Some(first), Err(Error::BadRow { at, reason })) => {
                    assert_eq!(at.file, first.file, "strict stops in another file");
                    assert_eq!(at.line, Some(first.line), "strict stops at another line");
                    let column = (!first.column.is_empty()).then(|| first.column.to_owned());
                    assert_eq!(at.column, column, "strict names another column");
                    assert_eq!(reason, first.reason, "strict gives another reason");
                }
                (Some(first), other) => panic!("strict should stop at {first:?}, got {other:?}"),
            }
        }
        Err(e) => {
            assert!(matches!(e.code(), "file" | "limit"), "unexpected error kind: {e:?}");
            let at = e.location().expect("a file or limit error names its file");
            let names: Vec<&str> = [Some(&inputs.allocations), Some(&inputs.debits), inputs.merchants.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| s.name())
                .collect();
            assert!(names.contains(&at.file.as_str()), "the error names an unknown file: {e:?}");
            match &strict {
                Ok(_) => panic!("strict succeeded where lenient failed with {e:?}"),
                Err(Error::BadRow { .. }) => {}
                Err(s) => assert_eq!(s.to_string(), e.to_string(), "strict and lenient fail differently"),
            }
        }
    }
    lenient
}

/// A sum of amounts in minor units; `None` once it leaves `i128` (then the check is skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Minor(Option<i128>);

impl Minor {
    const ZERO: Minor = Minor(Some(0));

    fn of(m: &harmoni::Money) -> Minor {
        Minor(m.minor_units())
    }

    fn plus(self, m: &harmoni::Money) -> Minor {
        Minor(self.0.zip(m.minor_units()).and_then(|(a, b)| a.checked_add(b)))
    }

    fn minus(self, m: &harmoni::Money) -> Minor {
        Minor(self.0.zip(m.minor_units()).and_then(|(a, b)| a.checked_sub(b)))
    }

    /// Asserts `self == other` when both are known.
    fn assert_eq(self, other: Minor, what: &str) {
        if let (Some(a), Some(b)) = (self.0, other.0) {
            assert_eq!(a, b, "{what}");
        }
    }
}

/// Conservation, bookkeeping and ordering of one report, from its public parts.
pub fn check_report(rulebook: &Rulebook, inputs: &Inputs, report: &Report) {
    check_rows(inputs, report);
    check_order(report);
    check_conservation(rulebook, report);
    check_files(report);
}

fn check_rows(inputs: &Inputs, report: &Report) {
    let s = &report.summary;
    let expected: Vec<&str> = if inputs.merchants.is_some() {
        vec!["allocations.csv", "debits.csv", "merchants.csv"]
    } else {
        vec!["allocations.csv", "debits.csv"]
    };
    let files: Vec<&str> = s.inputs.iter().map(|i| i.file.as_str()).collect();
    assert_eq!(files, expected, "one summary entry per input file");
    let mut rejected_lines: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for r in &report.rejects {
        let role = Role::of_file(r.file).unwrap_or_else(|| panic!("reject of an unknown file: {r:?}"));
        assert!(r.column.is_empty() || role.columns().contains(&r.column), "unknown column in {r:?}");
        assert!(!r.reason.is_empty(), "a reject without a reason: {r:?}");
        assert!(r.line >= 2, "a reject on the header line: {r:?}");
        assert!(rejected_lines.entry(r.file).or_default().insert(r.line), "a row rejected twice: {r:?}");
    }
    for input in &s.inputs {
        let rejected = rejected_lines.get(input.file.as_str()).map_or(0, |l| l.len() as u64);
        assert_eq!(input.rows_rejected, rejected, "{}: rows_rejected = rejects listed", input.file);
        assert!(input.rows_rejected <= input.rows_read, "{}: more rejected than read", input.file);
    }
    let count = |rule: &str| report.findings.iter().filter(|f| f.rule.as_str() == rule).count() as u64;
    let used = |file: &str| s.inputs.iter().find(|i| i.file == file).map(|i| i.rows_read - i.rows_rejected);
    // Every allocation row used is kept (balances.csv) or an identical copy (a finding).
    let kept = report.balances.len() as u64 + count("DUPLICATE_ALLOCATION");
    assert_eq!(used("allocations.csv"), Some(kept), "allocations: rows used = kept + duplicate copies");
    // Every debits.csv row used is a debit counted in the summary, an applied reversal, a
    // reversal named by a finding, or a dropped copy. Conflicting reversals are the slack.
    let debits: u64 = s.programs.iter().map(|p| p.debits + p.reversals_applied).sum();
    let low = debits + count("ORPHAN_REVERSAL") + count("REVERSAL_EXCEEDS") + count("DUPLICATE_TXN");
    let used_debits = used("debits.csv").expect("debits.csv is summarized");
    assert!(
        (low..=low + count("CONFLICTING_TXN")).contains(&used_debits),
        "debits.csv: {used_debits} rows used, accounted for {low} (+ up to {} conflicting reversals)",
        count("CONFLICTING_TXN")
    );
    for f in &report.findings {
        let file = match f.subject() {
            harmoni::Subject::Allocation => "allocations.csv",
            harmoni::Subject::Debit => "debits.csv",
        };
        let rejected = rejected_lines.get(file).is_some_and(|l| l.contains(&f.line));
        assert!(!rejected, "a finding names a rejected row: {f:?}");
    }
}

fn check_order(report: &Report) {
    let findings =
        || report.findings.iter().map(|f| (f.subject(), f.card_id, f.program, f.txn_id, f.rule.as_str(), f.line));
    assert!(findings().zip(findings().skip(1)).all(|(x, y)| x <= y), "findings out of order");
    let settlement_key = |s: &harmoni::Settlement| (s.merchant_id.clone(), s.program.clone());
    assert!(
        report.settlement.windows(2).all(|w| settlement_key(&w[0]) < settlement_key(&w[1])),
        "settlement out of order or repeated"
    );
    let balance_keys: Vec<_> =
        report.balances.iter().map(|b| (b.card_id, b.program, b.valid_to, b.valid_from)).collect();
    assert!(balance_keys.windows(2).all(|w| w[0] <= w[1]), "balances out of order");
    let reject_keys: Vec<_> = report.rejects.iter().map(|r| (r.file, r.line)).collect();
    assert!(reject_keys.windows(2).all(|w| w[0] < w[1]), "rejects out of order");
}

fn check_conservation(rulebook: &Rulebook, report: &Report) {
    let s = &report.summary;
    let codes: Vec<&str> = s.programs.iter().map(|p| p.program.as_str()).collect();
    let expected: Vec<&str> = rulebook.programs().iter().map(|p| p.code()).collect();
    assert_eq!(codes, expected, "every rulebook program in the summary, by code");
    let mut totals = [Minor::ZERO; 4];
    for p in &s.programs {
        let what = |rule: &str| format!("program {}: {rule}", p.program);
        Minor::of(&p.remaining)
            .plus(&p.settled)
            .assert_eq(Minor::of(&p.allocated), &what("allocated = remaining + settled"));
        Minor::of(&p.settled_gross).minus(&p.reversed_settled).assert_eq(Minor::of(&p.settled), &what("settled net"));
        Minor::of(&p.held_gross).minus(&p.reversed_held).assert_eq(Minor::of(&p.held), &what("held net"));
        assert_eq!(p.debits, p.debits_settled + p.debits_held, "{}", what("debits = settled + held"));
        for m in [&p.remaining, &p.settled, &p.held, &p.reversed_settled, &p.reversed_held] {
            assert!(m.minor_units().is_none_or(|v| v >= 0), "{}", what("no negative amount"));
        }
        assert!(p.remaining <= p.allocated, "{}", what("remaining <= allocated"));
        let balances: Vec<harmoni::Balance> = report.balances.iter().filter(|b| b.program == p.program).collect();
        assert_eq!(p.allocations, balances.len() as u64, "{}", what("allocations = balances rows"));
        let (mut allocated, mut remaining) = (Minor::ZERO, Minor::ZERO);
        for b in &balances {
            assert!(b.remaining <= b.allocated && b.remaining.minor_units().is_none_or(|v| v >= 0), "{b:?}");
            Minor::of(&b.allocated).minus(&b.remaining).assert_eq(Minor::of(&b.spent), "spent = allocated - remaining");
            allocated = allocated.plus(&b.allocated);
            remaining = remaining.plus(&b.remaining);
        }
        allocated.assert_eq(Minor::of(&p.allocated), &what("allocated = sum of balances"));
        remaining.assert_eq(Minor::of(&p.remaining), &what("remaining = sum of balances"));
        let settlement: Vec<&harmoni::Settlement> =
            report.settlement.iter().filter(|x| x.program == p.program).collect();
        let settled = settlement.iter().fold(Minor::ZERO, |acc, x| acc.plus(&x.amount));
        settled.assert_eq(Minor::of(&p.settled), &what("settled = sum of settlement"));
        let settled_debits: u64 = settlement.iter().map(|x| x.debits).sum();
        assert_eq!(settled_debits, p.debits_settled, "{}", what("settlement debits = debits settled"));
        let reversals: u64 = settlement.iter().map(|x| x.reversals).sum();
        assert!(reversals <= p.reversals_applied, "{}", what("settlement reversals <= reversals applied"));
        let mut per_rule: BTreeMap<String, u64> = BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.program == p.program) {
            *per_rule.entry(f.rule.as_str().to_owned()).or_default() += 1;
        }
        assert_eq!(per_rule, p.findings, "{}", what("findings per rule"));
        for (k, m) in [&p.allocated, &p.settled, &p.held, &p.remaining].into_iter().enumerate() {
            totals[k] = totals[k].plus(m);
        }
    }
    let t = &s.totals;
    totals[0].assert_eq(Minor::of(&t.allocated), "totals: allocated");
    totals[1].assert_eq(Minor::of(&t.settled), "totals: settled");
    totals[2].assert_eq(Minor::of(&t.held), "totals: held");
    totals[3].assert_eq(Minor::of(&t.remaining), "totals: remaining");
    assert_eq!(t.debits, s.programs.iter().map(|p| p.debits).sum::<u64>(), "totals: debits");
    assert_eq!(t.findings.values().sum::<u64>(), report.findings.len() as u64, "totals: findings");
}

fn check_files(report: &Report) {
    let files = report.files();
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    assert_eq!(names, ["balances.csv", "findings.csv", "rejects.csv", "settlement.csv", "summary.json"]);
    let summary: serde_json::Value = serde_json::from_slice(&files[4].bytes).expect("summary.json is JSON");
    for f in &files[..4] {
        assert_eq!(
            summary["outputs"][f.name].as_str(),
            Some(harmoni::sha256_hex(&f.bytes).as_str()),
            "summary.json names the digest of {}",
            f.name
        );
        let lines = f.bytes.iter().filter(|&&b| b == b'\n').count();
        assert!(f.bytes.ends_with(b"\n") && lines >= 1, "{} ends with a line end", f.name);
    }
    for input in &report.summary.inputs {
        let entry = &summary["inputs"][input.file.as_str()];
        assert_eq!(entry["rows_read"].as_u64(), Some(input.rows_read), "summary.json rows_read");
        assert_eq!(entry["rows_rejected"].as_u64(), Some(input.rows_rejected), "summary.json rows_rejected");
    }
}
