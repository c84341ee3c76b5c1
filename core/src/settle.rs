//! Settlement: net amounts per (merchant, program), from what the card walk settled.
//!
//! Each thread of the card stage adds up what it settles per (merchant, program) as it goes
//! ([`Sums`], one per thread over the batches of card shards it works), and no list of every
//! settled debit is kept (32 bytes each: 320 MB at 10M debits). Merchants are few beside
//! debits, so a thread can sum in a table with a 24-byte slot for every (merchant, program)
//! ([`PairTable`]), found without a hash or a probe, while the table is small beside the
//! rows the thread walks ([`ROWS_PER_SLOT`]: at 10M debits, 25,000 merchants and 4 programs,
//! on up to 25 threads). With a map of 96-byte slots, two thirds of the samples of adding
//! were the first load of a slot. At 10M debits (stage_times, interleaved runs, medians)
//! tables of 2.4 MB took the card stage from 1,935 to 1,718 ms on 2 threads (6 runs each),
//! and from 2,139 to 1,813 ms with `--threads 8` on the same 2 cores (3 runs each), where
//! a table per batch of shards rather than per thread would not have had room (2,194 ms).
//!
//! A thread with too many merchants for a table sums in a map instead, as does a thread with
//! a table for an amount that would overflow its slot. A summed pair costs more than a listed
//! row (a 96-byte map slot, 110 to 220 bytes with the map's spare room, against 32), so sums
//! that meet many pairs for what they settle list the debits of pairs there is no room for
//! ([`Sums::add`]; room grows with the rows settled). The threads' sums and lists are then
//! regrouped by merchant shard (a listed row becomes a 96-byte entry there), and each pair is
//! added up whole by one thread. Sums are exact integers, so neither the order of adding nor
//! which thread added a row changes them. With the `distinct-merchants` probe of
//! `core/tests/hostile.rs` (a million settled debits, each at a merchant of its own), the run
//! peaks at 9.3 to 10.6 times its input (at 911fe4b), a million findings and the numbering of
//! a million merchant ids included.
//!
//! Merchants are keyed by their number in debits.csv ([`MerchantNo`]), so summing never reads
//! a merchant id's bytes; they are read only at the end, to sort the (merchant, program) pairs.

use crate::money::{Minor, Sum};
use crate::names::{MerchantNo, Names};
use crate::parallel;
use crate::rulebook::ProgramId;
use crate::shard;

/// Net settlement of one (merchant, program).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SettleAcc {
    pub gross: Sum,
    pub reversed: Sum,
    pub debits: u64,
    pub reversals: u64,
}

impl SettleAcc {
    fn add(&mut self, other: &SettleAcc) {
        self.gross += other.gross;
        self.reversed += other.reversed;
        self.debits += other.debits;
        self.reversals += other.reversals;
    }
}

/// Sums take a new (merchant, program) pair into their map while it holds fewer than this many
/// pairs...
const PAIRS_SUMMED: usize = 4096;

/// ... or fewer than one per this many debits and reversals it settled.
const SETTLED_PER_PAIR: usize = 16;

/// A (merchant, program) pair, hashed to one spread-out `u64` for [`shard::IdHasher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pair {
    merchant: MerchantNo,
    program: ProgramId,
}

impl std::hash::Hash for Pair {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Distinct pairs give distinct keys (a merchant number is a u32, a program a u16), and
        // the odd multiplier keeps them distinct. The merchant in the low half: a product's
        // bits below 32 come from the key's low half alone, and on 64-bit targets the map's
        // tag is bits 25 to 31 of the product ([`shard::IdHasher`]); with the program there,
        // the pairs had as many tags as programs.
        let key = u64::from(self.program) << 32 | self.merchant.index() as u64;
        state.write_u64(key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

/// What was settled per pair. Keyed by the pair, a sum is found with one probe of the map:
/// keyed by merchant, with a list of programs beside it, it took two cache misses per settled
/// debit at 10M debits (perf annotate), 5% of all samples.
type ByPair = std::collections::HashMap<Pair, SettleAcc, shard::ByHash>;

/// A settled debit, or an applied reversal of one, under the debit's merchant and program.
#[derive(Clone, Copy, Debug)]
struct Settled {
    pair: Pair,
    amount: Minor,
    reversal: bool,
}

impl Settled {
    fn acc(&self) -> SettleAcc {
        let amount = Sum::from(self.amount);
        match self.reversal {
            true => SettleAcc { reversed: amount, reversals: 1, ..SettleAcc::default() },
            false => SettleAcc { gross: amount, debits: 1, ..SettleAcc::default() },
        }
    }
}

/// What one (merchant, program) settled, in a [`PairTable`]: 24 bytes, against a 96-byte
/// [`ByPair`] slot. Rows are numbered in `u32`, so neither count overflows; an amount that
/// would overflow a `u64` sum is added to the map or the list instead.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    gross: u64,
    reversed: u64,
    debits: u32,
    reversals: u32,
}

/// A [`Slot`] per (merchant, program), at `program * merchants + merchant`: a sum is found
/// without hashing or probing. A slot is a quarter of a map slot, but every pair has one,
/// met or not. Program after program, not merchant after merchant: most debits of a cycle
/// fall under few programs (63% under one in the generated cycles), whose slots then lie
/// together rather than beside the slots of programs a merchant never takes (perf record at
/// 10M debits on 2 threads, two runs each: `Sums::add` 400 and 429 samples before, 342 and
/// 307 after, of 18,000 to 19,400).
struct PairTable {
    merchants: usize,
    slots: Vec<Slot>,
}

impl PairTable {
    /// Adds `amount` to its pair's slot, or returns false (and changes nothing) if the slot's
    /// sum would not fit a `u64`.
    #[inline]
    fn add(&mut self, pair: Pair, amount: Minor, reversal: bool) -> bool {
        let slot = &mut self.slots[usize::from(pair.program) * self.merchants + pair.merchant.index()];
        let (sum, count) = match reversal {
            true => (&mut slot.reversed, &mut slot.reversals),
            false => (&mut slot.gross, &mut slot.debits),
        };
        match u64::try_from(amount).ok().and_then(|amount| sum.checked_add(amount)) {
            Some(added) => {
                *sum = added;
                *count += 1;
                true
            }
            None => false,
        }
    }

    /// The pairs with something added, and what.
    fn entries(&self) -> impl Iterator<Item = (Pair, SettleAcc)> + '_ {
        let merchants = self.merchants;
        self.slots.iter().enumerate().filter(|(_, slot)| slot.debits > 0 || slot.reversals > 0).map(move |(i, slot)| {
            let pair = Pair { merchant: MerchantNo::from_index(i % merchants), program: (i / merchants) as ProgramId };
            let acc = SettleAcc {
                gross: Sum::from(slot.gross),
                reversed: Sum::from(slot.reversed),
                debits: u64::from(slot.debits),
                reversals: u64::from(slot.reversals),
            };
            (pair, acc)
        })
    }
}

/// Sums have a [`PairTable`] when it has at most one slot per this many rows of debits.csv
/// (debits and reversals) their thread walks, on average, or at most [`PAIRS_SUMMED`] slots
/// (96 KiB, less than the map's room for as many). The tables then take at most 6 bytes a
/// row, plus 96 KiB a thread, and a file with a merchant per debit (`distinct-merchants` in
/// `core/tests/hostile.rs`) has none.
const ROWS_PER_SLOT: usize = 4;

/// What some cards settled: in a [`PairTable`] when there is one, else summed per (merchant,
/// program) for the pairs there was room for when they were met, listed row by row for the
/// others.
#[derive(Default)]
pub(crate) struct Sums {
    table: Option<PairTable>,
    summed: ByPair,
    listed: Vec<Settled>,
    /// Debits and reversals added outside the table.
    added: usize,
}

impl Sums {
    /// Sums for a thread that walks about `rows` rows of debits.csv (debits and reversals), at
    /// `merchants` merchants under `programs` programs: in a [`PairTable`] when it is small
    /// beside the rows.
    pub(crate) fn new(merchants: usize, programs: usize, rows: usize) -> Sums {
        let slots = merchants.saturating_mul(programs);
        let room = PAIRS_SUMMED.max(rows / ROWS_PER_SLOT);
        let table = (slots <= room).then(|| PairTable { merchants, slots: vec![Slot::default(); slots] });
        Sums { table, ..Sums::default() }
    }

    /// A settled debit, or an applied reversal of a settled debit (under the debit's merchant
    /// and program).
    pub(crate) fn add(&mut self, merchant: MerchantNo, program: ProgramId, amount: Minor, reversal: bool) {
        let pair = Pair { merchant, program };
        if let Some(table) = &mut self.table {
            if table.add(pair, amount, reversal) {
                return;
            }
        }
        let settled = Settled { pair, amount, reversal };
        self.added += 1;
        if let Some(sum) = self.summed.get_mut(&settled.pair) {
            sum.add(&settled.acc());
        } else if self.summed.len() < PAIRS_SUMMED.max(self.added / SETTLED_PER_PAIR) {
            self.summed.insert(settled.pair, settled.acc());
        } else {
            self.listed.push(settled);
        }
    }
}

/// The sums of every thread added up per (merchant, program), for the pairs with at least one
/// settled debit (a reversal is applied only to a settled debit, so this drops nothing), in
/// `merchant_id` then program order.
pub(crate) fn settlement<'a>(
    parts: Vec<Sums>,
    merchants: &Names<'a>,
    threads: usize,
) -> Vec<(&'a [u8], ProgramId, SettleAcc)> {
    type Entry = (Pair, SettleAcc);
    let shard_of = |pair: Pair| pair.merchant.index() % shard::SHARDS;
    let bucketed = parallel::map(threads, parts, |sums| {
        let mut buckets: Vec<Vec<Entry>> = vec![Vec::new(); shard::SHARDS];
        let tabled = sums.table.iter().flat_map(PairTable::entries);
        for (pair, acc) in tabled.chain(sums.summed) {
            buckets[shard_of(pair)].push((pair, acc));
        }
        for s in sums.listed {
            buckets[shard_of(s.pair)].push((s.pair, s.acc()));
        }
        buckets
    });
    let mut by_shard: Vec<Vec<Vec<Entry>>> = (0..shard::SHARDS).map(|_| Vec::new()).collect();
    for buckets in bucketed {
        for (into, bucket) in by_shard.iter_mut().zip(buckets) {
            into.push(bucket);
        }
    }
    let parts = parallel::map(threads, by_shard, |lists| {
        let mut sums = ByPair::default();
        for (pair, acc) in lists.into_iter().flatten() {
            sums.entry(pair).or_default().add(&acc);
        }
        sums.into_iter()
            .filter(|(_, acc)| acc.debits > 0)
            .map(|(pair, acc)| (merchants[pair.merchant.index()], pair.program, acc))
            .collect::<Vec<_>>()
    });
    let mut all: Vec<_> = parts.into_iter().flatten().collect();
    all.sort_unstable_by(|x, y| shard::by_id(x.0, y.0).then(x.1.cmp(&y.1)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{self, Numbering};

    /// (merchant, program, amount, reversal)
    type Row<'a> = (&'a str, ProgramId, Minor, bool);

    fn entry(merchant: &str, program: ProgramId, amount: Minor, reversal: bool) -> Row<'_> {
        (merchant, program, amount, reversal)
    }

    /// The merchants of `rows` numbered as debits.csv numbers them (ids copied into `arena`):
    /// per row, and the table.
    fn numbered<'a>(rows: &[Row<'_>], arena: &'a bumpalo::Bump) -> (Vec<MerchantNo>, Names<'a>) {
        let mut numbering = Numbering::default();
        let local: Vec<MerchantNo> = rows.iter().map(|row| numbering.number(row.0.as_bytes(), arena)).collect();
        let (names, tables) = names::merge(vec![numbering]);
        (local.into_iter().map(|no| names::renumber(no, &tables[0])).collect(), names)
    }

    /// A settlement row with its sums as text, to compare with hand-written values.
    fn show((m, p, acc): &(&[u8], ProgramId, SettleAcc)) -> (Vec<u8>, ProgramId, String, String, u64, u64) {
        (m.to_vec(), *p, acc.gross.to_string(), acc.reversed.to_string(), acc.debits, acc.reversals)
    }

    /// What a batch that settled `entries` (numbered `nos`) sums.
    fn sums(entries: &[Row<'_>], nos: &[MerchantNo]) -> Sums {
        sums_into(Sums::default(), entries, nos)
    }

    /// [`sums`] in a [`PairTable`] for `merchants` merchants and 2 programs.
    fn tabled(merchants: usize, entries: &[Row<'_>], nos: &[MerchantNo]) -> Sums {
        let sums = Sums::new(merchants, 2, 0);
        assert!(sums.table.is_some());
        sums_into(sums, entries, nos)
    }

    fn sums_into(mut sums: Sums, entries: &[Row<'_>], nos: &[MerchantNo]) -> Sums {
        for (&(_, program, amount, reversal), &no) in entries.iter().zip(nos) {
            sums.add(no, program, amount, reversal);
        }
        sums
    }

    #[test]
    fn pairs_past_the_summed_ones_are_listed_and_add_up_the_same() {
        let names: Vec<String> = (0..PAIRS_SUMMED + 50).map(|i| format!("M{i:05}")).collect();
        let mut rows: Vec<Row<'_>> =
            names.iter().flat_map(|m| [entry(m, 0, 100, false), entry(m, 0, 30, true)]).collect();
        // A summed pair met again once the sums are full (summed), and its merchant under a new
        // program (listed).
        rows.extend([entry(&names[0], 0, 5, false), entry(&names[0], 1, 7, false)]);
        let arena = bumpalo::Bump::new();
        let (nos, merchants) = numbered(&rows, &arena);
        let one = sums(&rows, &nos);
        assert_eq!((one.summed.len(), one.listed.len()), (PAIRS_SUMMED, 101));
        let got = settlement(vec![one], &merchants, 2);
        let per_merchant = rows.chunks(2).zip(nos.chunks(2)).map(|(rows, nos)| sums(rows, nos)).collect();
        assert_eq!(got, settlement(per_merchant, &merchants, 1));
        assert_eq!(got.len(), names.len() + 1);
        assert_eq!(show(&got[0]), (b"M00000".to_vec(), 0, "105".into(), "30".into(), 2, 1));
        assert_eq!(show(&got[1]), (b"M00000".to_vec(), 1, "7".into(), "0".into(), 1, 0));
        assert_eq!(
            show(&got[got.len() - 1]),
            (names[names.len() - 1].clone().into_bytes(), 0, "100".into(), "30".into(), 1, 1)
        );
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
        let arena = bumpalo::Bump::new();
        let (nos, merchants) = numbered(&entries, &arena);
        let n = merchants.len();
        let split = [
            vec![sums(&entries, &nos)],
            vec![sums(&entries[..3], &nos[..3]), sums(&entries[3..], &nos[3..])],
            vec![tabled(n, &entries, &nos)],
            vec![tabled(n, &entries[..3], &nos[..3]), sums(&entries[3..], &nos[3..])],
        ];
        for (lists, threads) in split.into_iter().zip([1, 2, 1, 2]) {
            let got: Vec<_> = settlement(lists, &merchants, threads)
                .into_iter()
                .map(|(m, p, acc)| {
                    let (gross, reversed) = (acc.gross.to_string(), acc.reversed.to_string());
                    (std::str::from_utf8(m).expect("ascii"), p, gross, reversed, acc.debits, acc.reversals)
                })
                .collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_batch_sums_in_a_table_only_when_it_is_small_beside_its_debits() {
        assert!(Sums::new(25_000, 4, 400_000).table.is_some());
        assert!(Sums::new(25_000, 4, 399_999).table.is_none());
        // A merchant per debit: no table.
        assert!(Sums::new(1_000_000, 1, 1_000_000).table.is_none());
        // The slots saturate rather than wrap (to 0, here).
        assert!(Sums::new(usize::MAX / 2 + 1, 2, 0).table.is_none());
        // A small table whatever the debits.
        assert!(Sums::new(1024, 4, 0).table.is_some_and(|t| t.slots.len() == PAIRS_SUMMED));
        assert!(Sums::new(1025, 4, 0).table.is_none());
        assert!(Sums::new(0, 4, 0).table.is_some_and(|t| t.slots.is_empty()));
    }

    #[test]
    fn sums_past_a_u64_are_added_outside_the_table_and_add_up_the_same() {
        let big = Minor::from(u64::MAX) - 10;
        let entries = vec![
            entry("M1", 0, big, false),
            entry("M1", 0, 11, false),
            entry("M1", 0, 3, false),
            entry("M1", 0, big + 20, false),
            entry("M2", 1, 5, false),
            entry("M2", 1, big, true),
            entry("M2", 1, big, true),
            entry("M1", 1, 7, false),
        ];
        let arena = bumpalo::Bump::new();
        let (nos, merchants) = numbered(&entries, &arena);
        let table = tabled(merchants.len(), &entries, &nos);
        // The 11, the amount past a u64 and the second reversal of `big` did not fit.
        assert_eq!(table.added, 3);
        let got = settlement(vec![table], &merchants, 2);
        assert_eq!(got, settlement(vec![sums(&entries, &nos)], &merchants, 1));
        let show: Vec<_> = got.iter().map(show).collect();
        let twice_big = (Sum::from(big) * Sum::from(2u8)).to_string();
        assert_eq!(
            show,
            [
                (b"M1".to_vec(), 0, (Sum::from(big) * Sum::from(2u8) + Sum::from(34u8)).to_string(), "0".into(), 4, 0),
                (b"M1".to_vec(), 1, "7".into(), "0".into(), 1, 0),
                (b"M2".to_vec(), 1, "5".into(), twice_big, 1, 2),
            ]
        );
    }

    proptest::proptest! {
        /// However the rows are split into batches, and whichever batches sum in a table,
        /// the settlement is the one of a single batch summing in a map.
        #[test]
        fn tables_and_maps_in_any_batches_settle_the_same(
            rows in proptest::collection::vec((0..6usize, 0..2 as ProgramId, 0..6usize, proptest::bool::ANY), 0..60),
            cuts in proptest::collection::vec((0..60usize, proptest::bool::ANY), 0..4),
        ) {
            const NAMES: [&str; 6] = ["M0", "M1", "M2", "M3", "MERCHANT-0000000000-A", "MERCHANT-0000000000-B"];
            let big = Minor::from(u64::MAX);
            let amounts = [1, 250, big / 2, big - 1, big, big + 1];
            let rows: Vec<Row<'_>> =
                rows.iter().map(|&(m, p, a, reversal)| entry(NAMES[m], p, amounts[a], reversal)).collect();
            let arena = bumpalo::Bump::new();
            let (nos, merchants) = numbered(&rows, &arena);
            let mut cuts: Vec<(usize, bool)> = cuts.into_iter().map(|(at, t)| (at.min(rows.len()), t)).collect();
            cuts.sort_unstable();
            let mut batches = Vec::new();
            let mut start = 0;
            for (end, in_table) in cuts.into_iter().chain([(rows.len(), true)]) {
                let (rows, nos) = (&rows[start..end], &nos[start..end]);
                batches.push(if in_table { tabled(merchants.len(), rows, nos) } else { sums(rows, nos) });
                start = end;
            }
            proptest::prop_assert_eq!(settlement(batches, &merchants, 2), settlement(vec![sums(&rows, &nos)], &merchants, 1));
        }
    }
}
