//! Properties of `harmoni::reconcile`, checked with proptest over small inputs with many
//! collisions (a few cards, merchants, terminals and transaction ids; instants clustered
//! around the midnights where allocations start and end; small windows and thresholds):
//!
//! (a) the engine agrees with `reference`, an independent sequential reading of SPEC;
//! (b) SPEC's conservation equations hold on every report;
//! (c) the output files are byte-identical for 1, 2 and 8 threads;
//! (d) a permutation of input rows changes nothing but line numbers and the digests;
//! (e) byte soup and rows of random fields never panic, and fail only as whole-file errors.
//!
//! Generated values are small integers resolved against fixed pools, so a failing case
//! shrinks to few rows with plain text (style and layout seeds shrink to 0, the plain form);
//! a failure message shows the rendered input files. Disagreements found this way are kept
//! at the end as named tests with their minimal input and the SPEC sentence.
//!
//! `PROPTEST_CASES=n` runs every property n times (a longer hunt); `HARMONI_AVOID=timezone`
//! steers the generator around a known disagreement while looking for others.

mod reference;

use std::collections::{BTreeMap, BTreeSet};

use harmoni::{reconcile, Error, Inputs, Options, Report, Rulebook, Source};
use proptest::prelude::*;
use proptest::test_runner::Config;
use reference::{
    days_from_civil, format_date, write_instant, write_money, AllocationRow, BalanceRow, DebitRow, FindingRow,
    InstantStyle, MerchantRow, Mix, ProgramMoney, RefProgram, RefReport, RefRulebook, SettlementRow, Shape, TextRow,
    ALLOCATION_COLUMNS, DEBIT_COLUMNS, MERCHANT_COLUMNS, NANOS,
};

// ------------------------------------------------------------------------------------------
// Pools
// ------------------------------------------------------------------------------------------

const PROGRAM_CODES: [&str; 4] = ["BPNTD", "ASLUT", "YATIM", "KIOS"];
const CHANNELS: [&str; 4] = ["pos", "qr", "atm", "transfer"];
const MCCS: [&str; 4] = ["5411", "5499", "6011", "0742"];
const CARDS: [&str; 5] = ["C1", "C2", "C3", "c1", "C,\"4"];
const BENEFICIARIES: [&str; 4] = ["3571000000000001", "3571000000000002", "3571000000000003", "NIK 4"];
const HOUSEHOLDS: [&str; 4] = ["", "KK1", "KK2", "KK 3"];
const MERCHANTS: [&str; 4] = ["M1", "M2", "M;\"3", "M4-panjang-sekali-0123456789-0123456789-0123456789-0123456789abc"];
const TERMINALS: [&str; 3] = ["E1", "E2", " E1"];
const ATCS: [u32; 4] = [42, 7, 65_535, 0];
/// (text, offset in seconds)
const TIMEZONES: [(&str, i64); 4] = [("+07:00", 25_200), ("Z", 0), ("-05:30", -19_800), ("+08:00", 28_800)];
const SCALES: [u32; 4] = [2, 0, 3, 18];
/// (text, mantissa, scale)
const RATIOS: [(&str, i128, u32); 6] =
    [("0.9", 9, 1), ("0.5", 5, 1), ("1", 1, 0), ("0.75", 75, 2), ("1.5", 15, 1), ("0.0001", 1, 4)];
/// Instants, in seconds from 00:00 of the third day of allocations (D0 + 2) in the rulebook's
/// timezone: on and around the midnights where allocations start and end, and a few hours off.
const CENTERS: [i64; 8] = [0, -60, 1800, 7200, -7200, 86_400 - 30, 3 * 3600 + 600, 2 * 86_400];
/// Debit amounts, in whole currency units; index 6 has a fraction where the scale allows.
const DEBIT_MAJOR: [i128; 7] = [5, 10, 20, 25, 50, 100, 12];
const ALLOCATION_MAJOR: [i128; 6] = [20, 50, 100, 150, 30, 37];
const MAX_DEBIT_MAJOR: [i128; 3] = [20, 50, 100];

/// 2022-08-01, the first day allocations may start.
fn d0() -> i64 {
    days_from_civil(2022, 8, 1)
}

fn pick<T: Copy>(pool: &[T], i: u8) -> T {
    pool[usize::from(i) % pool.len()]
}

/// The largest amount SPEC allows, in whole units.
const MONEY_MAX_MAJOR: i128 = 1_000_000_000_000_000;

/// `major` units, plus half a unit for the last entry of the pool when the scale allows;
/// one past the pool is the largest amount allowed.
fn amount_minor(pool: &[i128], i: u8, scale: u32) -> i128 {
    if usize::from(i) == pool.len() {
        return MONEY_MAX_MAJOR * 10i128.pow(scale);
    }
    let k = usize::from(i) % pool.len();
    let minor = pool[k] * 10i128.pow(scale);
    if k == pool.len() - 1 && scale > 0 {
        minor + 5 * 10i128.pow(scale - 1)
    } else {
        minor
    }
}

// ------------------------------------------------------------------------------------------
// Raw generated values
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct RawProgram {
    channels: Option<u8>,
    mcc: Option<u8>,
    max_debit: Option<u8>,
    registered: bool,
    household: bool,
}

#[derive(Clone, Debug)]
struct RawRulebook {
    scale: u8,
    timezone: Option<u8>,
    near: Option<u8>,
    velocity: Option<(u8, u16)>,
    bulk: Option<(u8, u16, u8)>,
    programs: Vec<RawProgram>,
    style: u64,
}

#[derive(Clone, Debug)]
struct RawAllocation {
    card: u8,
    beneficiary: u8,
    household: u8,
    program: u8,
    from: u8,
    length: u8,
    amount: u8,
    style: u32,
    bad: Option<(u8, u8)>,
}

#[derive(Clone, Debug)]
struct RawDebit {
    txn: Option<u8>,
    reversal: bool,
    original: u8,
    follow: bool,
    /// Take card and program from this allocation, so that fewer debits lack one.
    like_allocation: Option<u8>,
    /// Take card, program, merchant, terminal and amount from an earlier debit, a few
    /// seconds later (near duplicates, velocity, drains at one terminal).
    like_debit: Option<u8>,
    card: u8,
    program: u8,
    amount: u8,
    center: u8,
    jitter: u8,
    fraction: Option<u8>,
    merchant: u8,
    terminal: u8,
    channel: u8,
    mcc: Option<u8>,
    atc: Option<u8>,
    style: u32,
    bad: Option<(u8, u8)>,
}

/// A resent copy of row `of`, put at position `at`, written in another style, and with one
/// field changed when `change` is set (a conflict).
#[derive(Clone, Debug)]
struct RawCopy {
    of: u8,
    at: u8,
    style: u32,
    change: Option<u8>,
}

#[derive(Clone, Debug)]
struct RawMerchant {
    merchant: u8,
    programs: u8,
    reverse: bool,
    /// List a program twice (allowed: the union counts).
    repeat: bool,
    bad: Option<(u8, u8)>,
}

#[derive(Clone, Debug)]
struct RawCase {
    rulebook: RawRulebook,
    allocations: Vec<RawAllocation>,
    allocation_copies: Vec<RawCopy>,
    debits: Vec<RawDebit>,
    debit_copies: Vec<RawCopy>,
    merchants: Option<Vec<RawMerchant>>,
    layout: [u64; 3],
}

fn style() -> impl Strategy<Value = u32> {
    prop_oneof![2 => Just(0u32), 3 => any::<u32>()]
}

fn bad() -> impl Strategy<Value = Option<(u8, u8)>> {
    prop::option::weighted(0.07, (any::<u8>(), any::<u8>()))
}

prop_compose! {
    fn raw_program()(
        channels in prop::option::weighted(0.2, 0u8..16),
        mcc in prop::option::weighted(0.2, 0u8..16),
        max_debit in prop::option::weighted(0.2, 0u8..3),
        registered in prop::bool::weighted(0.2),
        household in prop::bool::weighted(0.5),
    ) -> RawProgram {
        RawProgram { channels, mcc, max_debit, registered, household }
    }
}

prop_compose! {
    fn raw_rulebook()(
        scale in prop_oneof![6 => Just(0u8), 2 => Just(1u8), 2 => Just(2u8), 1 => Just(3u8)],
        timezone in prop::option::weighted(0.8, 0u8..4),
        near in prop::option::weighted(0.9, 0u8..=120),
        velocity in prop::option::weighted(0.9, (prop_oneof![9 => 1u8..=4, 1 => Just(0u8)], 0u16..=900)),
        bulk in prop::option::weighted(0.9, (prop_oneof![9 => 1u8..=3, 1 => Just(0u8)], 0u16..=900, 0u8..6)),
        programs in prop::collection::vec(raw_program(), 1..=4),
        style in prop_oneof![Just(0u64), any::<u64>()],
    ) -> RawRulebook {
        RawRulebook { scale, timezone, near, velocity, bulk, programs, style }
    }
}

prop_compose! {
    fn raw_allocation()(
        (card, beneficiary, household, program) in (0u8..5, 0u8..4, 0u8..4, 0u8..4),
        (from, length) in (prop_oneof![9 => 0u8..3, 1 => Just(3u8)], 0u8..5),
        amount in prop_oneof![12 => 0u8..6, 1 => Just(6u8)],
        style in style(),
        bad in bad(),
    ) -> RawAllocation {
        RawAllocation { card, beneficiary, household, program, from, length, amount, style, bad }
    }
}

prop_compose! {
    fn raw_debit()(
        (txn, reversal, original, follow) in
            (prop::option::weighted(0.08, 0u8..3), prop::bool::weighted(0.3), any::<u8>(), prop::bool::weighted(0.85)),
        like_allocation in prop::option::weighted(0.8, any::<u8>()),
        like_debit in prop::option::weighted(0.3, any::<u8>()),
        (card, program, amount) in (0u8..5, 0u8..4, prop_oneof![20 => 0u8..9, 1 => Just(9u8)]),
        (center, jitter, fraction) in (0u8..8, 0u8..=120, prop::option::weighted(0.15, 0u8..3)),
        (merchant, terminal, channel) in (prop_oneof![6 => 0u8..3, 1 => Just(3u8)], 0u8..3, 0u8..4),
        (mcc, atc) in (prop::option::weighted(0.6, 0u8..4), prop::option::weighted(0.3, 0u8..4)),
        style in style(),
        bad in bad(),
    ) -> RawDebit {
        RawDebit {
            txn, reversal, original, follow, like_allocation, like_debit, card, program, amount, center, jitter,
            fraction, merchant, terminal, channel, mcc, atc, style, bad,
        }
    }
}

prop_compose! {
    fn raw_copy()(of in any::<u8>(), at in any::<u8>(), style in style(),
                  change in prop::option::weighted(0.3, 0u8..9)) -> RawCopy {
        RawCopy { of, at, style, change }
    }
}

prop_compose! {
    fn raw_merchant()(merchant in 0u8..4, programs in 0u8..16, reverse in any::<bool>(),
                      repeat in prop::bool::weighted(0.2), bad in bad()) -> RawMerchant {
        RawMerchant { merchant, programs, reverse, repeat, bad }
    }
}

prop_compose! {
    fn raw_case()(
        rulebook in raw_rulebook(),
        allocations in prop::collection::vec(raw_allocation(), 0..9),
        allocation_copies in prop::collection::vec(raw_copy(), 0..3),
        debits in prop::collection::vec(raw_debit(), 0..16),
        debit_copies in prop::collection::vec(raw_copy(), 0..4),
        merchants in prop::option::weighted(0.7, prop::collection::vec(raw_merchant(), 0..5)),
        layout in [prop_oneof![Just(0u64), any::<u64>()], prop_oneof![Just(0u64), any::<u64>()],
                   prop_oneof![Just(0u64), any::<u64>()]],
    ) -> RawCase {
        RawCase { rulebook, allocations, allocation_copies, debits, debit_copies, merchants, layout }
    }
}

// ------------------------------------------------------------------------------------------
// From raw values to rows and text
// ------------------------------------------------------------------------------------------

/// A row as generated: its text, and either its parsed form or the column that makes it bad.
#[derive(Clone, Debug)]
enum Outcome<T> {
    Good(T),
    Bad(&'static str),
}

#[derive(Clone, Debug)]
struct Table<T> {
    rows: Vec<(TextRow, Outcome<T>)>,
    seed: u64,
}

/// One generated case: the rulebook (JSON and parsed) and the three tables.
#[derive(Clone, Debug)]
struct Case {
    json: String,
    rulebook: RefRulebook,
    allocations: Table<AllocationRow>,
    debits: Table<DebitRow>,
    merchants: Option<Table<MerchantRow>>,
}

/// Known engine disagreements to steer around while looking for others
/// (`HARMONI_AVOID=timezone,...`); unset, every property covers everything.
fn avoid(what: &str) -> bool {
    std::env::var("HARMONI_AVOID").is_ok_and(|v| v.split(',').any(|w| w == what))
}

fn json_decimal(text: &str, as_number: bool) -> String {
    if as_number {
        text.to_owned()
    } else {
        format!("\"{text}\"")
    }
}

/// Writes `"name": {...}` with each present field; a field is left out (so its default
/// counts) when its style bit is set. Gives the values in force.
fn sub_object(fields: &mut Vec<String>, name: &str, parts: &[(&str, String, bool)]) {
    let present: Vec<String> = parts.iter().filter(|p| !p.2).map(|(k, v, _)| format!("\"{k}\": {v}")).collect();
    fields.push(format!("\"{name}\": {{{}}}", present.join(", ")));
}

/// One program's JSON (fields shuffled by a style bit) and its parsed form.
fn program_json(i: usize, p: &RawProgram, scale: u32, style: u64, mix: &mut Mix) -> (String, RefProgram) {
    let bit = |n: u32| style >> n & 1 == 1;
    let code = PROGRAM_CODES[i].to_owned();
    let mut f = vec![format!("\"code\": \"{code}\"")];
    if bit(2 + i as u32) {
        f.push(format!("\"name\": \"Program {i}\""));
    }
    let mask_list = |mask: u8, pool: &[&str]| -> Vec<String> {
        (0..4).filter(|b| mask >> b & 1 == 1).map(|b| pool[b].to_owned()).collect()
    };
    let channels = p.channels.map(|m| mask_list(m, &CHANNELS));
    let mcc = p.mcc.map(|m| mask_list(m, &MCCS));
    let quoted = |list: &[String]| list.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    if let Some(c) = &channels {
        f.push(format!("\"channels\": [{}]", quoted(c)));
    }
    if let Some(m) = &mcc {
        f.push(format!("\"mcc\": [{}]", quoted(m)));
    }
    let max_debit = p.max_debit.map(|k| pick(&MAX_DEBIT_MAJOR, k) * 10i128.pow(scale));
    if let Some(m) = max_debit {
        let text = write_money(m, scale, (style >> 8 & 3) as u32, 0);
        f.push(format!("\"max_debit\": {}", json_decimal(&text, bit(10 + i as u32))));
    }
    if p.registered || bit(14) {
        f.push(format!("\"registered_merchants_only\": {}", p.registered));
    }
    if p.household || bit(15) {
        f.push(format!("\"per_household\": {}", p.household));
    }
    if bit(16) {
        shuffle(&mut f, mix);
    }
    let program = RefProgram {
        code,
        channels,
        mcc,
        max_debit,
        registered_merchants_only: p.registered,
        per_household: p.household,
    };
    (format!("{{{}}}", f.join(", ")), program)
}

/// The rulebook's JSON, in varied but valid forms (fields left to their defaults, shuffled,
/// decimals as strings or numbers, a byte-order mark), and its parsed form with SPEC's
/// defaults.
fn build_rulebook(raw: &RawRulebook) -> (String, RefRulebook) {
    let mut mix = Mix(raw.style);
    let bit = |n: u32| raw.style >> n & 1 == 1;
    let scale = pick(&SCALES, raw.scale);
    let mut fields: Vec<String> = Vec::new();
    if !(scale == 2 && bit(0)) {
        fields.push(format!("\"currency_scale\": {scale}"));
    }
    let timezone = raw.timezone.map(|t| pick(&TIMEZONES, t));
    let timezone = if avoid("timezone") { Some(timezone.unwrap_or(TIMEZONES[0])) } else { timezone };
    if let Some((text, _)) = timezone {
        fields.push(format!("\"timezone\": \"{text}\""));
    }
    let near = raw.near.map_or(60, i64::from);
    if raw.near.is_some() {
        fields.push(format!("\"near_duplicate_seconds\": {near}"));
    }
    let (mut velocity_max, mut velocity_window) = (10, 3600);
    if let Some((m, w)) = raw.velocity {
        let (max_absent, window_absent) = (bit(20), bit(19));
        velocity_max = if max_absent { velocity_max } else { u64::from(m) };
        velocity_window = if window_absent { velocity_window } else { i64::from(w) };
        let parts = [("window_seconds", w.to_string(), window_absent), ("max_debits", m.to_string(), max_absent)];
        sub_object(&mut fields, "velocity", &parts);
    }
    let (mut bulk_min, mut bulk_window, mut ratio) = (5, 1800, RATIOS[0]);
    if let Some((m, w, r)) = raw.bulk {
        let (min_absent, ratio_absent, window_absent) = (bit(21), bit(22), bit(23));
        bulk_min = if min_absent { bulk_min } else { u64::from(m) };
        bulk_window = if window_absent { bulk_window } else { i64::from(w) };
        ratio = if ratio_absent { ratio } else { pick(&RATIOS, r) };
        let parts = [
            ("min_cards", m.to_string(), min_absent),
            ("drain_ratio", json_decimal(pick(&RATIOS, r).0, bit(1)), ratio_absent),
            ("window_seconds", w.to_string(), window_absent),
        ];
        sub_object(&mut fields, "bulk_drain", &parts);
    }
    let (program_texts, programs): (Vec<String>, Vec<RefProgram>) =
        raw.programs.iter().enumerate().map(|(i, p)| program_json(i, p, scale, raw.style, &mut mix)).unzip();
    fields.push(format!("\"programs\": [{}]", program_texts.join(", ")));
    if bit(17) {
        shuffle(&mut fields, &mut mix);
    }
    let bom = if bit(18) { "\u{feff}" } else { "" };
    let json = format!("{bom}{{{}}}\n", fields.join(",\n "));
    let rulebook = RefRulebook {
        currency_scale: scale,
        timezone_seconds: timezone.map_or(25_200, |t| t.1),
        near_duplicate_seconds: near,
        velocity_max_debits: velocity_max,
        velocity_window_seconds: velocity_window,
        bulk_min_cards: bulk_min,
        bulk_window_seconds: bulk_window,
        drain_ratio_mantissa: ratio.1,
        drain_ratio_scale: ratio.2,
        programs,
    };
    (json, rulebook)
}

fn shuffle<T>(v: &mut [T], mix: &mut Mix) {
    for i in (1..v.len()).rev() {
        v.swap(i, mix.below(i + 1));
    }
}

fn money_text(minor: i128, scale: u32, style: u32) -> String {
    write_money(minor, scale, style & 3, (style >> 2 & 1) as usize)
}

fn instant_text(instant: i128, rb: &RefRulebook, style: u32) -> String {
    let whole = instant % NANOS == 0;
    let other = if style >> 5 & 1 == 1 { 9 * 3600 } else { -(3 * 3600 + 1800) };
    let (rfc3339, offset_seconds) = match style >> 3 & 3 {
        0 => (true, rb.timezone_seconds),
        1 => (true, 0),
        2 => (true, other),
        _ if whole => (false, rb.timezone_seconds),
        _ => (true, 0),
    };
    write_instant(
        instant,
        InstantStyle {
            rfc3339,
            offset_seconds,
            zero_as_numeric: style >> 9 & 1 == 1,
            lower_case: style >> 6 & 1 == 1,
            fraction_digits: [0, 1, 3, 9][(style >> 7 & 3) as usize],
        },
    )
}

fn allocation_text(a: &AllocationRow, scale: u32, style: u32) -> TextRow {
    let fields = vec![
        a.card_id.clone(),
        a.beneficiary_id.clone(),
        a.household_id.clone(),
        a.program.clone(),
        format_date(a.valid_from),
        format_date(a.valid_to),
        money_text(a.amount, scale, style),
    ];
    TextRow::new(fields)
}

fn debit_text(d: &DebitRow, rb: &RefRulebook, style: u32) -> TextRow {
    let kind = match (d.reversal, style >> 11 & 1) {
        (true, _) => "reversal",
        (false, 0) => "",
        (false, _) => "debit",
    };
    let atc = d.atc.map_or(String::new(), |a| if style >> 10 & 1 == 1 { format!("00{a}") } else { a.to_string() });
    // On a debit the column is ignored, whatever it holds (here: too long for an id).
    let original = if !d.reversal && style >> 13 & 1 == 1 { "X".repeat(65) } else { d.original_txn_id.clone() };
    let fields = vec![
        d.txn_id.clone(),
        kind.to_owned(),
        original,
        d.card_id.clone(),
        d.program.clone(),
        money_text(d.amount, rb.currency_scale, style),
        instant_text(d.instant, rb, style),
        d.merchant_id.clone(),
        d.terminal_id.clone(),
        d.channel.clone(),
        d.mcc.clone().unwrap_or_default(),
        atc,
    ];
    TextRow::new(fields)
}

/// Bad amounts: each breaks the money grammar of SPEC.
fn bad_amount(variant: u8, scale: u32) -> String {
    let too_many_decimals = format!("5.{}", "0".repeat(scale as usize + 1));
    let texts = ["0", "-5", "1e3", "1,000", "", " 5", "5.", ".5", "+5", "1000000000000001", "0.00"];
    match usize::from(variant) % (texts.len() + 1) {
        0 => too_many_decimals,
        k => texts[k - 1].to_owned(),
    }
}

/// Makes a row bad in one column; gives that column, or `None` when the variant does not
/// apply to this row.
fn spoil(
    row: &mut TextRow,
    columns: &[(&'static str, bool)],
    column: usize,
    text: Option<String>,
) -> Option<&'static str> {
    if column == columns.len() {
        row.shape = if row.fields.len() % 2 == 0 { Shape::OneMore } else { Shape::OneLess };
        return Some("");
    }
    let text = text?;
    // "\u{fffd}" stands for a byte that is not UTF-8.
    row.fields[column] = if text == "\u{fffd}" { b"C\xff1".to_vec() } else { text.into_bytes() };
    Some(columns[column].0)
}

fn choose(texts: &[&str], variant: u8) -> Option<String> {
    Some(texts[usize::from(variant) % texts.len()].to_owned())
}

fn spoil_allocation(row: &mut TextRow, a: &AllocationRow, scale: u32, (c, v): (u8, u8)) -> Option<&'static str> {
    let long = "X".repeat(65);
    let column = usize::from(c) % (ALLOCATION_COLUMNS.len() + 1);
    let text = match column {
        0 => choose(&["", "C\t1", &long, "\u{c7}1", "\u{fffd}"], v),
        1 => choose(&["", &long, "NIK\u{7f}"], v),
        2 => choose(&[&long, "KK\u{7f}"], v),
        3 => choose(&["NOPE", "bpntd", ""], v),
        4 => choose(
            &["2022-02-30", "2022/08/01", "", "2022-8-01", "2022-08-01T00:00:00Z", "2023-02-29", "1900-02-29"],
            v,
        ),
        5 => match v % 3 {
            0 => Some(format_date(a.valid_from - 1)),
            1 => Some("2022-13-01".to_owned()),
            _ => Some(String::new()),
        },
        6 => Some(bad_amount(v, scale)),
        _ => None,
    };
    spoil(row, &ALLOCATION_COLUMNS, column, text)
}

fn spoil_debit(row: &mut TextRow, d: &DebitRow, scale: u32, (c, v): (u8, u8)) -> Option<&'static str> {
    let long = "X".repeat(65);
    let column = usize::from(c) % (DEBIT_COLUMNS.len() + 1);
    let required_on_debit = |bad: &[&str]| -> Option<String> {
        if d.reversal {
            choose(&[&long], v)
        } else {
            choose(&[&["", &long][..], bad].concat(), v)
        }
    };
    let text = match column {
        0 => choose(&["", "T\t1", &long], v),
        1 => choose(&["refund", "Debit", "REVERSAL", " debit"], v),
        2 if d.reversal => choose(&["", &long], v),
        2 => None,
        3 => choose(&["", "\u{c7}1", "\u{fffd}"], v),
        4 => choose(&["NOPE", ""], v),
        5 => Some(bad_amount(v, scale)),
        6 => choose(
            &[
                "2022-02-30T10:00:00Z",
                "2022-08-03T10:00:60Z",
                "2022-08-03T10:00:00",
                "2022-08-03 10:00",
                "",
                "2022-08-03T10:00:00+7:00",
                "2022-08-03T24:00:00Z",
                "2022-08-03T10:00:00.1234567890Z",
                "1900-02-29T10:00:00Z",
                "2022-08-03T10:00:00+24:00",
            ],
            v,
        ),
        7 | 8 => required_on_debit(&[]),
        9 => required_on_debit(&["ATM", "cash"]),
        10 => choose(&["541", "54111", "abcd", "-541"], v),
        11 => choose(&["65536", "-1", "1.0", "x", "99999999999999999999"], v),
        _ => None,
    };
    spoil(row, &DEBIT_COLUMNS, column, text)
}

fn build_allocations(raw: &RawCase, rb: &RefRulebook) -> Table<AllocationRow> {
    let scale = rb.currency_scale;
    let mut rows = Vec::new();
    for r in &raw.allocations {
        // From 3 is a leap day long ago: an allocation valid through the whole cycle.
        let from = if r.from == 3 { days_from_civil(2000, 2, 29) } else { d0() + i64::from(r.from % 3) };
        let a = AllocationRow {
            line: 0,
            card_id: pick(&CARDS, r.card).to_owned(),
            beneficiary_id: pick(&BENEFICIARIES, r.beneficiary).to_owned(),
            household_id: pick(&HOUSEHOLDS, r.household).to_owned(),
            program: rb.programs[usize::from(r.program) % rb.programs.len()].code.clone(),
            valid_from: from,
            valid_to: from.max(d0()) + i64::from(r.length % 5),
            amount: amount_minor(&ALLOCATION_MAJOR, r.amount, scale),
        };
        let mut text = allocation_text(&a, scale, r.style);
        let outcome = match r.bad.and_then(|b| spoil_allocation(&mut text, &a, scale, b)) {
            Some(column) => Outcome::Bad(column),
            None => Outcome::Good(a),
        };
        rows.push((text, outcome));
    }
    for c in &raw.allocation_copies {
        let Some((_, Outcome::Good(a))) = rows.get(usize::from(c.of) % rows.len().max(1)).cloned() else { continue };
        let mut a = a;
        if c.change.is_some_and(|k| k % 3 == 0) {
            a.amount = (a.amount + 1).min(MONEY_MAX_MAJOR * 10i128.pow(scale));
        }
        let text = allocation_text(&a, scale, c.style);
        let at = usize::from(c.at) % (rows.len() + 1);
        rows.insert(at, (text, Outcome::Good(a)));
    }
    Table { rows, seed: raw.layout[0] }
}

fn build_debit(i: usize, r: &RawDebit, rb: &RefRulebook, allocations: &[AllocationRow]) -> DebitRow {
    let scale = rb.currency_scale;
    let t0 = i128::from((d0() + 2) * 86_400 - rb.timezone_seconds) * NANOS;
    let fraction = r.fraction.map_or(0, |f| [500_000_000, 1, 999_999_999][usize::from(f) % 3]);
    let (mut card_id, mut program) =
        (pick(&CARDS, r.card).to_owned(), rb.programs[usize::from(r.program) % rb.programs.len()].code.clone());
    let mut amount = amount_minor(&DEBIT_MAJOR, if r.amount == 9 { 7 } else { r.amount % 7 }, scale);
    if let Some(k) = r.like_allocation {
        if !allocations.is_empty() {
            let a = &allocations[usize::from(k) % allocations.len()];
            (card_id, program) = (a.card_id.clone(), a.program.clone());
            // Amounts 7 and 8 empty the allocation, or nearly: drains.
            if (7..=8).contains(&r.amount) {
                amount = a.amount - i128::from(r.amount - 7);
            }
        }
    }
    let empty_on_reversal = r.reversal && r.style >> 12 & 1 == 1;
    let id = |pool: &[&str], k: u8| if empty_on_reversal { String::new() } else { pick(pool, k).to_owned() };
    DebitRow {
        line: 0,
        txn_id: r.txn.map_or_else(|| format!("T{i}"), |k| format!("X{}", k % 3)),
        reversal: r.reversal,
        original_txn_id: String::new(),
        card_id,
        program,
        amount,
        instant: t0 + i128::from(pick(&CENTERS, r.center) + i64::from(r.jitter)) * NANOS + fraction,
        merchant_id: id(&MERCHANTS, r.merchant),
        terminal_id: id(&TERMINALS, r.terminal),
        channel: id(&CHANNELS, r.channel),
        mcc: r.mcc.map(|m| pick(&MCCS, m).to_owned()),
        atc: r.atc.map(|a| pick(&ATCS, a)),
    }
}

/// Points each reversal at an original: mostly a generated debit (often taking its card,
/// program, a later instant and a part of its amount), else any row, a missing id, or itself.
fn resolve_reversals(raws: &[RawDebit], rows: &mut [DebitRow]) {
    let base = rows.to_vec();
    let debits: Vec<usize> = (0..base.len()).filter(|&i| !base[i].reversal).collect();
    let m = debits.len();
    for (i, r) in raws.iter().enumerate() {
        if !r.reversal {
            continue;
        }
        let d = &mut rows[i];
        let k = usize::from(r.original) % (m + 3);
        let target = match k {
            _ if k < m => debits[k],
            _ if k == m => usize::from(r.original / 3) % base.len(),
            _ if k == m + 1 => {
                d.original_txn_id = "T99".to_owned();
                continue;
            }
            _ => {
                d.original_txn_id = d.txn_id.clone();
                continue;
            }
        };
        let t = &base[target];
        d.original_txn_id = t.txn_id.clone();
        if r.follow {
            d.card_id = t.card_id.clone();
            d.program = t.program.clone();
            d.instant = t.instant + (i128::from(r.jitter) - 20) * NANOS;
            d.amount = match r.amount % 4 {
                0 => t.amount,
                1 => (t.amount / 2).max(1),
                2 => t.amount + 1,
                _ => d.amount,
            };
        }
    }
}

fn change_debit(d: &mut DebitRow, change: u8) {
    let next = |pool: &[&str], v: &str| {
        let k = pool.iter().position(|p| *p == v).map_or(0, |k| k + 1);
        pool[k % pool.len()].to_owned()
    };
    match change {
        0 => d.amount += 1,
        1 => d.instant += NANOS,
        2 => d.merchant_id = next(&MERCHANTS, &d.merchant_id),
        3 => d.card_id = next(&CARDS, &d.card_id),
        4 => d.atc = Some(d.atc.map_or(1, |a| (a + 1) % 65_536)),
        5 => d.mcc = if d.mcc.is_some() { None } else { Some(MCCS[0].to_owned()) },
        6 => d.channel = next(&CHANNELS, &d.channel),
        7 => d.terminal_id = next(&TERMINALS, &d.terminal_id),
        // Ignored on a debit, so a copy of a debit that differs only here is still a copy.
        _ => d.original_txn_id = format!("{}Z", d.original_txn_id),
    }
}

fn build_debits(raw: &RawCase, rb: &RefRulebook, allocations: &[AllocationRow]) -> Table<DebitRow> {
    let mut parsed: Vec<DebitRow> =
        raw.debits.iter().enumerate().map(|(i, r)| build_debit(i, r, rb, allocations)).collect();
    for (i, r) in raw.debits.iter().enumerate() {
        if let (Some(k), true) = (r.like_debit, i > 0) {
            let e = parsed[usize::from(k) % i].clone();
            let d = &mut parsed[i];
            (d.card_id, d.program, d.amount) = (e.card_id, e.program, e.amount);
            if !e.merchant_id.is_empty() && !d.merchant_id.is_empty() {
                (d.merchant_id, d.terminal_id) = (e.merchant_id, e.terminal_id);
            }
            d.instant = e.instant + i128::from(r.jitter % 8) * 10 * NANOS;
        }
    }
    resolve_reversals(&raw.debits, &mut parsed);
    let max = MONEY_MAX_MAJOR * 10i128.pow(rb.currency_scale);
    for d in &mut parsed {
        d.amount = d.amount.min(max);
    }
    let mut rows = Vec::new();
    for (d, r) in parsed.into_iter().zip(&raw.debits) {
        let mut text = debit_text(&d, rb, r.style);
        let outcome = match r.bad.and_then(|b| spoil_debit(&mut text, &d, rb.currency_scale, b)) {
            Some(column) => Outcome::Bad(column),
            None => Outcome::Good(d),
        };
        rows.push((text, outcome));
    }
    for c in &raw.debit_copies {
        let Some((_, Outcome::Good(mut d))) = rows.get(usize::from(c.of) % rows.len().max(1)).cloned() else {
            continue;
        };
        if let Some(k) = c.change {
            change_debit(&mut d, k);
            d.amount = d.amount.min(MONEY_MAX_MAJOR * 10i128.pow(rb.currency_scale));
        }
        let text = debit_text(&d, rb, c.style);
        let at = usize::from(c.at) % (rows.len() + 1);
        rows.insert(at, (text, Outcome::Good(d)));
    }
    Table { rows, seed: raw.layout[1] }
}

fn build_merchants(raw: &RawCase, rb: &RefRulebook) -> Option<Table<MerchantRow>> {
    let merchants = raw.merchants.as_ref()?;
    let mut rows = Vec::new();
    for m in merchants {
        let mut programs: Vec<String> =
            (0..rb.programs.len()).filter(|b| m.programs >> b & 1 == 1).map(|b| rb.programs[b].code.clone()).collect();
        if m.reverse {
            programs.reverse();
        }
        let row = MerchantRow { line: 0, merchant_id: pick(&MERCHANTS, m.merchant).to_owned(), programs };
        let mut listed = row.programs.clone();
        if m.repeat && !listed.is_empty() {
            listed.push(listed[0].clone());
        }
        let mut text = TextRow::new(vec![row.merchant_id.clone(), listed.join(";")]);
        let outcome = match m.bad {
            Some((c, v)) => {
                let first = &rb.programs[0].code;
                let column = usize::from(c) % 3;
                let bad = match column {
                    0 => choose(&["", &"X".repeat(65)], v),
                    _ => choose(&["NOPE", &format!("{first};"), &format!(";{first}"), &format!("{first};;{first}")], v),
                };
                Outcome::Bad(spoil(&mut text, &MERCHANT_COLUMNS, column, bad).expect("every variant applies"))
            }
            None => Outcome::Good(row),
        };
        rows.push((text, outcome));
    }
    Some(Table { rows, seed: raw.layout[2] })
}

fn build(raw: &RawCase) -> Case {
    let (json, rulebook) = build_rulebook(&raw.rulebook);
    let allocations = build_allocations(raw, &rulebook);
    let good: Vec<AllocationRow> = allocations
        .rows
        .iter()
        .filter_map(|(_, o)| if let Outcome::Good(a) = o { Some(a.clone()) } else { None })
        .collect();
    let debits = build_debits(raw, &rulebook, &good);
    let merchants = build_merchants(raw, &rulebook);
    Case { json, rulebook, allocations, debits, merchants }
}

/// A case written out: the engine's inputs, and what the reference and the checks need.
struct Run {
    inputs: Inputs,
    allocations: Vec<AllocationRow>,
    debits: Vec<DebitRow>,
    merchants: Vec<MerchantRow>,
    /// (file, line, column), sorted.
    rejects: Vec<(String, u64, String)>,
    /// file -> rows read.
    rows_read: BTreeMap<String, u64>,
}

trait Lined {
    fn set_line(&mut self, line: u64);
}
impl Lined for AllocationRow {
    fn set_line(&mut self, line: u64) {
        self.line = line;
    }
}
impl Lined for DebitRow {
    fn set_line(&mut self, line: u64) {
        self.line = line;
    }
}
impl Lined for MerchantRow {
    fn set_line(&mut self, line: u64) {
        self.line = line;
    }
}

/// Renders a table (its rows permuted by `permutation` unless 0); gives the bytes, the good
/// rows with their lines, and the expected rejects.
fn render_table<T: Clone + Lined>(
    file: &str,
    columns: &[(&'static str, bool)],
    table: &Table<T>,
    permutation: u64,
    rejects: &mut Vec<(String, u64, String)>,
) -> (Vec<u8>, Vec<T>) {
    let mut rows = table.rows.clone();
    if permutation != 0 {
        shuffle(&mut rows, &mut Mix(permutation));
    }
    let texts: Vec<TextRow> = rows.iter().map(|(t, _)| t.clone()).collect();
    let rendered = reference::render_csv(columns, &texts, table.seed);
    let mut good = Vec::new();
    for ((_, outcome), &line) in rows.iter().zip(&rendered.lines) {
        match outcome {
            Outcome::Good(row) => {
                let mut row = row.clone();
                row.set_line(line);
                good.push(row);
            }
            Outcome::Bad(column) => rejects.push((file.to_owned(), line, (*column).to_owned())),
        }
    }
    (rendered.bytes, good)
}

fn render(case: &Case, permutation: u64) -> Run {
    let mut rejects = Vec::new();
    let (a_bytes, allocations) =
        render_table("allocations.csv", &ALLOCATION_COLUMNS, &case.allocations, permutation, &mut rejects);
    let (d_bytes, debits) = render_table("debits.csv", &DEBIT_COLUMNS, &case.debits, permutation, &mut rejects);
    let mut rows_read = BTreeMap::from([
        ("allocations.csv".to_owned(), case.allocations.rows.len() as u64),
        ("debits.csv".to_owned(), case.debits.rows.len() as u64),
    ]);
    let (merchant_source, merchants) = match &case.merchants {
        Some(table) => {
            let (bytes, good) =
                render_table("merchants.csv", &MERCHANT_COLUMNS, table, permutation.rotate_left(7), &mut rejects);
            rows_read.insert("merchants.csv".to_owned(), table.rows.len() as u64);
            (Some(Source::from_bytes("merchants.csv", bytes)), good)
        }
        None => (None, Vec::new()),
    };
    rejects.sort();
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", a_bytes),
        debits: Source::from_bytes("debits.csv", d_bytes),
        merchants: merchant_source,
    };
    Run { inputs, allocations, debits, merchants, rejects, rows_read }
}

// ------------------------------------------------------------------------------------------
// The engine's report, as text comparable to the reference
// ------------------------------------------------------------------------------------------

fn engine_findings(report: &Report) -> Vec<FindingRow> {
    report
        .findings
        .iter()
        .map(|f| FindingRow {
            subject: f.subject().as_str().to_owned(),
            card_id: f.card_id.to_owned(),
            program: f.program.to_owned(),
            txn_id: f.txn_id.to_owned(),
            rule: f.rule.as_str().to_owned(),
            line: f.line,
            action: f.action().as_str().to_owned(),
        })
        .collect()
}

fn engine_settlement(report: &Report) -> Vec<SettlementRow> {
    report
        .settlement
        .iter()
        .map(|s| SettlementRow {
            merchant_id: s.merchant_id.clone(),
            program: s.program.clone(),
            amount: s.amount.to_string(),
            debits: s.debits,
            reversals: s.reversals,
        })
        .collect()
}

fn engine_balances(report: &Report) -> Vec<BalanceRow> {
    report
        .balances
        .iter()
        .map(|b| BalanceRow {
            card_id: b.card_id.to_owned(),
            program: b.program.to_owned(),
            valid_from: b.valid_from.to_string(),
            valid_to: b.valid_to.to_string(),
            allocated: b.allocated.to_string(),
            spent: b.spent.to_string(),
            remaining: b.remaining.to_string(),
        })
        .collect()
}

fn engine_programs(report: &Report) -> Vec<ProgramMoney> {
    let mut out: Vec<ProgramMoney> = report
        .summary
        .programs
        .iter()
        .map(|p| ProgramMoney {
            program: p.program.clone(),
            allocated: p.allocated.to_string(),
            settled: p.settled.to_string(),
            held: p.held.to_string(),
            remaining: p.remaining.to_string(),
            settled_gross: p.settled_gross.to_string(),
            held_gross: p.held_gross.to_string(),
            reversed_settled: p.reversed_settled.to_string(),
            reversed_held: p.reversed_held.to_string(),
        })
        .collect();
    out.sort();
    out
}

fn engine_rejects(report: &Report) -> Vec<(String, u64, String)> {
    report.rejects.iter().map(|r| (r.file.to_owned(), r.line, r.column.to_owned())).collect()
}

/// The inputs of a run as text, for a failure message.
fn show(case: &Case, run: &Run) -> String {
    let text = |s: &Source| format!("--- {}\n{}", s.name(), String::from_utf8_lossy(s.bytes().expect("in memory")));
    let mut out = format!("--- rulebook.json\n{}", case.json);
    out += &text(&run.inputs.allocations);
    out += &text(&run.inputs.debits);
    if let Some(m) = &run.inputs.merchants {
        out += &text(m);
    }
    out
}

/// Adds the inputs to a failure message.
fn explain<T>(case: &Case, run: &Run, result: Result<T, TestCaseError>) -> Result<T, TestCaseError> {
    result.map_err(|e| match e {
        TestCaseError::Fail(why) => TestCaseError::fail(format!("{why}\n{}", show(case, run))),
        other => other,
    })
}

fn run_engine(case: &Case, run: &Run, threads: usize) -> Result<Report, TestCaseError> {
    let rulebook = Rulebook::from_json("rulebook.json", case.json.as_bytes())
        .map_err(|e| TestCaseError::fail(format!("generated rulebook refused: {e}\n{}", case.json)))?;
    reconcile(&rulebook, &run.inputs, &Options { threads, ..Options::default() })
        .map_err(|e| TestCaseError::fail(format!("reconcile failed: {e}")))
}

/// (a): the engine and the reference agree on everything but free text and digests.
fn check_reference(case: &Case, run: &Run) -> Result<Report, TestCaseError> {
    let report = run_engine(case, run, 2)?;
    let expected = reference::reconcile(&case.rulebook, &run.allocations, &run.debits, &run.merchants);
    prop_assert_eq!(engine_rejects(&report), run.rejects.clone(), "rejects (file, line, column)");
    prop_assert_eq!(&engine_findings(&report), &expected.findings, "findings");
    prop_assert_eq!(&engine_settlement(&report), &expected.settlement, "settlement");
    prop_assert_eq!(&engine_balances(&report), &expected.balances, "balances");
    prop_assert_eq!(&engine_programs(&report), &expected.programs, "programs");
    for input in &report.summary.inputs {
        let rejected = run.rejects.iter().filter(|r| r.0 == input.file).count() as u64;
        prop_assert_eq!(Some(&input.rows_read), run.rows_read.get(&input.file), "rows read of {}", input.file);
        prop_assert_eq!(input.rows_rejected, rejected, "rows rejected of {}", input.file);
    }
    check_strict(case, run, &report)?;
    check_files(case, run, &report, &expected)?;
    Ok(report)
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The output files byte for byte: SPEC's headers and column order, `\n`, quoting only where
/// needed, amounts with `currency_scale` decimals; summary.json with every program, the
/// money, the row counts and the digests of inputs and outputs.
fn check_files(case: &Case, run: &Run, report: &Report, expected: &RefReport) -> Result<(), TestCaseError> {
    let files: BTreeMap<String, Vec<u8>> = files(report).into_iter().collect();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let details: Vec<String> = report.findings.iter().map(|f| f.detail.to_owned()).collect();
    prop_assert_eq!(text(&files["findings.csv"]), text(&expected.findings_csv(&details)), "findings.csv");
    prop_assert_eq!(text(&files["settlement.csv"]), text(&expected.settlement_csv()), "settlement.csv");
    prop_assert_eq!(text(&files["balances.csv"]), text(&expected.balances_csv()), "balances.csv");
    let rejects: Vec<Vec<String>> = report
        .rejects
        .iter()
        .map(|r| vec![r.file.to_owned(), r.line.to_string(), r.column.to_owned(), r.reason.to_owned()])
        .collect();
    let rejects_csv = reference::output_csv(&["file", "line", "column", "reason"], &rejects);
    prop_assert_eq!(text(&files["rejects.csv"]), text(&rejects_csv), "rejects.csv");

    let summary: serde_json::Value = serde_json::from_slice(&files["summary.json"]).expect("summary.json is JSON");
    let programs = summary["programs"].as_object().expect("programs");
    prop_assert_eq!(programs.len(), case.rulebook.programs.len(), "every program, once");
    let scale = case.rulebook.currency_scale;
    let mut totals = [0i128; 4];
    for p in &expected.programs {
        let got = &programs[&p.program];
        for (k, (key, want)) in
            [("allocated", &p.allocated), ("settled", &p.settled), ("held", &p.held), ("remaining", &p.remaining)]
                .into_iter()
                .enumerate()
        {
            prop_assert_eq!(got[key].as_str(), Some(want.as_str()), "summary {} {}", p.program, key);
            totals[k] += want.replace('.', "").parse::<i128>().unwrap();
        }
    }
    for (key, total) in ["allocated", "settled", "held", "remaining"].into_iter().zip(totals) {
        let want = reference::format_money(total, scale);
        prop_assert_eq!(summary["totals"][key].as_str(), Some(want.as_str()), "summary totals {}", key);
    }
    let mut sources = vec![&run.inputs.allocations, &run.inputs.debits];
    sources.extend(&run.inputs.merchants);
    prop_assert_eq!(summary["inputs"].as_object().map(|o| o.len()), Some(sources.len()), "inputs");
    for source in sources {
        let input = &summary["inputs"][source.name()];
        let rejected = run.rejects.iter().filter(|r| r.0 == source.name()).count() as u64;
        prop_assert_eq!(input["rows_read"].as_u64(), run.rows_read.get(source.name()).copied(), "rows_read");
        prop_assert_eq!(input["rows_rejected"].as_u64(), Some(rejected), "rows_rejected");
        let digest = sha256(source.bytes().expect("in memory"));
        prop_assert_eq!(input["sha256"].as_str(), Some(digest.as_str()), "input digest");
    }
    for name in ["balances.csv", "findings.csv", "rejects.csv", "settlement.csv"] {
        let want = sha256(&files[name]);
        prop_assert_eq!(summary["outputs"][name].as_str(), Some(want.as_str()), "digest of {}", name);
    }
    Ok(())
}

/// Strict mode: the same report when no row is bad; else it stops at a bad row, with the
/// message rejects.csv gives for it.
fn check_strict(case: &Case, run: &Run, report: &Report) -> Result<(), TestCaseError> {
    let rulebook = Rulebook::from_json("rulebook.json", case.json.as_bytes()).expect("read before");
    match reconcile(&rulebook, &run.inputs, &Options { threads: 1, strict: true, ..Options::default() }) {
        Ok(strict) => {
            prop_assert!(report.rejects.is_empty(), "strict mode went past a bad row");
            prop_assert!(files(&strict) == files(report), "strict mode changed a report without bad rows");
        }
        Err(Error::BadRow { at, reason }) => {
            let column = at.column.clone().unwrap_or_default();
            let same = |r: harmoni::Reject<'_>| {
                r.file == at.file && Some(r.line) == at.line && r.column == column && r.reason == reason
            };
            prop_assert!(report.rejects.iter().any(same), "strict stop {:?} {} is not a reject", at, reason);
        }
        Err(e) => prop_assert!(false, "strict mode failed otherwise: {e}"),
    }
    Ok(())
}

fn minor(m: &harmoni::Money) -> i128 {
    m.minor_units().expect("small amounts")
}

/// (b): SPEC's conservation equations, on the report alone (and the debit rows, for the
/// debits left after dropping duplicate copies).
fn check_conservation(report: &Report, debits: Option<&[DebitRow]>) -> Result<(), TestCaseError> {
    let left = debits.map(reference::debits_left_by_program);
    let mut totals = [0i128; 8];
    for p in &report.summary.programs {
        let values = [
            &p.allocated,
            &p.settled,
            &p.held,
            &p.remaining,
            &p.settled_gross,
            &p.held_gross,
            &p.reversed_settled,
            &p.reversed_held,
        ]
        .map(minor);
        let [allocated, settled, held, remaining, settled_gross, held_gross, reversed_settled, reversed_held] = values;
        prop_assert_eq!(allocated, remaining + settled, "allocated = remaining + settled (net), {}", p.program);
        prop_assert_eq!(settled, settled_gross - reversed_settled, "settled net, {}", p.program);
        prop_assert_eq!(held, held_gross - reversed_held, "held net, {}", p.program);
        prop_assert!(settled >= 0 && held >= 0 && remaining >= 0, "no negative money, {}", p.program);
        if let Some(left) = &left {
            let debits_left = left.get(&p.program).copied().unwrap_or(0);
            prop_assert_eq!(
                debits_left,
                settled_gross + held_gross,
                "debits left = settled + held (gross), {}",
                p.program
            );
        }
        prop_assert_eq!(p.debits, p.debits_settled + p.debits_held, "debit counts, {}", p.program);
        let in_settlement: u64 = report.settlement.iter().filter(|s| s.program == p.program).map(|s| s.debits).sum();
        prop_assert_eq!(in_settlement, p.debits_settled, "settled debits counted in settlement, {}", p.program);
        let reversals: u64 = report.settlement.iter().filter(|s| s.program == p.program).map(|s| s.reversals).sum();
        prop_assert!(reversals <= p.reversals_applied, "reversals in settlement, {}", p.program);
        let balances: Vec<_> = report.balances.iter().filter(|b| b.program == p.program).collect();
        prop_assert_eq!(balances.iter().map(|b| minor(&b.allocated)).sum::<i128>(), allocated, "balances allocated");
        prop_assert_eq!(balances.iter().map(|b| minor(&b.remaining)).sum::<i128>(), remaining, "balances remaining");
        let settlement: i128 =
            report.settlement.iter().filter(|s| s.program == p.program).map(|s| minor(&s.amount)).sum();
        prop_assert_eq!(settlement, settled, "settlement sums to settled (net), {}", p.program);
        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.program == p.program) {
            *counted.entry(f.rule.as_str().to_owned()).or_default() += 1;
        }
        prop_assert_eq!(&p.findings, &counted, "findings counted in the summary, {}", p.program);
        for (t, v) in totals.iter_mut().zip(values) {
            *t += v;
        }
    }
    let t = &report.summary.totals;
    let total_values = [
        &t.allocated,
        &t.settled,
        &t.held,
        &t.remaining,
        &t.settled_gross,
        &t.held_gross,
        &t.reversed_settled,
        &t.reversed_held,
    ]
    .map(minor);
    prop_assert_eq!(total_values, totals, "totals are the sum of programs");
    for b in &report.balances {
        let (allocated, spent, remaining) = (minor(&b.allocated), minor(&b.spent), minor(&b.remaining));
        prop_assert!(0 <= remaining && remaining <= allocated, "0 <= remaining <= amount: {:?}", b);
        prop_assert_eq!(spent, allocated - remaining, "spent = allocated - remaining");
    }
    for s in &report.settlement {
        prop_assert!(minor(&s.amount) >= 0, "settlement not negative: {:?}", s);
    }
    for input in &report.summary.inputs {
        prop_assert!(input.rows_rejected <= input.rows_read);
        let rejected = report.rejects.iter().filter(|r| r.file == input.file).count() as u64;
        prop_assert_eq!(input.rows_rejected, rejected, "rows rejected = rejects listed, {}", input.file);
    }
    Ok(())
}

fn files(report: &Report) -> Vec<(String, Vec<u8>)> {
    report.files().into_iter().map(|f| (f.name.to_owned(), f.bytes)).collect()
}

/// The outputs with line columns and digests taken out, rows sorted where lines ordered them.
fn without_lines(report: &Report) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (name, bytes) in files(report) {
        if name == "summary.json" {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("summary is JSON");
            v.as_object_mut().unwrap().remove("outputs");
            for input in v["inputs"].as_object_mut().unwrap().values_mut() {
                input.as_object_mut().unwrap().remove("sha256");
            }
            out.push((name, vec![serde_json::to_string_pretty(&v).unwrap()]));
            continue;
        }
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
        let headers = reader.headers().expect("a header").clone();
        let keep: Vec<usize> = (0..headers.len()).filter(|&i| &headers[i] != "line").collect();
        let mut rows: Vec<String> = reader
            .records()
            .map(|r| {
                let r = r.expect("engine CSV reads back");
                keep.iter().map(|&i| r[i].to_owned()).collect::<Vec<_>>().join("\u{1f}")
            })
            .collect();
        rows.sort();
        out.push((name, rows));
    }
    out
}

// ------------------------------------------------------------------------------------------
// The properties
// ------------------------------------------------------------------------------------------

/// `cases` by default, or `PROPTEST_CASES` when set (for a longer hunt). Failures are not
/// persisted to a file: a case worth keeping becomes a named test below.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: None, max_shrink_iters: 4096, ..Config::default() }
}

proptest! {
    #![proptest_config(config(768))]

    /// (a) and (b): the engine agrees with the reference, and conservation holds.
    #[test]
    fn engine_matches_reference(raw in raw_case()) {
        let case = build(&raw);
        let run = render(&case, 0);
        let report = explain(&case, &run, check_reference(&case, &run))?;
        explain(&case, &run, check_conservation(&report, Some(&run.debits)))?;
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// (c): byte-identical outputs for 1, 2 and 8 threads.
    #[test]
    fn outputs_do_not_depend_on_threads(raw in raw_case()) {
        let case = build(&raw);
        let run = render(&case, 0);
        let one = files(&run_engine(&case, &run, 1)?);
        for threads in [2, 8] {
            let other = files(&run_engine(&case, &run, threads)?);
            prop_assert!(one == other, "{} threads differ from 1", threads);
        }
    }

    /// (d): permuting input rows changes nothing but line numbers and digests.
    #[test]
    fn row_order_does_not_matter(raw in raw_case(), permutation in 1u64..) {
        let case = build(&raw);
        let plain = render(&case, 0);
        let shuffled = render(&case, permutation);
        let a = without_lines(&run_engine(&case, &plain, 2)?);
        let b = without_lines(&run_engine(&case, &shuffled, 2)?);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            prop_assert_eq!(x, y, "{} differs after a permutation of rows", name);
        }
    }
}

/// Ways to spoil a good rulebook; SPEC makes each one an error for the whole run. Each is
/// (where to insert: top level or first program, text).
const BAD_RULEBOOK_FIELDS: [(bool, &str); 21] = [
    (true, r#""near_duplicate_second": 5"#),
    (true, r#""programs": [{"code": "EXTRA"}]"#),
    (true, r#""currency_scale": 19"#),
    (true, r#""currency_scale": -1"#),
    (true, r#""currency_scale": 2.0"#),
    (true, r#""timezone": "Asia/Jakarta""#),
    (true, r#""timezone": "+7:00""#),
    (true, r#""timezone": null"#),
    (true, r#""near_duplicate_seconds": 1.5"#),
    (true, r#""near_duplicate_seconds": "60""#),
    (true, r#""velocity": {"max_debits": 3, "window": 60}"#),
    (true, r#""bulk_drain": {"drain_ratio": "9e-1"}"#),
    (true, r#""bulk_drain": {"drain_ratio": -0.9}"#),
    (true, r#""bulk_drain": null"#),
    (false, r#""channels": ["ATM"]"#),
    (false, r#""max_debit": "0""#),
    (false, r#""max_debit": "1.0000000000000000001""#),
    (false, r#""per_houshold": true"#),
    (false, r#""registered_merchants_only": "yes""#),
    (false, r#""code": "DUP""#),
    (false, r#""mcc": null"#),
];

/// A good rulebook with one field that SPEC forbids.
fn spoil_rulebook(json: &str, bad: usize) -> String {
    let (top, field) = BAD_RULEBOOK_FIELDS[bad % BAD_RULEBOOK_FIELDS.len()];
    if top {
        json.replacen('{', &format!("{{{field}, "), 1)
    } else {
        json.replacen("\"programs\": [{", &format!("\"programs\": [{{{field}, "), 1)
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// A bad rulebook is an error for the whole run: an unknown or repeated field, a value of
    /// the wrong kind, `null`, a decimal with an exponent or a sign, ...
    #[test]
    fn bad_rulebooks_are_refused(raw in raw_rulebook(), bad in any::<usize>()) {
        let (json, _) = build_rulebook(&raw);
        let spoiled = spoil_rulebook(&json, bad);
        match Rulebook::from_json("rulebook.json", spoiled.as_bytes()) {
            Err(Error::Rulebook { .. }) => {}
            Err(e) => prop_assert!(false, "not a rulebook error: {e:?}"),
            Ok(_) => prop_assert!(false, "accepted:\n{spoiled}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// (e) Soup
// ------------------------------------------------------------------------------------------

const VALID_RULEBOOK: &str = r#"{"currency_scale": 2, "timezone": "+07:00",
  "programs": [{"code": "BPNTD", "channels": ["pos"], "mcc": ["5411"], "max_debit": "300000",
                "registered_merchants_only": true, "per_household": true},
               {"code": "ASLUT"}]}"#;

/// Whole-file errors are the only failures allowed on arbitrary input.
fn whole_file_error(e: &Error) -> bool {
    matches!(e, Error::File { .. } | Error::Limit { .. })
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static str> = vec![
        "",
        "C1",
        "C2",
        "BPNTD",
        "ASLUT",
        "bpntd",
        "50000",
        "50000.00",
        "0.001",
        "0",
        "-5",
        "1e3",
        "00042",
        "1000000000000000",
        "99999999999999999999999999999999999999999",
        "2022-08-03T10:00:00Z",
        "2022-08-03 10:00:00",
        "2022-08-03t10:00:00.123456789z",
        "2022-08-01",
        "2022-08-31",
        "2022-02-29",
        "9999-12-31",
        "0000-01-01",
        "pos",
        "atm",
        "qr",
        "transfer",
        "debit",
        "reversal",
        "5411",
        "42",
        "65535",
        "65536",
        "T1",
        "T2",
        "M1",
        "E1",
        " ",
        "\"",
        ",",
        "\n",
        "\r\n",
        "\u{e9}",
        "\u{feff}",
        "BPNTD;ASLUT",
        ";",
        "BPNTD;",
        "T1\u{7f}",
    ];
    prop_oneof![
        4 => prop::sample::select(tokens).prop_map(|t| t.as_bytes().to_vec()),
        2 => "[ -~]{0,12}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

/// A CSV file: the given header (shuffled, sometimes with a column missing or doubled)
/// and rows of random fields, each quoted so that the file stays readable as CSV. Tells
/// whether the header is good (every required column, none twice).
fn soup_csv(columns: &[(&str, bool)], rows: &[Vec<Vec<u8>>], seed: u64) -> (Vec<u8>, bool) {
    let mut mix = Mix(seed);
    let mut names: Vec<(&str, bool)> = columns.to_vec();
    shuffle(&mut names, &mut mix);
    let mut header_good = true;
    if mix.one_in(8) {
        header_good = names.pop().is_some_and(|(_, optional)| optional);
    } else if mix.one_in(8) {
        names.push(names[0]);
        header_good = false;
    }
    let names: Vec<&str> = names.iter().map(|c| c.0).collect();
    let mut out = names.join(",").into_bytes();
    out.push(b'\n');
    for row in rows {
        for (i, f) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            for &b in f {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        out.extend_from_slice(if mix.one_in(3) { b"\r\n" } else { b"\n" });
    }
    (out, header_good)
}

fn soup_rows(width: usize) -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    prop::collection::vec(prop::collection::vec(token(), width - 1..=width + 1), 0..12)
}

proptest! {
    #![proptest_config(config(1024))]

    /// (e) Arbitrary bytes: a rulebook is refused as such, CSV files at worst as a whole.
    #[test]
    fn byte_soup_never_panics(
        rulebook in prop::collection::vec(any::<u8>(), 0..64),
        mutation in (any::<usize>(), any::<u8>()),
        files in [prop::collection::vec(any::<u8>(), 0..256), prop::collection::vec(any::<u8>(), 0..256),
                  prop::collection::vec(any::<u8>(), 0..256)],
        headers in [any::<bool>(), any::<bool>(), any::<bool>()],
    ) {
        if let Err(e) = Rulebook::from_json("rulebook.json", &rulebook) {
            prop_assert!(matches!(e, Error::Rulebook { .. }), "{e:?}");
        }
        let mut json = VALID_RULEBOOK.as_bytes().to_vec();
        let at = mutation.0 % json.len();
        json[at] = mutation.1;
        if let Err(e) = Rulebook::from_json("rulebook.json", &json) {
            prop_assert!(matches!(e, Error::Rulebook { .. }), "{e:?}");
        }
        let rulebook = Rulebook::from_json("rulebook.json", VALID_RULEBOOK.as_bytes()).unwrap();
        let with_header = |columns: &[(&str, bool)], on: bool, bytes: &[u8]| {
            let mut out = Vec::new();
            if on {
                out.extend_from_slice(columns.iter().map(|c| c.0).collect::<Vec<_>>().join(",").as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(bytes);
            out
        };
        let inputs = Inputs {
            allocations: Source::from_bytes("allocations.csv", with_header(&ALLOCATION_COLUMNS, headers[0], &files[0])),
            debits: Source::from_bytes("debits.csv", with_header(&DEBIT_COLUMNS, headers[1], &files[1])),
            merchants: Some(Source::from_bytes("merchants.csv", with_header(&MERCHANT_COLUMNS, headers[2], &files[2]))),
        };
        match reconcile(&rulebook, &inputs, &Options { threads: 2, ..Options::default() }) {
            Ok(report) => check_conservation(&report, None)?,
            Err(e) => prop_assert!(whole_file_error(&e), "{e:?}"),
        }
    }

    /// (e) Readable CSV with rows of random fields: never an error unless the header is
    /// wrong, every row read is used or rejected, and money is conserved.
    #[test]
    fn random_fields_never_fail(
        allocations in soup_rows(ALLOCATION_COLUMNS.len()),
        debits in soup_rows(DEBIT_COLUMNS.len()),
        merchants in soup_rows(MERCHANT_COLUMNS.len()),
        seeds in [any::<u64>(), any::<u64>(), any::<u64>()],
        strict in prop::bool::weighted(0.1),
    ) {
        let rulebook = Rulebook::from_json("rulebook.json", VALID_RULEBOOK.as_bytes()).unwrap();
        let (a, a_good) = soup_csv(&ALLOCATION_COLUMNS, &allocations, seeds[0]);
        let (d, d_good) = soup_csv(&DEBIT_COLUMNS, &debits, seeds[1]);
        let (m, m_good) = soup_csv(&MERCHANT_COLUMNS, &merchants, seeds[2]);
        let headers_good = a_good && d_good && m_good;
        let inputs = Inputs {
            allocations: Source::from_bytes("allocations.csv", a),
            debits: Source::from_bytes("debits.csv", d),
            merchants: Some(Source::from_bytes("merchants.csv", m)),
        };
        match reconcile(&rulebook, &inputs, &Options { threads: 2, strict, ..Options::default() }) {
            Ok(report) => {
                prop_assert!(headers_good, "a missing or doubled column must fail the run");
                let read = |file: &str| report.summary.inputs.iter().find(|i| i.file == file).map(|i| i.rows_read);
                prop_assert_eq!(read("allocations.csv"), Some(allocations.len() as u64));
                prop_assert_eq!(read("debits.csv"), Some(debits.len() as u64));
                prop_assert_eq!(read("merchants.csv"), Some(merchants.len() as u64));
                for p in report.summary.programs.iter().chain([&report.summary.totals]) {
                    prop_assert_eq!(minor(&p.allocated), minor(&p.remaining) + minor(&p.settled));
                    prop_assert_eq!(minor(&p.settled), minor(&p.settled_gross) - minor(&p.reversed_settled));
                    prop_assert_eq!(minor(&p.held), minor(&p.held_gross) - minor(&p.reversed_held));
                }
            }
            Err(e) => {
                let header_wrong = !headers_good && matches!(e, Error::File { .. });
                let strict_stop = strict && matches!(e, Error::BadRow { .. });
                prop_assert!(header_wrong || strict_stop, "{e:?}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// The generator reaches every rule
// ------------------------------------------------------------------------------------------

/// The properties above are only as good as the cases: this fails when a change to the
/// generator stops it from producing some rule, some bad column, or applied reversals.
#[test]
fn generator_reaches_every_rule() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..400 {
        let case = build(&raw_case().new_tree(&mut runner).unwrap().current());
        let run = render(&case, 0);
        let report = reference::reconcile(&case.rulebook, &run.allocations, &run.debits, &run.merchants);
        let mut count = |key: String| *seen.entry(key).or_default() += 1;
        report.findings.iter().for_each(|f| count(f.rule.clone()));
        run.rejects.iter().for_each(|(file, _, column)| count(format!("{file}:{column}")));
        report.settlement.iter().filter(|s| s.reversals > 0).for_each(|_| count("reversed settlement".into()));
        report
            .programs
            .iter()
            .filter(|p| p.reversed_held.bytes().any(|b| b.is_ascii_digit() && b != b'0'))
            .for_each(|_| count("reversed held".into()));
        if case.rulebook.currency_scale == 18 {
            count("scale 18".into());
        }
        // Cards with more reversals in play than the walk looks up by reading its events
        // (`REVERSALS_READ_MAX` in cards.rs): their originals are found through a sort. A
        // reversal is in play once per txn_id, unless its txn_id is in conflict.
        let conflicting: Vec<&str> =
            report.findings.iter().filter(|f| f.rule == "CONFLICTING_TXN").map(|f| f.txn_id.as_str()).collect();
        let mut reversals: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        run.debits.iter().filter(|d| d.reversal && !conflicting.contains(&d.txn_id.as_str())).for_each(|d| {
            reversals.entry(&d.card_id).or_default().insert(&d.txn_id);
        });
        if reversals.values().any(|txns| txns.len() > 4) {
            count("a card with more than 4 reversals".into());
        }
    }
    let mut wanted: Vec<String> = harmoni::Rule::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    for (file, columns) in [
        ("allocations.csv", &ALLOCATION_COLUMNS[..]),
        ("debits.csv", &DEBIT_COLUMNS),
        ("merchants.csv", &MERCHANT_COLUMNS),
    ] {
        wanted.extend(columns.iter().map(|c| format!("{file}:{}", c.0)));
        wanted.push(format!("{file}:"));
    }
    wanted.extend(
        ["reversed settlement", "reversed held", "scale 18", "a card with more than 4 reversals"].map(String::from),
    );
    let missing: Vec<&String> = wanted.iter().filter(|w| seen.get(*w).copied().unwrap_or(0) < 3).collect();
    assert!(missing.is_empty(), "the generator rarely or never makes {missing:?}; seen {seen:?}");
}

// ------------------------------------------------------------------------------------------
// Disagreements with the engine, each with its minimal input and the SPEC sentence
// ------------------------------------------------------------------------------------------

fn report_of(rulebook: &str, allocations: &str, debits: &str) -> Report {
    let rulebook = Rulebook::from_json("rulebook.json", rulebook.as_bytes()).expect("a good rulebook");
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", allocations),
        debits: Source::from_bytes("debits.csv", debits),
        merchants: None,
    };
    reconcile(&rulebook, &inputs, &Options::default()).expect("a good run")
}

/// SPEC, Rulebook: "Every field but `programs` and each program's `code` is optional, with
/// the defaults shown", and the example shows `"timezone": "+07:00"`. Without a timezone,
/// an allocation valid to 2022-08-02 ends at 2022-08-03 00:00 +07:00 (2022-08-02T17:00Z), so
/// a debit at 2022-08-02T20:00Z is `OUTSIDE_PERIOD`. The engine defaults to `Z` instead
/// (rulebook.rs) and settles it. Found by `engine_matches_reference`.
#[test]
fn timezone_defaults_to_the_one_shown() {
    let report = report_of(
        r#"{"programs": [{"code": "BPNTD"}]}"#,
        "card_id,beneficiary_id,program,valid_from,valid_to,amount\n\
         C1,3571000000000001,BPNTD,2022-08-01,2022-08-02,20\n",
        "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n\
         T0,C1,BPNTD,5,2022-08-02T20:00:00Z,M1,E1,pos\n",
    );
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["OUTSIDE_PERIOD"], "expected the debit held as outside the period");
    assert!(report.settlement.is_empty(), "expected nothing settled, got {:?}", report.settlement);
}
