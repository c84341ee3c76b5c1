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
    /// Per merchant, the terminal ids its last debits named, as kept ([`Numbering::terminal`]).
    terminals: Vec<[Kept<'a>; 2]>,
    state: ahash::RandomState,
}

impl Default for Numbering<'_> {
    fn default() -> Self {
        Numbering { numbers: Numbers::default(), names: Vec::new(), terminals: Vec::new(), state: shard::hasher() }
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
        self.terminals.push([Kept::default(); 2]);
        MerchantNo(number_of(&mut self.numbers, &mut self.names, id, id))
    }

    /// The chunk is parsed: what [`Numbering::terminal`] remembers goes (it would otherwise
    /// stay, per merchant, until the chunks are merged).
    pub(crate) fn parsed(&mut self) {
        self.terminals = Vec::new();
    }

    /// A terminal id a debit of merchant `no` (this chunk's number) names, kept in `arena`:
    /// the copy kept for one of the two terminals the merchant's debits named most recently
    /// when it is one of them, else a new copy. A merchant's debits come through its own few terminals, so at 10M
    /// debits most of 150 MB of copies are not made. The check reads the merchant's entry,
    /// not the kept copies (a cache miss each), but for ids longer than 16 bytes.
    pub(crate) fn terminal(&mut self, no: MerchantNo, id: &[u8], arena: &'a bumpalo::Bump) -> &'a [u8] {
        let last = &mut self.terminals[no.index()];
        let words = Words::of(id);
        // The middles are compared only when there are any (a call to memcmp per debit was
        // 3% of samples at 1M debits, where no terminal id is longer than 16 bytes).
        let same = |kept: &Kept<'_>| kept.words == words && (id.len() <= 16 || middle(kept.id) == middle(id));
        match last.iter().position(same) {
            Some(k) => {
                last.swap(0, k);
                last[0].id
            }
            None => {
                let kept = Kept { words, id: arena.alloc_slice_copy(id) };
                *last = [kept, last[0]];
                kept.id
            }
        }
    }
}

/// A kept id, with what tells it apart from others without reading it.
#[derive(Clone, Copy, Default)]
struct Kept<'a> {
    words: Words,
    id: &'a [u8],
}

/// An id's length and its first and last 8 bytes (overlapping, and zero-padded below 8): ids
/// of up to 16 bytes are equal exactly when these are; longer ones when their [`middle`]s
/// are too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Words {
    first: u64,
    last: u64,
    len: usize,
}

impl Words {
    fn of(id: &[u8]) -> Words {
        let word = |at: usize| id.get(at..).and_then(|rest| rest.first_chunk::<8>()).map(|w| u64::from_ne_bytes(*w));
        match (word(0), id.len().checked_sub(8).and_then(word)) {
            (Some(first), Some(last)) => Words { first, last, len: id.len() },
            _ => Words { first: id.iter().fold(0, |w, &b| w << 8 | u64::from(b)), last: 0, len: id.len() },
        }
    }
}

/// What lies between an id's first and last 8 bytes (nothing for ids of up to 16 bytes).
fn middle(id: &[u8]) -> &[u8] {
    id.get(8..id.len().saturating_sub(8)).unwrap_or_default()
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
    use crate::money;

    #[test]
    fn ids_have_the_same_words_and_middle_exactly_when_their_bytes_are_the_same() {
        let ids: Vec<Vec<u8>> = [&b""[..], b"E", b"E1", b"EDC3000", b"EDC30004236", b"EDC30004237", b"FDC30004236"]
            .iter()
            .map(|id| id.to_vec())
            .chain((0..40).map(|i| format!("{:0>1$}", "x", 1 + i % 20).into_bytes()))
            .chain((0..24).map(|i| {
                let mut id = b"ATM-KEDIRI-0000000000000".to_vec();
                id[i] = b'#';
                id
            }))
            .collect();
        for x in &ids {
            for y in &ids {
                let same = Words::of(x) == Words::of(y) && middle(x) == middle(y);
                assert_eq!(same, x == y, "{:?} {:?}", money::show(x), money::show(y));
            }
        }
    }

    #[test]
    fn a_merchants_terminals_are_kept_once_while_they_alternate() {
        let arena = bumpalo::Bump::new();
        let mut numbering = Numbering::default();
        let m = numbering.number(b"M1", &arena);
        let kept: Vec<&[u8]> = ["E1", "E2", "E1", "E2", "E3", "E1", "E3"]
            .iter()
            .map(|t| numbering.terminal(m, t.as_bytes(), &arena))
            .collect();
        assert_eq!(kept, [&b"E1"[..], b"E2", b"E1", b"E2", b"E3", b"E1", b"E3"]);
        // Copies: E1, E2, then E3 (E2 named last before it); E1 again once E3 and E2 are the
        // two named most recently; E3 is still one of them.
        assert!(std::ptr::eq(kept[0], kept[2]) && std::ptr::eq(kept[1], kept[3]) && std::ptr::eq(kept[4], kept[6]));
        assert!(!std::ptr::eq(kept[0], kept[5]));
        // Named most recently counts, not first kept: A, B, A, C keeps A.
        let m = numbering.number(b"M2", &arena);
        let kept: Vec<&[u8]> =
            ["A", "B", "A", "C", "A"].iter().map(|t| numbering.terminal(m, t.as_bytes(), &arena)).collect();
        assert!(std::ptr::eq(kept[0], kept[2]) && std::ptr::eq(kept[0], kept[4]));
        assert_eq!(numbering.terminal(m, b"", &arena), b"");
        // Ids longer than 16 bytes that differ only between their first and last 8 are told
        // apart by their middles.
        let (x, y) = (b"ATM-KDR-0000-0000-0001", b"ATM-KDR-1111-0000-0001");
        let kept: Vec<&[u8]> = [x, y, x].iter().map(|t| numbering.terminal(m, *t, &arena)).collect();
        assert_eq!(kept, [&x[..], y, x]);
        assert!(std::ptr::eq(kept[0], kept[2]) && !std::ptr::eq(kept[0], kept[1]));
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
