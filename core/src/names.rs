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
//! Beside each merchant's number, the chunk keeps the terminal ids its last two debits
//! named, so that a merchant's terminal ids are copied into the arena once while it
//! alternates between two of them ([`Numbering::debit`]).
//!
//! Equal ids get equal numbers and different ids different ones, so numbers decide equality
//! exactly. Their order is the order ids were first met in the file, so nothing that is
//! output may be ordered by number: settlement is sorted by the ids' bytes.

use std::cell::Cell;
use std::collections::HashMap;

use crate::shard::{self, ByHash, Headed, Id};

/// A file's ids to their numbers ([`merge`]); short ids are compared inline ([`Headed`]),
/// not read again.
type Numbers<'a> = HashMap<Headed<'a>, u32, ByHash>;

/// A merchant id as a chunk met it: its number, and the terminal ids its last debits named
/// ([`Numbering::debit`]). Kept in the map's entry, so that a debit finds both in one
/// lookup: apart, the map's entry and the merchant's terminals (a vector indexed by number)
/// were a cache miss each (at 10M debits numbering merchants and keeping terminals took 9.4%
/// of samples, most of it at those two loads).
struct Seen<'a> {
    number: u32,
    /// The two named most recently, the latest first (a `Cell`: the entry is found through
    /// a shared reference, see [`Numbering::debit`]).
    terminals: Cell<[Kept<'a>; 2]>,
}

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
    seen: HashMap<Headed<'a>, Seen<'a>, ByHash>,
    /// Without their heads (24 bytes less each: a hostile file has millions of merchants).
    names: Vec<Id<'a>>,
    state: ahash::RandomState,
}

impl Default for Numbering<'_> {
    fn default() -> Self {
        Numbering { seen: HashMap::default(), names: Vec::new(), state: shard::hasher() }
    }
}

impl<'a> Numbering<'a> {
    /// A debit's merchant id and terminal id: the chunk's number for the merchant (its id
    /// copied into `arena` the first time it is met: the rows outlive the input), and the
    /// terminal id kept in `arena`. That is the copy kept for one of the two terminals the
    /// merchant's debits named most recently when it is one of them, else a new copy. A
    /// merchant's debits come through its own few terminals, so at 10M debits most of 150 MB
    /// of copies are not made. The check reads the merchant's entry, not the kept copies (a
    /// cache miss each), but for ids longer than 16 bytes.
    pub(crate) fn debit(
        &mut self,
        merchant: &[u8],
        terminal: &[u8],
        arena: &'a bumpalo::Bump,
    ) -> (MerchantNo, &'a [u8]) {
        let probe = Id::new(&self.state, merchant);
        // Looked up as it is (a shared map may be read with shorter-lived keys); only a new
        // id is copied and hashed into the map again.
        let seen: &HashMap<Headed<'_>, Seen<'a>, ByHash> = &self.seen;
        if let Some(entry) = seen.get(&Headed::new(probe)) {
            return (MerchantNo(entry.number), keep(&entry.terminals, terminal, arena));
        }
        let id = Id { hash: probe.hash, bytes: &*arena.alloc_slice_copy(merchant) };
        let entry = Seen { number: self.names.len() as u32, terminals: Cell::default() };
        let kept = keep(&entry.terminals, terminal, arena);
        self.seen.insert(Headed::new(id), entry);
        self.names.push(id);
        (MerchantNo(self.names.len() as u32 - 1), kept)
    }

    /// The chunk is parsed: the map goes (the merge numbers the chunk's ids from `names`), so
    /// that it does not stay, per merchant, until every chunk is parsed.
    pub(crate) fn parsed(&mut self) {
        self.seen = HashMap::default();
    }
}

/// `id` as kept among a merchant's `last` two terminals ([`Numbering::debit`]), which it
/// updates: `id` becomes the latest.
fn keep<'a>(last: &Cell<[Kept<'a>; 2]>, id: &[u8], arena: &'a bumpalo::Bump) -> &'a [u8] {
    let mut kept = last.get();
    let words = Words::of(id);
    // The middles are compared only when there are any (a call to memcmp per debit was 3% of
    // samples at 1M debits, where no terminal id is longer than 16 bytes).
    let same = |kept: &Kept<'_>| kept.words == words && (id.len() <= 16 || middle(kept.id) == middle(id));
    let found = match kept.iter().position(same) {
        Some(k) => {
            kept.swap(0, k);
            kept[0]
        }
        None => {
            let new = Kept { words, id: arena.alloc_slice_copy(id) };
            kept = [new, kept[0]];
            new
        }
    };
    last.set(kept);
    found.id
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
/// keeps, so 2^32 ids would take 2^32 rows of 96 bytes (384 GiB) in one chunk.
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
        let mut debits = |merchant: &[u8], terminals: &[&[u8]]| -> Vec<&[u8]> {
            let (numbers, kept): (Vec<MerchantNo>, Vec<&[u8]>) =
                terminals.iter().map(|t| numbering.debit(merchant, t, &arena)).unzip();
            assert!(numbers.iter().all(|&n| n == numbers[0]), "one number per merchant: {numbers:?}");
            kept
        };
        let m1 = debits(b"M1", &[b"E1", b"E2", b"E1", b"E2", b"E3", b"E1", b"E3"]);
        assert_eq!(m1, [&b"E1"[..], b"E2", b"E1", b"E2", b"E3", b"E1", b"E3"]);
        // Copies: E1, E2, then E3 (E2 named last before it); E1 again once E3 and E2 are the
        // two named most recently; E3 is still one of them.
        assert!(std::ptr::eq(m1[0], m1[2]) && std::ptr::eq(m1[1], m1[3]) && std::ptr::eq(m1[4], m1[6]));
        assert!(!std::ptr::eq(m1[0], m1[5]));
        // Named most recently counts, not first kept: A, B, A, C keeps A.
        let kept = debits(b"M2", &[b"A", b"B", b"A", b"C", b"A", b""]);
        assert!(std::ptr::eq(kept[0], kept[2]) && std::ptr::eq(kept[0], kept[4]));
        assert_eq!(kept[5], b"");
        // Each merchant keeps its own: M1's last two are E3 and E1, M2's the empty id and A.
        assert!(std::ptr::eq(debits(b"M1", &[b"E3"])[0], m1[6]) && std::ptr::eq(debits(b"M2", &[b"A"])[0], kept[4]));
        assert!(!std::ptr::eq(debits(b"M2", &[b"E3"])[0], m1[6]));
        // Ids longer than 16 bytes that differ only between their first and last 8 are told
        // apart by their middles.
        let (x, y): (&[u8], &[u8]) = (b"ATM-KDR-0000-0000-0001", b"ATM-KDR-1111-0000-0001");
        let kept = debits(b"M3", &[x, y, x]);
        assert_eq!(kept, [x, y, x]);
        assert!(std::ptr::eq(kept[0], kept[2]) && !std::ptr::eq(kept[0], kept[1]));
        // Merchants are numbered from 0 in the order met, whatever their terminals.
        let numbers: Vec<MerchantNo> =
            [&b"M2"[..], b"M3", b"M1"].iter().map(|m| numbering.debit(m, b"E9", &arena).0).collect();
        assert_eq!(numbers, [MerchantNo(1), MerchantNo(2), MerchantNo(0)]);
    }

    #[test]
    fn equal_ids_get_one_number_across_chunks_and_different_ids_different_ones() {
        let chunks = [vec!["M2", "M1", "M2"], vec!["M3", "M1"], vec![]];
        let arena = bumpalo::Bump::new();
        let mut numberings: Vec<Numbering<'_>> = Vec::new();
        let mut local: Vec<Vec<MerchantNo>> = Vec::new();
        for ids in &chunks {
            let mut numbering = Numbering::default();
            local.push(ids.iter().map(|id| numbering.debit(id.as_bytes(), b"E", &arena).0).collect());
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
