//! Exact money: the one place that states scale and rounding policy.
//!
//! An amount of one row is held as an integer count of minor units (`currency_scale`
//! decimals): at most 10^15 major units times 10^18 is below 2^128, so a row fits a `u128`.
//! Sums over any number of rows are 256-bit ([`Sum`]), which no input can overflow.
//! There is no rounding anywhere: an amount with more fractional digits than
//! `currency_scale` is an error, even when the extra digits are zeros.

use std::fmt;

/// Minor units of one row's amount (or of one card's balance).
pub type Minor = u128;

/// A sum of amounts over any number of rows.
pub(crate) type Sum = ethnum::I256;

/// SPEC: an amount is at most 1,000,000,000,000,000 (major units).
pub const MONEY_MAX_MAJOR: u128 = 1_000_000_000_000_000;

/// `10^exp` for `exp <= 38`.
#[inline]
pub(crate) const fn pow10(exp: u32) -> u128 {
    POW10[exp as usize]
}

const POW10: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Parses the money grammar of SPEC: digits, optionally `.` and at least one fractional
/// digit; no sign, exponent or separators; at most `scale` fractional digits; greater than
/// zero; at most 10^15. Returns minor units, or a reason a person understands.
pub(crate) fn parse_money(text: &[u8], scale: u32) -> Result<Minor, String> {
    let (whole, fraction) = split_decimal(text)?;
    if fraction.len() > scale as usize {
        let plural = if fraction.len() == 1 { "" } else { "s" };
        return Err(format!("'{}' has {} decimal{plural}, at most {scale} allowed", show(text), fraction.len()));
    }
    let whole = trim_leading_zeros(whole);
    // 10^15 has 16 digits; anything longer is too large.
    if whole.len() > 16 {
        return Err(format!("'{}' is above 1000000000000000", show(text)));
    }
    let mut units: u128 = digits_value(whole);
    let frac_value = digits_value(fraction) * pow10(scale - fraction.len() as u32);
    units = units * pow10(scale) + frac_value;
    if units > MONEY_MAX_MAJOR * pow10(scale) {
        return Err(format!("'{}' is above 1000000000000000", show(text)));
    }
    if units == 0 {
        return Err(format!("'{}' is not greater than zero", show(text)));
    }
    Ok(units)
}

/// A non-negative exact decimal of the money grammar without a scale limit (the rulebook's
/// `drain_ratio`): `mantissa / 10^scale`, at most 28 fractional digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    /// The digits as an integer.
    pub mantissa: u128,
    /// How many of them are fractional.
    pub scale: u32,
}

impl Ratio {
    pub(crate) fn parse(text: &[u8]) -> Result<Ratio, String> {
        let (whole, fraction) = split_decimal(text)?;
        let whole = trim_leading_zeros(whole);
        if fraction.len() > 28 || whole.len() + fraction.len() > 36 {
            return Err(format!("'{}' has too many digits", show(text)));
        }
        let mantissa = digits_value(whole) * pow10(fraction.len() as u32) + digits_value(fraction);
        Ok(Ratio { mantissa, scale: fraction.len() as u32 })
    }

    /// Is `amount >= self * available`, exactly?
    pub(crate) fn at_most(&self, amount: Minor, available: Minor) -> bool {
        let lhs = ethnum::U256::from(amount) * ethnum::U256::from(pow10(self.scale));
        let rhs = ethnum::U256::from(self.mantissa) * ethnum::U256::from(available);
        lhs >= rhs
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&with_point(self.mantissa.to_string(), self.scale))
    }
}

fn split_decimal(text: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if text.is_empty() {
        return Err("empty, expected an amount such as 50000.00".to_owned());
    }
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &text[text.len()..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let has_dot = whole.len() != text.len();
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || (has_dot && fraction.is_empty()) {
        return Err(format!(
            "'{}' is not an amount: expected digits with an optional '.' and decimals, no sign, exponent or separators",
            show(text)
        ));
    }
    Ok((whole, fraction))
}

fn trim_leading_zeros(digits: &[u8]) -> &[u8] {
    let first = digits.iter().position(|&b| b != b'0').unwrap_or(digits.len());
    &digits[first..]
}

/// Value of at most 38 ASCII digits (callers bound the length).
#[inline]
fn digits_value(digits: &[u8]) -> u128 {
    if digits.len() <= 19 {
        // The common case fits 64 bits: cheaper multiplications.
        return u128::from(digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')));
    }
    digits.iter().fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0'))
}

/// Shows input text in a message: lossy UTF-8, control characters escaped, cut to a
/// readable length.
pub(crate) fn show(text: &[u8]) -> String {
    const SHOWN_MAX: usize = 40;
    let s = String::from_utf8_lossy(&text[..text.len().min(SHOWN_MAX)]);
    let s: String =
        s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect();
    if text.len() > SHOWN_MAX {
        format!("{s}...")
    } else {
        s
    }
}

/// Inserts the decimal point `scale` digits from the right of a plain integer string.
fn with_point(digits: String, scale: u32) -> String {
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, digits),
    };
    let scale = scale as usize;
    let padded =
        if digits.len() <= scale { format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits) } else { digits };
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let sign = if negative { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// An exact amount of money as it appears in a report: minor units and the currency scale.
/// It prints with exactly `scale` decimals (`50000.00`). It is never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money {
    minor: Sum,
    scale: u32,
}

impl Money {
    pub(crate) fn new(minor: Sum, scale: u32) -> Money {
        Money { minor, scale }
    }

    pub(crate) fn of(minor: Minor, scale: u32) -> Money {
        Money { minor: Sum::from(minor), scale }
    }

    pub(crate) fn minor(&self) -> Sum {
        self.minor
    }

    /// The number of decimals (the rulebook's `currency_scale`).
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Minor units, when they fit an `i128` (they always do for one row's amount).
    pub fn minor_units(&self) -> Option<i128> {
        i128::try_from(self.minor).ok()
    }

    /// Is it zero?
    pub fn is_zero(&self) -> bool {
        self.minor == Sum::ZERO
    }

    /// As a `rust_decimal::Decimal`, when it fits one (96-bit mantissa, 28 decimals).
    pub fn to_decimal(&self) -> Option<rust_decimal::Decimal> {
        let minor = self.minor_units()?;
        rust_decimal::Decimal::try_from_i128_with_scale(minor, self.scale).ok()
    }

    /// Appends the amount as [`Display`](fmt::Display) shows it, without the formatting
    /// machinery: balances.csv writes three amounts a row, 1.26 million rows at 10M debits,
    /// and perf put about a fifth of the samples taken from the card stage on in formatting
    /// (`fmt`, `pad`, `from_utf8`).
    pub(crate) fn push_to(&self, out: &mut String) {
        match self.digits(&mut [0; DIGITS_MAX]) {
            Some(digits) => out.extend(digits.iter().map(|&b| char::from(b))),
            None => out.push_str(&self.to_string()),
        }
    }

    /// The amount's text in ASCII, written at the end of `buf`, when it is not below zero
    /// and fits a `u128` (a row's amount always does; other sums take the 256-bit path).
    fn digits<'b>(&self, buf: &'b mut [u8; DIGITS_MAX]) -> Option<&'b [u8]> {
        let minor = u128::try_from(self.minor).ok()?;
        let at = point_digits(minor, self.scale, buf);
        Some(&buf[at..])
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digits(&mut [0; DIGITS_MAX]) {
            Some(digits) => f.pad(std::str::from_utf8(digits).map_err(|_| fmt::Error)?),
            None => f.pad(&with_point(self.minor.to_string(), self.scale)),
        }
    }
}

/// Room for a `u128` (39 digits) and its point, or a scale of up to 78 and its zeros.
const DIGITS_MAX: usize = 80;

/// Writes `minor` with a point before its last `scale` digits (and at least one digit
/// before the point) at the end of `buf`, as [`with_point`] does without going through
/// 256-bit formatting; returns where it starts. Digits are taken in `u64` arithmetic once
/// what is left fits one (a `u128` division is a call).
fn point_digits(minor: u128, scale: u32, buf: &mut [u8; DIGITS_MAX]) -> usize {
    let mut at = buf.len();
    let (mut rest, mut written) = (minor, 0u32);
    loop {
        let (digit, next) = match u64::try_from(rest) {
            Ok(small) => ((small % 10) as u8, u128::from(small / 10)),
            Err(_) => ((rest % 10) as u8, rest / 10),
        };
        if written == scale && scale > 0 {
            at -= 1;
            buf[at] = b'.';
        }
        at -= 1;
        buf[at] = b'0' + digit;
        (rest, written) = (next, written + 1);
        if rest == 0 && written > scale {
            return at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_pushed_and_displayed_as_the_plain_integer_with_its_point() {
        let big = [u128::from(u64::MAX), 10u128.pow(19), 10u128.pow(20) + 7, u128::MAX];
        let values = [0u128, 1, 9, 10, 99, 100, 12_345, 5_000_000].into_iter().chain(big).chain(big.map(|v| v - 1));
        for minor in values {
            for scale in [0, 1, 2, 3, 18] {
                let expected = with_point(minor.to_string(), scale);
                let money = Money::of(minor, scale);
                let mut pushed = String::from("x");
                money.push_to(&mut pushed);
                assert_eq!((pushed, money.to_string()), (format!("x{expected}"), expected.clone()), "{minor} {scale}");
            }
        }
        // Below zero (a sum, never a row's amount): the 256-bit path.
        let negative = Money::new(Sum::from(-1_234i128), 2);
        let mut pushed = String::new();
        negative.push_to(&mut pushed);
        assert_eq!((pushed.as_str(), negative.to_string().as_str()), ("-12.34", "-12.34"));
    }

    #[test]
    fn money_grammar() {
        assert_eq!(parse_money(b"50000", 2), Ok(5_000_000));
        assert_eq!(parse_money(b"50000.5", 2), Ok(5_000_050));
        assert_eq!(parse_money(b"050000.00", 2), Ok(5_000_000));
        assert_eq!(parse_money(b"1000000000000000", 0), Ok(MONEY_MAX_MAJOR));
        assert_eq!(parse_money(b"1000000000000000.000000000000000000", 18), Ok(MONEY_MAX_MAJOR * pow10(18)));
        for bad in [&b""[..], b"-5", b"+5", b"1e5", b"1,000", b" 5", b"5 ", b".5", b"5.", b"5..0", b"0x10", b"\xff"] {
            assert!(parse_money(bad, 2).is_err(), "{:?}", show(bad));
        }
        assert!(parse_money(b"0", 2).unwrap_err().contains("not greater than zero"));
        assert!(parse_money(b"0.00", 2).is_err());
        assert!(parse_money(b"1.000", 2).unwrap_err().contains("3 decimals, at most 2"));
        assert!(parse_money(b"1.0", 0).is_err(), "a zero decimal is still a decimal");
        assert!(parse_money(b"1000000000000000.01", 2).is_err());
        assert!(parse_money(b"99999999999999999999999999999", 2).unwrap_err().contains("above"));
        assert_eq!(parse_money(b"0000000000000000000000000001", 2), Ok(100));
    }

    #[test]
    fn money_prints_with_exactly_scale_decimals() {
        assert_eq!(Money::of(5, 2).to_string(), "0.05");
        assert_eq!(Money::of(5_000_000, 2).to_string(), "50000.00");
        assert_eq!(Money::of(7, 0).to_string(), "7");
        assert_eq!(Money::new(Sum::from(-150i32), 2).to_string(), "-1.50");
        assert_eq!(Money::of(0, 3).to_string(), "0.000");
        assert_eq!(Money::of(0, 0).to_string(), "0");
        assert_eq!(format!("{:>8}|{:<6}|", Money::of(150, 2), Money::of(5, 0)), "    1.50|5     |");
        assert_eq!(Money::of(123, 3).to_string(), "0.123");
        assert_eq!(Money::of(1230, 3).to_string(), "1.230");
        assert_eq!(Money::of(MONEY_MAX_MAJOR * pow10(18), 18).to_string(), "1000000000000000.000000000000000000");
        assert_eq!(
            Money::new(Sum::from(u128::MAX) * Sum::from(10u8), 0).to_string(),
            "3402823669209384634633746074317682114550"
        );
        assert_eq!(Money::of(5_000_000, 2).to_decimal().unwrap().to_string(), "50000.00");
    }

    #[test]
    fn ratio_is_exact() {
        let r = Ratio::parse(b"0.9").unwrap();
        assert_eq!(r, Ratio { mantissa: 9, scale: 1 });
        assert!(r.at_most(90, 100));
        assert!(!r.at_most(89, 100));
        assert!(Ratio::parse(b"9e-1").is_err());
        assert!(Ratio::parse(b"-0.9").is_err());
        assert_eq!(Ratio::parse(b"0.90").unwrap().to_string(), "0.90");
        let huge = MONEY_MAX_MAJOR * pow10(18);
        assert!(Ratio::parse(b"1").unwrap().at_most(huge, huge));
    }
}
