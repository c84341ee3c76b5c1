//! Fast text for the generated files: dates, instants, amounts and ids written straight into
//! a byte buffer (no `format!` per field), which is most of what 10 million rows cost.

/// The data set's timezone, Western Indonesia Time (WIB, +07:00), in seconds.
pub(crate) const TZ_SECONDS: i64 = 7 * 3600;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// How an instant is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeStyle {
    /// `2022-08-06T10:15:00+07:00` (milliseconds when the instant has some).
    Local,
    /// The same instant in UTC: `2022-08-06T03:15:00Z`.
    Zulu,
    /// Naive local time, read in the rulebook's timezone: `2022-08-06 10:15:00`.
    Naive,
}

/// A growing output buffer with writers for the fields we use.
pub(crate) struct Out(pub Vec<u8>);

impl Out {
    pub(crate) fn with_capacity(bytes: usize) -> Out {
        Out(Vec::with_capacity(bytes))
    }

    pub(crate) fn s(&mut self, text: &str) -> &mut Out {
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    pub(crate) fn comma(&mut self) -> &mut Out {
        self.0.push(b',');
        self
    }

    pub(crate) fn nl(&mut self) -> &mut Out {
        self.0.push(b'\n');
        self
    }

    pub(crate) fn int(&mut self, value: u64) -> &mut Out {
        let mut buf = itoa::Buffer::new();
        self.0.extend_from_slice(buf.format(value).as_bytes());
        self
    }

    /// `value` with exactly `width` digits (leading zeros; `value < 10^width`).
    pub(crate) fn pad(&mut self, mut value: u64, width: usize) -> &mut Out {
        let start = self.0.len();
        self.0.resize(start + width, b'0');
        for slot in self.0[start..].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        debug_assert_eq!(value, 0, "value wider than {width} digits");
        self
    }

    /// `YYYY-MM-DD` of a day number.
    pub(crate) fn date(&mut self, days: i64) -> &mut Out {
        let (y, m, d) = civil_from_days(days);
        self.pad(y as u64, 4).s("-").pad(u64::from(m), 2).s("-").pad(u64::from(d), 2)
    }

    /// An instant (milliseconds since the Unix epoch) in `style`.
    pub(crate) fn instant(&mut self, at_ms: i64, style: TimeStyle) -> &mut Out {
        let millis = at_ms.rem_euclid(1000) as u64;
        let utc = at_ms.div_euclid(1000);
        let shown = if style == TimeStyle::Zulu { utc } else { utc + TZ_SECONDS };
        let (days, secs) = (shown.div_euclid(86_400), shown.rem_euclid(86_400) as u64);
        self.date(days);
        self.0.push(if style == TimeStyle::Naive { b' ' } else { b'T' });
        self.pad(secs / 3600, 2).s(":").pad(secs / 60 % 60, 2).s(":").pad(secs % 60, 2);
        if millis != 0 && style != TimeStyle::Naive {
            self.s(".").pad(millis, 3);
        }
        match style {
            TimeStyle::Local => self.s("+07:00"),
            TimeStyle::Zulu => self.s("Z"),
            TimeStyle::Naive => self,
        }
    }

    /// Whole rupiah, as `150000` or `150000.00`.
    pub(crate) fn rupiah(&mut self, amount: u64, with_cents: bool) -> &mut Out {
        self.int(amount);
        if with_cents {
            self.s(".00");
        }
        self
    }

    /// A CSV field, quoted when it holds a comma or a quote.
    pub(crate) fn field(&mut self, text: &str) -> &mut Out {
        if text.contains([',', '"']) {
            self.s("\"").s(&text.replace('"', "\"\"")).s("\"")
        } else {
            self.s(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2022, 8, 1), 19_205);
        for z in [-800_000, -1, 0, 59, 19_205, 19_235, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn instants_in_every_style() {
        let at = (days_from_civil(2022, 8, 6) * 86_400 + 3 * 3600 + 15 * 60) * 1000;
        let show = |at, style| String::from_utf8(Out::with_capacity(32).instant(at, style).0.clone()).unwrap();
        assert_eq!(show(at, TimeStyle::Local), "2022-08-06T10:15:00+07:00");
        assert_eq!(show(at, TimeStyle::Zulu), "2022-08-06T03:15:00Z");
        assert_eq!(show(at, TimeStyle::Naive), "2022-08-06 10:15:00");
        assert_eq!(show(at + 42, TimeStyle::Local), "2022-08-06T10:15:00.042+07:00");
        let late = (days_from_civil(2022, 8, 31) * 86_400 + 17 * 3600 + 30 * 60) * 1000;
        assert_eq!(show(late, TimeStyle::Local), "2022-09-01T00:30:00+07:00");
    }

    #[test]
    fn numbers_and_fields() {
        let mut out = Out::with_capacity(64);
        out.pad(42, 5).comma().rupiah(150_000, true).comma().field("Toko, Jl. Dhoho").comma().field("plain");
        assert_eq!(String::from_utf8(out.0).unwrap(), "00042,150000.00,\"Toko, Jl. Dhoho\",plain");
    }
}
