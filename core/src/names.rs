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

use crate::shard::{self, ByHash, Headed, Id};

/// Ids by their number; short ids are compared inline ([`Headed`]), not read again.
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
}

/// The distinct merchant ids of a file, each at the index of its [`MerchantNo`].
pub(crate) type Names<'a> = Vec<&'a [u8]>;

/// The ids one chunk met, numbered in the order it met them.
pub(crate) struct Numbering<'a> {
    numbers: Numbers<'a>,
    /// Without their heads (24 bytes less each: a hostile file has millions of merchants).
    names: Vec<Id<'a>>,
    state: ahash::RandomState,
}

impl Default for Numbering<'_> {
    fn default() -> Self {
        Numbering { numbers: Numbers::default(), names: Vec::new(), state: shard::hasher() }
    }
}

impl<'a> Numbering<'a> {
    /// The chunk's number for `id`, which is copied into `arena` the first time it is met
    /// (the rows outlive the input).
    pub(crate) fn number(&mut self, id: &[u8], arena: &'a bumpalo::Bump) -> MerchantNo {
        let probe = Id::new(&self.state, id);
        // Looked up as it is (a shared map may be read with shorter-lived keys); only a new
        // id is copied and hashed into the map again.
        let numbers: &HashMap<Headed<'_>, u32, ByHash> = &self.numbers;
        if let Some(&number) = numbers.get(&Headed::new(probe)) {
            return MerchantNo(number);
        }
        let id = Id { hash: probe.hash, bytes: &*arena.alloc_slice_copy(id) };
        MerchantNo(number_of(&mut self.numbers, &mut self.names, id, id))
    }
}

/// The number of `id` in `numbers`; a new id gets the next one, and `name` is listed at it.
fn number_of<'a, N>(numbers: &mut Numbers<'a>, names: &mut Vec<N>, id: Id<'a>, name: N) -> u32 {
    let next = names.len() as u32;
    let number = *numbers.entry(Headed::new(id)).or_insert(next);
    if number == next {
        names.push(name);
    }
    number
}

/// The file's table from its chunks' (in file order), and per chunk the file's number of
/// each of the chunk's numbers (see [`renumber`]). A chunk numbers at most one id per row it
/// keeps, so 2^32 ids would take 2^32 rows of 128 bytes (512 GiB) in one chunk.
pub(crate) fn merge(chunks: Vec<Numbering<'_>>) -> (Names<'_>, Vec<Vec<u32>>) {
    // Room for every chunk's ids at once (as many as there can be), so the map never grows.
    let mut numbers = Numbers::with_capacity_and_hasher(chunks.iter().map(|c| c.names.len()).sum(), ByHash::default());
    let mut names = Names::new();
    let renumbered = chunks
        .into_iter()
        .map(|chunk| {
            drop(chunk.numbers);
            chunk.names.into_iter().map(|id| number_of(&mut numbers, &mut names, id, id.bytes)).collect()
        })
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
