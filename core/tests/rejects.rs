//! One test per reject reason and per whole-file error of SPEC ("Inputs", "Bad rows").
//!
//! Most tests append one row to a small valid file (so the bad row is line 3: the header is
//! line 1, a good row line 2) and assert the reject's file, line, column and reason, and that
//! rows read = rows used + rows rejected. Every run is made with 1 and 2 threads and must
//! give the same report.

use harmoni::{reconcile, Error, Inputs, Options, Report, Rule, Rulebook, Source};

const RULEBOOK: &str = r#"{"timezone": "+07:00", "programs": [{"code": "BPNTD"}, {"code": "ASLUT"}]}"#;

const ALLOCATIONS: &str = "card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount\n";
const DEBITS: &str =
    "txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc\n";
const MERCHANTS: &str = "merchant_id,programs\n";

/// The good row on line 2 of each file.
const ALLOCATION_OK: &str = "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n";
const DEBIT_OK: &str = "T1,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,5411,1\n";
const MERCHANT_OK: &str = "M1,BPNTD\n";

/// The columns of a debit row, and the values of a good one (changed one at a time).
const DEBIT_COLUMNS: [&str; 12] = [
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
];
const DEBIT_VALUES: [&str; 12] =
    ["T2", "debit", "", "C1", "BPNTD", "2000", "2022-08-06 11:00:00", "M1", "E1", "pos", "5411", "2"];
const ALLOCATION_COLUMNS: [&str; 7] =
    ["card_id", "beneficiary_id", "household_id", "program", "valid_from", "valid_to", "amount"];
const ALLOCATION_VALUES: [&str; 7] = ["C2", "B2", "K2", "BPNTD", "2022-08-01", "2022-08-31", "50000"];

/// A row from `values` with some columns replaced by raw CSV text.
fn row_with(columns: &[&str], values: &[&str], changes: &[(&str, &str)]) -> String {
    for (column, _) in changes {
        assert!(columns.contains(column), "no column {column}");
    }
    let fields: Vec<&str> = columns
        .iter()
        .zip(values)
        .map(|(column, value)| changes.iter().find(|(c, _)| c == column).map_or(*value, |(_, v)| *v))
        .collect();
    format!("{}\n", fields.join(","))
}

fn debit_with(changes: &[(&str, &str)]) -> String {
    row_with(&DEBIT_COLUMNS, &DEBIT_VALUES, changes)
}

fn allocation_with(changes: &[(&str, &str)]) -> String {
    row_with(&ALLOCATION_COLUMNS, &ALLOCATION_VALUES, changes)
}

/// A reversal of T1 (line 2 of the debits) with some columns replaced.
fn reversal_with(changes: &[(&str, &str)]) -> String {
    let mut all = vec![
        ("type", "reversal"),
        ("original_txn_id", "T1"),
        ("amount", "100"),
        ("merchant_id", ""),
        ("terminal_id", ""),
        ("channel", ""),
        ("mcc", ""),
        ("atc", ""),
    ];
    for change in changes {
        all.retain(|(c, _)| c != &change.0);
        all.push(*change);
    }
    debit_with(&all)
}

fn try_run(
    rulebook: &str,
    allocations: &[u8],
    debits: &[u8],
    merchants: Option<&[u8]>,
    strict: bool,
    threads: usize,
) -> Result<Report, Error> {
    let rulebook = Rulebook::from_json("rulebook.json", rulebook.as_bytes()).expect("the rulebook is valid");
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", allocations),
        debits: Source::from_bytes("debits.csv", debits),
        merchants: merchants.map(|m| Source::from_bytes("merchants.csv", m)),
    };
    reconcile(&rulebook, &inputs, &Options { threads, strict, ..Options::default() })
}

/// Runs with 1 and 2 threads (same report) and checks, per file, that rows_rejected counts
/// the file's rejects and rows read = rows used + rows rejected.
fn run_files(rulebook: &str, allocations: &[u8], debits: &[u8], merchants: Option<&[u8]>) -> Report {
    let one = try_run(rulebook, allocations, debits, merchants, false, 1).expect("a report");
    let two = try_run(rulebook, allocations, debits, merchants, false, 2).expect("a report");
    assert_eq!(one, two, "1 and 2 threads give different reports");
    for input in &one.summary.inputs {
        let rejected = one.rejects.iter().filter(|r| r.file == input.file).count() as u64;
        assert_eq!(input.rows_rejected, rejected, "{}: rows_rejected", input.file);
        assert!(input.rows_read >= input.rows_rejected, "{}: rows read < rows rejected", input.file);
    }
    one
}

fn run(allocations: &str, debits: &str, merchants: Option<&str>) -> Report {
    run_files(RULEBOOK, allocations.as_bytes(), debits.as_bytes(), merchants.map(str::as_bytes))
}

/// (file, line, column, reason) of every reject.
fn rejects(report: &Report) -> Vec<(&str, u64, &str, &str)> {
    report.rejects.iter().map(|r| (r.file, r.line, r.column, r.reason)).collect()
}

/// (rows read, rows used, rows rejected) of one input file.
fn rows(report: &Report, file: &str) -> (u64, u64, u64) {
    let input = report.summary.inputs.iter().find(|i| i.file == file).expect("the file is in the summary");
    (input.rows_read, input.rows_read - input.rows_rejected, input.rows_rejected)
}

#[derive(Clone, Copy, PartialEq)]
enum File {
    Allocations,
    Debits,
    Merchants,
}

/// The three files with `row` appended (as line 3) to `file`.
fn files_with(file: File, row: &[u8]) -> [Vec<u8>; 3] {
    let with = |f: File, header: &str, good: &str| {
        let mut bytes = format!("{header}{good}").into_bytes();
        if f == file {
            bytes.extend_from_slice(row);
        }
        bytes
    };
    [
        with(File::Allocations, ALLOCATIONS, ALLOCATION_OK),
        with(File::Debits, DEBITS, DEBIT_OK),
        with(File::Merchants, MERCHANTS, MERCHANT_OK),
    ]
}

fn file_name(file: File) -> &'static str {
    match file {
        File::Allocations => "allocations.csv",
        File::Debits => "debits.csv",
        File::Merchants => "merchants.csv",
    }
}

/// Appends `row` to `file` under `rulebook` and returns the (column, reason) of its reject,
/// checking it is the only one, on line 3, and that the file read 2 rows, used 1.
fn reject_under(rulebook: &str, file: File, row: impl AsRef<[u8]>) -> (String, String) {
    let [a, d, m] = files_with(file, row.as_ref());
    let report = run_files(rulebook, &a, &d, Some(&m));
    let name = file_name(file);
    let shown = String::from_utf8_lossy(row.as_ref()).into_owned();
    assert_eq!(report.rejects.len(), 1, "{shown:?} should be the only reject: {:?}", report.rejects);
    let r = report.rejects.get(0).unwrap();
    assert_eq!((r.file, r.line), (name, 3), "{shown:?}");
    assert_eq!(rows(&report, name), (2, 1, 1), "{shown:?}");
    (r.column.to_owned(), r.reason.to_owned())
}

fn reject(file: File, row: impl AsRef<[u8]>) -> (String, String) {
    reject_under(RULEBOOK, file, row)
}

/// Appends `row` to `file` and checks it is used.
fn accepted_under(rulebook: &str, file: File, row: impl AsRef<[u8]>) {
    let [a, d, m] = files_with(file, row.as_ref());
    let report = run_files(rulebook, &a, &d, Some(&m));
    let shown = String::from_utf8_lossy(row.as_ref()).into_owned();
    assert_eq!(rejects(&report), vec![], "{shown:?} should be used");
    assert_eq!(rows(&report, file_name(file)), (2, 2, 0), "{shown:?}");
}

fn accepted(file: File, row: impl AsRef<[u8]>) {
    accepted_under(RULEBOOK, file, row)
}

/// (column, reason) as owned strings, for comparing with [`reject`].
fn said(column: &str, reason: &str) -> (String, String) {
    (column.to_owned(), reason.to_owned())
}

fn not_an_amount(text: &str) -> String {
    format!(
        "'{text}' is not an amount: expected digits with an optional '.' and decimals, no sign, exponent or separators"
    )
}

fn not_a_timestamp(text: &str) -> String {
    format!("'{text}' is not a timestamp: expected RFC 3339 such as 2022-08-06T10:15:00+07:00, or 2022-08-06 10:15:00")
}

// ---------------------------------------------------------------------------------------
// Whole rows
// ---------------------------------------------------------------------------------------

#[test]
fn a_row_with_the_wrong_number_of_fields_is_bad_as_a_whole() {
    let report = run(
        &format!(
            "{ALLOCATIONS}C1,B1,,BPNTD,2022-08-01,2022-08-31\n\
             C1,B1,,BPNTD,2022-08-01,2022-08-31,100000,extra\n\
             {ALLOCATION_OK}"
        ),
        DEBITS,
        None,
    );
    assert_eq!(
        rejects(&report),
        [
            ("allocations.csv", 2, "", "6 fields, expected 7 as in the header"),
            ("allocations.csv", 3, "", "8 fields, expected 7 as in the header"),
        ]
    );
    assert_eq!(rows(&report, "allocations.csv"), (3, 1, 2));
    let (column, reason) = reject(File::Debits, "T2\n");
    assert_eq!(column, "");
    assert!(reason.contains("expected 12 as in the header"), "{reason}");
    assert_eq!(reject(File::Merchants, "M2,BPNTD,extra\n"), said("", "3 fields, expected 2 as in the header"));
}

#[test]
fn the_first_failing_column_is_named_in_spec_order_whatever_the_header_order() {
    // Both amount and channel are bad; amount comes first in SPEC even though the header
    // puts channel first.
    let report = run(
        &format!("{ALLOCATIONS}{ALLOCATION_OK}"),
        "channel,atc,mcc,terminal_id,merchant_id,timestamp,amount,program,card_id,txn_id\n\
         pos,,,E1,M1,2022-08-06 10:00:00,1000,BPNTD,C1,T1\n\
         card,,,E1,M1,2022-08-06 10:00:00,-5,BPNTD,C1,T2\n",
        None,
    );
    assert_eq!(rejects(&report), [("debits.csv", 3, "amount", not_an_amount("-5").as_str())]);
    // Allocations: beneficiary_id, program, valid_from and amount are all bad.
    let row = allocation_with(&[("beneficiary_id", ""), ("program", "X"), ("valid_from", "x"), ("amount", "0")]);
    assert_eq!(reject(File::Allocations, row), said("beneficiary_id", "empty, expected an id"));
}

#[test]
fn a_rejected_row_takes_no_part_in_anything_else() {
    // The allocation of C2 is rejected: C2's debit finds no allocation. T1 on line 4 is
    // rejected: it neither conflicts with T1 on line 2 nor counts anywhere. R1 names the
    // rejected T9: an orphan.
    let report = run(
        &format!("{ALLOCATIONS}{ALLOCATION_OK}C2,B2,,BPNTD,2022-08-01,2022-08-31,-1\n"),
        &format!(
            "{DEBITS}{DEBIT_OK}\
             T2,debit,,C2,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n\
             T1,debit,,C1,BPNTD,9999,2022-08-06 25:00:00,M1,E1,pos,,\n\
             T9,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,9999999\n\
             R1,reversal,T9,C1,BPNTD,1000,2022-08-06 12:00:00,,,,,\n"
        ),
        None,
    );
    assert_eq!(
        rejects(&report),
        [
            ("allocations.csv", 3, "amount", not_an_amount("-1").as_str()),
            ("debits.csv", 4, "timestamp", not_a_timestamp("2022-08-06 25:00:00").as_str()),
            ("debits.csv", 5, "atc", "atc '9999999' is not a whole number from 0 to 65535"),
        ]
    );
    let found: Vec<(&str, &str, u64)> = report.findings.iter().map(|f| (f.rule.as_str(), f.txn_id, f.line)).collect();
    assert_eq!(found, [("ORPHAN_REVERSAL", "R1", 6), ("NO_ALLOCATION", "T2", 3)]);
    assert!(
        report.findings.get(0).unwrap().detail.contains("not in debits.csv"),
        "{}",
        report.findings.get(0).unwrap().detail
    );
    assert_eq!(rows(&report, "allocations.csv"), (2, 1, 1));
    assert_eq!(rows(&report, "debits.csv"), (5, 3, 2));
    let bpntd = &report.summary.programs[1];
    assert_eq!((bpntd.program.as_str(), bpntd.allocations, bpntd.debits), ("BPNTD", 1, 2));
    assert_eq!(bpntd.allocated.to_string(), "100000.00");
}

/// Not SPEC text but a house limit (`limits::RECORD_BYTES_MAX`): a longer record is
/// rejected, even when the bytes are in an extra column, which SPEC says is ignored
/// "whatever it holds". The test pins that the limit is a reject (not an error or a crash)
/// and that accounting holds.
#[test]
fn a_record_above_the_row_size_limit_is_rejected_as_a_whole() {
    let note = "x".repeat(harmoni::limits::RECORD_BYTES_MAX);
    let report = run(
        &format!("{ALLOCATIONS}{ALLOCATION_OK}"),
        &format!("txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n{}T2,C1,BPNTD,1000,2022-08-06 11:00:00,M1,E1,pos,{note}\n", "T1,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,\n"),
        None,
    );
    let got = rejects(&report);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1, got[0].2), ("debits.csv", 3, ""));
    assert!(got[0].3.contains(&format!("at most {} allowed", harmoni::limits::RECORD_BYTES_MAX)), "{}", got[0].3);
}

// ---------------------------------------------------------------------------------------
// Money
// ---------------------------------------------------------------------------------------

#[test]
fn too_many_decimals_is_bad_even_when_they_are_zeros() {
    for text in ["50000.000", "50000.001", "0.000"] {
        let reason = format!("'{text}' has 3 decimals, at most 2 allowed");
        assert_eq!(reject(File::Allocations, allocation_with(&[("amount", text)])), said("amount", &reason));
        assert_eq!(reject(File::Debits, debit_with(&[("amount", text)])), said("amount", &reason));
    }
    for text in ["50000", "50000.5", "050000.00", "0.01"] {
        accepted(File::Allocations, allocation_with(&[("amount", text)]));
    }
}

#[test]
fn a_zero_amount_is_bad() {
    for text in ["0", "0.00", "000.0"] {
        let reason = format!("'{text}' is not greater than zero");
        assert_eq!(reject(File::Debits, debit_with(&[("amount", text)])), said("amount", &reason));
    }
}

#[test]
fn an_amount_above_ten_to_the_fifteen_is_bad() {
    accepted(File::Allocations, allocation_with(&[("amount", "1000000000000000")]));
    accepted(File::Allocations, allocation_with(&[("amount", "0001000000000000000.00")]));
    for text in ["1000000000000000.01", "1000000000000001", "99999999999999999999999999999999999999999"] {
        let reason = format!("'{}' is above 1000000000000000", text.chars().take(40).collect::<String>());
        let reason = if text.len() > 40 { reason.replace("' is", "...' is") } else { reason };
        assert_eq!(reject(File::Allocations, allocation_with(&[("amount", text)])), said("amount", &reason));
    }
}

#[test]
fn an_amount_with_a_sign_exponent_or_separator_is_bad() {
    for (field, text) in [
        ("-5", "-5"),
        ("+5", "+5"),
        ("1e5", "1e5"),
        ("1E5", "1E5"),
        ("\"1,000\"", "1,000"),
        ("1.000.000", "1.000.000"),
        ("1 000", "1 000"),
        ("1_000", "1_000"),
        (" 5", " 5"),
        ("5 ", "5 "),
        (".5", ".5"),
        ("5.", "5."),
        ("Rp5000", "Rp5000"),
        ("0x10", "0x10"),
    ] {
        assert_eq!(reject(File::Debits, debit_with(&[("amount", field)])), said("amount", &not_an_amount(text)));
    }
    assert_eq!(
        reject(File::Debits, debit_with(&[("amount", "")])),
        said("amount", "empty, expected an amount such as 50000.00")
    );
}

#[test]
fn decimals_follow_the_currency_scale_at_0_and_18() {
    let scale = |n: u32| format!(r#"{{"currency_scale": {n}, "programs": [{{"code": "BPNTD"}}]}}"#);
    accepted_under(&scale(0), File::Allocations, allocation_with(&[("amount", "1000000000000000")]));
    assert_eq!(
        reject_under(&scale(0), File::Allocations, allocation_with(&[("amount", "5.00")])),
        said("amount", "'5.00' has 2 decimals, at most 0 allowed")
    );
    let max18 = "1000000000000000.000000000000000000";
    accepted_under(&scale(18), File::Allocations, allocation_with(&[("amount", max18)]));
    accepted_under(&scale(18), File::Allocations, allocation_with(&[("amount", "0.000000000000000001")]));
    assert_eq!(
        reject_under(
            &scale(18),
            File::Allocations,
            allocation_with(&[("amount", "1000000000000000.000000000000000001")])
        ),
        said("amount", "'1000000000000000.000000000000000001' is above 1000000000000000")
    );
    assert_eq!(
        reject_under(&scale(18), File::Allocations, allocation_with(&[("amount", "0.0000000000000000001")])),
        said("amount", "'0.0000000000000000001' has 19 decimals, at most 18 allowed")
    );
}

// ---------------------------------------------------------------------------------------
// Codes: program, channel, type, mcc, atc
// ---------------------------------------------------------------------------------------

#[test]
fn an_unknown_program_is_bad_codes_are_case_sensitive_and_not_trimmed() {
    for text in ["bpntd", "BPNTD ", "PKH"] {
        let reason = format!("unknown program '{text}'");
        assert_eq!(reject(File::Allocations, allocation_with(&[("program", text)])), said("program", &reason));
        assert_eq!(reject(File::Debits, debit_with(&[("program", text)])), said("program", &reason));
    }
    assert_eq!(reject(File::Debits, debit_with(&[("program", "")])), said("program", "unknown program ''"));
}

#[test]
fn an_unknown_channel_is_bad() {
    for text in ["POS", "edc", "pos "] {
        let reason = format!("channel '{text}' is not one of atm, pos, qr, transfer");
        assert_eq!(reject(File::Debits, debit_with(&[("channel", text)])), said("channel", &reason));
        assert_eq!(reject(File::Debits, reversal_with(&[("channel", text)])), said("channel", &reason));
    }
    for text in ["atm", "pos", "qr", "transfer"] {
        accepted(File::Debits, debit_with(&[("channel", text)]));
    }
}

#[test]
fn a_bad_type_is_bad_and_an_empty_type_is_a_debit() {
    for text in ["Debit", "REVERSAL", "refund", "debit "] {
        let reason = format!("type '{text}' must be debit, reversal or empty");
        assert_eq!(reject(File::Debits, debit_with(&[("type", text)])), said("type", &reason));
    }
    accepted(File::Debits, debit_with(&[("type", "")]));
}

#[test]
fn a_reversal_must_name_its_original() {
    assert_eq!(
        reject(File::Debits, reversal_with(&[("original_txn_id", "")])),
        said("original_txn_id", "required on a reversal: the txn_id of the debit it reverses")
    );
    let long = "T".repeat(65);
    assert_eq!(
        reject(File::Debits, reversal_with(&[("original_txn_id", &long)])),
        said("original_txn_id", "id is 65 bytes long, at most 64 allowed")
    );
    // On a debit the column is ignored entirely (README), whatever it holds.
    accepted(File::Debits, debit_with(&[("original_txn_id", &long)]));
    accepted(File::Debits, debit_with(&[("original_txn_id", "T1")]));
    accepted(File::Debits, debit_with(&[("original_txn_id", "a\"b")]));
    let mut invalid = debit_with(&[("original_txn_id", "@")]).into_bytes();
    let at = invalid.iter().position(|&b| b == b'@').unwrap();
    invalid[at] = 0xFF;
    accepted(File::Debits, invalid);
}

#[test]
fn merchant_terminal_and_channel_are_required_on_a_debit_but_not_on_a_reversal() {
    assert_eq!(reject(File::Debits, debit_with(&[("merchant_id", "")])), said("merchant_id", "empty, expected an id"));
    assert_eq!(reject(File::Debits, debit_with(&[("terminal_id", "")])), said("terminal_id", "empty, expected an id"));
    assert_eq!(
        reject(File::Debits, debit_with(&[("channel", "")])),
        said("channel", "empty, expected one of atm, pos, qr, transfer")
    );
    accepted(File::Debits, reversal_with(&[]));
    accepted(File::Debits, reversal_with(&[("merchant_id", "M1"), ("terminal_id", "E1"), ("channel", "pos")]));
}

#[test]
fn an_mcc_is_four_digits_or_empty() {
    for text in ["541", "54111", "54a1", " 541", "５４１１"] {
        let reason = format!("mcc '{text}' is not 4 digits");
        assert_eq!(reject(File::Debits, debit_with(&[("mcc", text)])), said("mcc", &reason));
    }
    for text in ["", "0000", "5411"] {
        accepted(File::Debits, debit_with(&[("mcc", text)]));
    }
}

#[test]
fn an_atc_is_a_whole_number_up_to_65535() {
    for text in ["65536", "-1", "+1", "1.0", "0x10", " 1", "4294967338"] {
        let reason = format!("atc '{text}' is not a whole number from 0 to 65535");
        assert_eq!(reject(File::Debits, debit_with(&[("atc", text)])), said("atc", &reason));
    }
    for text in ["", "0", "65535", "00065535", "0042"] {
        accepted(File::Debits, debit_with(&[("atc", text)]));
    }
}

#[test]
fn atc_0042_is_42() {
    // Compared as numbers: the two debits replay one counter.
    let report = run(
        &format!("{ALLOCATIONS}{ALLOCATION_OK}"),
        &format!(
            "{DEBITS}{DEBIT_OK}{}{}",
            debit_with(&[("atc", "42")]),
            debit_with(&[("txn_id", "T3"), ("amount", "3000"), ("atc", "0042")])
        ),
        None,
    );
    let found: Vec<(Rule, &str)> = report.findings.iter().map(|f| (f.rule, f.txn_id)).collect();
    assert_eq!(found, [(Rule::AtcReplay, "T2"), (Rule::AtcReplay, "T3")]);
}

// ---------------------------------------------------------------------------------------
// Ids and UTF-8
// ---------------------------------------------------------------------------------------

#[test]
fn an_id_is_1_to_64_bytes() {
    let max = "C".repeat(64);
    accepted(File::Allocations, allocation_with(&[("card_id", &max), ("household_id", &max)]));
    let long = "C".repeat(65);
    let too_long = "id is 65 bytes long, at most 64 allowed";
    assert_eq!(reject(File::Allocations, allocation_with(&[("card_id", &long)])), said("card_id", too_long));
    assert_eq!(reject(File::Allocations, allocation_with(&[("household_id", &long)])), said("household_id", too_long));
    assert_eq!(reject(File::Debits, debit_with(&[("txn_id", &long)])), said("txn_id", too_long));
    assert_eq!(reject(File::Debits, debit_with(&[("terminal_id", &long)])), said("terminal_id", too_long));
    assert_eq!(reject(File::Merchants, format!("{long},BPNTD\n")), said("merchant_id", too_long));
    let empty = "empty, expected an id";
    assert_eq!(reject(File::Allocations, allocation_with(&[("card_id", "")])), said("card_id", empty));
    assert_eq!(reject(File::Allocations, allocation_with(&[("beneficiary_id", "")])), said("beneficiary_id", empty));
    assert_eq!(reject(File::Debits, debit_with(&[("txn_id", "")])), said("txn_id", empty));
    assert_eq!(reject(File::Debits, debit_with(&[("card_id", "")])), said("card_id", empty));
    assert_eq!(reject(File::Merchants, ",BPNTD\n"), said("merchant_id", empty));
    // household_id is optional: empty is fine.
    accepted(File::Allocations, allocation_with(&[("household_id", "")]));
}

#[test]
fn an_id_is_printable_ascii_and_a_space_is_printable() {
    for (text, shown) in [("C\t2", "C\\t2"), ("C\u{7f}2", "C\\u{7f}2"), ("Cé2", "Cé2"), ("C\u{a0}2", "C\u{a0}2")] {
        let (column, reason) = reject(File::Allocations, allocation_with(&[("card_id", text)]));
        assert_eq!(column, "card_id");
        assert!(reason.ends_with("has a character outside printable ASCII"), "{reason}");
        // Control characters are shown escaped, so the reason is one printable line.
        assert!(reason.contains(shown) || reason.contains(text), "{reason} shows {text:?}");
    }
    // Ids are not trimmed: " C1" is a valid id, and another card than C1.
    accepted(File::Allocations, allocation_with(&[("card_id", " C1")]));
    accepted(File::Allocations, allocation_with(&[("card_id", "~ !")]));
}

#[test]
fn invalid_utf8_is_bad_in_a_column_and_ignored_in_an_extra_column() {
    let mut row = allocation_with(&[("card_id", "C@2")]).into_bytes();
    let at = row.iter().position(|&b| b == b'@').unwrap();
    row[at] = 0xC3; // a lone lead byte
    assert_eq!(reject(File::Allocations, &row), said("card_id", "not valid UTF-8"));

    let mut row = debit_with(&[("program", "BP@")]).into_bytes();
    let at = row.iter().position(|&b| b == b'@').unwrap();
    row[at] = 0xFF;
    assert_eq!(reject(File::Debits, &row), said("program", "unknown program 'BP\u{FFFD}'"));

    let allocations = format!("{ALLOCATIONS}{ALLOCATION_OK}");
    let mut debits = b"txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n".to_vec();
    debits.extend_from_slice(b"T1,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,caf\xE9 \xFF\xFE\n");
    let report = run_files(RULEBOOK, allocations.as_bytes(), &debits, None);
    assert_eq!(rejects(&report), []);
    assert_eq!(rows(&report, "debits.csv"), (1, 1, 0));
}

// ---------------------------------------------------------------------------------------
// Dates and instants
// ---------------------------------------------------------------------------------------

#[test]
fn valid_to_before_valid_from_is_bad_and_one_day_is_fine() {
    assert_eq!(
        reject(File::Allocations, allocation_with(&[("valid_from", "2022-08-02"), ("valid_to", "2022-08-01")])),
        said("valid_to", "valid_to 2022-08-01 is before valid_from 2022-08-02")
    );
    accepted(File::Allocations, allocation_with(&[("valid_from", "2022-08-01"), ("valid_to", "2022-08-01")]));
}

#[test]
fn calendar_dates_are_checked() {
    for (column, text) in [
        ("valid_from", "2022-02-30"),
        ("valid_to", "2023-02-29"),
        ("valid_to", "1900-02-29"),
        ("valid_from", "2022-13-01"),
        ("valid_from", "2022-00-10"),
        ("valid_to", "2022-09-31"),
        ("valid_from", "2022-08-00"),
        ("valid_from", "01-08-2022"),
        ("valid_from", "2022/08/01"),
    ] {
        let reason = format!("'{text}' is not a valid date (YYYY-MM-DD)");
        assert_eq!(reject(File::Allocations, allocation_with(&[(column, text)])), said(column, &reason));
    }
    for text in ["2022-8-01", "2022-08-01T00:00:00Z", "20220801", ""] {
        let reason = format!("'{text}' is not a date: expected YYYY-MM-DD");
        assert_eq!(reject(File::Allocations, allocation_with(&[("valid_from", text)])), said("valid_from", &reason));
    }
    accepted(File::Allocations, allocation_with(&[("valid_from", "2024-02-29"), ("valid_to", "2024-02-29")]));
    accepted(File::Allocations, allocation_with(&[("valid_from", "2000-02-29")]));
}

#[test]
fn bad_instants_are_bad_including_30_february_and_the_leap_second() {
    for text in [
        "2016-12-31T23:59:60Z",
        "2022-08-06T10:15:60+07:00",
        "2022-08-06 10:15:60",
        "2022-02-30T10:15:00+07:00",
        "2022-02-30 10:15:00",
        "2022-08-06T24:00:00Z",
        "2022-08-06T10:15:00",
        "2022-08-06T10:15:00+0700",
        "2022-08-06T10:15:00+07",
        "2022-08-06T10:15Z",
        "2022-08-06T10:15:00.Z",
        "2022-08-06T10:15:00.1234567891Z",
        "2022-08-06 10:15:00.5",
        "2022-08-06 10:15:00Z",
        "2022-08-06 10:15:00+07:00",
        "2022-08-06",
        "06/08/2022 10:15:00",
        "1659755700",
    ] {
        assert_eq!(
            reject(File::Debits, debit_with(&[("timestamp", text)])),
            said("timestamp", &not_a_timestamp(text)),
            "{text}"
        );
    }
    for text in [
        "2022-08-06T10:15:00+07:00",
        "2022-08-06T03:15:00Z",
        "2022-08-06t03:15:00z",
        "2022-08-06T10:15:00.123456789+07:00",
        "2022-08-06T03:15:00.5Z",
        "2022-08-06T05:15:00+02:00",
        "2022-08-05T23:15:00-04:00",
        "2022-08-06 10:15:00",
    ] {
        accepted(File::Debits, debit_with(&[("timestamp", text)]));
    }
}

// ---------------------------------------------------------------------------------------
// merchants.csv
// ---------------------------------------------------------------------------------------

#[test]
fn merchants_unknown_code_and_empty_segment_are_bad() {
    assert_eq!(reject(File::Merchants, "M2,PKH\n"), said("programs", "unknown program 'PKH'"));
    assert_eq!(reject(File::Merchants, "M2,BPNTD;bpntd\n"), said("programs", "unknown program 'bpntd'"));
    for list in ["BPNTD;", ";BPNTD", "BPNTD;;ASLUT", ";"] {
        let reason = format!("'{list}' has an empty program code");
        assert_eq!(reject(File::Merchants, format!("M2,{list}\n")), said("programs", &reason));
    }
    // An empty list registers the merchant for none; a repeated code is harmless.
    accepted(File::Merchants, "M2,\n");
    accepted(File::Merchants, "M2,ASLUT;BPNTD;ASLUT\n");
    accepted(File::Merchants, "M1,ASLUT\n");
}

// ---------------------------------------------------------------------------------------
// Headers: whole-file errors
// ---------------------------------------------------------------------------------------

/// The error of a run that must fail, the same with 1 and 2 threads.
fn failure(allocations: &[u8], debits: &[u8], merchants: Option<&[u8]>, strict: bool) -> Error {
    let one = try_run(RULEBOOK, allocations, debits, merchants, strict, 1).expect_err("the run must fail");
    let two = try_run(RULEBOOK, allocations, debits, merchants, strict, 2).expect_err("the run must fail");
    assert_eq!(one.to_string(), two.to_string());
    one
}

#[test]
fn a_missing_column_is_an_error_for_the_whole_file() {
    let header = "card_id,beneficiary_id,household_id,program,valid_from,valid_to\n";
    let error =
        failure(format!("{header}C1,B1,,BPNTD,2022-08-01,2022-08-31\n").as_bytes(), DEBITS.as_bytes(), None, false);
    assert_eq!(error.code(), "file");
    assert_eq!(
        error.to_string(),
        "allocations.csv, line 1, column amount: missing column 'amount': the header must name \
         card_id, beneficiary_id, household_id, program, valid_from, valid_to, amount"
    );
    let at = error.location().expect("a location");
    assert_eq!((at.file.as_str(), at.line, at.column.as_deref()), ("allocations.csv", Some(1), Some("amount")));
    // Header names are case-sensitive and not trimmed.
    for header in [
        "txn_id,card_id,program,Amount,timestamp,merchant_id,terminal_id,channel\n",
        "txn_id,card_id,program, amount,timestamp,merchant_id,terminal_id,channel\n",
    ] {
        let error = failure(ALLOCATIONS.as_bytes(), header.as_bytes(), None, false);
        assert_eq!(error.location().unwrap().column.as_deref(), Some("amount"), "{header}");
        assert!(error.to_string().starts_with("debits.csv, line 1, column amount: missing column 'amount'"), "{error}");
    }
    let error = failure(ALLOCATIONS.as_bytes(), DEBITS.as_bytes(), Some(b"merchant_id\nM1\n"), false);
    assert!(
        error.to_string().starts_with("merchants.csv, line 1, column programs: missing column 'programs'"),
        "{error}"
    );
}

#[test]
fn optional_columns_may_be_absent() {
    let report = run(
        "card_id,beneficiary_id,program,valid_from,valid_to,amount\nC1,B1,BPNTD,2022-08-01,2022-08-31,100000\n",
        "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n\
         T1,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos\n",
        None,
    );
    assert_eq!(rejects(&report), []);
    assert_eq!(report.settlement.len(), 1);
    assert_eq!(report.summary.totals.settled.to_string(), "1000.00");
}

#[test]
fn a_column_named_twice_is_an_error_for_the_whole_file() {
    let debits = format!("{}amount\n", DEBITS.trim_end().to_owned() + ",");
    let error = failure(ALLOCATIONS.as_bytes(), debits.as_bytes(), None, false);
    assert_eq!(error.code(), "file");
    assert_eq!(error.to_string(), "debits.csv, line 1: column 'amount' appears twice in the header");
    // Any column, extra ones included.
    let error = failure(
        format!("{}note,note\n", ALLOCATIONS.trim_end().to_owned() + ",").as_bytes(),
        DEBITS.as_bytes(),
        None,
        false,
    );
    assert_eq!(error.to_string(), "allocations.csv, line 1: column 'note' appears twice in the header");
}

#[test]
fn an_empty_file_is_an_error() {
    let error = failure(ALLOCATIONS.as_bytes(), b"", None, false);
    assert_eq!(error.code(), "file");
    assert!(error.to_string().starts_with("debits.csv: the file is empty"), "{error}");
    let error = failure(ALLOCATIONS.as_bytes(), b"\n\r\n", None, false);
    assert!(error.to_string().starts_with("debits.csv: the file is empty"), "{error}");
}

// ---------------------------------------------------------------------------------------
// The CSV dialect: BOM, blank lines, quotes, line ends
// ---------------------------------------------------------------------------------------

#[test]
fn a_byte_order_mark_before_the_header_is_ignored() {
    let allocations = format!("\u{feff}{ALLOCATIONS}{ALLOCATION_OK}");
    let debits = format!("\u{feff}{DEBITS}{DEBIT_OK}");
    let merchants = format!("\u{feff}{MERCHANTS}{MERCHANT_OK}");
    let report = run(&allocations, &debits, Some(&merchants));
    assert_eq!(rejects(&report), []);
    assert_eq!(report.summary.totals.settled.to_string(), "1000.00");
    // The digest covers the file's bytes, mark included.
    let input = &report.summary.inputs[0];
    assert_eq!(input.sha256, harmoni::sha256_hex(allocations.as_bytes()));
}

#[test]
fn blank_lines_are_skipped_but_count_for_line_numbers() {
    let report = run(
        &format!("{ALLOCATIONS}\n{ALLOCATION_OK}\r\n\n"),
        &format!("\n{DEBITS}\n{DEBIT_OK}\n\n{}\n", debit_with(&[("amount", "1.001")])),
        None,
    );
    // debits: blank (1), header (2), blank (3), T1 (4), blank (5), blank (6), T2 (7).
    assert_eq!(rejects(&report), [("debits.csv", 7, "amount", "'1.001' has 3 decimals, at most 2 allowed")]);
    assert_eq!(rows(&report, "allocations.csv"), (1, 1, 0));
    assert_eq!(rows(&report, "debits.csv"), (2, 1, 1));
    assert!(report.findings.is_empty());
    assert_eq!(report.summary.totals.settled.to_string(), "1000.00");
    // Header (1), blank (2), the allocation (3), its copy (4).
    let report = run(&format!("{ALLOCATIONS}\n{ALLOCATION_OK}{ALLOCATION_OK}"), DEBITS, None);
    assert_eq!(
        (report.findings.get(0).unwrap().rule, report.findings.get(0).unwrap().line),
        (Rule::DuplicateAllocation, 4)
    );
}

#[test]
fn a_record_spanning_lines_is_reported_where_it_starts() {
    // T1's note spans lines 2-4; T2 (line 5) has a bad amount; T3 starts on line 6 with a
    // note over two lines and a bad channel; T4 is on line 8.
    let debits = "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n\
                  T1,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,\"first\nsecond\nthird\"\n\
                  T2,C1,BPNTD,1e3,2022-08-06 10:01:00,M1,E1,pos,\n\
                  T3,C1,BPNTD,1000,2022-08-06 10:02:00,M1,E1,\"POS\",\"a\r\nb\"\n\
                  T4,C1,BPNTD,3000,2022-08-06 10:03:00,M1,E1,pos,\n";
    let report = run(&format!("{ALLOCATIONS}{ALLOCATION_OK}"), debits, None);
    assert_eq!(
        rejects(&report),
        [
            ("debits.csv", 5, "amount", not_an_amount("1e3").as_str()),
            ("debits.csv", 6, "channel", "channel 'POS' is not one of atm, pos, qr, transfer"),
        ]
    );
    let lines: Vec<(&str, u64)> = report.findings.iter().map(|f| (f.txn_id, f.line)).collect();
    assert_eq!(lines, []);
    assert_eq!(rows(&report, "debits.csv"), (4, 2, 2));
    assert_eq!(report.summary.totals.settled.to_string(), "4000.00");
}

#[test]
fn crlf_line_ends_are_line_ends() {
    let allocations = format!("{ALLOCATIONS}{ALLOCATION_OK}").replace('\n', "\r\n");
    let debits = format!("{DEBITS}{DEBIT_OK}{}", debit_with(&[("txn_id", "T1")])).replace('\n', "\r\n");
    let report = run(&allocations, &debits, Some("merchant_id,programs\r\nM1,\r\n"));
    assert_eq!(rejects(&report), []);
    // The last column (amount, atc, programs) holds no '\r': T1 on line 3 differs from line 2
    // in amount and atc only.
    let found: Vec<(Rule, u64)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(found, [(Rule::ConflictingTxn, 2), (Rule::ConflictingTxn, 3)]);
    assert_eq!(report.summary.totals.allocated.to_string(), "100000.00");
}

#[test]
fn quoted_fields_are_unescaped_and_malformed_quotes_are_bad_only_in_spec_columns() {
    // A quoted id with "" escapes is unescaped (README); "C1" quoted is C1.
    let report = run(
        &format!("{ALLOCATIONS}\"C1\",\"B1\",,BPNTD,2022-08-01,2022-08-31,\"100000\"\n"),
        &format!(
            "{DEBITS}\"T\"\"1\",,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n\
             \"T\"\"1\",,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n"
        ),
        None,
    );
    assert_eq!(rejects(&report), []);
    let found: Vec<(Rule, &str, &str)> = report.findings.iter().map(|f| (f.rule, f.txn_id, f.card_id)).collect();
    assert_eq!(found, [(Rule::DuplicateTxn, "T\"1", "C1")]);
    assert_eq!(report.summary.totals.settled.to_string(), "1000.00");

    // README: a quote inside an unquoted field, or text after a closing quote, makes the
    // field malformed: a reject in a SPEC column, ignored in an extra column.
    let malformed = "malformed quotes: a quote inside an unquoted field, or text after a closing quote".to_owned();
    assert_eq!(reject(File::Debits, debit_with(&[("merchant_id", "M\"1")])), said("merchant_id", &malformed));
    assert_eq!(reject(File::Debits, debit_with(&[("terminal_id", "\"E1\"x")])), said("terminal_id", &malformed));
    let debits = "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n\
                  T1,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,5\" screen\n\
                  T2,C1,BPNTD,1000,2022-08-06 11:00:00,M1,E1,pos,\"quoted\" then text\n";
    let report = run(&format!("{ALLOCATIONS}{ALLOCATION_OK}"), debits, None);
    assert_eq!(rejects(&report), []);
    assert_eq!(report.summary.totals.settled.to_string(), "2000.00");
}

#[test]
fn an_unterminated_quote_is_an_error_for_the_whole_run_with_its_line() {
    let debits = format!("{DEBITS}{DEBIT_OK}\nT2,debit,,C1,BPNTD,1000,2022-08-06 11:00:00,\"M1,E1,pos,,\nT3\n");
    let error = failure(format!("{ALLOCATIONS}{ALLOCATION_OK}").as_bytes(), debits.as_bytes(), None, false);
    assert_eq!(error.code(), "file");
    assert_eq!(
        error.to_string(),
        "debits.csv, line 4: unterminated quote: the quoted field opened on line 4 never closes"
    );
    assert_eq!(error.location().unwrap().line, Some(4));
    // In the header too.
    let error = failure(b"card_id,\"beneficiary_id\n", DEBITS.as_bytes(), None, false);
    assert_eq!((error.code(), error.location().unwrap().line), ("file", Some(1)));
}

#[test]
fn line_numbers_hold_across_the_chunks_of_a_large_file() {
    // About 600 kB, so the file is read in several chunks with 2 threads: quoted line
    // breaks and blank lines all over, and a bad row every 1000 records.
    let mut debits = String::from("txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n");
    let mut line = 2u64;
    let mut bad = Vec::new();
    for n in 0..6000u64 {
        let amount = if n % 1000 == 999 { "1.001" } else { "1" };
        if amount != "1" {
            bad.push(line);
        }
        debits.push_str(&format!(
            "T{n},C1,BPNTD,{amount},2022-08-06 10:00:00,M1,E1,pos,\"note {n}\nstill note {n}, with a comma and \"\"quotes\"\"\"\n"
        ));
        line += 2;
        if n % 7 == 0 {
            debits.push('\n');
            line += 1;
        }
    }
    assert!(debits.len() > 500_000);
    let rulebook =
        r#"{"velocity": {"max_debits": 100000}, "near_duplicate_seconds": 0, "programs": [{"code": "BPNTD"}]}"#;
    let allocations = format!("{ALLOCATIONS}C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n");
    let report = run_files(rulebook, allocations.as_bytes(), debits.as_bytes(), None);
    let got: Vec<u64> = report.rejects.iter().map(|r| r.line).collect();
    assert_eq!(got, bad);
    assert_eq!(rows(&report, "debits.csv"), (6000, 5994, 6));
    // Same instant, merchant and amount: near duplicates of 0 s, each named with its line.
    let first = report.findings.get(0).unwrap();
    assert_eq!((first.rule, first.txn_id, first.line), (Rule::NearDuplicate, "T1", 5));
    assert_eq!(report.findings.len(), 5993);
}

#[test]
fn reports_name_files_by_their_role_and_errors_by_the_name_given() {
    // README: rejects.csv and summary.json name a file by its role (debits.csv) whatever
    // its path; an error names the file as the caller did.
    let rulebook = Rulebook::from_json("rulebook.json", RULEBOOK.as_bytes()).unwrap();
    let inputs = |strict| {
        let inputs = Inputs {
            allocations: Source::from_bytes(
                "/data/2022-08/alokasi kediri.csv",
                format!("{ALLOCATIONS}{ALLOCATION_OK}"),
            ),
            debits: Source::from_bytes("/data/2022-08/transaksi.csv", format!("{DEBITS}{DEBIT_OK}T2,C1\n")),
            merchants: Some(Source::from_bytes("/data/merchant.csv", format!("{MERCHANTS}{MERCHANT_OK}"))),
        };
        reconcile(&rulebook, &inputs, &Options { threads: 1, strict, ..Options::default() })
    };
    let report = inputs(false).expect("a report");
    assert_eq!(rejects(&report), [("debits.csv", 3, "", "2 fields, expected 12 as in the header")]);
    let files: Vec<&str> = report.summary.inputs.iter().map(|i| i.file.as_str()).collect();
    assert_eq!(files, ["allocations.csv", "debits.csv", "merchants.csv"]);
    let error = inputs(true).expect_err("strict mode fails");
    assert_eq!(error.to_string(), "/data/2022-08/transaksi.csv, line 3: 2 fields, expected 12 as in the header");
}

// ---------------------------------------------------------------------------------------
// Strict mode
// ---------------------------------------------------------------------------------------

#[test]
fn strict_mode_stops_at_the_first_bad_row_with_the_reject_message() {
    let allocations = format!("{ALLOCATIONS}{ALLOCATION_OK}{}", allocation_with(&[("valid_to", "2022-02-30")]));
    let debits = format!("{DEBITS}{}{DEBIT_OK}", debit_with(&[("amount", "1.001")]));
    let lenient = run(&allocations, &debits, None);
    assert_eq!(
        rejects(&lenient),
        [
            ("allocations.csv", 3, "valid_to", "'2022-02-30' is not a valid date (YYYY-MM-DD)"),
            ("debits.csv", 2, "amount", "'1.001' has 3 decimals, at most 2 allowed"),
        ]
    );
    // The first by (file, line): allocations.csv line 3, with the same reason.
    let error = failure(allocations.as_bytes(), debits.as_bytes(), None, true);
    assert_eq!(error.code(), "bad_row");
    assert_eq!(
        error.to_string(),
        "allocations.csv, line 3, column valid_to: '2022-02-30' is not a valid date (YYYY-MM-DD)"
    );
    let at = error.location().unwrap();
    assert_eq!((at.file.as_str(), at.line, at.column.as_deref()), ("allocations.csv", Some(3), Some("valid_to")));
    // A whole-row reject has no column.
    let debits = format!("{DEBITS}{DEBIT_OK}T2,C1\n");
    let error = failure(format!("{ALLOCATIONS}{ALLOCATION_OK}").as_bytes(), debits.as_bytes(), None, true);
    assert_eq!(error.to_string(), "debits.csv, line 3: 2 fields, expected 12 as in the header");
    assert_eq!(error.location().unwrap().column, None);
    // Without bad rows, strict mode gives the same report.
    let clean = format!("{DEBITS}{DEBIT_OK}");
    let allocations = format!("{ALLOCATIONS}{ALLOCATION_OK}");
    let strict = try_run(RULEBOOK, allocations.as_bytes(), clean.as_bytes(), None, true, 2).expect("a report");
    assert_eq!(strict, run(&allocations, &clean, None));
}
