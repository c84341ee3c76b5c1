//! The ids a parsed row keeps, copied together.
//!
//! A row of debits.csv keeps three ids (`txn_id`, `original_txn_id`, `card_id`), a row of
//! allocations.csv three (`card_id`, `beneficiary_id`, `household_id`). Each row copies its
//! three into its chunk's arena one after the other, and holds one slice and two one-byte
//! lengths (SPEC ids are at most 64 bytes): 24 bytes instead of three slices' 48. Parsed rows
//! are a run's largest block of memory (10M debits are held at once, 96 bytes each) and are
//! read again by every stage that shards them.

use bumpalo::Bump;

use crate::limits;

/// Three ids of a row, read back with [`first`](RowIds::first), [`second`](RowIds::second)
/// and [`third`](RowIds::third). Equal exactly when each of the three is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowIds<'a> {
    bytes: &'a [u8],
    first_len: u8,
    second_len: u8,
}

const _: () = assert!(limits::ID_BYTES_MAX <= u8::MAX as usize, "an id's length is kept in a u8");

impl<'a> RowIds<'a> {
    /// Checked ids (at most [`limits::ID_BYTES_MAX`] bytes each), copied into `arena`.
    pub(crate) fn keep(arena: &'a Bump, [first, second, third]: [&[u8]; 3]) -> RowIds<'a> {
        debug_assert!([first, second, third].iter().all(|id| id.len() <= limits::ID_BYTES_MAX), "ids are checked");
        let len = |id: &[u8]| u8::try_from(id.len()).expect("ids are checked: at most ID_BYTES_MAX bytes");
        let (first_len, second_len) = (len(first), len(second));
        let bytes = arena.alloc_slice_fill_copy(first.len() + second.len() + third.len(), 0u8);
        let (f, rest) = bytes.split_at_mut(first.len());
        let (s, t) = rest.split_at_mut(second.len());
        f.copy_from_slice(first);
        s.copy_from_slice(second);
        t.copy_from_slice(third);
        RowIds { bytes, first_len, second_len }
    }

    pub(crate) fn first(&self) -> &'a [u8] {
        &self.bytes[..usize::from(self.first_len)]
    }

    pub(crate) fn second(&self) -> &'a [u8] {
        &self.bytes[usize::from(self.first_len)..usize::from(self.first_len) + usize::from(self.second_len)]
    }

    pub(crate) fn third(&self) -> &'a [u8] {
        &self.bytes[usize::from(self.first_len) + usize::from(self.second_len)..]
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
            assert_eq!((ids.first(), ids.second(), ids.third()), (a, b, c));
        }
        // Equal exactly when each id is: the same bytes split differently are not equal.
        let (x, y) = (RowIds::keep(&arena, [b"AB", b"C", b"D"]), RowIds::keep(&arena, [b"A", b"BC", b"D"]));
        assert_ne!(x, y);
        assert_eq!(x, RowIds::keep(&arena, [b"AB", b"C", b"D"]));
    }
}
