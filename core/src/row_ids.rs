//! The ids a parsed row keeps, copied together.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
