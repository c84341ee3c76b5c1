//! Small structured cycles for the `differential` target, built from fuzz bytes with
//! `arbitrary`, rendered to the bytes of a rulebook and three CSV files, and read by hand
//! into the parsed rows the sequential reference (`core/tests/reference/mod.rs`) takes.
//!
//! Values come from small pools (4 cards, 8 `txn_id`s, 3 merchants, days of one month,
//! times on a coarse grid) so that the rules meet: duplicates, conflicts, reversals of
//! earlier and later debits, overdrafts, near duplicates, velocity, drains at one terminal,
//! shared beneficiaries and households. A few values are bad on purpose (an unknown program,
//! too many decimals, a zero amount, a bad date, an upper-case type or channel) so rejects mix
//! with rules. The layout varies too: column order, optional columns left out, an ignored
//! extra column, quoting, `\r\n`, a byte-order mark, blank lines, and (about 1 run in 128)
//! padding that makes files big enough to be parsed in several chunks, cut differently with
//! 1 and 4 threads, with cuts inside quoted fields.

use std::fmt::{self, Write as _};

use arbitrary::Arbitrary;
use harmoni::Report;

use crate::harness::Rendered;

/// The sequential reference of `core/tests/reference/mod.rs` (an independent reading of SPEC
/// over parsed rows), compared with the engine on every case.
#[allow(dead_code, missing_docs, unreachable_pub, clippy::all)]
#[rustfmt::skip]
#[path = "../../core/tests/reference/mod.rs"]
mod reference;

use reference::{AllocationRow as RefAllocation, DebitRow as RefDebit, MerchantRow as RefMerchant};

/// Rows per file at most: enough for every rule, small enough to stay fast.
const ROWS_MAX: usize = 24;

/// One cycle: a rulebook, rows, and how to lay the files out.
#[derive(Arbitrary)]
pub struct Case {
    rulebook: RulebookCase,
    allocations: Vec<AllocationCase>,
    debits: Vec<DebitCase>,
    merchants: Option<Vec<MerchantCase>>,
    layout: Layout,
    reorder: bool,
}

/// Shows the rendered case, so `cargo fuzz fmt differential ARTIFACT` prints the files in
/// the bundle format that `fuzz/regressions/differential/*.bundle` holds.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.build().0.to_bundle()))
    }
}

#[derive(Arbitrary, Debug)]
struct RulebookCase {
    scale: u8,
    timezone: u8,
    near_duplicate: u8,
    max_debits: u8,
    velocity_window: u8,
    min_cards: u8,
    drain_window: u8,
    drain_ratio: u8,
    programs: [ProgramCase; 2],
    numbers_as_json_numbers: bool,
}

#[derive(Arbitrary, Debug)]
struct ProgramCase {
    channels: Option<u8>,
    mcc: Option<u8>,
    max_debit: Option<u16>,
    registered_merchants_only: bool,
    per_household: bool,
}

#[derive(Arbitrary, Debug)]
struct Amount {
    units: u16,
    decimals: u8,
    fraction: u16,
    leading_zero: bool,
}

#[derive(Arbitrary, Debug)]
struct AllocationCase {
    card: u8,
    beneficiary: u8,
    household: Option<u8>,
    program: u8,
    from_day: u8,
    days: u8,
    amount: Amount,
}

#[derive(Arbitrary, Debug)]
struct DebitCase {
    txn: u8,
    kind: u8,
    original: u8,
    card: u8,
    program: u8,
    amount: Amount,
    day: u8,
    slot: u8,
    zone: u8,
    merchant: u8,
    terminal: u8,
    channel: u8,
    mcc: u8,
    atc: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct MerchantCase {
    merchant: u8,
    programs: u8,
}

#[derive(Arbitrary, Debug)]
struct Layout {
    column_order: u64,
    drop_optional: u8,
    extra_column: bool,
    quote_all: bool,
    crlf: bool,
    bom: bool,
    blank_lines: u32,
    /// 0 and 1 pad (see [`Padding`]), anything else does not: padded runs are about 100
    /// times slower, so they are kept to about 1 run in 128.
    padding: u8,
}

/// Makes the files large enough (over 256 KiB) to be cut into several chunks, and cut
/// differently with 1 and 4 threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padding {
    /// 300,000 blank lines before the second row.
    BlankLines,
    /// Every extra-column field is quoted and holds 29,990 line ends, so chunk cuts (at line
    /// ends) fall inside quoted fields and must be re-parsed.
    QuotedLineEnds,
}

const PROGRAMS: [&str; 3] = ["ASLUT", "BPNTD", "ZZZZ"];
const CHANNELS: [&str; 6] = ["atm", "pos", "qr", "transfer", "", "POS"];
const MCCS: [&str; 5] = ["", "5411", "5499", "5812", "54x1"];
/// Debit timestamp offsets in seconds; `None` is a naive timestamp.
const ZONES: [(Option<i64>, &str); 5] =
    [(Some(0), "Z"), (Some(25_200), "+07:00"), (Some(-12_600), "-03:30"), (None, ""), (Some(28_800), "+08:00")];
const TIMEZONES: [(i64, &str); 3] = [(0, "Z"), (25_200, "+07:00"), (-12_600, "-03:30")];
const RATIOS: [(&str, i128, u32); 6] = [
    ("0", 0, 0),
    ("0.5", 5, 1),
    ("0.9", 9, 1),
    ("1", 1, 0),
    ("1.5", 15, 1),
    ("0.999999999999999999999999999", 999_999_999_999_999_999_999_999_999, 27),
];
const ALLOCATION_COLUMNS: [&str; 7] =
    ["card_id", "beneficiary_id", "household_id", "program", "valid_from", "valid_to", "amount"];
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
const MERCHANT_COLUMNS: [&str; 2] = ["merchant_id", "programs"];

fn pick<T: Copy>(pool: &[T], k: u8) -> T {
    pool[usize::from(k) % pool.len()]
}

/// Days since 1970-01-01 of 2022-08-`day`.
fn august(day: i64) -> i64 {
    reference::days_from_civil(2022, 8, day)
}

/// What the reference needs to know about a file's layout: which optional columns it has.
struct Present(Vec<&'static str>);

impl Present {
    fn has(&self, column: &str) -> bool {
        self.0.contains(&column)
    }
}

/// The parsed rows the reference takes (good rows only) and the lines of the bad rows.
#[derive(Default)]
pub struct Expected {
    rulebook: Option<reference::RefRulebook>,
    allocations: Vec<RefAllocation>,
    debits: Vec<RefDebit>,
    merchants: Vec<RefMerchant>,
    /// Lines of the rows that are bad on purpose, per file (allocations, debits, merchants).
    bad: [Vec<u64>; 3],
}

impl Amount {
    fn render(&self) -> String {
        let mut out = String::new();
        if self.leading_zero {
            out.push('0');
        }
        // Mostly small amounts, so balances run out and draws split.
        let _ = write!(out, "{}", self.units % 4000);
        let decimals = usize::from(self.decimals % 4);
        if decimals > 0 {
            out.push('.');
            out.push_str(&format!("{:04}", self.fraction % 10_000)[..decimals]);
        }
        out
    }

    /// Minor units at `scale`, or `None` for a bad amount (too many decimals, or zero).
    fn minor(&self, scale: u32) -> Option<i128> {
        let decimals = u32::from(self.decimals % 4);
        if decimals > scale {
            return None;
        }
        let fraction: i128 = format!("{:04}", self.fraction % 10_000)[..decimals as usize].parse().unwrap_or(0);
        let value = i128::from(self.units % 4000) * 10i128.pow(scale) + fraction * 10i128.pow(scale - decimals);
        (value > 0).then_some(value)
    }
}

impl Case {
    /// The rulebook and files (and the reordered files when the case asks for them).
    pub fn render(&self) -> Rendered {
        self.build().0
    }

    /// The rendered files and what the reference makes of them.
    pub fn build(&self) -> (Rendered, Expected) {
        let scale = u32::from(self.rulebook.scale % 4);
        let (timezone, _) = pick(&TIMEZONES, self.rulebook.timezone);
        let allocations: Vec<&AllocationCase> = self.allocations.iter().take(ROWS_MAX).collect();
        let debits: Vec<&DebitCase> = self.debits.iter().take(ROWS_MAX).collect();
        let merchants: Option<Vec<&MerchantCase>> = self.merchants.as_ref().map(|m| m.iter().take(ROWS_MAX).collect());
        let a_columns = self.layout.columns(&ALLOCATION_COLUMNS, &["household_id"], 1);
        let d_columns = self.layout.columns(&DEBIT_COLUMNS, &["type", "original_txn_id", "mcc", "atc"], 2);
        let m_columns = self.layout.columns(&MERCHANT_COLUMNS, &[], 3);
        let a_rows: Vec<Vec<String>> = allocations.iter().map(|r| r.fields()).collect();
        let d_rows: Vec<Vec<String>> = debits.iter().map(|r| r.fields()).collect();
        let m_rows: Option<Vec<Vec<String>>> = merchants.as_ref().map(|m| m.iter().map(|r| r.fields()).collect());
        let files = |reverse: bool| {
            let file = |header: &[&str], columns: &[usize], rows: &[Vec<String>], salt: u64| {
                let mut rows = rows.to_vec();
                if reverse {
                    rows.reverse();
                }
                self.layout.render(header, columns, &rows, salt)
            };
            (
                file(&ALLOCATION_COLUMNS, &a_columns, &a_rows, 1),
                file(&DEBIT_COLUMNS, &d_columns, &d_rows, 2),
                m_rows.as_ref().map(|m| file(&MERCHANT_COLUMNS, &m_columns, m, 3)),
            )
        };
        let ((a, a_lines), (d, d_lines), m) = files(false);
        let reordered = self.reorder.then(|| {
            let ((a, _), (d, _), m) = files(true);
            (a, d, m.map(|(m, _)| m))
        });
        let mut expected = Expected { rulebook: Some(self.rulebook.reference()), ..Expected::default() };
        let present =
            |columns: &[usize], header: &[&'static str]| Present(columns.iter().map(|&i| header[i]).collect());
        let a_present = present(&a_columns, &ALLOCATION_COLUMNS);
        for (row, &line) in allocations.iter().zip(&a_lines) {
            match row.parse(scale, &a_present, line) {
                Some(parsed) => expected.allocations.push(parsed),
                None => expected.bad[0].push(line),
            }
        }
        let d_present = present(&d_columns, &DEBIT_COLUMNS);
        for (row, &line) in debits.iter().zip(&d_lines) {
            match row.parse(scale, timezone, &d_present, line) {
                Some(parsed) => expected.debits.push(parsed),
                None => expected.bad[1].push(line),
            }
        }
        if let (Some(rows), Some((_, lines))) = (&merchants, &m) {
            for (row, &line) in rows.iter().zip(lines) {
                match row.parse(line) {
                    Some(parsed) => expected.merchants.push(parsed),
                    None => expected.bad[2].push(line),
                }
            }
        }
        let rendered = Rendered {
            rulebook: self.rulebook.render().into_bytes(),
            allocations: a,
            debits: d,
            merchants: m.map(|(m, _)| m),
            reordered,
        };
        (rendered, expected)
    }
}

impl RulebookCase {
    fn render(&self) -> String {
        let scale = self.scale % 4;
        let decimal = |text: &str| if self.numbers_as_json_numbers { text.to_owned() } else { format!("\"{text}\"") };
        let mut programs = Vec::new();
        for (code, p) in ["ASLUT", "BPNTD"].iter().zip(&self.programs) {
            let mut fields = vec![format!("\"code\": \"{code}\"")];
            if let Some(mask) = p.channels {
                let list: Vec<String> =
                    (0..4).filter(|b| mask & (1 << b) != 0).map(|b| format!("\"{}\"", CHANNELS[b])).collect();
                fields.push(format!("\"channels\": [{}]", list.join(", ")));
            }
            if let Some(mask) = p.mcc {
                let list: Vec<String> =
                    (1..4).filter(|b| mask & (1 << b) != 0).map(|b| format!("\"{}\"", MCCS[b])).collect();
                fields.push(format!("\"mcc\": [{}]", list.join(", ")));
            }
            if let Some(max) = p.max_debit {
                fields.push(format!("\"max_debit\": {}", decimal(&(max % 3000 + 1).to_string())));
            }
            fields.push(format!("\"registered_merchants_only\": {}", p.registered_merchants_only));
            fields.push(format!("\"per_household\": {}", p.per_household));
            programs.push(format!("{{ {} }}", fields.join(", ")));
        }
        format!(
            "{{\n  \"currency_scale\": {scale},\n  \"timezone\": \"{}\",\n  \"near_duplicate_seconds\": {},\n  \
             \"velocity\": {{ \"max_debits\": {}, \"window_seconds\": {} }},\n  \
             \"bulk_drain\": {{ \"min_cards\": {}, \"window_seconds\": {}, \"drain_ratio\": {} }},\n  \
             \"programs\": [\n    {}\n  ]\n}}\n",
            pick(&TIMEZONES, self.timezone).1,
            u32::from(self.near_duplicate) * 4,
            self.max_debits % 5,
            u32::from(self.velocity_window) * 60,
            self.min_cards % 4 + 1,
            u32::from(self.drain_window) * 60,
            decimal(pick(&RATIOS, self.drain_ratio).0),
            programs.join(",\n    "),
        )
    }

    fn reference(&self) -> reference::RefRulebook {
        let scale = u32::from(self.scale % 4);
        let (_, mantissa, ratio_scale) = pick(&RATIOS, self.drain_ratio);
        let programs = ["ASLUT", "BPNTD"]
            .iter()
            .zip(&self.programs)
            .map(|(code, p)| reference::RefProgram {
                code: (*code).to_owned(),
                channels: p
                    .channels
                    .map(|mask| (0..4).filter(|b| mask & (1 << b) != 0).map(|b| CHANNELS[b].to_owned()).collect()),
                mcc: p.mcc.map(|mask| (1..4).filter(|b| mask & (1 << b) != 0).map(|b| MCCS[b].to_owned()).collect()),
                max_debit: p.max_debit.map(|max| i128::from(max % 3000 + 1) * 10i128.pow(scale)),
                registered_merchants_only: p.registered_merchants_only,
                per_household: p.per_household,
            })
            .collect();
        reference::RefRulebook {
            currency_scale: scale,
            timezone_seconds: pick(&TIMEZONES, self.timezone).0,
            near_duplicate_seconds: i64::from(self.near_duplicate) * 4,
            velocity_max_debits: u64::from(self.max_debits % 5),
            velocity_window_seconds: i64::from(self.velocity_window) * 60,
            bulk_min_cards: u64::from(self.min_cards % 4 + 1),
            bulk_window_seconds: i64::from(self.drain_window) * 60,
            drain_ratio_mantissa: mantissa,
            drain_ratio_scale: ratio_scale,
            programs,
        }
    }
}

impl AllocationCase {
    /// Day numbers in August (1 to 31) of `valid_from` and `valid_to`; `None` for a bad date.
    fn days(&self) -> (Option<i64>, i64) {
        let from = i64::from(self.from_day % 31) + 1;
        let to = if self.days == 255 { (from - 1).max(1) } else { (from + i64::from(self.days % 20)).min(31) };
        (if self.from_day >= 250 { None } else { Some(from) }, to)
    }

    fn fields(&self) -> Vec<String> {
        let (from, to) = self.days();
        let from = match (from, self.from_day) {
            (Some(day), _) => format!("2022-08-{day:02}"),
            (None, 250) => "2022-02-30".to_owned(),
            (None, 251) => "2022-8-01".to_owned(),
            (None, _) => "2022-08-32".to_owned(),
        };
        vec![
            format!("C{}", self.card % 4),
            format!("35710000000000{:02}", self.beneficiary % 4),
            self.household.map_or(String::new(), |h| format!("KK{}", h % 3)),
            pick(&PROGRAMS, self.program % 7 / 3).to_owned(),
            from,
            format!("2022-08-{to:02}"),
            self.amount.render(),
        ]
    }

    fn parse(&self, scale: u32, present: &Present, line: u64) -> Option<RefAllocation> {
        let fields = self.fields();
        let (Some(from), to) = self.days() else { return None };
        let program = fields[3].clone();
        if program == "ZZZZ" || to < from {
            return None;
        }
        Some(RefAllocation {
            line,
            card_id: fields[0].clone(),
            beneficiary_id: fields[1].clone(),
            household_id: if present.has("household_id") { fields[2].clone() } else { String::new() },
            program,
            valid_from: august(from),
            valid_to: august(to),
            amount: self.amount.minor(scale)?,
        })
    }
}

impl DebitCase {
    fn is_reversal_text(&self) -> bool {
        pick(&["debit", "", "reversal", "debit", "Reversal"], self.kind) == "reversal"
    }

    fn fields(&self) -> Vec<String> {
        let kind = pick(&["debit", "", "reversal", "debit", "Reversal"], self.kind);
        let reversal = self.is_reversal_text();
        let seconds = u32::from(self.slot) * 37;
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        let day = self.day % 31 + 1;
        let timestamp = match pick(&ZONES, self.zone) {
            (None, _) => format!("2022-08-{day:02} {h:02}:{m:02}:{s:02}"),
            (Some(_), zone) => format!("2022-08-{day:02}T{h:02}:{m:02}:{s:02}{zone}"),
        };
        let optional_on_reversal = |value: String| if reversal && self.merchant >= 128 { String::new() } else { value };
        vec![
            format!("T{}", self.txn % 8),
            kind.to_owned(),
            if reversal || self.original >= 200 { format!("T{}", self.original % 8) } else { String::new() },
            format!("C{}", self.card % 4),
            pick(&PROGRAMS, self.program % 7 / 3).to_owned(),
            self.amount.render(),
            timestamp,
            optional_on_reversal(format!("M{}", self.merchant % 3)),
            optional_on_reversal(format!("EDC{}", self.terminal % 3)),
            optional_on_reversal(pick(&CHANNELS, self.channel).to_owned()),
            pick(&MCCS, self.mcc).to_owned(),
            self.atc.map_or(String::new(), |a| format!("{:03}", a % 6)),
        ]
    }

    fn parse(&self, scale: u32, timezone: i64, present: &Present, line: u64) -> Option<RefDebit> {
        let f = self.fields();
        let value = |column: &str, i: usize| if present.has(column) { f[i].clone() } else { String::new() };
        let reversal = match value("type", 1).as_str() {
            "" | "debit" => false,
            "reversal" => true,
            _ => return None,
        };
        let original = value("original_txn_id", 2);
        let channel = f[9].clone();
        let mcc = value("mcc", 10);
        let bad = (reversal && original.is_empty())
            || f[4] == "ZZZZ"
            || channel == "POS"
            || (!reversal && channel.is_empty())
            || mcc == "54x1";
        if bad {
            return None;
        }
        let seconds = i64::from(self.slot) * 37;
        let offset = pick(&ZONES, self.zone).0.unwrap_or(timezone);
        let utc = august(i64::from(self.day % 31) + 1) * reference::DAY_SECONDS + seconds - offset;
        Some(RefDebit {
            line,
            txn_id: f[0].clone(),
            reversal,
            original_txn_id: if reversal { original } else { String::new() },
            card_id: f[3].clone(),
            program: f[4].clone(),
            amount: self.amount.minor(scale)?,
            instant: i128::from(utc) * reference::NANOS,
            merchant_id: f[7].clone(),
            terminal_id: f[8].clone(),
            channel,
            mcc: (!mcc.is_empty()).then_some(mcc),
            atc: if present.has("atc") { self.atc.map(|a| u32::from(a % 6)) } else { None },
        })
    }
}

impl MerchantCase {
    fn programs(&self) -> (&'static str, Option<Vec<String>>) {
        let list = |codes: &[&str]| Some(codes.iter().map(|c| (*c).to_owned()).collect());
        match self.programs % 6 {
            0 => ("", list(&[])),
            1 => ("ASLUT", list(&["ASLUT"])),
            2 => ("BPNTD", list(&["BPNTD"])),
            3 => ("ASLUT;BPNTD", list(&["ASLUT", "BPNTD"])),
            4 => ("BPNTD;", None),
            _ => ("ZZZZ", None),
        }
    }

    fn fields(&self) -> Vec<String> {
        vec![format!("M{}", self.merchant % 3), self.programs().0.to_owned()]
    }

    fn parse(&self, line: u64) -> Option<RefMerchant> {
        Some(RefMerchant { line, merchant_id: format!("M{}", self.merchant % 3), programs: self.programs().1? })
    }
}

impl Layout {
    /// The columns of a file, in file order (some optional ones left out). `salt` varies the
    /// choice per file.
    fn columns(&self, header: &[&str], optional: &[&str], salt: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..header.len())
            .filter(|&i| {
                let k = optional.iter().position(|o| *o == header[i]);
                k.is_none_or(|k| self.drop_optional & (1 << ((k + salt as usize) % 8)) == 0)
            })
            .collect();
        let mut state = self.column_order ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        order
    }

    fn padding(&self) -> Option<Padding> {
        match self.padding {
            0 => Some(Padding::BlankLines),
            1 => Some(Padding::QuotedLineEnds),
            _ => None,
        }
    }

    /// One CSV file with the chosen line ends, quoting and padding, and the line where each
    /// row starts.
    fn render(&self, header: &[&str], columns: &[usize], rows: &[Vec<String>], salt: u64) -> (Vec<u8>, Vec<u64>) {
        let padding = self.padding();
        let extra = self.extra_column || padding == Some(Padding::QuotedLineEnds);
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice(b"\xEF\xBB\xBF");
        }
        let mut names: Vec<String> = columns.iter().map(|&i| header[i].to_owned()).collect();
        if extra {
            names.insert(names.len() / 2, "note".to_owned());
        }
        self.line(&mut out, &names, end);
        let mut line = 2u64;
        let mut lines = Vec::with_capacity(rows.len());
        for (n, row) in rows.iter().enumerate() {
            if self.blank_lines.rotate_left(salt as u32) & (1 << (n % 32)) != 0 {
                out.extend_from_slice(end.as_bytes());
                line += 1;
            }
            if n == 1 && padding == Some(Padding::BlankLines) {
                out.extend(std::iter::repeat_n(b'\n', 300_000));
                line += 300_000;
            }
            lines.push(line);
            let mut values: Vec<String> = columns.iter().map(|&i| row[i].clone()).collect();
            if extra {
                let note = match padding {
                    // 60,000 bytes: under the 64 KiB record limit, and 12 rows cross 256 KiB
                    // (where even one thread cuts a file into several chunks).
                    Some(Padding::QuotedLineEnds) => {
                        line += 29_990;
                        "\"".to_owned() + &"x\n".repeat(29_990) + "\""
                    }
                    _ => format!("\"n{n}, \"\"quoted\"\"\""),
                };
                values.insert(values.len() / 2, note);
            }
            self.line(&mut out, &values, end);
            line += 1;
        }
        (out, lines)
    }

    fn line(&self, out: &mut Vec<u8>, values: &[String], end: &str) {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if self.quote_all && !v.starts_with('"') {
                out.push(b'"');
                out.extend_from_slice(v.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(v.as_bytes());
            }
        }
        out.extend_from_slice(end.as_bytes());
    }
}

/// Compares the engine's report with the reference's reading of the same rows: the rejected
/// lines, every finding (without its detail), settlement, balances and per-program money.
pub fn check_against_reference(report: &Report, expected: &Expected) {
    let Some(rulebook) = &expected.rulebook else { return };
    for (k, file) in ["allocations.csv", "debits.csv", "merchants.csv"].iter().enumerate() {
        let rejected: Vec<u64> = report.rejects.iter().filter(|r| r.file == *file).map(|r| r.line).collect();
        assert_eq!(rejected, expected.bad[k], "rejected lines of {file}: {:#?}", report.rejects);
    }
    let want = reference::reconcile(rulebook, &expected.allocations, &expected.debits, &expected.merchants);
    let mut findings: Vec<reference::FindingRow> = report
        .findings
        .iter()
        .map(|f| reference::FindingRow {
            subject: f.subject().as_str().to_owned(),
            card_id: f.card_id.to_owned(),
            program: f.program.to_owned(),
            txn_id: f.txn_id.to_owned(),
            rule: f.rule.as_str().to_owned(),
            line: f.line,
            action: f.action().as_str().to_owned(),
        })
        .collect();
    findings.sort();
    let mut want_findings = want.findings.clone();
    want_findings.sort();
    assert_eq!(findings, want_findings, "findings differ from the reference");
    let settlement: Vec<reference::SettlementRow> = report
        .settlement
        .iter()
        .map(|s| reference::SettlementRow {
            merchant_id: s.merchant_id.clone(),
            program: s.program.clone(),
            amount: s.amount.to_string(),
            debits: s.debits,
            reversals: s.reversals,
        })
        .collect();
    assert_eq!(settlement, want.settlement, "settlement differs from the reference");
    let balances: Vec<reference::BalanceRow> = report
        .balances
        .iter()
        .map(|b| reference::BalanceRow {
            card_id: b.card_id.to_owned(),
            program: b.program.to_owned(),
            valid_from: b.valid_from.to_string(),
            valid_to: b.valid_to.to_string(),
            allocated: b.allocated.to_string(),
            spent: b.spent.to_string(),
            remaining: b.remaining.to_string(),
        })
        .collect();
    assert_eq!(balances, want.balances, "balances differ from the reference");
    let programs: Vec<reference::ProgramMoney> = report
        .summary
        .programs
        .iter()
        .map(|p| reference::ProgramMoney {
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
    assert_eq!(programs, want.programs, "program money differs from the reference");
}
