//! Instants, dates and the rulebook's fixed UTC offset.
//!
//! An instant is a moment in UTC (seconds and nanoseconds since 1970), so two timestamps
//! written with different offsets compare equal when they are the same moment. Naive
//! timestamps (`YYYY-MM-DD HH:MM:SS`) and allocation dates are read in the rulebook's
//! timezone.

use std::fmt;

/// A moment, UTC. Ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    secs: i64,
    nanos: u32,
}

/// A calendar date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date(i32);

/// A fixed offset from UTC, in seconds (`+07:00` is 25200).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Offset(i32);

const DAY_SECONDS: i64 = 86_400;

impl Instant {
    /// The start (00:00 in `tz`) of `date`.
    pub(crate) fn start_of(date: Date, tz: Offset) -> Instant {
        Instant { secs: i64::from(date.0) * DAY_SECONDS - i64::from(tz.0), nanos: 0 }
    }

    /// `self - seconds`, saturating.
    pub(crate) fn minus_seconds(self, seconds: u64) -> Instant {
        let s = i64::try_from(seconds).unwrap_or(i64::MAX);
        Instant { secs: self.secs.saturating_sub(s), nanos: self.nanos }
    }

    /// `self + seconds`, saturating.
    pub(crate) fn plus_seconds(self, seconds: u64) -> Instant {
        let s = i64::try_from(seconds).unwrap_or(i64::MAX);
        Instant { secs: self.secs.saturating_add(s), nanos: self.nanos }
    }
}

impl Instant {
    /// The instant as local time at offset `tz`, for a person (`2022-08-06T10:15:00+07:00`).
    pub(crate) fn in_zone(self, tz: Offset) -> impl fmt::Display {
        struct Local(Instant, Offset);
        impl fmt::Display for Local {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let Local(at, tz) = *self;
                let local = Instant { secs: at.secs + i64::from(tz.0), nanos: at.nanos };
                let text = local.to_string();
                let text = text.strip_suffix('Z').unwrap_or(&text);
                if tz.0 == 0 {
                    return write!(f, "{text}Z");
                }
                let sign = if tz.0 < 0 { '-' } else { '+' };
                let minutes = tz.0.unsigned_abs() / 60;
                write!(f, "{text}{sign}{:02}:{:02}", minutes / 60, minutes % 60)
            }
        }
        Local(self, tz)
    }
}

impl fmt::Display for Instant {
    /// RFC 3339 in UTC, with nanoseconds only when there are some.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(DAY_SECONDS);
        let rem = self.secs.rem_euclid(DAY_SECONDS);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)?;
        if self.nanos != 0 {
            write!(f, ".{:09}", self.nanos)?;
        }
        f.write_str("Z")
    }
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking the calendar.
    pub(crate) fn parse(text: &[u8]) -> Result<Date, String> {
        if text.len() != 10 {
            return Err(format!("'{}' is not a date: expected YYYY-MM-DD", crate::money::show(text)));
        }
        parse_date(text).ok_or_else(|| format!("'{}' is not a valid date (YYYY-MM-DD)", crate::money::show(text)))
    }

    /// Appends the date as [`Display`](fmt::Display) shows it, `YYYY-MM-DD`, without the
    /// formatting machinery (balances.csv writes two dates a row).
    pub(crate) fn push_to(&self, out: &mut String) {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        let digits = |out: &mut String, value: i64, width: u32| {
            for place in (0..width).rev() {
                out.push(char::from(b'0' + (value / 10i64.pow(place) % 10) as u8));
            }
        };
        if (0..=9999).contains(&y) {
            digits(out, y, 4);
            out.push('-');
            digits(out, m, 2);
            out.push('-');
            digits(out, d, 2);
        } else {
            out.push_str(&self.to_string());
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Offset {
    /// Parses `Z` or `+HH:MM` / `-HH:MM` (hours 00-23, minutes 00-59).
    pub(crate) fn parse(text: &[u8]) -> Option<Offset> {
        match text {
            b"Z" | b"z" => Some(Offset(0)),
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = two_digits(*h1, *h2)?;
                let minutes = two_digits(*m1, *m2)?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let secs = i32::from(hours) * 3600 + i32::from(minutes) * 60;
                Some(Offset(if *sign == b'-' { -secs } else { secs }))
            }
            _ => None,
        }
    }
}

/// Parses an RFC 3339 timestamp with an offset, or a naive `YYYY-MM-DD HH:MM:SS` read in `tz`.
pub(crate) fn parse_instant(text: &[u8], tz: Offset) -> Result<Instant, String> {
    parse_instant_inner(text, tz).ok_or_else(|| {
        format!(
            "'{}' is not a timestamp: expected RFC 3339 such as 2022-08-06T10:15:00+07:00, or 2022-08-06 10:15:00",
            crate::money::show(text)
        )
    })
}

fn parse_instant_inner(text: &[u8], tz: Offset) -> Option<Instant> {
    if text.len() < 19 {
        return None;
    }
    let date = parse_date(&text[..10])?;
    let separator = text[10];
    let [h1, h2, b':', m1, m2, b':', s1, s2] = text[11..19] else { return None };
    let (hours, minutes, seconds) = (two_digits(h1, h2)?, two_digits(m1, m2)?, two_digits(s1, s2)?);
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let offset = if separator == b' ' {
        if !rest.is_empty() {
            return None;
        }
        tz
    } else if separator == b'T' || separator == b't' {
        let mut nanos = 0u32;
        if let [b'.', tail @ ..] = rest {
            let digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            for &d in &tail[..digits] {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            nanos *= 10u32.pow(9 - digits as u32);
            rest = &tail[digits..];
            let offset = Offset::parse(rest)?;
            return Some(Instant { secs: local_seconds(date, hours, minutes, seconds, offset), nanos });
        }
        Offset::parse(rest)?
    } else {
        return None;
    };
    Some(Instant { secs: local_seconds(date, hours, minutes, seconds, offset), nanos: 0 })
}

fn local_seconds(date: Date, hours: u8, minutes: u8, seconds: u8, offset: Offset) -> i64 {
    i64::from(date.0) * DAY_SECONDS + i64::from(hours) * 3600 + i64::from(minutes) * 60 + i64::from(seconds)
        - i64::from(offset.0)
}

fn two_digits(a: u8, b: u8) -> Option<u8> {
    (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
}

fn parse_date(text: &[u8]) -> Option<Date> {
    let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = *text else { return None };
    let year = i64::from(two_digits(y1, y2)?) * 100 + i64::from(two_digits(y3, y4)?);
    let month = two_digits(m1, m2)?;
    let day = two_digits(d1, d2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(Date(days_from_civil(year, month, day) as i32))
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_pushed_as_they_display() {
        let days = (-800_000..-799_000).chain(-1_000..80_000).chain(2_932_000..2_933_000).step_by(7);
        for date in days.chain([0, 2_932_896, 2_932_897]).map(Date) {
            let mut pushed = String::from("x");
            date.push_to(&mut pushed);
            assert_eq!(pushed, format!("x{date}"), "{}", date.0);
        }
        let mut pushed = String::new();
        Date::parse(b"2022-08-01").expect("a date").push_to(&mut pushed);
        assert_eq!(pushed, "2022-08-01");
    }

    const WIB: Offset = Offset(7 * 3600);

    fn at(text: &str) -> Instant {
        parse_instant(text.as_bytes(), WIB).unwrap()
    }

    #[test]
    fn offsets_are_compared_as_moments() {
        assert_eq!(at("2022-08-06T10:15:00+07:00"), at("2022-08-06T03:15:00Z"));
        assert_eq!(at("2022-08-06T10:15:00+07:00"), at("2022-08-06 10:15:00"));
        assert_eq!(at("2022-08-06t03:15:00z"), at("2022-08-06T03:15:00Z"));
        assert_eq!(at("2022-08-06T03:15:00Z").to_string(), "2022-08-06T03:15:00Z");
        assert!(at("2022-08-06T03:15:00.000000001Z") > at("2022-08-06T03:15:00Z"));
        assert_eq!(at("2022-08-06T03:15:00.5Z").to_string(), "2022-08-06T03:15:00.500000000Z");
        assert_eq!(at("1970-01-01T00:00:00Z"), Instant::default());
    }

    #[test]
    fn instants_show_in_the_rulebook_zone() {
        assert_eq!(at("2022-09-01T01:18:58+07:00").in_zone(WIB).to_string(), "2022-09-01T01:18:58+07:00");
        assert_eq!(at("2022-09-01T01:18:58+07:00").in_zone(Offset(0)).to_string(), "2022-08-31T18:18:58Z");
        assert_eq!(at("2022-01-01T00:00:00Z").in_zone(Offset(-12_600)).to_string(), "2021-12-31T20:30:00-03:30");
    }

    #[test]
    fn bad_instants_are_refused() {
        for bad in [
            "2022-08-06T10:15:60Z",
            "2022-02-30T10:15:00Z",
            "2022-08-06T10:15:00",
            "2022-08-06T24:00:00Z",
            "2022-08-06T10:15:00.Z",
            "2022-08-06T10:15:00.0000000001Z",
            "2022-08-06 10:15:00Z",
            "2022-08-06 10:15:00.5",
            "2022-08-06T10:15:00+7:00",
            "2022-08-06T10:15:00+24:00",
            "2022-08-06T10:15:00+07:60",
            "2022-08-06X10:15:00Z",
            "22-08-06T10:15:00Z",
            "",
        ] {
            assert!(parse_instant(bad.as_bytes(), WIB).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_check_the_calendar() {
        assert!(Date::parse(b"2024-02-29").is_ok());
        assert!(Date::parse(b"2023-02-29").is_err());
        assert!(Date::parse(b"1900-02-29").is_err());
        assert!(Date::parse(b"2000-02-29").is_ok());
        assert!(Date::parse(b"2022-13-01").is_err());
        assert!(Date::parse(b"2022-1-01").is_err());
        assert_eq!(Date::parse(b"2022-08-06").unwrap().to_string(), "2022-08-06");
        assert_eq!(Date::parse(b"0000-01-01").unwrap().to_string(), "0000-01-01");
        assert_eq!(Date::parse(b"9999-12-31").unwrap().to_string(), "9999-12-31");
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let day = Date::parse(b"2022-08-06").unwrap();
        assert_eq!(Instant::start_of(day, WIB), at("2022-08-05T17:00:00Z"));
        assert_eq!(Offset::parse(b"-00:30"), Some(Offset(-1800)));
        assert_eq!(Offset::parse(b"+07:00"), Some(WIB));
        assert_eq!(Offset::parse(b"UTC"), None);
    }
}
