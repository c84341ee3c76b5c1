//! Splitting rows into shards by a key, so that each shard can be worked on alone.
//!
//! The shard of a row depends only on its key (a fixed-seed hash), never on the number of
//! threads, so every stage sees the same groups whatever the machine.

use std::collections::HashMap;
use std::hash::Hash;

use crate::parallel;

/// Shards per stage: enough to balance work over many cores, cheap when empty.
pub(crate) const SHARDS: usize = 256;

/// The fixed-seed hasher behind every shard choice and every map in the engine.
pub(crate) fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6861_726d, 0x6f6e_6931, 0x7370_6563, 0x2031_2e31)
}

/// A hash map with the engine's fixed-seed hasher (no random seed: wasm32 has no entropy
/// source to ask, and runs should be reproducible to the instruction).
pub(crate) type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// An empty [`Map`].
pub(crate) fn map<K, V>() -> Map<K, V> {
    HashMap::with_hasher(hasher())
}

/// An id with its hash, computed once (when rows are sharded, or an id numbered). Maps keyed
/// by it never hash the bytes again, and compare them only when the full 64-bit hashes are
/// equal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Id<'a> {
    pub hash: u64,
    pub bytes: &'a [u8],
}

impl<'a> Id<'a> {
    pub(crate) fn new(state: &ahash::RandomState, bytes: &'a [u8]) -> Id<'a> {
        Id { hash: state.hash_one(bytes), bytes }
    }

    /// The shard: the hash's low byte (maps use the other bits, see [`IdHasher`]).
    pub(crate) fn shard(&self) -> usize {
        shard_of(self.hash)
    }
}

impl PartialEq for Id<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}

impl Eq for Id<'_> {}

impl Hash for Id<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// An id as a map key, with its first 16 bytes held inline ([`prefix`]): two ids of at most
/// 16 bytes are told apart or found equal without reading their bytes again. For ids met in
/// random order (a shard's cards) each such read is a cache miss, and a map compares the id it
/// is asked with the one it holds: perf at 10M debits put 16% of all samples in that `memcmp`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Headed<'a> {
    hash: u64,
    head: u128,
    len: usize,
    /// The bytes past the first 16 (empty for shorter ids).
    tail: &'a [u8],
}

impl<'a> Headed<'a> {
    pub(crate) fn new(id: Id<'a>) -> Headed<'a> {
        let tail = id.bytes.get(16..).unwrap_or_default();
        Headed { hash: id.hash, head: prefix(id.bytes), len: id.bytes.len(), tail }
    }
}

impl PartialEq for Headed<'_> {
    fn eq(&self, other: &Self) -> bool {
        // Equal lengths and heads are equal first min(length, 16) bytes: the zero padding of a
        // head lies past the end of both ids.
        self.hash == other.hash
            && self.head == other.head
            && self.len == other.len
            && (self.len <= 16 || self.tail == other.tail)
    }
}

impl Eq for Headed<'_> {}

impl Hash for Headed<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands an [`Id`]'s hash to the map rotated by 32 bits, so that the byte that chose the
/// shard (equal for every key of a shard: the low byte, [`shard_of`]) is in neither part
/// that hashbrown reads: the bucket, from the low bits, and the 7-bit tag that rules out most
/// keys before they are compared, from the top of the low 32 bits on 32-bit targets (wasm32)
/// and of all 64 bits on 64-bit ones. With the shard in the top byte, every key of a shard
/// had the same tag on wasm32, and every probe compared keys. Also for other keys that hash
/// themselves to one `u64` by an odd multiplier ([`crate::names::MerchantNo`],
/// `settle::Pair`), whose high half, the better mixed, the rotation brings low.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

/// Builds an [`IdHasher`].
pub(crate) type ByHash = std::hash::BuildHasherDefault<IdHasher>;

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only keys that hash to one u64 reach this hasher, through `write_u64`; fold anything
        // else anyway.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash.rotate_left(32);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by [`Id`].
pub(crate) type IdMap<'a, V> = HashMap<Id<'a>, V, ByHash>;

/// An empty [`IdMap`] with room for `capacity` keys.
pub(crate) fn id_map<'a, V>(capacity: usize) -> IdMap<'a, V> {
    HashMap::with_capacity_and_hasher(capacity, Default::default())
}

/// A row of a shard: its key and its row number.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keyed<'a> {
    pub id: Id<'a>,
    pub row: u32,
}

/// A row of a shard with its key's hash, length and first 16 bytes, taken while the key was
/// read in row order ([`partition_headed`]), but not its bytes: a stage that compares keys
/// then reads no id that is at most 16 bytes long. (The same 32 bytes as a [`Keyed`] on
/// 64-bit targets.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadKeyed {
    hash: u64,
    pub row: u32,
    len: u32,
    head: u128,
}

impl HeadKeyed {
    /// The key, for a map: `bytes` gives the id of a row, read only for an id longer than 16
    /// bytes (its tail is compared then).
    pub(crate) fn headed<'a>(&self, bytes: impl FnOnce(u32) -> &'a [u8]) -> Headed<'a> {
        let len = self.len as usize;
        let tail = if len > 16 { bytes(self.row).get(16..).unwrap_or_default() } else { &[] };
        Headed { hash: self.hash, head: self.head, len, tail }
    }
}

/// What a shard holds per row.
pub(crate) trait Sharded: Copy + Send {
    /// The shard of the row's key.
    fn shard(&self) -> usize;
    fn row(&self) -> u32;
}

impl Sharded for Keyed<'_> {
    fn shard(&self) -> usize {
        self.id.shard()
    }
    fn row(&self) -> u32 {
        self.row
    }
}

impl Sharded for HeadKeyed {
    fn shard(&self) -> usize {
        shard_of(self.hash)
    }
    fn row(&self) -> u32 {
        self.row
    }
}

/// The shard of a key hashed to `hash`: its low byte ([`IdHasher`] keeps it out of maps).
fn shard_of(hash: u64) -> usize {
    usize::from(hash as u8)
}

const _: () = assert!(SHARDS == 256, "shard_of takes the hash's low byte");
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<HeadKeyed>() == std::mem::size_of::<Keyed<'_>>());

/// The rows of one shard, as the threads that sharded them found them: each part in
/// increasing row order, the parts one after the other. Merging the parts into one vector
/// per shard was a copy of every key on one thread while the others waited (50 ms at 1M
/// debits, for identity and the cards together); a stage reads them where they are instead.
#[derive(Debug)]
pub(crate) struct Shard<T> {
    parts: Vec<Vec<T>>,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Shard { parts: Vec::new() }
    }
}

impl<T: Sharded> Shard<T> {
    pub(crate) fn len(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    /// The rows, in increasing row order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.parts.iter().flatten()
    }

    /// Just the row numbers, in increasing order.
    pub(crate) fn rows(self) -> Vec<u32> {
        self.iter().map(T::row).collect()
    }
}

/// Rows [`partition_with`] reads before it sizes its shards.
const PARTITION_SAMPLE: usize = 4096;

/// Rows `0..count` whose `key` is some, grouped by the shard of their key, in increasing row
/// order within each shard. Each key is hashed once, here, in one sequential pass per slice.
pub(crate) fn partition<'a, F>(threads: usize, count: usize, key: F) -> Vec<Shard<Keyed<'a>>>
where
    F: Fn(usize) -> Option<&'a [u8]> + Sync,
{
    let state = hasher();
    partition_with(threads, count, |i| key(i).map(|bytes| Keyed { id: Id::new(&state, bytes), row: i as u32 }))
}

/// [`partition`], keeping each key's head instead of its bytes ([`HeadKeyed`]). Ids longer
/// than [`limits::ID_BYTES_MAX`](crate::limits::ID_BYTES_MAX) are refused while parsing, so
/// a length fits 32 bits.
pub(crate) fn partition_headed<'a, F>(threads: usize, count: usize, key: F) -> Vec<Shard<HeadKeyed>>
where
    F: Fn(usize) -> Option<&'a [u8]> + Sync,
{
    let state = hasher();
    partition_with(threads, count, |i| {
        key(i).map(|bytes| {
            debug_assert!(bytes.len() <= crate::limits::ID_BYTES_MAX, "ids are checked when parsed");
            HeadKeyed { hash: Id::new(&state, bytes).hash, row: i as u32, len: bytes.len() as u32, head: prefix(bytes) }
        })
    })
}

/// Rows `0..count` whose `make` is some, by shard, in increasing row order within each.
pub(crate) fn partition_with<T, F>(threads: usize, count: usize, make: F) -> Vec<Shard<T>>
where
    T: Sharded,
    F: Fn(usize) -> Option<T> + Sync,
{
    let parts = parallel::map(threads, parallel::slices(count, threads), |(start, end)| {
        let mut shards: Vec<Vec<T>> = (0..SHARDS).map(|_| Vec::new()).collect();
        let put = |shards: &mut Vec<Vec<T>>, i: usize| {
            let k = make(i)?;
            shards[k.shard()].push(k);
            Some(())
        };
        // The first rows tell how many of the others have a key. Hashes spread distinct keys
        // evenly, so each shard then gets room for its share of them, with 1/8 to spare: few
        // shards grow by copying what they hold (at 1M debits, perf put 11% of the page
        // faults in such copies). Rows sharing a key (a card's debits) spread less evenly,
        // so some shards still grow, and a shard left with far more room than rows gives it
        // back below. (In u64: on wasm32 one slice holds every row, and the product would
        // overflow a 32-bit usize past a million.)
        let sampled = end.min(start + PARTITION_SAMPLE);
        let keyed = (start..sampled).filter_map(|i| put(&mut shards, i)).count();
        let rest = (end - sampled) as u64 * keyed as u64 / (sampled - start).max(1) as u64;
        let share = usize::try_from(rest).unwrap_or(usize::MAX) / SHARDS;
        for shard in &mut shards {
            shard.reserve(share + share / 8 + 16);
        }
        for i in sampled..end {
            put(&mut shards, i);
        }
        shards
    });
    let mut shards: Vec<Shard<T>> = (0..SHARDS).map(|_| Shard::default()).collect();
    for part in parts {
        for (shard, mut rows) in shards.iter_mut().zip(part) {
            if rows.capacity() > 2 * rows.len() + 16 {
                // Keys crowded into other shards (one card holding most rows, say).
                rows.shrink_to_fit();
            }
            if !rows.is_empty() {
                shard.parts.push(rows);
            }
        }
    }
    shards
}

/// The first 16 bytes of an id as a big-endian integer, zero-padded. Ids are printable ASCII
/// (no zero byte), so these order as the bytes do; ids that agree on them are then compared
/// whole.
///
/// Read as whole words where the id has them: copying a variable number of bytes into a
/// zeroed buffer was a call to `memcpy` per id (perf at 1M debits: `memmove` 3.05% of
/// samples before, 1.3% of them from sharding; 1.21% after).
#[inline]
pub(crate) fn prefix(id: &[u8]) -> u128 {
    let word = |at: usize| id.get(at..).and_then(|rest| rest.first_chunk::<8>()).map(|w| u64::from_be_bytes(*w));
    let n = id.len();
    let (high, low) = match (word(0), word(8)) {
        (Some(high), Some(low)) => (high, low),
        // 8 to 15 bytes: the last 8 end the id; shifted up, the bytes past the first 8 lead.
        (Some(high), None) => (high, word(n - 8).map_or(0, |last| last.checked_shl(8 * (16 - n) as u32).unwrap_or(0))),
        // Fewer than 8.
        (None, _) => {
            let bytes = id.iter().fold(0u64, |w, &b| w << 8 | u64::from(b));
            (bytes.checked_shl(8 * (8 - n) as u32).unwrap_or(0), 0)
        }
    };
    u128::from(high) << 64 | u128::from(low)
}

/// Bytewise order of two ids, mostly decided by an integer comparison.
pub(crate) fn by_id(x: &[u8], y: &[u8]) -> std::cmp::Ordering {
    prefix(x).cmp(&prefix(y)).then_with(|| x.cmp(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ids_prefix_is_its_first_16_bytes_zero_padded() {
        let bytes: Vec<u8> = (0..40u8).map(|i| b'!' + i * 2).collect();
        for n in 0..=bytes.len() {
            let id = &bytes[..n];
            let mut padded = [0u8; 16];
            padded[..n.min(16)].copy_from_slice(&id[..n.min(16)]);
            assert_eq!(prefix(id), u128::from_be_bytes(padded), "{n} bytes");
        }
    }

    const IDS: [&[u8]; 8] = [
        b"C1",
        b"C10",
        b"KHS0000000000001",
        b"KHS00000000000012",
        b"KHS0000000000001-A-LONGER-ID",
        b"KHS0000000000001-B-LONGER-ID",
        b"KHS0000000000001-A-LONGER-ID-",
        b"KHS0000000000001-A-LONGER-IE",
    ];

    #[test]
    fn headed_ids_are_equal_exactly_when_their_bytes_are() {
        let state = hasher();
        for x in IDS {
            for y in IDS {
                let (hx, hy) = (Headed::new(Id::new(&state, x)), Headed::new(Id::new(&state, y)));
                assert_eq!(hx == hy, x == y, "{:?} {:?}", std::str::from_utf8(x), std::str::from_utf8(y));
                // Also with equal hashes forced: the inline head, length and tail decide alone.
                let forced = Headed::new(Id { hash: hx.hash, bytes: y });
                assert_eq!(hx == forced, x == y);
            }
        }
        let copy = b"KHS0000000000001-A-LONGER-ID".to_vec();
        assert!(Headed::new(Id::new(&state, &copy)) == Headed::new(Id::new(&state, IDS[4])));
    }

    #[test]
    fn head_keyed_rows_give_the_keys_of_their_ids_reading_only_long_ones() {
        let state = hasher();
        let shards = partition_headed(1, IDS.len(), |i| Some(IDS[i]));
        let mut keyed: Vec<HeadKeyed> = shards.iter().flat_map(|s| s.iter().copied()).collect();
        keyed.sort_by_key(|k| k.row);
        assert_eq!(keyed.len(), IDS.len());
        let read = std::cell::Cell::new(0);
        for k in &keyed {
            let id = IDS[k.row as usize];
            assert_eq!(k.shard(), Id::new(&state, id).shard());
            let headed = k.headed(|row| {
                read.set(read.get() + 1);
                IDS[row as usize]
            });
            for y in IDS {
                assert_eq!(headed == Headed::new(Id::new(&state, y)), id == y);
            }
        }
        // Only the five ids longer than 16 bytes were read.
        assert_eq!(read.get(), IDS.iter().filter(|id| id.len() > 16).count());
        assert_eq!(read.get(), 5);
    }
}
