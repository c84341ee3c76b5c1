//! A row of debits.csv as the generator holds it, and its text.

use super::text::{Out, TimeStyle};
use super::world::{Channel, World, ATM_MCC, ATM_MERCHANT};

/// Where a debit happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// Not given (allowed on a reversal).
    None,
    /// An ATM, by index.
    Atm(u32),
    /// A merchant's EDC terminal: (merchant, terminal).
    Edc(u32, u8),
    /// A merchant's QRIS code.
    Qr(u32),
}

impl Place {
    pub(crate) fn channel(self) -> Option<Channel> {
        match self {
            Place::None => None,
            Place::Atm(_) => Some(Channel::Atm),
            Place::Edc(..) => Some(Channel::Pos),
            Place::Qr(_) => Some(Channel::Qr),
        }
    }

    pub(crate) fn mcc(self, world: &World) -> Option<u16> {
        match self {
            Place::None => None,
            Place::Atm(_) => Some(ATM_MCC),
            Place::Edc(m, _) | Place::Qr(m) => Some(world.merchants[m as usize].mcc),
        }
    }
}

/// What a row may still be used for by the anomalies that copy or name other rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// An ordinary settled debit nobody else names yet: a target for copies, conflicts,
    /// replays, and reversals that are orphans or too large.
    Plain,
    /// Part of a planned pattern (or already named by something): leave it alone.
    Fixed,
    /// An ordinary reversal (may be resent as a copy).
    Reversal,
    /// A row made to break a rule.
    Anomaly,
}

/// A row's EMV counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Atc {
    None,
    /// A chip debit: gets the card's next counter value, in time order.
    Next,
    Value(u16),
}

/// How a bad row is broken (see [`Row::write`]).
pub(crate) const BAD_KINDS: u8 = 7;

/// One row of debits.csv.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub at_ms: i64,
    pub style: TimeStyle,
    pub txn: u64,
    /// On a reversal: the txn number it reverses.
    pub original: Option<u64>,
    pub card: u64,
    pub program: usize,
    pub amount: u64,
    pub cents: bool,
    pub place: Place,
    pub mcc: Option<u16>,
    pub atc: Atc,
    pub role: Role,
    pub bad: Option<u8>,
}

/// The txn id's digits for a txn number: a bijection on 48 bits, so ids are unique and look
/// like a switch's reference numbers rather than a counter.
pub(crate) fn txn_digits(number: u64) -> u64 {
    const MASK: u64 = (1 << 48) - 1;
    let mut x = number & MASK;
    x = x.wrapping_mul(0x9E37_79B9_7F4B) & MASK;
    x ^= x >> 23;
    x = x.wrapping_mul(0xC2B2_AE3D_27D5) & MASK;
    x ^= x >> 21;
    x
}

pub(crate) const DEBITS_HEADER: &str =
    "txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc\n";

impl Row {
    pub(crate) fn is_reversal(&self) -> bool {
        self.original.is_some()
    }

    /// Appends the row's line.
    pub(crate) fn write(&self, world: &World, out: &mut Out) {
        let bad = self.bad.unwrap_or(u8::MAX);
        out.s("TRX").pad(txn_digits(self.txn), 15).comma();
        match (self.original, self.style) {
            (Some(_), _) => out.s("reversal"),
            (None, TimeStyle::Naive) => out,
            (None, _) => out.s("debit"),
        };
        out.comma();
        if let Some(original) = self.original {
            out.s("TRX").pad(txn_digits(original), 15);
        }
        out.comma();
        World::card_id(out, self.card);
        out.comma().s(if bad == 3 { "BPNT" } else { world.programs[self.program].code }).comma();
        match bad {
            0 => out.int(self.amount / 1000).s(".000"),
            5 => out.s("-").int(self.amount),
            _ => out.rupiah(self.amount, self.cents),
        };
        out.comma();
        if bad == 2 {
            out.s("06/08/2022 10:15");
        } else {
            out.instant(self.at_ms, self.style);
        }
        out.comma();
        match self.place {
            Place::None => out.comma(),
            Place::Atm(a) => out.s(ATM_MERCHANT).comma().s(&world.atms[a as usize]),
            Place::Edc(m, k) => {
                let merchant = &world.merchants[m as usize];
                out.s(&merchant.id).comma().s(&merchant.edc[usize::from(k)])
            }
            Place::Qr(m) => {
                let merchant = &world.merchants[m as usize];
                out.s(&merchant.id).comma().s(merchant.qr.as_deref().unwrap_or_default())
            }
        };
        out.comma();
        match (bad, self.place.channel()) {
            (1, _) => out.s("EDC"),
            (_, Some(channel)) if !self.is_reversal() || self.place != Place::None => out.s(channel.as_str()),
            _ => out,
        };
        out.comma();
        if let Some(mcc) = self.mcc {
            out.pad(u64::from(mcc), 4);
        }
        if bad == 4 {
            // The row lost its last field.
            out.nl();
            return;
        }
        out.comma();
        match (bad, self.atc) {
            (6, _) => out.s("70000"),
            (_, Atc::Value(atc)) => out.int(u64::from(atc)),
            _ => out,
        };
        out.nl();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_digits_are_a_bijection_on_a_sample() {
        let mut seen: Vec<u64> = (0..100_000u64).map(|x| txn_digits((x % 7) << 24 | x)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 100_000);
        assert!(seen.iter().all(|&d| d < 1_000_000_000_000_000));
    }
}
