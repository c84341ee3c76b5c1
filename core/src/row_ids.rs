//! The ids a parsed row keeps, copied together, and what an id may hold.
//!
//! A row of debits.csv keeps four ids (`txn_id`, `original_txn_id`, `card_id`,
//! `terminal_id`), a row of allocations.csv three (`card_id`, `beneficiary_id`,
//! `household_id`). Each row copies its ids into its chunk's arena one after the other, and
//! holds one slice and a one-byte length per id (SPEC ids are at most 64 bytes): 24 bytes
//! instead of 16 per id. Parsed rows are a run's largest block of memory (10M debits are held
//! at once, 80 bytes each) and are read again by every stage that shards them.

use bumpalo::Bump;

use crate::limits;

/// `N` ids of a row, read back with [`get`](RowIds::get). Equal exactly when each id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowIds<'a, const N: usize> {
    bytes: &'a [u8],
    lens: [u8; N],
}

const _: () = assert!(limits::ID_BYTES_MAX <= u8::MAX as usize, "an id's length is kept in a u8");

impl<'a, const N: usize> RowIds<'a, N> {
    /// Checked ids (at most [`limits::ID_BYTES_MAX`] bytes each), copied into `arena`.
    pub(crate) fn keep(arena: &'a Bump, ids: [&[u8]; N]) -> RowIds<'a, N> {
        debug_assert!(ids.iter().all(|id| id.len() <= limits::ID_BYTES_MAX), "ids are checked");
        let lens = ids.map(|id| u8::try_from(id.len()).expect("ids are checked: at most ID_BYTES_MAX bytes"));
        let bytes = arena.alloc_slice_fill_copy(ids.iter().map(|id| id.len()).sum(), 0u8);
        let mut at = 0;
        for id in ids {
            bytes[at..at + id.len()].copy_from_slice(id);
            at += id.len();
        }
        RowIds { bytes, lens }
    }

    /// Id `K` (`K < N`, checked when compiled) as it was kept.
    #[inline]
    pub(crate) fn get<const K: usize>(&self) -> &'a [u8] {
        const { assert!(K < N, "a row keeps N ids") };
        let start: usize = self.lens[..K].iter().map(|&len| usize::from(len)).sum();
        &self.bytes[start..start + usize::from(self.lens[K])]
    }
}

/// Is every byte in 0x20..=0x7E, the printable ASCII that SPEC allows in ids (and the
/// rulebook in program codes)? Read eight bytes at a time, the last eight too (checking
/// some twice), so that an id of 13 to 18 bytes is two or three loads; a shorter value is
/// one word padded with spaces. (`check_id` with a byte-wise fold, which LLVM vectorised
/// for longer slices than ids, took 2 to 3% of all samples at 10M debits; with this, 1.7 to
/// 1.9%: perf at cd50061 and 8c572cd.)
#[inline]
pub(crate) fn printable_ascii(value: &[u8]) -> bool {
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    let outside = match value.len().checked_sub(8) {
        Some(last) => value
            .chunks_exact(8)
            .fold(outside_printable(word(&value[last..])), |outside, w| outside | outside_printable(word(w))),
        // value[0] in the low byte, as from_le_bytes puts it (any order would do: each byte
        // is checked alone).
        None => {
            outside_printable(value.iter().rev().fold(u64::from_le_bytes([b' '; 8]), |w, &b| w << 8 | u64::from(b)))
        }
    };
    outside == 0
}

/// The high bit of each byte of `word` that is outside 0x20..=0x7E. Per byte, with `low` its
/// low seven bits: its own high bit, `low + 0x60` short of 0x80 (below 0x20), `low + 1` at
/// 0x80 (0x7F, DEL). Neither sum carries into the next byte, as `low` is at most 0x7F.
#[inline]
fn outside_printable(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let low = word & !HIGH;
    (word | !(low + ONES * 0x60) | (low + ONES)) & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_kept_together_read_back_as_they_were() {
        let arena = Bump::new();
        let long = [b'x'; limits::ID_BYTES_MAX];
        for [a, b, c] in [[&b"TRX1"[..], b"", b"KHS01"], [b"R", b"TRX1", b"C"], [&long, &long, &long], [b"", b"", b""]]
        {
            let ids = RowIds::keep(&arena, [a, b, c]);
            assert_eq!((ids.get::<0>(), ids.get::<1>(), ids.get::<2>()), (a, b, c));
            let four = RowIds::keep(&arena, [c, a, &long, b]);
            assert_eq!((four.get::<0>(), four.get::<1>(), four.get::<2>(), four.get::<3>()), (c, a, &long[..], b));
        }
        // Equal exactly when each id is: the same bytes split differently are not equal.
        let (x, y) = (RowIds::keep(&arena, [b"AB", b"C", b"D"]), RowIds::keep(&arena, [b"A", b"BC", b"D"]));
        assert_ne!(x, y);
        assert_eq!(x, RowIds::keep(&arena, [b"AB", b"C", b"D"]));
    }

    /// The definition, a byte at a time.
    fn printable_bytewise(value: &[u8]) -> bool {
        value.iter().all(|b| (0x20..=0x7E).contains(b))
    }

    #[test]
    fn every_byte_value_at_every_place_of_a_word_and_its_tail() {
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut value = vec![b'A'; len];
                    value[at] = b;
                    assert_eq!(printable_ascii(&value), printable_bytewise(&[b]), "{b:#04x} at {at} of {len}");
                }
            }
        }
        assert!(printable_ascii(b""));
        assert!(printable_ascii(b" ~"));
    }

    #[test]
    fn a_word_flags_exactly_its_bytes_outside_printable_ascii() {
        // Neighbours at both ends of the range and outside it: a carry or borrow from one
        // byte into the next would flag a byte that is not outside, or miss one that is.
        for fill in [0x00u8, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF] {
            for place in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[place] = b;
                    let expected = (0..8)
                        .filter(|&k| !printable_bytewise(&bytes[k..=k]))
                        .fold(0u64, |flags, k| flags | 0x80 << (8 * k));
                    assert_eq!(
                        outside_printable(u64::from_le_bytes(bytes)),
                        expected,
                        "{b:#04x} at {place} in {fill:#04x}"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn printable_ascii_is_the_bytewise_definition(value in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(printable_ascii(&value), printable_bytewise(&value));
        }

        #[test]
        fn mostly_printable_values_too(
            value in proptest::collection::vec(prop_oneof![8 => 0x20..=0x7Eu8, 1 => any::<u8>()], 0..40),
        ) {
            prop_assert_eq!(printable_ascii(&value), printable_bytewise(&value));
        }
    }
}
