//! Settlement: net amounts per (merchant, program), from what the card walk settled.
//!
//! Cards are sharded by card, but nearly every card shard settles at nearly every merchant,
//! so summing there would leave (card shards x merchants) partial sums to merge. Instead the
//! walk lists each settled debit and each applied reversal of one, with its merchant's id
//! hashed while the row is at hand; they are regrouped here by merchant shard, and each
//! (merchant, program) is summed whole by one thread.

use crate::money::{Minor, Sum};
use crate::parallel;
use crate::rulebook::ProgramId;
use crate::shard::{self, Id};

/// A settled debit, or an applied reversal of a settled debit (under the debit's merchant and
/// program).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settled<'a> {
    pub merchant: Id<'a>,
    pub program: ProgramId,
    pub amount: Minor,
    pub reversal: bool,
}

/// Net settlement of one (merchant, program).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SettleAcc {
    pub gross: Sum,
    pub reversed: Sum,
    pub debits: u64,
    pub reversals: u64,
}

/// Sums per (merchant, program) over the lists of every card shard, for the pairs with at
/// least one settled debit (a reversal is applied only to a settled debit, so this drops
/// nothing), in `merchant_id` then program order.
pub(crate) fn settlement<'a>(lists: Vec<Vec<Settled<'a>>>, threads: usize) -> Vec<(&'a [u8], ProgramId, SettleAcc)> {
    let bucketed = parallel::map(threads, lists, |list| {
        let mut buckets: Vec<Vec<Settled<'a>>> = vec![Vec::new(); shard::SHARDS];
        for s in list {
            buckets[s.merchant.shard()].push(s);
        }
        buckets
    });
    let mut by_shard: Vec<Vec<Vec<Settled<'a>>>> = (0..shard::SHARDS).map(|_| Vec::new()).collect();
    for buckets in bucketed {
        for (into, bucket) in by_shard.iter_mut().zip(buckets) {
            into.push(bucket);
        }
    }
    let parts = parallel::map(threads, by_shard, |lists| {
        let mut sums: shard::IdMap<'a, Vec<(ProgramId, SettleAcc)>> = shard::id_map(0);
        for s in lists.into_iter().flatten() {
            let programs = sums.entry(s.merchant).or_default();
            let at = match programs.iter().position(|(p, _)| *p == s.program) {
                Some(at) => at,
                None => {
                    programs.push((s.program, SettleAcc::default()));
                    programs.len() - 1
                }
            };
            let acc = &mut programs[at].1;
            if s.reversal {
                acc.reversed += Sum::from(s.amount);
                acc.reversals += 1;
            } else {
                acc.gross += Sum::from(s.amount);
                acc.debits += 1;
            }
        }
        sums.into_iter()
            .flat_map(|(id, programs)| programs.into_iter().map(move |(p, acc)| (id.bytes, p, acc)))
            .filter(|(_, _, acc)| acc.debits > 0)
            .collect::<Vec<_>>()
    });
    let mut all: Vec<_> = parts.into_iter().flatten().collect();
    all.sort_unstable_by(|x, y| shard::by_id(x.0, y.0).then(x.1.cmp(&y.1)));
    all
}
