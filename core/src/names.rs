//! Merchant ids of debits.csv, numbered while the file is parsed.
//!
//! A debit names its merchant by number ([`MerchantNo`]) in the file's table of merchant ids
//! ([`Names`]), not by a pointer to its bytes. Each chunk's parser numbers the ids it meets
//! while their bytes are in cache ([`Numbering`]), keeping one copy of each in the chunk's
//! arena; the chunks' tables are then merged into the file's, and each chunk's rows
//! renumbered. The card stage then checks registration, finds near duplicates and sums
//! settlement on numbers, reading an id's bytes only for a finding's detail and, at the end,
//! to sort settlement (before, a cache miss per debit: perf at 1M debits put 13% of the run's
//! samples there).
//!
//! Equal ids get equal numbers and different ids different ones, so numbers decide equality
//! exactly. Their order is the order ids were first met in the file, so nothing that is
//! output may be ordered by number: settlement is sorted by the ids' bytes.

use std::collections::HashMap;

use hashbrown::HashTable;

use crate::shard::{self, prefix, ByHash, Headed, Id};

/// A file's ids to their numbers ([`merge`]); short ids are compared inline ([`Headed`]),
/// not read again.
type Numbers<'a> = HashMap<Headed<'a>, u32, ByHash>;

/// A merchant id, by its number in the file's [`Names`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MerchantNo(u32);

/// Hashed to one spread-out `u64`, for maps with [`shard::IdHasher`], which takes it as it is.
impl std::hash::Hash for MerchantNo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

impl MerchantNo {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// The number at `index` of a file's [`Names`] (which holds fewer than 2^32 ids).
    pub(crate) fn from_index(index: usize) -> MerchantNo {
        debug_assert!(u32::try_from(index).is_ok(), "a file's names are numbered in u32");
        MerchantNo(index as u32)
    }
}

/// The distinct merchant ids of a file, each at the index of its [`MerchantNo`].
pub(crate) type Names<'a> = Vec<&'a [u8]>;

/// The ids one chunk met, numbered in the order it met them.
pub(crate) struct Numbering<'a> {
    /// The chunk's ids by hash, each as a [`Slot`]: the table is met once per debit in no
    /// order, so the smaller its slots, the more of it stays in cache.
    seen: HashTable<Slot>,
    /// Without their heads (24 bytes less each: a hostile file has millions of merchants).
    names: Vec<Id<'a>>,
    state: ahash::RandomState,
}

/// A merchant id in a chunk's table: its first 16 bytes ([`prefix`]) and length, which tell
/// ids of at most 16 bytes apart, and its number (the rest of a longer id is read from the
/// chunk's names). 24 bytes: a map from [`Headed`] ids to numbers took 64 a slot, and at
/// 10M debits (25,000 merchants) perf put 6.6% of all samples at the first load of a slot.
#[derive(Clone, Copy)]
struct Slot {
    head: [u64; 2],
    len: u32,
    number: u32,
}

// Two u64s, not a u128: its 16-byte alignment would pad the slot to 32 bytes.
const _: () = assert!(std::mem::size_of::<Slot>() == 24);

impl Slot {
    fn of(id: &[u8], number: u32) -> Slot {
        let head = prefix(id);
        let len = u32::try_from(id.len()).expect("ids are checked: at most ID_BYTES_MAX bytes");
        Slot { head: [(head >> 64) as u64, head as u64], len, number }
    }

    /// Is this slot's id `id` (whose slot is `probe`)? As [`Headed`]'s equality: equal heads
    /// and lengths decide for ids of at most 16 bytes; a longer id's tail is compared with
    /// the slot's name in `names`.
    fn holds(&self, probe: &Slot, id: &[u8], names: &[Id<'_>]) -> bool {
        (self.head, self.len) == (probe.head, probe.len)
            && (id.len() <= 16 || names[self.number as usize].bytes[16..] == id[16..])
    }
}

impl Default for Numbering<'_> {
    fn default() -> Self {
        Numbering { seen: HashTable::new(), names: Vec::new(), state: shard::hasher() }
    }
}

impl<'a> Numbering<'a> {
    /// A debit's merchant id: the chunk's number for it, its id copied into `arena` the
    /// first time it is met (the rows outlive the input).
    pub(crate) fn number(&mut self, merchant: &[u8], arena: &'a bumpalo::Bump) -> MerchantNo {
        let hash = self.state.hash_one(merchant);
        let probe = Slot::of(merchant, 0);
        let names = &self.names;
        if let Some(slot) = self.seen.find(hash, |slot| slot.holds(&probe, merchant, names)) {
            return MerchantNo(slot.number);
        }
        let number = u32::try_from(self.names.len()).expect("fewer merchants than rows, and rows fit a u32");
        self.names.push(Id { hash, bytes: arena.alloc_slice_copy(merchant) });
        let names = &self.names;
        self.seen.insert_unique(hash, Slot { number, ..probe }, |slot| names[slot.number as usize].hash);
        MerchantNo(number)
    }

    /// The chunk is parsed: the map goes (the merge numbers the chunk's ids from `names`), so
    /// that it does not stay, per merchant, until every chunk is parsed.
    pub(crate) fn parsed(&mut self) {
        self.seen = HashTable::new();
    }
}

/// The number of `id` in `numbers`; a new id gets the next one, and is listed at it.
fn number_of<'a>(numbers: &mut Numbers<'a>, names: &mut Names<'a>, id: Id<'a>) -> u32 {
    let next = names.len() as u32;
    let number = *numbers.entry(Headed::new(id)).or_insert(next);
    if number == next {
        names.push(id.bytes);
    }
    number
}

/// The file's table from its chunks' (in file order), and per chunk the file's number of
/// each of the chunk's numbers (see [`renumber`]). A chunk numbers at most one id per row it
/// keeps, so 2^32 ids would take 2^32 rows of 80 bytes (320 GiB) in one chunk.
pub(crate) fn merge(chunks: Vec<Numbering<'_>>) -> (Names<'_>, Vec<Vec<u32>>) {
    // Room for every chunk's ids at once (as many as there can be), so the map never grows.
    let mut numbers = Numbers::with_capacity_and_hasher(chunks.iter().map(|c| c.names.len()).sum(), ByHash::default());
    let mut names = Names::new();
    let renumbered = chunks
        .into_iter()
        .map(|chunk| chunk.names.into_iter().map(|id| number_of(&mut numbers, &mut names, id)).collect())
        .collect();
    (names, renumbered)
}

/// A chunk's number as the file's, by the chunk's table from [`merge`].
pub(crate) fn renumber(no: MerchantNo, table: &[u32]) -> MerchantNo {
    MerchantNo(table[no.index()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_numbers_its_merchants_in_the_order_met_and_copies_each_once() {
        let arena = bumpalo::Bump::new();
        let mut numbering = Numbering::default();
        let long = b"MERCHANT-WITH-A-LONG-ID-0001".to_vec();
        let mut twin = long.clone();
        *twin.last_mut().expect("not empty") = b'2';
        let ids: [&[u8]; 7] = [b"M2", b"M1", b"M2", &long, &twin, b"M1", &long];
        let numbers: Vec<MerchantNo> = ids.iter().map(|id| numbering.number(id, &arena)).collect();
        assert_eq!(numbers, [0, 1, 0, 2, 3, 1, 2].map(MerchantNo));
        // One copy per distinct id, in the order numbered.
        let copies: Vec<&[u8]> = numbering.names.iter().map(|id| id.bytes).collect();
        assert_eq!(copies, [&b"M2"[..], b"M1", &long, &twin]);
    }

    #[test]
    fn a_slot_holds_an_id_exactly_when_their_bytes_are_equal() {
        // The table compares slots only when their hashes agree, which different ids rarely
        // do: every pair is compared here.
        let ids: [&[u8]; 9] = [
            b"",
            b"M1",
            b"M10",
            b"WRG-0000000001",
            b"WRG-000000000001",
            b"WRG-000000000002",
            b"WRG-0000000000012",
            b"MERCHANT-WITH-A-LONG-ID-0001",
            b"MERCHANT-WITH-A-LONG-ID-0002",
        ];
        let names: Vec<Id<'_>> = ids.iter().map(|id| Id { hash: 0, bytes: id }).collect();
        for (number, x) in ids.iter().enumerate() {
            let slot = Slot::of(x, number as u32);
            for y in ids {
                assert_eq!(slot.holds(&Slot::of(y, 0), y, &names), *x == y, "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn equal_ids_get_one_number_across_chunks_and_different_ids_different_ones() {
        let chunks = [vec!["M2", "M1", "M2"], vec!["M3", "M1"], vec![]];
        let arena = bumpalo::Bump::new();
        let mut numberings: Vec<Numbering<'_>> = Vec::new();
        let mut local: Vec<Vec<MerchantNo>> = Vec::new();
        for ids in &chunks {
            let mut numbering = Numbering::default();
            local.push(ids.iter().map(|id| numbering.number(id.as_bytes(), &arena)).collect());
            numberings.push(numbering);
        }
        assert_eq!(local[0][0], local[0][2]);
        let (names, tables) = merge(numberings);
        assert_eq!(names, vec![&b"M2"[..], b"M1", b"M3"]);
        let file: Vec<Vec<&[u8]>> = local
            .iter()
            .zip(&tables)
            .map(|(nos, table)| nos.iter().map(|&no| names[renumber(no, table).index()]).collect())
            .collect();
        let expected: Vec<Vec<&[u8]>> = chunks.iter().map(|ids| ids.iter().map(|id| id.as_bytes()).collect()).collect();
        assert_eq!(file, expected);
    }
}
