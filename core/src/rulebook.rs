//! The rulebook: programs and the thresholds of the rules, read from JSON.
//!
//! Reading is strict because a typo must not silently switch a rule off: unknown and repeated
//! fields are errors, `null` is never "absent", decimals are read exactly from their text and
//! follow the money grammar, counts and seconds are JSON integers.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Location};
use crate::limits;
use crate::money::{self, Minor, Ratio};
use crate::shard::prefix;
use crate::time::Offset;

/// A payment channel of a debit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Cash withdrawal at an ATM.
    Atm,
    /// Card payment at an EDC terminal.
    Pos,
    /// QRIS payment.
    Qr,
    /// Transfer.
    Transfer,
}

impl Channel {
    /// All channels, in SPEC order.
    pub const ALL: [Channel; 4] = [Channel::Atm, Channel::Pos, Channel::Qr, Channel::Transfer];

    /// The SPEC name (`atm`, `pos`, `qr`, `transfer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Atm => "atm",
            Channel::Pos => "pos",
            Channel::Qr => "qr",
            Channel::Transfer => "transfer",
        }
    }

    pub(crate) fn parse(text: &[u8]) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str().as_bytes() == text)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// One aid program of the rulebook.
#[derive(Clone, Debug)]
pub struct Program {
    code: String,
    name: Option<String>,
    channels: Option<u8>,
    mcc: Option<Vec<u16>>,
    max_debit: Option<Minor>,
    registered_merchants_only: bool,
    per_household: bool,
}

impl Program {
    /// The program code (`BPNTD`).
    pub fn code(&self) -> &str {
        &self.code
    }
    /// The human name, when given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// Is `channel` allowed (all are, when the program lists none)?
    pub fn allows_channel(&self, channel: Channel) -> bool {
        self.channels.is_none_or(|set| set & channel.bit() != 0)
    }
    /// Is `mcc` allowed? Any is (even empty) when the program lists none; an empty mcc fails a
    /// program that lists some.
    pub fn allows_mcc(&self, mcc: Option<u16>) -> bool {
        match (&self.mcc, mcc) {
            (None, _) => true,
            (Some(list), Some(mcc)) => list.binary_search(&mcc).is_ok(),
            (Some(_), None) => false,
        }
    }
    /// The largest amount of one debit, in minor units, when set.
    pub fn max_debit_minor(&self) -> Option<Minor> {
        self.max_debit
    }
    /// Must the merchant be registered for this program?
    pub fn registered_merchants_only(&self) -> bool {
        self.registered_merchants_only
    }
    /// Is this program granted once per household?
    pub fn per_household(&self) -> bool {
        self.per_household
    }
}

/// The rules' thresholds and the programs. Built by [`Rulebook::from_json`].
#[derive(Clone, Debug)]
pub struct Rulebook {
    pub(crate) currency_scale: u32,
    pub(crate) timezone: Offset,
    pub(crate) near_duplicate_seconds: u64,
    pub(crate) velocity_max_debits: u64,
    pub(crate) velocity_window_seconds: u64,
    pub(crate) bulk_drain_min_cards: u64,
    pub(crate) bulk_drain_window_seconds: u64,
    pub(crate) bulk_drain_ratio: Ratio,
    /// Sorted by code, so a [`ProgramId`] orders as its code does.
    pub(crate) programs: Vec<Program>,
    /// Per program, its code's [`code_head`].
    code_heads: Vec<(u128, usize)>,
    pub(crate) sha256: String,
}

/// A program's position in the rulebook's programs sorted by code.
pub(crate) type ProgramId = u16;

impl Rulebook {
    /// Reads a rulebook from JSON bytes (a UTF-8 byte-order mark is ignored). `file` names
    /// the source in error messages.
    pub fn from_json(file: &str, json: &[u8]) -> Result<Rulebook, Error> {
        if json.len() > limits::RULEBOOK_BYTES_MAX {
            return Err(Error::limit(
                file,
                None,
                format!("the rulebook is {} bytes, at most {} allowed", json.len(), limits::RULEBOOK_BYTES_MAX),
            ));
        }
        let sha256 = crate::report::sha256_hex(json);
        let text = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
        let raw: RawRulebook = serde_json::from_slice(text).map_err(|e| {
            let (line, column) = (e.line() as u64, e.column());
            let at = Location {
                file: file.to_owned(),
                line: (line > 0).then_some(line),
                column: (line > 0).then(|| column.to_string()),
            };
            Error::Rulebook { at, reason: e.to_string().split(" at line ").next().unwrap_or_default().to_owned() }
        })?;
        check_objects(text).map_err(|reason| Error::Rulebook {
            at: Location { file: file.to_owned(), line: None, column: None },
            reason,
        })?;
        raw.build(file, sha256)
    }

    /// Reads a rulebook from a JSON file.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Rulebook, Error> {
        let path = path.as_ref();
        let bytes = crate::source::read_file(path, limits::RULEBOOK_BYTES_MAX as u64)?;
        Rulebook::from_json(&path.display().to_string(), &bytes)
    }

    /// The number of decimals of every amount.
    pub fn currency_scale(&self) -> u32 {
        self.currency_scale
    }

    /// The programs, sorted by code (bytewise).
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// SHA-256 of the rulebook's bytes, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub(crate) fn program_id(&self, code: &[u8]) -> Option<ProgramId> {
        // Programs are usually few, and codes short: then a scan of integer comparisons beats
        // a binary search of memcmps (programs are sorted by code, so both find the same one;
        // perf at 10M debits put 0.8% of samples in this function's memcmp calls).
        if self.programs.len() <= 16 && code.len() <= 16 {
            let key = code_head(code);
            return self.code_heads.iter().position(|&head| head == key).map(|i| i as ProgramId);
        }
        self.programs.binary_search_by(|p| p.code.as_bytes().cmp(code)).ok().map(|i| i as ProgramId)
    }

    pub(crate) fn program(&self, id: ProgramId) -> &Program {
        &self.programs[usize::from(id)]
    }
}

/// A program code's [`prefix`] and length: equal for two codes of at most 16 bytes exactly
/// when their bytes are (as in `shard::Headed`'s equality), and never equal for codes of
/// different lengths.
fn code_head(code: &[u8]) -> (u128, usize) {
    (prefix(code), code.len())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRulebook {
    #[serde(default, deserialize_with = "present")]
    currency_scale: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    near_duplicate_seconds: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    velocity: Option<RawVelocity>,
    #[serde(default, deserialize_with = "present")]
    bulk_drain: Option<RawBulkDrain>,
    programs: Vec<RawProgram>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVelocity {
    #[serde(default, deserialize_with = "present")]
    max_debits: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    window_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBulkDrain {
    #[serde(default, deserialize_with = "present")]
    min_cards: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    window_seconds: Option<u64>,
    #[serde(default, deserialize_with = "decimal")]
    drain_ratio: Option<DecimalText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgram {
    code: String,
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    channels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    mcc: Option<Vec<String>>,
    #[serde(default, deserialize_with = "decimal")]
    max_debit: Option<DecimalText>,
    #[serde(default, deserialize_with = "present")]
    registered_merchants_only: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    per_household: Option<bool>,
}

/// The exact text of a JSON decimal (a string's content or a number's literal).
struct DecimalText(String);

/// serde reads a struct from a JSON array too (by position, with no field names to check),
/// which would let a rulebook skip the unknown-field check: the rulebook, `velocity`,
/// `bulk_drain` and each program must be JSON objects.
fn check_objects(json: &[u8]) -> Result<(), String> {
    use serde_json::Value;
    let value: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let Value::Object(top) = &value else { return Err("the rulebook must be a JSON object".into()) };
    for field in ["velocity", "bulk_drain"] {
        if top.get(field).is_some_and(|v| !v.is_object()) {
            return Err(format!("{field} must be a JSON object"));
        }
    }
    if let Some(Value::Array(programs)) = top.get("programs") {
        if let Some(i) = programs.iter().position(|p| !p.is_object()) {
            return Err(format!("programs[{i}] must be a JSON object"));
        }
    }
    Ok(())
}

/// A field that, when present, must hold a value: `null` is an error, not "absent".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A decimal as a JSON string or number, kept as its exact text, grammar-checked.
fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DecimalText>, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    let text = raw.get();
    let text = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(de::Error::custom)?
    } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        text.to_owned()
    } else {
        let shown = crate::money::show(text.as_bytes());
        return Err(de::Error::custom(format!("expected a decimal as a string or number, found {shown}")));
    };
    Ratio::parse(text.as_bytes()).map_err(de::Error::custom)?;
    Ok(Some(DecimalText(text)))
}

struct Invalid(String);

impl<T: fmt::Display> From<T> for Invalid {
    fn from(reason: T) -> Invalid {
        Invalid(reason.to_string())
    }
}

impl RawRulebook {
    fn build(self, file: &str, sha256: String) -> Result<Rulebook, Error> {
        self.check().map_err(|Invalid(reason)| Error::Rulebook {
            at: Location { file: file.to_owned(), line: None, column: None },
            reason,
        })?;
        let currency_scale = self.currency_scale.unwrap_or(2);
        let timezone = match &self.timezone {
            Some(tz) => Offset::parse(tz.as_bytes()).ok_or_else(|| Error::Rulebook {
                at: Location { file: file.to_owned(), line: None, column: None },
                reason: format!("timezone '{tz}' must be Z or a fixed offset such as +07:00"),
            })?,
            // SPEC: absent fields take "the defaults shown", and the example shows +07:00 (WIB).
            None => Offset::parse(b"+07:00").expect("+07:00 parses"),
        };
        let velocity = self.velocity.unwrap_or(RawVelocity { max_debits: None, window_seconds: None });
        let bulk = self.bulk_drain.unwrap_or(RawBulkDrain { min_cards: None, window_seconds: None, drain_ratio: None });
        let bulk_drain_ratio = match bulk.drain_ratio {
            Some(DecimalText(text)) => Ratio::parse(text.as_bytes()).expect("checked while reading"),
            None => Ratio { mantissa: 9, scale: 1 },
        };
        let mut programs = Vec::with_capacity(self.programs.len());
        for (i, raw) in self.programs.into_iter().enumerate() {
            programs.push(raw.build(currency_scale).map_err(|Invalid(reason)| Error::Rulebook {
                at: Location { file: file.to_owned(), line: None, column: None },
                reason: format!("programs[{i}]: {reason}"),
            })?);
        }
        programs.sort_by(|a, b| a.code.cmp(&b.code));
        if let Some(w) = programs.windows(2).find(|w| w[0].code == w[1].code) {
            return Err(Error::Rulebook {
                at: Location { file: file.to_owned(), line: None, column: None },
                reason: format!("program code '{}' appears twice", w[0].code),
            });
        }
        Ok(Rulebook {
            currency_scale,
            timezone,
            near_duplicate_seconds: self.near_duplicate_seconds.unwrap_or(60),
            velocity_max_debits: velocity.max_debits.unwrap_or(10),
            velocity_window_seconds: velocity.window_seconds.unwrap_or(3600),
            bulk_drain_min_cards: bulk.min_cards.unwrap_or(5),
            bulk_drain_window_seconds: bulk.window_seconds.unwrap_or(1800),
            bulk_drain_ratio,
            code_heads: programs.iter().map(|p| code_head(p.code.as_bytes())).collect(),
            programs,
            sha256,
        })
    }

    fn check(&self) -> Result<(), Invalid> {
        if let Some(scale) = self.currency_scale {
            if scale > limits::CURRENCY_SCALE_MAX {
                return Err(format!("currency_scale {scale} is above {}", limits::CURRENCY_SCALE_MAX).into());
            }
        }
        let integers = [
            ("near_duplicate_seconds", self.near_duplicate_seconds),
            ("velocity.max_debits", self.velocity.as_ref().and_then(|v| v.max_debits)),
            ("velocity.window_seconds", self.velocity.as_ref().and_then(|v| v.window_seconds)),
            ("bulk_drain.min_cards", self.bulk_drain.as_ref().and_then(|b| b.min_cards)),
            ("bulk_drain.window_seconds", self.bulk_drain.as_ref().and_then(|b| b.window_seconds)),
        ];
        for (name, value) in integers {
            if value.is_some_and(|v| v > limits::RULEBOOK_INTEGER_MAX) {
                return Err(format!("{name} is above {}", limits::RULEBOOK_INTEGER_MAX).into());
            }
        }
        if self.programs.is_empty() {
            return Err("programs must not be empty".into());
        }
        if self.programs.len() > limits::PROGRAMS_MAX {
            return Err(format!("{} programs, at most {} allowed", self.programs.len(), limits::PROGRAMS_MAX).into());
        }
        Ok(())
    }
}

impl RawProgram {
    fn build(self, scale: u32) -> Result<Program, Invalid> {
        let code = self.code;
        let printable = crate::row_ids::printable_ascii(code.as_bytes());
        if code.is_empty() || code.len() > limits::ID_BYTES_MAX || !printable || code.contains(';') {
            return Err(format!(
                "code '{code}' must be 1 to {} printable ASCII characters without ';'",
                limits::ID_BYTES_MAX
            )
            .into());
        }
        let channels = match self.channels {
            None => None,
            Some(list) => {
                let mut set = 0u8;
                for name in list {
                    let channel = Channel::parse(name.as_bytes())
                        .ok_or_else(|| format!("{code}: channel '{name}' is not one of atm, pos, qr, transfer"))?;
                    set |= channel.bit();
                }
                Some(set)
            }
        };
        let mcc = match self.mcc {
            None => None,
            Some(list) => {
                let mut codes = Vec::with_capacity(list.len());
                for text in list {
                    codes.push(
                        parse_mcc(text.as_bytes()).ok_or_else(|| format!("{code}: mcc '{text}' is not 4 digits"))?,
                    );
                }
                codes.sort_unstable();
                codes.dedup();
                Some(codes)
            }
        };
        let max_debit = match self.max_debit {
            None => None,
            Some(DecimalText(text)) => {
                Some(money::parse_money(text.as_bytes(), scale).map_err(|e| format!("{code}: max_debit {e}"))?)
            }
        };
        Ok(Program {
            code,
            name: self.name,
            channels,
            mcc,
            max_debit,
            registered_merchants_only: self.registered_merchants_only.unwrap_or(false),
            per_household: self.per_household.unwrap_or(false),
        })
    }
}

/// A merchant category code: exactly 4 ASCII digits.
pub(crate) fn parse_mcc(text: &[u8]) -> Option<u16> {
    if text.len() != 4 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Rulebook, Error> {
        Rulebook::from_json("rulebook.json", json.as_bytes())
    }

    fn reason(json: &str) -> String {
        read(json).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        let r = read(r#"{"programs":[{"code":"ASLUT"}]}"#).unwrap();
        assert_eq!(r.currency_scale, 2);
        assert_eq!(r.timezone, Offset::parse(b"+07:00").unwrap(), "the default shown in SPEC");
        assert_eq!((r.near_duplicate_seconds, r.velocity_max_debits, r.velocity_window_seconds), (60, 10, 3600));
        assert_eq!((r.bulk_drain_min_cards, r.bulk_drain_window_seconds), (5, 1800));
        assert_eq!(r.bulk_drain_ratio, Ratio { mantissa: 9, scale: 1 });
        let p = &r.programs[0];
        assert!(p.allows_channel(Channel::Atm) && p.allows_mcc(None) && p.max_debit.is_none());
        assert!(!p.registered_merchants_only && !p.per_household);
    }

    #[test]
    fn the_spec_example_reads() {
        let r = read(
            r#"{ "currency_scale": 2, "timezone": "+07:00", "near_duplicate_seconds": 60,
            "velocity": { "max_debits": 10, "window_seconds": 3600 },
            "bulk_drain": { "min_cards": 5, "window_seconds": 1800, "drain_ratio": "0.9" },
            "programs": [
              { "code": "BPNTD", "name": "Bantuan Pangan Non Tunai Daerah",
                "channels": ["pos", "qr"], "mcc": ["5411", "5499"], "max_debit": "300000",
                "registered_merchants_only": true, "per_household": true },
              { "code": "ASLUT", "name": "Asistensi Lanjut Usia" } ] }"#,
        )
        .unwrap();
        let p = r.program(r.program_id(b"BPNTD").unwrap());
        assert!(p.allows_channel(Channel::Pos) && !p.allows_channel(Channel::Atm));
        assert!(p.allows_mcc(Some(5411)) && !p.allows_mcc(Some(5812)) && !p.allows_mcc(None));
        assert_eq!(p.max_debit, Some(30_000_000));
        assert_eq!(r.program_id(b"ASLUT"), Some(0), "programs are sorted by code");
        assert_eq!(r.program_id(b"aslut"), None);
    }

    #[test]
    fn program_codes_are_found_exactly_among_few_or_many() {
        // Codes around the 16 bytes that the scan compares as integers, sharing prefixes.
        // Strangers include a value with a zero byte (the integers pad with zeros), and one
        // of 16 bytes that starts a longer code (it tells a key that cut lengths at 16).
        let codes = ["A", "AB", "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOPQ", "ABCDEFGHIJKLMNOPR", "BCDEFGHIJKLMNOPQR"];
        let strangers =
            ["", "ABC", "A\0", "ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNOPS", "ABCDEFGHIJKLMNOPQR", "BCDEFGHIJKLMNOPQ"];
        for more in [0, 20] {
            // With 20 more programs, codes are found by a binary search instead.
            let mut all: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            all.extend((0..more).map(|i| format!("Z{i:02}")));
            let list: Vec<String> =
                all.iter().map(|c| format!(r#"{{"code":{}}}"#, serde_json::to_string(c).expect("a string"))).collect();
            let r = read(&format!(r#"{{"programs":[{}]}}"#, list.join(","))).unwrap();
            for code in codes {
                let id = r.program_id(code.as_bytes()).unwrap_or_else(|| panic!("{code:?} is a program"));
                assert_eq!(r.program(id).code(), code, "{more} more");
            }
            for stranger in strangers {
                assert_eq!(r.program_id(stranger.as_bytes()), None, "{stranger:?}, {more} more");
            }
        }
    }

    #[test]
    fn decimals_are_read_exactly_from_numbers_and_strings() {
        let r = read(r#"{"bulk_drain":{"drain_ratio":0.9},"programs":[{"code":"A","max_debit":300000.5}]}"#).unwrap();
        assert_eq!(r.bulk_drain_ratio, Ratio { mantissa: 9, scale: 1 });
        assert_eq!(r.programs[0].max_debit, Some(30_000_050));
        assert!(reason(r#"{"bulk_drain":{"drain_ratio":9e-1},"programs":[{"code":"A"}]}"#).contains("not an amount"));
        assert!(reason(r#"{"programs":[{"code":"A","max_debit":"-5"}]}"#).contains("not an amount"));
        assert!(reason(r#"{"programs":[{"code":"A","max_debit":"1.001"}]}"#).contains("3 decimals"));
        assert!(reason(r#"{"programs":[{"code":"A","max_debit":true}]}"#).contains("expected a decimal"));
    }

    #[test]
    fn typos_and_nulls_are_errors() {
        assert!(reason(r#"{"programs":[{"code":"A"}],"velocty":{}}"#).contains("unknown field `velocty`"));
        assert!(reason(r#"{"programs":[{"code":"A","chanels":[]}]}"#).contains("unknown field"));
        assert!(
            reason(r#"{"currency_scale":2,"currency_scale":2,"programs":[{"code":"A"}]}"#).contains("duplicate field")
        );
        assert!(reason(r#"{"currency_scale":null,"programs":[{"code":"A"}]}"#).contains("null"));
        assert!(reason(r#"{"programs":[{"code":"A","max_debit":null}]}"#).contains("null"));
        assert!(reason(r#"{"programs":null}"#).contains("null"));
        assert!(reason(r#"{}"#).contains("missing field `programs`"));
        assert!(reason(r#"{"programs":[]}"#).contains("must not be empty"));
        assert!(reason(r#"{"near_duplicate_seconds":1.5,"programs":[{"code":"A"}]}"#).contains("floating point"));
        assert!(reason(r#"{"currency_scale":19,"programs":[{"code":"A"}]}"#).contains("above 18"));
        assert!(reason(r#"{"programs":[{"code":"A"},{"code":"A"}]}"#).contains("appears twice"));
        assert!(reason(r#"{"programs":[{"code":"A;B"}]}"#).contains("without ';'"));
        assert!(reason(r#"{"programs":[{"code":"A","channels":["POS"]}]}"#).contains("'POS'"));
        assert!(reason(r#"{"programs":[{"code":"A","mcc":["541"]}]}"#).contains("'541'"));
        assert!(reason(r#"{"timezone":"Asia/Jakarta","programs":[{"code":"A"}]}"#).contains("timezone"));
    }

    #[test]
    fn arrays_do_not_stand_in_for_objects() {
        assert!(reason(r#"[2, "+07:00", 60, [10, 3600], [5, 1800, "0.9"], [["BPNTD"]]]"#).contains("JSON object"));
        assert!(reason(r#"{"programs": [["BPNTD"]]}"#).contains("programs[0] must be a JSON object"));
        assert!(reason(r#"{"velocity": [10, 3600], "programs": [{"code": "A"}]}"#).contains("velocity must be"));
        assert!(reason(r#"{"bulk_drain": [5], "programs": [{"code": "A"}]}"#).contains("bulk_drain must be"));
    }

    #[test]
    fn errors_do_not_echo_huge_values() {
        let deep = format!(r#"{{"programs": [{{"code": "A", "max_debit": {}{}}}]}}"#, "[".repeat(100), "]".repeat(100));
        assert!(reason(&deep).len() < 300);
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read("{\n \"programs\": [\n  {\"code\": \"A\", \"bogus\": 1}]}").unwrap_err();
        let at = err.location().unwrap();
        assert_eq!(at.line, Some(3));
        assert!(at.column.is_some());
    }

    #[test]
    fn empty_lists_allow_nothing_and_bom_is_ignored() {
        let r = Rulebook::from_json("r", b"\xEF\xBB\xBF{\"programs\":[{\"code\":\"A\",\"channels\":[],\"mcc\":[]}]}")
            .unwrap();
        let p = &r.programs[0];
        assert!(Channel::ALL.iter().all(|c| !p.allows_channel(*c)));
        assert!(!p.allows_mcc(Some(5411)) && !p.allows_mcc(None));
    }
}
