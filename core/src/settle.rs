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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(merchant: &'static str, program: ProgramId, amount: Minor, reversal: bool) -> Settled<'static> {
        Settled { merchant: Id::new(&shard::hasher(), merchant.as_bytes()), program, amount, reversal }
    }

    #[test]
    fn sums_per_merchant_and_program_in_order_whatever_the_lists() {
        // Two ids sharing their first 16 bytes, one merchant under two programs, a reversal,
        // and a pair with only a reversal (dropped: nothing settled there).
        let long_a = "MERCHANT-0000000000-A";
        let long_b = "MERCHANT-0000000000-B";
        let entries = vec![
            entry(long_b, 0, 500, false),
            entry("M1", 1, 700, false),
            entry(long_a, 0, 100, false),
            entry("M1", 0, 300, false),
            entry("M1", 1, 200, true),
            entry(long_a, 0, 50, false),
            entry("M2", 0, 10, true),
        ];
        let expected = vec![
            ("M1", 0, "300".to_owned(), "0".to_owned(), 1, 0),
            ("M1", 1, "700".to_owned(), "200".to_owned(), 1, 1),
            (long_a, 0, "150".to_owned(), "0".to_owned(), 2, 0),
            (long_b, 0, "500".to_owned(), "0".to_owned(), 1, 0),
        ];
        let split = [vec![entries.clone()], vec![entries[..3].to_vec(), entries[3..].to_vec()]];
        for (lists, threads) in split.into_iter().zip([1, 2]) {
            let got: Vec<_> = settlement(lists, threads)
                .into_iter()
                .map(|(m, p, acc)| {
                    let (gross, reversed) = (acc.gross.to_string(), acc.reversed.to_string());
                    (std::str::from_utf8(m).expect("ascii"), p, gross, reversed, acc.debits, acc.reversals)
                })
                .collect();
            assert_eq!(got, expected);
        }
    }
}
