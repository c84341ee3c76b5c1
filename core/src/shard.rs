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

/// The shard of a key.
pub(crate) fn of<K: Hash + ?Sized>(state: &ahash::RandomState, key: &K) -> usize {
    (state.hash_one(key) % SHARDS as u64) as usize
}

/// Row numbers `0..count` that pass `keep`, grouped by the shard of their key, in increasing
/// order within each shard.
pub(crate) fn partition<K, F>(threads: usize, count: usize, key: F) -> Vec<Vec<u32>>
where
    F: Fn(usize) -> Option<K> + Sync,
    K: Hash,
{
    let state = hasher();
    let slice = count.div_ceil(threads.max(1)).max(1 << 14);
    let ranges: Vec<(usize, usize)> = (0..count).step_by(slice).map(|s| (s, (s + slice).min(count))).collect();
    let parts = parallel::map(threads, ranges, |(start, end)| {
        let mut shards: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for i in start..end {
            if let Some(k) = key(i) {
                shards[of(&state, &k)].push(i as u32);
            }
        }
        shards
    });
    let mut shards: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
    for part in parts {
        for (shard, rows) in shards.iter_mut().zip(part) {
            if shard.is_empty() {
                *shard = rows;
            } else {
                shard.extend(rows);
            }
        }
    }
    shards
}
