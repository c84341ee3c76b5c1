//! The generator's randomness: ChaCha8 streams keyed by (seed, purpose, chunk), so every
//! chunk of cards draws the same numbers whatever the number of threads.
//!
//! Only `next_u64` of the stream is used (its values are fixed by the ChaCha8 algorithm);
//! ranges are derived here, so a new version of a distribution crate cannot change a data set.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is used for: one stream per purpose and chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    World = 1,
    Cards = 2,
    Allocations = 3,
    Debits = 4,
}

/// A deterministic random stream.
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    pub(crate) fn new(seed: u64, purpose: Purpose, chunk: u64) -> Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[16..24].copy_from_slice(&chunk.to_le_bytes());
        key[24..].copy_from_slice(b"harmoni\0");
        Rng(ChaCha8Rng::from_seed(key))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-high: bias below 2^-40 for our ranges.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// An index into a slice of `len` items, by weight.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    pub(crate) fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_by_seed_purpose_and_chunk() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, Purpose::Debits, 3);
                move |_| r.next()
            })
            .collect();
        let mut b = Rng::new(7, Purpose::Debits, 3);
        assert_eq!(a, (0..4).map(|_| b.next()).collect::<Vec<_>>());
        let mut c = Rng::new(7, Purpose::Debits, 4);
        assert_ne!(a[0], c.next());
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1, Purpose::World, 0);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.range(3, 5);
            assert!((3..=5).contains(&x));
        }
        assert_eq!(r.weighted(&[0, 5, 0]), 1);
    }
}
