//! One test per rule of SPEC, each a case small enough to check by eye.
//!
//! Every case is inline CSV; the header is line 1, so the first row is line 2. Each test
//! asserts the exact findings (rule, txn_id, card_id, program, line), and the money:
//! settled / held / remaining per program (net, as in summary.json), and the settlement and
//! balance rows. Every case runs with 1 and 2 threads and must give the same report.
//!
//! Unless a test says otherwise the rulebook is `BASE`: two decimals, timezone +07:00 (naive
//! timestamps and allocation days are read in it), default thresholds (near duplicates 60 s,
//! velocity 10 debits per 3600 s, bulk drain 5 cards, 1800 s, ratio 0.9).

use harmoni::{reconcile, Action, Inputs, Options, ProgramSummary, Report, Rule, Rulebook, Source, Subject};

const BASE: &str = r#"{"timezone": "+07:00", "programs": [{"code": "BPNTD"}, {"code": "ASLUT"}]}"#;

const ALLOCATIONS: &str = "card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount\n";
const DEBITS: &str =
    "txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc\n";

/// Runs whole files (headers included) with 1 and 2 threads; the two reports must be equal
/// and no row may be rejected (these tests are about rules, not bad rows).
fn run_files(rulebook: &str, allocations: &str, debits: &str, merchants: Option<&str>) -> Report {
    let rulebook = Rulebook::from_json("rulebook.json", rulebook.as_bytes()).expect("the rulebook is valid");
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", allocations),
        debits: Source::from_bytes("debits.csv", debits),
        merchants: merchants.map(|m| Source::from_bytes("merchants.csv", m)),
    };
    let run = |threads| reconcile(&rulebook, &inputs, &Options { threads, ..Options::default() }).expect("a report");
    let one = run(1);
    assert_eq!(one, run(2), "1 and 2 threads give different reports");
    assert!(one.rejects.is_empty(), "no row should be rejected here: {:?}", one.rejects);
    one
}

/// Runs rows under the standard headers.
fn run(rulebook: &str, allocations: &str, debits: &str) -> Report {
    run_files(rulebook, &format!("{ALLOCATIONS}{allocations}"), &format!("{DEBITS}{debits}"), None)
}

/// Runs rows under the standard headers, with merchants.csv (header included).
fn run_with_merchants(rulebook: &str, allocations: &str, debits: &str, merchants: &str) -> Report {
    run_files(rulebook, &format!("{ALLOCATIONS}{allocations}"), &format!("{DEBITS}{debits}"), Some(merchants))
}

/// (rule, txn_id, card_id, program, line), in the order of findings.csv.
fn findings(report: &Report) -> Vec<(&str, &str, &str, &str, u64)> {
    report.findings.iter().map(|f| (f.rule.as_str(), f.txn_id, f.card_id, f.program, f.line)).collect()
}

/// The detail of the only finding of `rule` on `txn_id`.
fn detail<'r>(report: &'r Report, rule: Rule, txn_id: &str) -> &'r str {
    let mut found = report.findings.iter().filter(|f| f.rule == rule && f.txn_id == txn_id);
    let first = found.next().unwrap_or_else(|| panic!("no {rule} on {txn_id}"));
    assert!(found.next().is_none(), "several {rule} on {txn_id}");
    first.detail
}

/// [settled, held, remaining] of a program, net, as in summary.json.
fn money(report: &Report, code: &str) -> [String; 3] {
    let p = program(report, code);
    [p.settled.to_string(), p.held.to_string(), p.remaining.to_string()]
}

/// The summary of one program.
fn program<'r>(report: &'r Report, code: &str) -> &'r ProgramSummary {
    report.summary.programs.iter().find(|p| p.program == code).expect("the program is in the summary")
}

/// settlement.csv rows without the header.
fn settlement(report: &Report) -> Vec<String> {
    report
        .settlement
        .iter()
        .map(|s| format!("{},{},{},{},{}", s.merchant_id, s.program, s.amount, s.debits, s.reversals))
        .collect()
}

/// balances.csv rows without the header.
fn balances(report: &Report) -> Vec<String> {
    report
        .balances
        .iter()
        .map(|b| {
            let (from, to) = (b.valid_from, b.valid_to);
            format!("{},{},{from},{to},{},{},{}", b.card_id, b.program, b.allocated, b.spent, b.remaining)
        })
        .collect()
}

#[test]
fn every_rule_has_the_action_and_subject_of_spec() {
    use Action::{Drop, Hold, Review};
    use Subject::{Allocation, Debit};
    let spec = [
        ("DUPLICATE_TXN", Drop, Debit),
        ("CONFLICTING_TXN", Hold, Debit),
        ("DUPLICATE_ALLOCATION", Review, Allocation),
        ("ATC_REPLAY", Hold, Debit),
        ("NO_ALLOCATION", Hold, Debit),
        ("OUTSIDE_PERIOD", Hold, Debit),
        ("CHANNEL_NOT_ALLOWED", Hold, Debit),
        ("MCC_NOT_ALLOWED", Hold, Debit),
        ("MERCHANT_NOT_REGISTERED", Hold, Debit),
        ("OVER_LIMIT", Hold, Debit),
        ("OVERDRAFT", Hold, Debit),
        ("ORPHAN_REVERSAL", Review, Debit),
        ("REVERSAL_EXCEEDS", Review, Debit),
        ("NEAR_DUPLICATE", Review, Debit),
        ("VELOCITY", Review, Debit),
        ("BULK_DRAIN", Review, Debit),
        ("DUPLICATE_BENEFICIARY", Review, Allocation),
        ("DUPLICATE_HOUSEHOLD", Review, Allocation),
    ];
    let got: Vec<_> = Rule::ALL.iter().map(|r| (r.as_str(), r.action(), r.subject())).collect();
    assert_eq!(got, spec);
}

// ---------------------------------------------------------------------------------------
// Rule 1: identity
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_txn_drops_resent_copies_compared_by_value() {
    // Line 3 writes 50000 as 50000.00, the instant in Z, and atc 7 as 0007; line 4 writes
    // the instant naive (read in +07:00) and the type empty: all the same values as line 2.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,200000\n",
        "T1,debit,,C1,BPNTD,50000,2022-08-06T10:15:00+07:00,M1,E1,pos,5411,7\n\
         T1,debit,,C1,BPNTD,50000.00,2022-08-06T03:15:00Z,M1,E1,pos,5411,0007\n\
         T1,,,C1,BPNTD,050000.0,2022-08-06 10:15:00,M1,E1,pos,5411,7\n\
         R1,reversal,T1,C1,BPNTD,10000,2022-08-07 09:00:00,,,,,\n\
         R1,reversal,T1,C1,BPNTD,10000.00,2022-08-07T02:00:00Z,,,,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("DUPLICATE_TXN", "R1", "C1", "BPNTD", 6),
            ("DUPLICATE_TXN", "T1", "C1", "BPNTD", 3),
            ("DUPLICATE_TXN", "T1", "C1", "BPNTD", 4),
        ]
    );
    // One debit of 50000 and one reversal of 10000, neither counted twice.
    assert_eq!(money(&report, "BPNTD"), ["40000.00", "0.00", "160000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,40000.00,1,1"]);
    let bpntd = program(&report, "BPNTD");
    assert_eq!((bpntd.debits, bpntd.reversals_applied), (1, 1));
}

#[test]
fn duplicate_txn_ignores_extra_columns_and_original_txn_id_on_a_debit() {
    // README: `original_txn_id` on a debit is neither checked nor compared; extra columns
    // are not fields of the spec.
    let report = run_files(
        BASE,
        &format!("{ALLOCATIONS}C1,B1,,BPNTD,2022-08-01,2022-08-31,200000\n"),
        "txn_id,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,note\n\
         T1,,C1,BPNTD,50000,2022-08-06 10:15:00,M1,E1,pos,first\n\
         T1,X9,C1,BPNTD,50000,2022-08-06 10:15:00,M1,E1,pos,resent by the switch\n",
        None,
    );
    assert_eq!(findings(&report), [("DUPLICATE_TXN", "T1", "C1", "BPNTD", 3)]);
    assert_eq!(money(&report, "BPNTD"), ["50000.00", "0.00", "150000.00"]);
}

#[test]
fn conflicting_txn_holds_every_row_and_the_original_of_no_reversal() {
    // Lines 2 and 3 are identical, but line 4 differs: all three conflict. T2 is a debit on
    // line 6 and a reversal on line 7: they conflict too. R1 names a conflicting debit.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,200000\n",
        "T1,debit,,C1,BPNTD,50000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T1,debit,,C1,BPNTD,50000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T1,debit,,C1,BPNTD,60000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         R1,reversal,T1,C1,BPNTD,10000,2022-08-06 11:00:00,,,,,\n\
         T2,debit,,C1,BPNTD,30000,2022-08-06 12:00:00,M1,E1,pos,,\n\
         T2,reversal,T1,C1,BPNTD,30000,2022-08-06 12:00:00,,,,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("ORPHAN_REVERSAL", "R1", "C1", "BPNTD", 5),
            ("CONFLICTING_TXN", "T1", "C1", "BPNTD", 2),
            ("CONFLICTING_TXN", "T1", "C1", "BPNTD", 3),
            ("CONFLICTING_TXN", "T1", "C1", "BPNTD", 4),
            ("CONFLICTING_TXN", "T2", "C1", "BPNTD", 6),
            ("CONFLICTING_TXN", "T2", "C1", "BPNTD", 7),
        ]
    );
    // Held: the four conflicting debits, 50000 + 50000 + 60000 + 30000 (the conflicting
    // reversal is not a debit, and is not applied).
    assert_eq!(money(&report, "BPNTD"), ["0.00", "190000.00", "200000.00"]);
    let bpntd = program(&report, "BPNTD");
    assert_eq!((bpntd.debits, bpntd.debits_held, bpntd.reversals_applied), (4, 4, 0));
    assert_eq!(settlement(&report), Vec::<String>::new());
}

#[test]
fn duplicate_allocation_keeps_the_first_identical_row() {
    // Line 3 equals line 2 (100000 = 100000.00); line 4 differs in household_id: kept.
    let report = run(
        BASE,
        "C1,B1,K1,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,K1,BPNTD,2022-08-01,2022-08-31,100000.00\n\
         C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "T1,debit,,C1,BPNTD,150000,2022-08-10 10:00:00,M1,E1,pos,,\n",
    );
    assert_eq!(findings(&report), [("DUPLICATE_ALLOCATION", "", "C1", "BPNTD", 3)]);
    assert_eq!(report.findings.get(0).unwrap().subject(), Subject::Allocation);
    // Two kept allocations (200000); the debit draws the empty household first.
    assert_eq!(money(&report, "BPNTD"), ["150000.00", "0.00", "50000.00"]);
    assert_eq!(
        balances(&report),
        [
            "C1,BPNTD,2022-08-01,2022-08-31,100000.00,100000.00,0.00",
            "C1,BPNTD,2022-08-01,2022-08-31,100000.00,50000.00,50000.00",
        ]
    );
    assert_eq!(program(&report, "BPNTD").allocations, 2);
}

// ---------------------------------------------------------------------------------------
// Rule 2: debit checks
// ---------------------------------------------------------------------------------------

#[test]
fn atc_replay_holds_every_debit_of_a_card_sharing_an_atc() {
    // T1 and T2: one card, two programs, atc 42 written as 42 and 0042. T3 uses 42 on
    // another card; R1 is a reversal (reversals do not count); T4 has its own atc.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,200000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,200000\n\
         C2,B2,,BPNTD,2022-08-01,2022-08-31,200000\n",
        "T1,debit,,C1,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,42\n\
         T2,debit,,C1,ASLUT,20000,2022-08-06 11:00:00,M2,E2,pos,,0042\n\
         T3,debit,,C2,BPNTD,30000,2022-08-06 12:00:00,M1,E1,pos,,42\n\
         R1,reversal,T3,C2,BPNTD,5000,2022-08-06 13:00:00,,,,,42\n\
         T4,debit,,C1,BPNTD,40000,2022-08-06 14:00:00,M1,E1,pos,,43\n",
    );
    assert_eq!(findings(&report), [("ATC_REPLAY", "T2", "C1", "ASLUT", 3), ("ATC_REPLAY", "T1", "C1", "BPNTD", 2)]);
    // BPNTD: T3 30000 - R1 5000 + T4 40000 settled; T1 held. Remaining 160000 + 175000.
    assert_eq!(money(&report, "BPNTD"), ["65000.00", "10000.00", "335000.00"]);
    assert_eq!(money(&report, "ASLUT"), ["0.00", "20000.00", "200000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,65000.00,2,1"]);
}

#[test]
fn no_allocation_when_the_card_has_none_for_the_program() {
    // Ids are compared bytewise: c1 is not C1.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "T1,debit,,C1,ASLUT,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,C2,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T3,debit,,C1,BPNTD,10000,2022-08-06 11:00:00,M1,E1,pos,,\n\
         T4,debit,,c1,BPNTD,10000,2022-08-06 12:00:00,M1,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("NO_ALLOCATION", "T1", "C1", "ASLUT", 2),
            ("NO_ALLOCATION", "T2", "C2", "BPNTD", 3),
            ("NO_ALLOCATION", "T4", "c1", "BPNTD", 5),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["10000.00", "20000.00", "90000.00"]);
    assert_eq!(money(&report, "ASLUT"), ["0.00", "10000.00", "0.00"]);
}

#[test]
fn outside_period_uses_local_midnights_of_the_rulebook_timezone() {
    // Valid over [2022-08-01 00:00 +07:00, 2022-09-01 00:00 +07:00) = [07-31T17:00Z, 08-31T17:00Z).
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,1000000\n",
        "T1,debit,,C1,BPNTD,1001,2022-07-31T23:59:59+07:00,M1,E1,pos,,\n\
         T2,debit,,C1,BPNTD,1002,2022-07-31T17:00:00Z,M1,E1,pos,,\n\
         T3,debit,,C1,BPNTD,1003,2022-08-31 23:59:59,M1,E1,pos,,\n\
         T4,debit,,C1,BPNTD,1004,2022-08-31T23:59:59.999999999+07:00,M1,E1,pos,,\n\
         T5,debit,,C1,BPNTD,1005,2022-08-31T17:00:00Z,M1,E1,pos,,\n\
         T6,debit,,C1,BPNTD,1006,2022-09-01 00:00:00,M1,E1,pos,,\n\
         T7,debit,,C1,BPNTD,1007,2022-08-01T00:00:00+08:00,M1,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("OUTSIDE_PERIOD", "T1", "C1", "BPNTD", 2),
            ("OUTSIDE_PERIOD", "T5", "C1", "BPNTD", 6),
            ("OUTSIDE_PERIOD", "T6", "C1", "BPNTD", 7),
            ("OUTSIDE_PERIOD", "T7", "C1", "BPNTD", 8),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["3009.00", "4019.00", "996991.00"]);
}

#[test]
fn outside_period_in_a_negative_half_hour_timezone_across_a_year_end() {
    // One day, 2022-12-31 at -03:30: [2022-12-31T03:30:00Z, 2023-01-01T03:30:00Z).
    let rulebook = r#"{"timezone": "-03:30", "programs": [{"code": "BPNTD"}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-12-31,2022-12-31,100000\n",
        "T1,debit,,C1,BPNTD,1001,2022-12-31T03:29:59Z,M1,E1,pos,,\n\
         T2,debit,,C1,BPNTD,1002,2022-12-31 00:00:00,M1,E1,pos,,\n\
         T3,debit,,C1,BPNTD,1003,2023-01-01T03:29:59.999999999Z,M1,E1,pos,,\n\
         T4,debit,,C1,BPNTD,1004,2022-12-31T23:59:59-03:30,M1,E1,pos,,\n\
         T5,debit,,C1,BPNTD,1005,2023-01-01 00:00:00,M1,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [("OUTSIDE_PERIOD", "T1", "C1", "BPNTD", 2), ("OUTSIDE_PERIOD", "T5", "C1", "BPNTD", 6)]
    );
    assert_eq!(money(&report, "BPNTD"), ["3009.00", "2006.00", "96991.00"]);
}

#[test]
fn channel_not_allowed_and_an_empty_list_allows_nothing() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [
        {"code": "BPNTD", "channels": ["pos", "qr"]}, {"code": "ASLUT", "channels": []}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n",
        "T1,debit,,C1,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,C1,BPNTD,10001,2022-08-06 10:01:00,M1,E1,qr,,\n\
         T3,debit,,C1,BPNTD,10002,2022-08-06 10:02:00,M1,E1,atm,,\n\
         T4,debit,,C1,BPNTD,10003,2022-08-06 10:03:00,M1,E1,transfer,,\n\
         T5,debit,,C1,ASLUT,10004,2022-08-06 10:04:00,M1,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("CHANNEL_NOT_ALLOWED", "T5", "C1", "ASLUT", 6),
            ("CHANNEL_NOT_ALLOWED", "T3", "C1", "BPNTD", 4),
            ("CHANNEL_NOT_ALLOWED", "T4", "C1", "BPNTD", 5),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["20001.00", "20005.00", "79999.00"]);
    assert_eq!(money(&report, "ASLUT"), ["0.00", "10004.00", "100000.00"]);
}

#[test]
fn mcc_not_allowed_including_an_empty_mcc_when_the_program_lists_some() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [
        {"code": "BPNTD", "mcc": ["5411", "5499"]}, {"code": "ASLUT"}, {"code": "YATIM", "mcc": []}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n\
         C1,B1,,YATIM,2022-08-01,2022-08-31,100000\n",
        "T1,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,5411,\n\
         T2,debit,,C1,BPNTD,1001,2022-08-06 10:01:00,M1,E1,pos,5499,\n\
         T3,debit,,C1,BPNTD,1002,2022-08-06 10:02:00,M1,E1,pos,5812,\n\
         T4,debit,,C1,BPNTD,1003,2022-08-06 10:03:00,M1,E1,pos,,\n\
         T5,debit,,C1,ASLUT,1004,2022-08-06 10:04:00,M1,E1,pos,,\n\
         T6,debit,,C1,ASLUT,1005,2022-08-06 10:05:00,M1,E1,pos,6011,\n\
         T7,debit,,C1,YATIM,1006,2022-08-06 10:06:00,M1,E1,pos,5411,\n\
         T8,debit,,C1,YATIM,1007,2022-08-06 10:07:00,M1,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("MCC_NOT_ALLOWED", "T3", "C1", "BPNTD", 4),
            ("MCC_NOT_ALLOWED", "T4", "C1", "BPNTD", 5),
            ("MCC_NOT_ALLOWED", "T7", "C1", "YATIM", 8),
            ("MCC_NOT_ALLOWED", "T8", "C1", "YATIM", 9),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["2001.00", "2005.00", "97999.00"]);
    assert_eq!(money(&report, "ASLUT"), ["2009.00", "0.00", "97991.00"]);
    assert_eq!(money(&report, "YATIM"), ["0.00", "2013.00", "100000.00"]);
}

#[test]
fn merchant_not_registered_reads_merchants_csv_as_a_union() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [
        {"code": "BPNTD", "registered_merchants_only": true}, {"code": "ASLUT"}]}"#;
    let allocations = "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
                       C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n";
    // M1 registered; M2 for ASLUT only; M3 for none (empty list); M4 on two rows (union);
    // M5 for both on one row; M6 not in the file.
    let merchants = "merchant_id,programs\nM1,BPNTD\nM2,ASLUT\nM3,\nM4,ASLUT\nM4,BPNTD\nM5,ASLUT;BPNTD\n";
    let debits = "T1,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n\
                  T2,debit,,C1,BPNTD,1001,2022-08-06 10:01:00,M2,E1,pos,,\n\
                  T3,debit,,C1,BPNTD,1002,2022-08-06 10:02:00,M3,E1,pos,,\n\
                  T4,debit,,C1,BPNTD,1003,2022-08-06 10:03:00,M4,E1,pos,,\n\
                  T5,debit,,C1,BPNTD,1004,2022-08-06 10:04:00,M5,E1,pos,,\n\
                  T6,debit,,C1,BPNTD,1005,2022-08-06 10:05:00,M6,E1,pos,,\n\
                  T7,debit,,C1,ASLUT,1006,2022-08-06 10:06:00,M6,E1,pos,,\n";
    let report = run_with_merchants(rulebook, allocations, debits, merchants);
    assert_eq!(
        findings(&report),
        [
            ("MERCHANT_NOT_REGISTERED", "T2", "C1", "BPNTD", 3),
            ("MERCHANT_NOT_REGISTERED", "T3", "C1", "BPNTD", 4),
            ("MERCHANT_NOT_REGISTERED", "T6", "C1", "BPNTD", 7),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["3007.00", "3008.00", "96993.00"]);
    assert_eq!(
        settlement(&report),
        ["M1,BPNTD,1000.00,1,0", "M4,BPNTD,1003.00,1,0", "M5,BPNTD,1004.00,1,0", "M6,ASLUT,1006.00,1,0"]
    );

    // Without merchants.csv no merchant is registered for anything.
    let report = run(rulebook, allocations, debits);
    let fired: Vec<&str> = report.findings.iter().map(|f| f.txn_id).collect();
    assert_eq!(fired, ["T1", "T2", "T3", "T4", "T5", "T6"]);
    assert!(report.findings.iter().all(|f| f.rule == Rule::MerchantNotRegistered));
    assert_eq!(money(&report, "BPNTD"), ["0.00", "6015.00", "100000.00"]);
}

#[test]
fn over_limit_is_strictly_above_max_debit() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [{"code": "BPNTD", "max_debit": "300000"}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,1000000\n",
        "T1,debit,,C1,BPNTD,300000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,C1,BPNTD,300000.01,2022-08-06 11:00:00,M2,E1,pos,,\n\
         T3,debit,,C1,BPNTD,300000.00,2022-08-06 12:00:00,M3,E1,pos,,\n",
    );
    assert_eq!(findings(&report), [("OVER_LIMIT", "T2", "C1", "BPNTD", 3)]);
    assert_eq!(money(&report, "BPNTD"), ["600000.00", "300000.01", "400000.00"]);
}

#[test]
fn every_applicable_debit_check_is_reported_at_once() {
    // D1 fails every check of rule 2 but NO_ALLOCATION (it has an allocation, not valid in
    // September); D2 shares its atc and its merchant is not registered. Held debits never
    // reach the balance walk, so there is no OVERDRAFT.
    let rulebook = r#"{"timezone": "+07:00", "programs": [{"code": "BPNTD", "channels": ["pos"],
        "mcc": ["5411"], "max_debit": "100000", "registered_merchants_only": true}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,1000000\n",
        "D1,debit,,C1,BPNTD,1500000,2022-09-05 10:00:00,M9,E1,atm,5812,7\n\
         D2,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M9,E1,pos,5411,7\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("ATC_REPLAY", "D1", "C1", "BPNTD", 2),
            ("CHANNEL_NOT_ALLOWED", "D1", "C1", "BPNTD", 2),
            ("MCC_NOT_ALLOWED", "D1", "C1", "BPNTD", 2),
            ("MERCHANT_NOT_REGISTERED", "D1", "C1", "BPNTD", 2),
            ("OUTSIDE_PERIOD", "D1", "C1", "BPNTD", 2),
            ("OVER_LIMIT", "D1", "C1", "BPNTD", 2),
            ("ATC_REPLAY", "D2", "C1", "BPNTD", 3),
            ("MERCHANT_NOT_REGISTERED", "D2", "C1", "BPNTD", 3),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["0.00", "1501000.00", "1000000.00"]);
}

// ---------------------------------------------------------------------------------------
// Rule 3: balance
// ---------------------------------------------------------------------------------------

#[test]
fn overdraft_counts_only_allocations_valid_at_the_instant_and_held_debits_draw_nothing() {
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,,BPNTD,2022-09-01,2022-09-30,50000\n",
        "T1,debit,,C1,BPNTD,60000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,C1,BPNTD,50000,2022-08-06 11:00:00,M1,E1,pos,,\n\
         T3,debit,,C1,BPNTD,40000,2022-08-06 12:00:00,M1,E1,pos,,\n\
         T4,debit,,C1,BPNTD,0.01,2022-08-06 13:00:00,M1,E1,pos,,\n",
    );
    // T2 asks 50000 of 40000; T3 takes exactly the 40000 left (T2, held, took nothing);
    // T4 finds nothing left in August, though September's allocation is untouched.
    assert_eq!(findings(&report), [("OVERDRAFT", "T2", "C1", "BPNTD", 3), ("OVERDRAFT", "T4", "C1", "BPNTD", 5)]);
    assert_eq!(money(&report, "BPNTD"), ["100000.00", "50000.01", "50000.00"]);
    assert_eq!(
        balances(&report),
        [
            "C1,BPNTD,2022-08-01,2022-08-31,100000.00,100000.00,0.00",
            "C1,BPNTD,2022-09-01,2022-09-30,50000.00,0.00,50000.00",
        ]
    );
    assert_eq!(settlement(&report), ["M1,BPNTD,100000.00,2,0"]);
}

#[test]
fn a_debit_splits_across_allocations_in_draw_order() {
    // Draw order: valid_to, valid_from, amount, beneficiary_id, household_id. All six are
    // valid on 2022-08-10; the debit of 32000 takes line 4 (earliest valid_from), line 5
    // (smallest amount), line 6 (beneficiary A9 before B1) whole, then 7000 of line 3
    // (household "" before K1). Lines 7 and 2 (latest valid_to) are untouched.
    let report = run(
        BASE,
        "C1,B2,,BPNTD,2022-08-01,2022-09-30,10000\n\
         C1,B1,,BPNTD,2022-08-01,2022-08-31,10000\n\
         C1,B1,,BPNTD,2022-07-01,2022-08-31,10000\n\
         C1,B1,,BPNTD,2022-08-01,2022-08-31,5000\n\
         C1,A9,,BPNTD,2022-08-01,2022-08-31,10000\n\
         C1,B1,K1,BPNTD,2022-08-01,2022-08-31,10000\n",
        "D1,debit,,C1,BPNTD,32000,2022-08-10 10:00:00,M1,E1,pos,,\n",
    );
    assert_eq!(findings(&report), []);
    assert_eq!(
        balances(&report),
        [
            "C1,BPNTD,2022-07-01,2022-08-31,10000.00,10000.00,0.00",
            "C1,BPNTD,2022-08-01,2022-08-31,5000.00,5000.00,0.00",
            "C1,BPNTD,2022-08-01,2022-08-31,10000.00,10000.00,0.00",
            "C1,BPNTD,2022-08-01,2022-08-31,10000.00,7000.00,3000.00",
            "C1,BPNTD,2022-08-01,2022-08-31,10000.00,0.00,10000.00",
            "C1,BPNTD,2022-08-01,2022-09-30,10000.00,0.00,10000.00",
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["32000.00", "0.00", "23000.00"]);
}

#[test]
fn a_reversal_gives_back_last_drawn_first_even_to_an_expired_allocation() {
    // D1 draws 30000 from July's allocation (line 2) and 20000 from line 3. R1 gives 40000
    // back: 20000 to line 3 (drawn last), then 20000 to line 2, which has expired by then.
    // So D2 finds line 3 whole (100000) and D3 finds nothing left in August.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-07-01,2022-07-31,30000\n\
         C1,B1,,BPNTD,2022-07-01,2022-08-31,100000\n",
        "D1,debit,,C1,BPNTD,50000,2022-07-20 10:00:00,M1,E1,pos,,\n\
         R1,reversal,D1,C1,BPNTD,40000,2022-08-05 10:00:00,,,,,\n\
         D2,debit,,C1,BPNTD,100000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         D3,debit,,C1,BPNTD,0.01,2022-08-07 10:00:00,M1,E1,pos,,\n",
    );
    assert_eq!(findings(&report), [("OVERDRAFT", "D3", "C1", "BPNTD", 5)]);
    assert_eq!(
        balances(&report),
        [
            "C1,BPNTD,2022-07-01,2022-07-31,30000.00,10000.00,20000.00",
            "C1,BPNTD,2022-07-01,2022-08-31,100000.00,100000.00,0.00",
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["110000.00", "0.01", "20000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,110000.00,2,1"]);
}

#[test]
fn successive_reversals_walk_back_through_a_split_debit() {
    // D1 draws A 30000, B 20000, C 10000 (draw order: valid_to). R1 (15000) gives back C
    // 10000 and B 5000; R2 (20000) B 15000 and A 5000. D2 then takes all 35000 available.
    // R3 gives D1's last 25000 back to A (still valid on 08-09).
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-10,30000\n\
         C1,B1,,BPNTD,2022-08-01,2022-08-20,20000\n\
         C1,B1,,BPNTD,2022-08-01,2022-08-31,10000\n",
        "D1,debit,,C1,BPNTD,60000,2022-08-05 10:00:00,M1,E1,pos,,\n\
         R1,reversal,D1,C1,BPNTD,15000,2022-08-06 10:00:00,,,,,\n\
         R2,reversal,D1,C1,BPNTD,20000,2022-08-07 10:00:00,,,,,\n\
         D2,debit,,C1,BPNTD,35000,2022-08-08 10:00:00,M2,E1,pos,,\n\
         R3,reversal,D1,C1,BPNTD,25000,2022-08-09 10:00:00,,,,,\n",
    );
    assert_eq!(findings(&report), []);
    assert_eq!(
        balances(&report),
        [
            "C1,BPNTD,2022-08-01,2022-08-10,30000.00,5000.00,25000.00",
            "C1,BPNTD,2022-08-01,2022-08-20,20000.00,20000.00,0.00",
            "C1,BPNTD,2022-08-01,2022-08-31,10000.00,10000.00,0.00",
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["35000.00", "0.00", "25000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,0.00,1,3", "M2,BPNTD,35000.00,1,0"]);
}

#[test]
fn a_reversal_of_a_held_debit_lowers_held() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [{"code": "BPNTD", "channels": ["pos"]}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "D1,debit,,C1,BPNTD,50000,2022-08-06 10:00:00,M1,E1,atm,,\n\
         R1,reversal,D1,C1,BPNTD,20000,2022-08-06 11:00:00,,,,,\n\
         R2,reversal,D1,C1,BPNTD,40000,2022-08-06 12:00:00,,,,,\n",
    );
    assert_eq!(
        findings(&report),
        [("CHANNEL_NOT_ALLOWED", "D1", "C1", "BPNTD", 2), ("REVERSAL_EXCEEDS", "R2", "C1", "BPNTD", 4)]
    );
    // Held 50000 - 20000; the allocation is untouched; no merchant has a settled debit.
    assert_eq!(money(&report, "BPNTD"), ["0.00", "30000.00", "100000.00"]);
    let p = program(&report, "BPNTD");
    assert_eq!((p.held_gross.to_string(), p.reversed_held.to_string()), ("50000.00".into(), "20000.00".into()));
    assert_eq!(p.reversals_applied, 1);
    assert_eq!(settlement(&report), Vec::<String>::new());
}

#[test]
fn reversal_exceeds_after_partial_reversals() {
    // What is left of D1: 100000, 70000 after R1, 20000 after R2; R3 (30000) exceeds it;
    // 10000 after R4; R5 exceeds by 0.01; R6 takes exactly the 10000 left.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "D1,debit,,C1,BPNTD,100000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         R1,reversal,D1,C1,BPNTD,30000,2022-08-06 11:00:00,,,,,\n\
         R2,reversal,D1,C1,BPNTD,50000,2022-08-06 12:00:00,,,,,\n\
         R3,reversal,D1,C1,BPNTD,30000,2022-08-06 13:00:00,,,,,\n\
         R4,reversal,D1,C1,BPNTD,10000,2022-08-06 14:00:00,,,,,\n\
         R5,reversal,D1,C1,BPNTD,10000.01,2022-08-06 15:00:00,,,,,\n\
         R6,reversal,D1,C1,BPNTD,10000.00,2022-08-06 16:00:00,,,,,\n",
    );
    assert_eq!(
        findings(&report),
        [("REVERSAL_EXCEEDS", "R3", "C1", "BPNTD", 5), ("REVERSAL_EXCEEDS", "R5", "C1", "BPNTD", 7)]
    );
    assert_eq!(money(&report, "BPNTD"), ["0.00", "0.00", "100000.00"]);
    // The merchant keeps its row: it had a settled debit, now reversed whole.
    assert_eq!(settlement(&report), ["M1,BPNTD,0.00,1,4"]);
    assert_eq!(program(&report, "BPNTD").reversals_applied, 4);
}

#[test]
fn orphan_reversal_for_each_cause() {
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n\
         C2,B2,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C3,B3,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C4,B4,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C5,B5,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "D1,debit,,C1,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         R1,reversal,X9,C1,BPNTD,1000,2022-08-06 11:00:00,,,,,\n\
         R2,reversal,D1,C1,BPNTD,1000,2022-08-06 11:00:00,,,,,\n\
         R3,reversal,R2,C1,BPNTD,1000,2022-08-06 12:00:00,,,,,\n\
         R4,reversal,D1,C2,BPNTD,1000,2022-08-06 12:00:00,,,,,\n\
         R5,reversal,D1,C1,ASLUT,1000,2022-08-06 12:00:00,,,,,\n\
         D2,debit,,C3,BPNTD,10000,2022-08-06 10:00:00,M1,E3,pos,,\n\
         D2,debit,,C3,BPNTD,20000,2022-08-06 10:00:00,M1,E3,pos,,\n\
         R6,reversal,D2,C3,BPNTD,1000,2022-08-06 11:00:00,,,,,\n\
         R7,reversal,D3,C4,BPNTD,1000,2022-08-06 09:00:00,,,,,\n\
         D3,debit,,C4,BPNTD,10000,2022-08-06 10:00:00,M1,E4,pos,,\n\
         A0,reversal,Z9,C5,BPNTD,4000,2022-08-06 10:00:00,,,,,\n\
         Z9,debit,,C5,BPNTD,10000,2022-08-06T03:00:00Z,M2,E5,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("ORPHAN_REVERSAL", "R5", "C1", "ASLUT", 7),
            ("ORPHAN_REVERSAL", "R1", "C1", "BPNTD", 3),
            ("ORPHAN_REVERSAL", "R3", "C1", "BPNTD", 5),
            ("ORPHAN_REVERSAL", "R4", "C2", "BPNTD", 6),
            ("CONFLICTING_TXN", "D2", "C3", "BPNTD", 8),
            ("CONFLICTING_TXN", "D2", "C3", "BPNTD", 9),
            ("ORPHAN_REVERSAL", "R6", "C3", "BPNTD", 10),
            ("ORPHAN_REVERSAL", "R7", "C4", "BPNTD", 11),
        ]
    );
    // Each detail names its cause.
    for (txn, cause) in [
        ("R1", "not in debits.csv"),
        ("R3", "a reversal"),
        ("R4", "another card"),
        ("R5", "program BPNTD"),
        ("R6", "conflict"),
        ("R7", "later"),
    ] {
        let text = detail(&report, Rule::OrphanReversal, txn);
        assert!(text.contains(cause), "{txn}: {text:?} should say {cause:?}");
    }
    // R2 and A0 are applied: A0 is at the same instant as Z9 (written with another offset)
    // and sorts before it by txn_id, but debits come before reversals at one instant.
    // Settled: D1 10000 - R2 1000, D3 10000, Z9 10000 - A0 4000; held: D2 10000 + 20000.
    assert_eq!(money(&report, "BPNTD"), ["25000.00", "30000.00", "475000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,19000.00,2,1", "M2,BPNTD,6000.00,1,1"]);
}

#[test]
fn orphan_reversal_causes_on_a_card_with_many_reversals() {
    // Six reversals on C1, more than the walk looks up by reading the card's events (4): the
    // originals are found through the events sorted by txn_id, with the same causes. Event
    // order (R5, T1, T2, T3, R1, R2, R3, R4, R6) is far from txn_id order, so a lookup that
    // skipped the sort would miss T1 and T2.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n",
        "T1,debit,,C1,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,C1,ASLUT,20000,2022-08-06 10:00:00,M2,E1,pos,,\n\
         R1,reversal,X9,C1,BPNTD,1000,2022-08-06 11:00:00,,,,,\n\
         R2,reversal,T1,C1,BPNTD,1000,2022-08-06 11:00:00,,,,,\n\
         R3,reversal,R2,C1,BPNTD,1000,2022-08-06 12:00:00,,,,,\n\
         R4,reversal,T1,C1,ASLUT,1000,2022-08-06 12:00:00,,,,,\n\
         R5,reversal,T3,C1,BPNTD,1000,2022-08-06 09:00:00,,,,,\n\
         T3,debit,,C1,BPNTD,5000,2022-08-06 10:30:00,M3,E1,pos,,\n\
         R6,reversal,T2,C1,ASLUT,2000,2022-08-06 13:00:00,,,,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("ORPHAN_REVERSAL", "R4", "C1", "ASLUT", 7),
            ("ORPHAN_REVERSAL", "R1", "C1", "BPNTD", 4),
            ("ORPHAN_REVERSAL", "R3", "C1", "BPNTD", 6),
            ("ORPHAN_REVERSAL", "R5", "C1", "BPNTD", 8),
        ]
    );
    for (txn, cause) in [("R1", "not in debits.csv"), ("R3", "a reversal"), ("R4", "program BPNTD"), ("R5", "later")] {
        let text = detail(&report, Rule::OrphanReversal, txn);
        assert!(text.contains(cause), "{txn}: {text:?} should say {cause:?}");
    }
    // R2 and R6 are applied. Settled: T1 10000 - R2 1000, T3 5000; T2 20000 - R6 2000.
    assert_eq!(money(&report, "BPNTD"), ["14000.00", "0.00", "86000.00"]);
    assert_eq!(money(&report, "ASLUT"), ["18000.00", "0.00", "82000.00"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,9000.00,1,1", "M2,ASLUT,18000.00,1,1", "M3,BPNTD,5000.00,1,0"]);
}

#[test]
fn findings_and_balances_are_ordered_by_whole_card_ids_past_their_first_bytes() {
    // Card ids of 17 and 18 bytes that share their first 16: the order is bytewise over the
    // whole id (a shorter id before a longer one it begins), then program code, then txn_id.
    let report = run(
        BASE,
        "KKS-0000000000002,B2,,BPNTD,2022-08-01,2022-08-31,100\n\
         KKS-00000000000010,B3,,BPNTD,2022-08-01,2022-08-31,100\n\
         KKS-0000000000001,B1,,BPNTD,2022-08-01,2022-08-31,100\n\
         KKS-0000000000001,B1,,ASLUT,2022-08-01,2022-08-31,100\n",
        "T1,debit,,KKS-0000000000002,BPNTD,500,2022-08-06 10:00:00,M1,E1,pos,,\n\
         T2,debit,,KKS-0000000000001,ASLUT,500,2022-08-06 10:00:00,M2,E1,pos,,\n\
         T3,debit,,KKS-00000000000010,BPNTD,500,2022-08-06 10:00:00,M3,E1,pos,,\n\
         T4,debit,,KKS-0000000000003,BPNTD,1,2022-08-06 10:00:00,M4,E1,pos,,\n\
         T0,debit,,KKS-0000000000001,BPNTD,500,2022-08-06 10:00:00,M5,E1,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("OVERDRAFT", "T2", "KKS-0000000000001", "ASLUT", 3),
            ("OVERDRAFT", "T0", "KKS-0000000000001", "BPNTD", 6),
            ("OVERDRAFT", "T3", "KKS-00000000000010", "BPNTD", 4),
            ("OVERDRAFT", "T1", "KKS-0000000000002", "BPNTD", 2),
            ("NO_ALLOCATION", "T4", "KKS-0000000000003", "BPNTD", 5),
        ]
    );
    let cards: Vec<String> = balances(&report).iter().map(|b| b[..b.find(",2022").unwrap()].to_owned()).collect();
    assert_eq!(
        cards,
        ["KKS-0000000000001,ASLUT", "KKS-0000000000001,BPNTD", "KKS-00000000000010,BPNTD", "KKS-0000000000002,BPNTD"]
    );
}

#[test]
fn equal_instants_are_ordered_debits_first_then_by_txn_id_bytewise() {
    // "a" (line 2) and "B" (line 3) are at the same instant: B (0x42) comes before a (0x61)
    // and takes the balance; a overdraws. Reversal "0" at that instant still comes after both
    // debits, so it cannot help a.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "a,debit,,C1,BPNTD,60000,2022-08-06T10:00:00+07:00,M1,E1,pos,,\n\
         B,debit,,C1,BPNTD,60000,2022-08-06T03:00:00Z,M2,E1,pos,,\n\
         0,reversal,B,C1,BPNTD,60000,2022-08-06 10:00:00,,,,,\n",
    );
    assert_eq!(findings(&report), [("OVERDRAFT", "a", "C1", "BPNTD", 2)]);
    assert_eq!(money(&report, "BPNTD"), ["0.00", "60000.00", "100000.00"]);
    assert_eq!(settlement(&report), ["M2,BPNTD,0.00,1,1"]);
}

// ---------------------------------------------------------------------------------------
// Rule 4: review
// ---------------------------------------------------------------------------------------

#[test]
fn near_duplicate_names_the_later_debit_once_with_an_inclusive_window() {
    let rulebook = r#"{"timezone": "+07:00", "near_duplicate_seconds": 60,
        "velocity": {"max_debits": 100}, "programs": [{"code": "BPNTD"}, {"code": "ASLUT"}, {"code": "YATIM"}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,1000000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,1000000\n\
         C2,B2,,BPNTD,2022-08-01,2022-08-31,1000000\n",
        "D1,debit,,C1,BPNTD,10000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         D2,debit,,C1,BPNTD,10000.00,2022-08-06 10:01:00,M1,E1,pos,,\n\
         D3,debit,,C1,BPNTD,10000,2022-08-06 10:02:01,M1,E1,pos,,\n\
         D4,debit,,C1,ASLUT,10000,2022-08-06 10:02:30,M1,E1,pos,,\n\
         D5,debit,,C1,BPNTD,10000,2022-08-06 10:02:40,M2,E1,pos,,\n\
         D6,debit,,C1,BPNTD,20000,2022-08-06 10:02:50,M1,E1,pos,,\n\
         D7,debit,,C2,BPNTD,10000,2022-08-06 10:02:55,M1,E1,pos,,\n\
         D8,debit,,C1,YATIM,10000,2022-08-06 10:03:00,M1,E1,pos,,\n\
         D9,debit,,C1,BPNTD,10000,2022-08-06 10:03:30,M1,E1,pos,,\n\
         D2,debit,,C1,BPNTD,10000.00,2022-08-06 10:01:00,M1,E1,pos,,\n\
         E2,debit,,C1,BPNTD,5000,2022-08-06 11:00:00,M1,E1,pos,,\n\
         E1,debit,,C1,BPNTD,5000,2022-08-06 11:00:00,M1,E1,pos,,\n",
    );
    // D2: 60 s after D1 (inclusive). D3: 61 s after D2, no. D4: other program, 29 s after
    // D3. D5 other merchant, D6 other amount, D7 other card: no. D8 (held: no YATIM
    // allocation) is 30 s after D4 and 59 s after D3, named once. D9: 30 s after the held D8.
    // The resent copy of D2 is dropped, not a near duplicate. E1 and E2 are at one instant:
    // E1 comes first by txn_id, so E2 is the later one.
    assert_eq!(
        findings(&report),
        [
            ("NEAR_DUPLICATE", "D4", "C1", "ASLUT", 5),
            ("DUPLICATE_TXN", "D2", "C1", "BPNTD", 11),
            ("NEAR_DUPLICATE", "D2", "C1", "BPNTD", 3),
            ("NEAR_DUPLICATE", "D9", "C1", "BPNTD", 10),
            ("NEAR_DUPLICATE", "E2", "C1", "BPNTD", 12),
            ("NEAR_DUPLICATE", "D8", "C1", "YATIM", 9),
            ("NO_ALLOCATION", "D8", "C1", "YATIM", 9),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["90000.00", "0.00", "1910000.00"]);
    assert_eq!(money(&report, "ASLUT"), ["10000.00", "0.00", "990000.00"]);
    assert_eq!(money(&report, "YATIM"), ["0.00", "10000.00", "0.00"]);
}

#[test]
fn velocity_fires_above_max_debits_in_an_inclusive_window() {
    let rulebook = r#"{"timezone": "+07:00", "velocity": {"max_debits": 2, "window_seconds": 60},
        "programs": [{"code": "BPNTD"}, {"code": "ASLUT"}]}"#;
    let report = run(
        rulebook,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,1000000\n\
         C1,B1,,ASLUT,2022-08-01,2022-08-31,1000000\n",
        "V1,debit,,C1,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         V2,debit,,C1,ASLUT,1001,2022-08-06 10:00:30,M1,E1,pos,,\n\
         V3,debit,,C1,BPNTD,1002,2022-08-06 10:01:00,M1,E1,pos,,\n\
         R1,reversal,V1,C1,BPNTD,100,2022-08-06 10:01:01,,,,,\n\
         V4,debit,,C1,BPNTD,1003,2022-08-06 10:02:01,M1,E1,pos,,\n\
         V5,debit,,C1,BPNTD,1004,2022-08-06 10:02:30,M1,E1,pos,,\n\
         X3,debit,,C1,BPNTD,1005,2022-08-06 10:05:00,M1,E1,pos,,\n\
         X1,debit,,C1,BPNTD,1006,2022-08-06 10:05:00,M1,E1,pos,,\n\
         X2,debit,,C1,BPNTD,1007,2022-08-06 10:05:00,M1,E1,pos,,\n",
    );
    // V3: V1, V2 (other program) and V3 lie in [10:00:00, 10:01:00]: 3 > 2. V4: only V4
    // in [10:01:01, 10:02:01] (R1 is a reversal). V5: V4 and V5, exactly 2: fine. At 10:05:00
    // the order is X1, X2, X3: only X3 has 3 at or before it.
    assert_eq!(findings(&report), [("VELOCITY", "V3", "C1", "BPNTD", 4), ("VELOCITY", "X3", "C1", "BPNTD", 8)]);
    assert_eq!(money(&report, "BPNTD"), ["6927.00", "0.00", "993073.00"]);
    assert_eq!(money(&report, "ASLUT"), ["1001.00", "0.00", "998999.00"]);
}

#[test]
fn bulk_drain_ratio_window_and_min_cards_boundaries() {
    let rulebook = r#"{"timezone": "+07:00",
        "bulk_drain": {"min_cards": 3, "window_seconds": 600, "drain_ratio": "0.9"},
        "programs": [{"code": "BPNTD"}]}"#;
    let allocations: String = (1..=10).map(|n| format!("C{n},B{n},,BPNTD,2022-08-01,2022-08-31,100000\n")).collect();
    let report = run(
        rulebook,
        &allocations,
        // E1: C1 takes exactly 0.9 of 100000, C2 all, C3 95000 at 600 s after C1; C4 first
        // spends 10000 elsewhere, then 81000 = 0.9 of the 90000 available; C10 takes
        // 89999.99, just under 0.9: not a drain. E2: two cards only. E3: three cards, but
        // over 601 s.
        "D01,debit,,C1,BPNTD,90000,2022-08-06 10:00:00,M1,E1,pos,,\n\
         D02,debit,,C2,BPNTD,100000,2022-08-06 10:05:00,M1,E1,pos,,\n\
         D03,debit,,C3,BPNTD,95000,2022-08-06 10:10:00,M1,E1,pos,,\n\
         D04,debit,,C4,BPNTD,10000,2022-08-06 09:00:00,M1,E9,pos,,\n\
         D05,debit,,C4,BPNTD,81000,2022-08-06 10:02:00,M1,E1,pos,,\n\
         D06,debit,,C10,BPNTD,89999.99,2022-08-06 10:03:00,M1,E1,pos,,\n\
         D07,debit,,C5,BPNTD,100000,2022-08-06 10:00:00,M2,E2,pos,,\n\
         D08,debit,,C6,BPNTD,100000,2022-08-06 10:01:00,M2,E2,pos,,\n\
         D09,debit,,C7,BPNTD,100000,2022-08-06 10:00:00,M3,E3,pos,,\n\
         D10,debit,,C8,BPNTD,100000,2022-08-06 10:05:00,M3,E3,pos,,\n\
         D11,debit,,C9,BPNTD,100000,2022-08-06 10:10:01,M3,E3,pos,,\n",
    );
    assert_eq!(
        findings(&report),
        [
            ("BULK_DRAIN", "D01", "C1", "BPNTD", 2),
            ("BULK_DRAIN", "D02", "C2", "BPNTD", 3),
            ("BULK_DRAIN", "D03", "C3", "BPNTD", 4),
            ("BULK_DRAIN", "D05", "C4", "BPNTD", 6),
        ]
    );
    assert_eq!(money(&report, "BPNTD"), ["965999.99", "0.00", "34000.01"]);
    assert_eq!(settlement(&report), ["M1,BPNTD,465999.99,6,0", "M2,BPNTD,200000.00,2,0", "M3,BPNTD,300000.00,3,0"]);
}

#[test]
fn bulk_drain_counts_distinct_cards_not_drains() {
    // C1 empties two programs at E1, C2 one: three drains, two cards.
    let allocations = "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
                       C1,B1,,ASLUT,2022-08-01,2022-08-31,100000\n\
                       C2,B2,,BPNTD,2022-08-01,2022-08-31,100000\n";
    let debits = "D1,debit,,C1,BPNTD,100000,2022-08-06 10:00:00,M1,E1,pos,,\n\
                  D2,debit,,C1,ASLUT,100000,2022-08-06 10:01:00,M2,E1,pos,,\n\
                  D3,debit,,C2,BPNTD,100000,2022-08-06 10:02:00,M1,E1,pos,,\n";
    let rulebook = |min_cards: u32| {
        format!(
            r#"{{"bulk_drain": {{"min_cards": {min_cards}, "window_seconds": 600}},
            "programs": [{{"code": "BPNTD"}}, {{"code": "ASLUT"}}]}}"#
        )
    };
    assert_eq!(findings(&run(&rulebook(3), allocations, debits)), []);
    assert_eq!(
        findings(&run(&rulebook(2), allocations, debits)),
        [
            ("BULK_DRAIN", "D2", "C1", "ASLUT", 3),
            ("BULK_DRAIN", "D1", "C1", "BPNTD", 2),
            ("BULK_DRAIN", "D3", "C2", "BPNTD", 4),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Rule 5: beneficiaries
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_beneficiary_on_overlapping_dates_of_another_card() {
    // B1: C1 and C2 share 2022-08-31 (dates inclusive). B2: back to back, no overlap. B3:
    // another program. B4: one card.
    let report = run(
        BASE,
        "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C2,B1,,BPNTD,2022-08-31,2022-09-30,100000\n\
         C3,B2,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C4,B2,,BPNTD,2022-09-01,2022-09-30,100000\n\
         C5,B3,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C6,B3,,ASLUT,2022-08-01,2022-08-31,100000\n\
         C7,B4,,BPNTD,2022-08-01,2022-08-15,100000\n\
         C7,B4,,BPNTD,2022-08-10,2022-08-31,100000\n",
        "",
    );
    assert_eq!(
        findings(&report),
        [("DUPLICATE_BENEFICIARY", "", "C1", "BPNTD", 2), ("DUPLICATE_BENEFICIARY", "", "C2", "BPNTD", 3)]
    );
    assert_eq!(money(&report, "BPNTD"), ["0.00", "0.00", "700000.00"]);
}

#[test]
fn duplicate_beneficiary_tells_long_ids_apart_past_their_first_16_bytes() {
    // 19-byte beneficiary ids sharing their first 18 bytes, and card ids sharing their first
    // 17: ...01A on two cards overlaps; ...01B and ...01C are on one card each. Rows are
    // interleaved, so a sort that grouped them by their first 16 bytes alone would mix them.
    let report = run(
        BASE,
        "CARD-000000000001X,357100000000000001A,,BPNTD,2022-08-01,2022-08-31,100000\n\
         CARD-000000000001Y,357100000000000001B,,BPNTD,2022-08-01,2022-08-31,100000\n\
         CARD-000000000001Z,357100000000000001A,,BPNTD,2022-08-15,2022-09-30,100000\n\
         CARD-000000000001W,357100000000000001C,,BPNTD,2022-08-01,2022-08-31,100000\n",
        "",
    );
    assert_eq!(
        findings(&report),
        [
            ("DUPLICATE_BENEFICIARY", "", "CARD-000000000001X", "BPNTD", 2),
            ("DUPLICATE_BENEFICIARY", "", "CARD-000000000001Z", "BPNTD", 4)
        ]
    );
}

#[test]
fn duplicate_household_only_for_per_household_programs_and_a_non_empty_household() {
    let rulebook = r#"{"timezone": "+07:00", "programs": [
        {"code": "BPNTD", "per_household": true}, {"code": "ASLUT", "per_household": false}]}"#;
    // K1: two beneficiaries, overlapping. K2: not a per-household program. Empty household:
    // no household. K3: one beneficiary on two cards (a duplicate beneficiary, not household).
    // K4: two beneficiaries, one after the other.
    let report = run(
        rulebook,
        "C1,B1,K1,BPNTD,2022-08-01,2022-08-31,100000\n\
         C2,B2,K1,BPNTD,2022-08-15,2022-09-15,100000\n\
         C3,B3,K2,ASLUT,2022-08-01,2022-08-31,100000\n\
         C4,B4,K2,ASLUT,2022-08-01,2022-08-31,100000\n\
         C5,B5,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C6,B6,,BPNTD,2022-08-01,2022-08-31,100000\n\
         C7,B7,K3,BPNTD,2022-08-01,2022-08-31,100000\n\
         C8,B7,K3,BPNTD,2022-08-01,2022-08-31,100000\n\
         C9,B9,K4,BPNTD,2022-08-01,2022-08-31,100000\n\
         C9,B8,K4,BPNTD,2022-09-01,2022-09-30,100000\n",
        "",
    );
    assert_eq!(
        findings(&report),
        [
            ("DUPLICATE_HOUSEHOLD", "", "C1", "BPNTD", 2),
            ("DUPLICATE_HOUSEHOLD", "", "C2", "BPNTD", 3),
            ("DUPLICATE_BENEFICIARY", "", "C7", "BPNTD", 8),
            ("DUPLICATE_BENEFICIARY", "", "C8", "BPNTD", 9),
        ]
    );
    assert!(report.findings.iter().all(|f| f.action() == Action::Review));
}

// ---------------------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------------------

#[test]
fn every_program_is_in_the_summary_sorted_by_code_with_zeros() {
    let rulebook = r#"{"currency_scale": 0, "programs": [{"code": "YATIM"}, {"code": "ASLUT"}, {"code": "BPNTD"}]}"#;
    let report = run(rulebook, "C1,B1,,BPNTD,2022-08-01,2022-08-31,7\n", "");
    let codes: Vec<&str> = report.summary.programs.iter().map(|p| p.program.as_str()).collect();
    assert_eq!(codes, ["ASLUT", "BPNTD", "YATIM"]);
    assert_eq!(money(&report, "ASLUT"), ["0", "0", "0"]);
    assert_eq!(money(&report, "BPNTD"), ["0", "0", "7"]);
    assert_eq!(report.summary.totals.allocated.to_string(), "7");
}

#[test]
fn orphan_reversal_finds_its_original_anywhere_in_a_large_file() {
    // Over 16,384 rows, so the scan for an orphan's original is cut into slices per thread:
    // R1 (line 2) names TX, whose first row is far down the file, on another card; TX's
    // identical copy further down is a resent copy.
    let mut debits = String::from("R1,reversal,TX,C1,BPNTD,1000,2022-08-06 11:00:00,,,,,\n");
    for i in 0..40_000 {
        if i == 30_000 || i == 35_000 {
            debits.push_str("TX,debit,,C2,BPNTD,1000,2022-08-06 10:00:00,M1,E1,pos,,\n");
        }
        debits.push_str(&format!("F{i},debit,,F{i},ASLUT,1000,2022-08-06 10:00:00,M1,E1,atm,,\n"));
    }
    let report = run(BASE, "C1,B1,,BPNTD,2022-08-01,2022-08-31,100000\n", &debits);
    let orphans: Vec<_> = findings(&report).into_iter().filter(|f| f.0 != "NO_ALLOCATION").collect();
    assert_eq!(orphans, [("ORPHAN_REVERSAL", "R1", "C1", "BPNTD", 2), ("DUPLICATE_TXN", "TX", "C2", "BPNTD", 35_004)]);
    assert_eq!(detail(&report, Rule::OrphanReversal, "R1"), "original TX is a debit of another card");
}

/// balances.csv is rendered in blocks of rows on every core (report.rs): with more than two
/// blocks' worth of allocations, listed in reverse, the file is still every balance once, in
/// card order, each line as its row reads.
#[test]
fn balances_csv_of_many_blocks_lists_every_balance_once_in_order() {
    let cards = 40_000;
    let allocations: String =
        (0..cards).rev().map(|i| format!("C{i:06},B{i:06},,ASLUT,2022-08-01,2022-08-31,{}\n", 100 + i)).collect();
    let report = run(BASE, &allocations, "T1,debit,,C000007,ASLUT,30,2022-08-06 10:15:00,M1,E,pos,,\n");
    assert_eq!(report.balances.len(), cards);
    let files = report.files();
    let text = std::str::from_utf8(&files.iter().find(|f| f.name == "balances.csv").expect("balances.csv").bytes)
        .expect("UTF-8")
        .to_owned();
    let mut expected = String::from("card_id,program,valid_from,valid_to,allocated,spent,remaining\n");
    for (i, b) in report.balances.iter().enumerate() {
        assert_eq!(b.card_id, format!("C{i:06}"));
        let line = [b.card_id.to_owned(), b.program.to_owned(), b.valid_from.to_string(), b.valid_to.to_string()]
            .into_iter()
            .chain([&b.allocated, &b.spent, &b.remaining].map(|m| m.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        expected.push_str(&line);
        expected.push('\n');
    }
    assert!(text == expected, "balances.csv differs from its rows");
    assert!(text.contains("\nC000007,ASLUT,2022-08-01,2022-08-31,107.00,30.00,77.00\n"));
}
