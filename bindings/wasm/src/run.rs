//! The JavaScript-free half of the binding: one call of the core, panics caught, and the
//! report turned into what the JS side receives (camelCase JSON for the records, the five
//! output files as text). Kept apart from `wasm_bindgen` so native `cargo test` covers it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use harmoni::{
    Balance, Error, Finding, Inputs, Observer, Options, ProgramSummary, Reject, Report, Rulebook, Settlement,
};
use serde::Serialize;

/// The role names the browser gives the input files: errors and rejects name them so.
pub const RULEBOOK: &str = "rulebook.json";
/// See [`RULEBOOK`].
pub const ALLOCATIONS: &str = "allocations.csv";
/// See [`RULEBOOK`].
pub const DEBITS: &str = "debits.csv";
/// See [`RULEBOOK`].
pub const MERCHANTS: &str = "merchants.csv";

/// Why a call failed, in the shape of the JS `Error` it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `Error::code()`, or `argument` for a JS value of the wrong kind.
    pub code: &'static str,
    /// The message a person reads.
    pub message: String,
    /// The file the error names, where it applies.
    pub file: Option<String>,
    /// The line, where it applies.
    pub line: Option<u64>,
    /// The column (a CSV column name, or a JSON character position), where it applies.
    pub column: Option<String>,
}

impl Failure {
    /// A JS argument of the wrong kind.
    pub fn argument(message: impl Into<String>) -> Failure {
        Failure { code: "argument", message: message.into(), file: None, line: None, column: None }
    }

    /// A panic, caught: reported as the core reports its own bugs.
    pub fn panic(message: &str) -> Failure {
        Failure {
            code: "internal",
            message: format!("internal error (please report it): {message}"),
            file: None,
            line: None,
            column: None,
        }
    }
}

impl From<&Error> for Failure {
    fn from(error: &Error) -> Failure {
        let at = error.location();
        Failure {
            code: error.code(),
            message: error.to_string(),
            file: at.map(|at| at.file.clone()),
            line: at.and_then(|at| at.line),
            column: at.and_then(|at| at.column.clone()),
        }
    }
}

/// One output file as the JS side receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputText {
    /// `summary.json`, `findings.csv`, ...
    pub name: &'static str,
    /// The file's text (its bytes are the UTF-8 encoding, byte-identical to the command line's).
    pub text: String,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

/// The record lists a caller wants as JS objects (the summary and the files always come).
/// Converting a list costs time in proportion to its rows: a page that shows no balances
/// need not pay for 250,000 of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Records {
    /// `Finding[]`.
    pub findings: bool,
    /// `Settlement[]`.
    pub settlement: bool,
    /// `Balance[]`.
    pub balances: bool,
    /// `Reject[]`.
    pub rejects: bool,
}

impl Records {
    /// Every list.
    pub const ALL: Records = Records { findings: true, settlement: true, balances: true, rejects: true };
    /// No list.
    pub const NONE: Records = Records { findings: false, settlement: false, balances: false, rejects: false };

    /// Adds the list called `name` (its JS name); false for an unknown name.
    pub fn add(&mut self, name: &str) -> bool {
        match name {
            "findings" => self.findings = true,
            "settlement" => self.settlement = true,
            "balances" => self.balances = true,
            "rejects" => self.rejects = true,
            _ => return false,
        }
        true
    }
}

/// A report ready to cross into JS: each record list asked for as a JSON array with camelCase
/// keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The summary object.
    pub summary: String,
    /// `Finding[]`.
    pub findings: Option<String>,
    /// `Settlement[]`.
    pub settlement: Option<String>,
    /// `Balance[]`.
    pub balances: Option<String>,
    /// `Reject[]`.
    pub rejects: Option<String>,
    /// The five output files, in the core's order (`summary.json` last).
    pub files: Vec<OutputText>,
}

/// How to run: the core's options that make sense in JS, and what to convert.
#[derive(Clone)]
pub struct How {
    /// Stop at the first bad row.
    pub strict: bool,
    /// Told each stage, asked whether to stop.
    pub observer: Option<Arc<dyn Observer>>,
    /// The record lists to convert.
    pub records: Records,
}

impl Default for How {
    fn default() -> How {
        How { strict: false, observer: None, records: Records::ALL }
    }
}

/// The input files' bytes, as given by the caller.
pub struct Raw {
    /// rulebook.json
    pub rulebook: Vec<u8>,
    /// allocations.csv
    pub allocations: Vec<u8>,
    /// debits.csv
    pub debits: Vec<u8>,
    /// merchants.csv, when given.
    pub merchants: Option<Vec<u8>>,
}

/// Reads the rulebook, reconciles, and renders: one core call, with any panic caught and
/// turned into an `internal` failure (on targets that unwind; on wasm32 a panic hook set by
/// the binding does the same job).
pub fn run(raw: Raw, how: How) -> Result<Output, Failure> {
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        let rulebook = Rulebook::from_json(RULEBOOK, &raw.rulebook)?;
        let inputs = Inputs {
            allocations: harmoni::Source::from_bytes(ALLOCATIONS, raw.allocations),
            debits: harmoni::Source::from_bytes(DEBITS, raw.debits),
            merchants: raw.merchants.map(|bytes| harmoni::Source::from_bytes(MERCHANTS, bytes)),
        };
        let report = harmoni::reconcile(
            &rulebook,
            &inputs,
            &Options { threads: 1, strict: how.strict, observer: how.observer },
        )?;
        Ok::<Output, Error>(render(&report, how.records))
    }));
    match result {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(Failure::from(&error)),
        Err(payload) => Err(Failure::panic(&panic_message(payload.as_ref()))),
    }
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The report as JSON records (those asked for) and output texts.
pub fn render(report: &Report, records: Records) -> Output {
    let files = report
        .files()
        .into_iter()
        .map(|file| OutputText {
            name: file.name,
            sha256: harmoni::sha256_hex(&file.bytes),
            text: String::from_utf8(file.bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        })
        .collect();
    Output {
        summary: json(&SummaryJs::from(report)),
        findings: records.findings.then(|| json(&report.findings.iter().map(FindingJs::from).collect::<Vec<_>>())),
        settlement: records
            .settlement
            .then(|| json(&report.settlement.iter().map(SettlementJs::from).collect::<Vec<_>>())),
        balances: records.balances.then(|| json(&report.balances.iter().map(BalanceJs::from).collect::<Vec<_>>())),
        rejects: records.rejects.then(|| json(&report.rejects.iter().map(RejectJs::from).collect::<Vec<_>>())),
        files,
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain records always serialize")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJs<'a> {
    currency_scale: u32,
    programs: Vec<ProgramJs<'a>>,
    totals: ProgramJs<'a>,
    inputs: Vec<InputJs<'a>>,
    rulebook_sha256: &'a str,
}

impl<'a> From<&'a Report> for SummaryJs<'a> {
    fn from(report: &'a Report) -> Self {
        let s = &report.summary;
        SummaryJs {
            currency_scale: s.currency_scale,
            programs: s.programs.iter().map(ProgramJs::from).collect(),
            totals: ProgramJs::from(&s.totals),
            inputs: s
                .inputs
                .iter()
                .map(|i| InputJs {
                    file: &i.file,
                    rows_read: i.rows_read,
                    rows_rejected: i.rows_rejected,
                    sha256: &i.sha256,
                })
                .collect(),
            rulebook_sha256: &s.rulebook_sha256,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgramJs<'a> {
    program: &'a str,
    allocated: String,
    settled: String,
    held: String,
    remaining: String,
    settled_gross: String,
    held_gross: String,
    reversed_settled: String,
    reversed_held: String,
    allocations: u64,
    debits: u64,
    debits_settled: u64,
    debits_held: u64,
    reversals_applied: u64,
    findings: &'a std::collections::BTreeMap<String, u64>,
}

impl<'a> From<&'a ProgramSummary> for ProgramJs<'a> {
    fn from(p: &'a ProgramSummary) -> Self {
        ProgramJs {
            program: &p.program,
            allocated: p.allocated.to_string(),
            settled: p.settled.to_string(),
            held: p.held.to_string(),
            remaining: p.remaining.to_string(),
            settled_gross: p.settled_gross.to_string(),
            held_gross: p.held_gross.to_string(),
            reversed_settled: p.reversed_settled.to_string(),
            reversed_held: p.reversed_held.to_string(),
            allocations: p.allocations,
            debits: p.debits,
            debits_settled: p.debits_settled,
            debits_held: p.debits_held,
            reversals_applied: p.reversals_applied,
            findings: &p.findings,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InputJs<'a> {
    file: &'a str,
    rows_read: u64,
    rows_rejected: u64,
    sha256: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingJs<'a> {
    rule: &'static str,
    action: &'static str,
    subject: &'static str,
    txn_id: &'a str,
    card_id: &'a str,
    program: &'a str,
    line: u64,
    detail: &'a str,
}

impl<'a> From<Finding<'a>> for FindingJs<'a> {
    fn from(f: Finding<'a>) -> Self {
        FindingJs {
            rule: f.rule.as_str(),
            action: f.action().as_str(),
            subject: f.subject().as_str(),
            txn_id: f.txn_id,
            card_id: f.card_id,
            program: f.program,
            line: f.line,
            detail: f.detail,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SettlementJs<'a> {
    merchant_id: &'a str,
    program: &'a str,
    amount: String,
    debits: u64,
    reversals: u64,
}

impl<'a> From<&'a Settlement> for SettlementJs<'a> {
    fn from(s: &'a Settlement) -> Self {
        SettlementJs {
            merchant_id: &s.merchant_id,
            program: &s.program,
            amount: s.amount.to_string(),
            debits: s.debits,
            reversals: s.reversals,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceJs<'a> {
    card_id: &'a str,
    program: &'a str,
    valid_from: String,
    valid_to: String,
    allocated: String,
    spent: String,
    remaining: String,
}

impl<'a> From<Balance<'a>> for BalanceJs<'a> {
    fn from(b: Balance<'a>) -> Self {
        BalanceJs {
            card_id: b.card_id,
            program: b.program,
            valid_from: b.valid_from.to_string(),
            valid_to: b.valid_to.to_string(),
            allocated: b.allocated.to_string(),
            spent: b.spent.to_string(),
            remaining: b.remaining.to_string(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RejectJs<'a> {
    file: &'a str,
    line: u64,
    column: &'a str,
    reason: &'a str,
}

impl<'a> From<Reject<'a>> for RejectJs<'a> {
    fn from(r: Reject<'a>) -> Self {
        RejectJs { file: r.file, line: r.line, column: r.column, reason: r.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const RULEBOOK_JSON: &str = r#"{"programs": [{"code": "BPNTD"}, {"code": "ASLUT"}]}"#;
    const ALLOCATIONS_CSV: &str = "card_id,beneficiary_id,program,valid_from,valid_to,amount\n\
        C1,3571000000000001,BPNTD,2022-08-01,2022-08-31,200000\n\
        C2,3571000000000002,BPNTD,2022-08-01,2022-08-31,abc\n";
    const DEBITS_CSV: &str = "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n\
        T1,C1,BPNTD,150000,2022-08-06T10:15:00Z,M1,EDC1,pos\n\
        T2,C1,BPNTD,100000,2022-08-07T10:15:00Z,M1,EDC1,pos\n";

    fn raw(debits: &str) -> Raw {
        Raw {
            rulebook: RULEBOOK_JSON.into(),
            allocations: ALLOCATIONS_CSV.into(),
            debits: debits.into(),
            merchants: None,
        }
    }

    fn value(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn records_cross_with_camel_case_keys_and_exact_money() {
        let out = run(raw(DEBITS_CSV), How::default()).unwrap();
        let summary = value(&out.summary);
        assert_eq!(summary["currencyScale"], 2);
        assert_eq!(summary["totals"]["settled"], "150000.00");
        assert_eq!(summary["totals"]["held"], "100000.00");
        assert_eq!(summary["programs"][1]["program"], "BPNTD");
        assert_eq!(summary["programs"][1]["findings"]["OVERDRAFT"], 1);
        assert_eq!(summary["inputs"][0]["rowsRejected"], 1);
        let findings = value(out.findings.as_deref().unwrap());
        assert_eq!(findings[0]["rule"], "OVERDRAFT");
        assert_eq!(findings[0]["action"], "hold");
        assert_eq!(findings[0]["txnId"], "T2");
        assert_eq!(findings[0]["line"], 3);
        let settlement = value(out.settlement.as_deref().unwrap());
        assert_eq!(settlement[0]["merchantId"], "M1");
        assert_eq!(settlement[0]["amount"], "150000.00");
        let balances = value(out.balances.as_deref().unwrap());
        assert_eq!(balances[0]["validTo"], "2022-08-31");
        assert_eq!(balances[0]["remaining"], "50000.00");
        let rejects = value(out.rejects.as_deref().unwrap());
        assert_eq!(rejects[0]["file"], "allocations.csv");
        assert_eq!(rejects[0]["line"], 3);
        assert_eq!(rejects[0]["column"], "amount");
    }

    #[test]
    fn only_the_record_lists_asked_for_are_converted() {
        let mut records = Records::NONE;
        assert!(records.add("findings") && records.add("rejects") && !records.add("summary"));
        let out = run(raw(DEBITS_CSV), How { records, ..How::default() }).unwrap();
        assert!(out.findings.is_some() && out.rejects.is_some());
        assert!(out.settlement.is_none() && out.balances.is_none());
        assert_eq!(out.files.len(), 5, "the files always come");
    }

    #[test]
    fn files_are_the_core_files_with_their_digests() {
        let out = run(raw(DEBITS_CSV), How::default()).unwrap();
        let names: Vec<&str> = out.files.iter().map(|f| f.name).collect();
        assert_eq!(names, ["balances.csv", "findings.csv", "rejects.csv", "settlement.csv", "summary.json"]);
        let summary = value(&out.files[4].text);
        for file in &out.files {
            assert_eq!(file.sha256, harmoni::sha256_hex(file.text.as_bytes()));
            if file.name != "summary.json" {
                assert_eq!(summary["outputs"][file.name], file.sha256.as_str());
            }
        }
        assert!(out.files[0].text.starts_with("card_id,program,valid_from,valid_to,allocated,spent,remaining\n"));
    }

    #[test]
    fn errors_keep_code_file_line_and_column() {
        let mut strict = raw(DEBITS_CSV);
        strict.allocations = ALLOCATIONS_CSV.into();
        let failure = run(strict, How { strict: true, ..How::default() }).unwrap_err();
        assert_eq!(failure.code, "bad_row");
        assert_eq!(failure.file.as_deref(), Some("allocations.csv"));
        assert_eq!(failure.line, Some(3));
        assert_eq!(failure.column.as_deref(), Some("amount"));

        let mut bad = raw(DEBITS_CSV);
        bad.rulebook = br#"{"programs": [{"code": "BPNTD", "colour": 1}]}"#.to_vec();
        let failure = run(bad, How::default()).unwrap_err();
        assert_eq!(failure.code, "rulebook");
        assert_eq!(failure.file.as_deref(), Some("rulebook.json"));

        let failure = run(raw("txn_id,card_id\nT1,C1\n"), How::default()).unwrap_err();
        assert_eq!(failure.code, "file");
        assert_eq!(failure.file.as_deref(), Some("debits.csv"));
    }

    struct Stages(Mutex<Vec<&'static str>>, bool);

    impl Observer for Stages {
        fn stage(&self, stage: harmoni::Stage) {
            self.0.lock().unwrap().push(stage.as_str());
        }
        fn cancelled(&self) -> bool {
            self.1 && !self.0.lock().unwrap().is_empty()
        }
    }

    #[test]
    fn the_observer_sees_every_stage_and_can_cancel() {
        let stages = Arc::new(Stages(Mutex::new(Vec::new()), false));
        run(raw(DEBITS_CSV), How { observer: Some(stages.clone()), ..How::default() }).unwrap();
        assert_eq!(stages.0.lock().unwrap().len(), harmoni::Stage::ALL.len());

        let cancelling = Arc::new(Stages(Mutex::new(Vec::new()), true));
        let failure = run(raw(DEBITS_CSV), How { observer: Some(cancelling.clone()), ..How::default() }).unwrap_err();
        assert_eq!(failure.code, "cancelled");
        assert_eq!(*cancelling.0.lock().unwrap(), ["reading files"]);
    }

    struct Panicking;

    impl Observer for Panicking {
        fn stage(&self, stage: harmoni::Stage) {
            if stage == harmoni::Stage::Cards {
                panic!("observer bug at {}", stage.as_str());
            }
        }
    }

    #[test]
    fn a_panic_becomes_an_internal_failure() {
        let failure = run(raw(DEBITS_CSV), How { observer: Some(Arc::new(Panicking)), ..How::default() }).unwrap_err();
        assert_eq!(failure.code, "internal");
        assert!(failure.message.contains("observer bug at cards"), "{}", failure.message);
        // The module (here, the process) goes on working after it.
        assert!(run(raw(DEBITS_CSV), How::default()).is_ok());
    }
}
