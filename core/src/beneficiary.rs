//! Rule 5 on allocations: `DUPLICATE_BENEFICIARY` and `DUPLICATE_HOUSEHOLD`.
//!
//! Both ask the same question of a group of allocations (same beneficiary and program, or
//! same household and per-household program): does this allocation's validity overlap
//! (dates inclusive) that of one with a different owner (card, or beneficiary)? Sorting the
//! group by `valid_from` and keeping, over each prefix, the latest `valid_to` and the latest
//! of any other owner answers it for every allocation in O(n log n).

use crate::cards::KeptAllocations;
use crate::finding::{FoundList, Rule};
use crate::ingest::Allocation;
use crate::parallel;
use crate::rulebook::{ProgramId, Rulebook};
use crate::shard::{self, prefix};
use crate::time::Date;

/// Findings of both rules over the kept allocations (the card walk's balances).
pub(crate) fn duplicates<'a>(rulebook: &Rulebook, kept: &KeptAllocations<'a>, threads: usize) -> FoundList {
    let state = shard::hasher();
    // Each row's sort key is made while the rows are partitioned, reading the rows in order
    // (their ids only roughly so: the balances are in card order, the id bytes where parsing
    // copied them). Made per shard, from the shard's rows, each key was a few cache misses
    // (at 10M debits this stage grew 19 times from 1M).
    let ranked = |rule: Rule| {
        let state = &state;
        move |i: usize| {
            let a = &kept[i].0;
            if rule == Rule::DuplicateHousehold
                && (a.household().is_empty() || !rulebook.program(a.program).per_household())
            {
                return None;
            }
            let (group, owner) = parts(rule, a);
            Some(Ranked {
                group: prefix(group),
                program: a.program,
                from: a.valid_from,
                owner: prefix(owner),
                to: a.valid_to,
                line: a.line,
                row: i as u32,
                long: group.len() > 16 || owner.len() > 16,
                shard: shard::Id::new(state, group).shard() as u8,
            })
        }
    };
    let by_beneficiary = shard::partition_with(threads, kept.len(), ranked(Rule::DuplicateBeneficiary));
    let by_household = shard::partition_with(threads, kept.len(), ranked(Rule::DuplicateHousehold));
    let items: Vec<(Rule, shard::Shard<Ranked>)> = by_beneficiary
        .into_iter()
        .map(|ranked| (Rule::DuplicateBeneficiary, ranked))
        .chain(by_household.into_iter().map(|ranked| (Rule::DuplicateHousehold, ranked)))
        .collect();
    let found = parallel::map(threads, items, |(rule, ranked)| shard_findings(rulebook, kept, rule, ranked));
    FoundList::gather(found)
}

/// Of an allocation, the id whose group is looked at and the id that must differ within it:
/// (beneficiary, card) or (household, beneficiary).
fn parts<'a>(rule: Rule, a: &Allocation<'a>) -> (&'a [u8], &'a [u8]) {
    match rule {
        Rule::DuplicateBeneficiary => (a.beneficiary(), a.card()),
        _ => (a.household(), a.beneficiary()),
    }
}

/// A kept allocation's place in a shard's order: the group id's first 16 bytes, program,
/// `valid_from`, the owner id's first 16 bytes, `valid_to`, line, row (fields in that order,
/// compared in that order). The line always differs, so the last fields never decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ranked {
    group: u128,
    program: ProgramId,
    from: Date,
    owner: u128,
    to: Date,
    line: u64,
    row: u32,
    /// The group or the owner id is longer than 16 bytes: its head does not decide.
    long: bool,
    shard: u8,
}

impl shard::Sharded for Ranked {
    fn shard(&self) -> usize {
        usize::from(self.shard)
    }
    fn row(&self) -> u32 {
        self.row
    }
}

fn shard_findings<'a>(
    rulebook: &Rulebook,
    kept: &KeptAllocations<'a>,
    rule: Rule,
    ranked: shard::Shard<Ranked>,
) -> FoundList {
    let row = |k: &Ranked| &kept[k.row as usize].0;
    let full = |x: &Ranked, y: &Ranked| {
        let (a, b) = (row(x), row(y));
        let ((ga, oa), (gb, ob)) = (parts(rule, a), parts(rule, b));
        (ga, a.program, a.valid_from, oa, a.valid_to, a.line).cmp(&(
            gb,
            b.program,
            b.valid_from,
            ob,
            b.valid_to,
            b.line,
        ))
    };
    // Sorted on the keys alone; where ids are longer than 16 bytes, a run of equal group
    // heads is sorted again in the full order.
    let mut keyed: Vec<Ranked> = Vec::with_capacity(ranked.len());
    keyed.extend(ranked.iter());
    drop(ranked);
    keyed.sort_unstable();
    for run in keyed.chunk_by_mut(|x, y| x.group == y.group).filter(|run| run.len() > 1 && run.iter().any(|k| k.long)) {
        run.sort_unstable_by(full);
    }
    // Heads of ids of at most 16 bytes are equal exactly when the ids are (printable ASCII
    // has no zero byte); longer ones are compared whole.
    let same_group = |x: &Ranked, y: &Ranked| {
        x.group == y.group
            && x.program == y.program
            && (!(x.long || y.long) || parts(rule, row(x)).0 == parts(rule, row(y)).0)
    };
    let mut findings = FoundList::default();
    for group in keyed.chunk_by(same_group).filter(|group| group.len() > 1) {
        let flagged = if group.iter().any(|k| k.long) {
            let items: Vec<(Date, Date, &[u8])> = group.iter().map(|k| (k.from, k.to, parts(rule, row(k)).1)).collect();
            overlapping_other_owner(&items)
        } else {
            let items: Vec<(Date, Date, u128)> = group.iter().map(|k| (k.from, k.to, k.owner)).collect();
            overlapping_other_owner(&items)
        };
        for k in flagged {
            let a = row(&group[k]);
            let code = rulebook.program(a.program).code();
            if rule == Rule::DuplicateBeneficiary {
                let beneficiary = String::from_utf8_lossy(a.beneficiary());
                let detail = format_args!(
                    "beneficiary {beneficiary} also holds an overlapping {code} allocation on another card"
                );
                findings.push(rule, a.into(), detail);
            } else {
                let household = String::from_utf8_lossy(a.household());
                let detail = format_args!(
                    "household {household} also receives {code} under another beneficiary in an overlapping period"
                );
                findings.push(rule, a.into(), detail);
            }
        }
    }
    findings
}

/// Of intervals `[from, to]` (inclusive) sorted by `from`, the indices of those that overlap
/// an interval of a different owner.
pub(crate) fn overlapping_other_owner<O: Copy + PartialEq>(items: &[(Date, Date, O)]) -> Vec<usize> {
    // prefix[k]: over items[..=k], the latest `to` with its owner, and the latest `to` of any
    // other owner.
    let mut prefix: Vec<((Date, O), Option<Date>)> = Vec::with_capacity(items.len());
    for &(_, to, owner) in items {
        let next = match prefix.last() {
            None => ((to, owner), None),
            Some(&((best, best_owner), second)) if best_owner == owner => ((best.max(to), owner), second),
            Some(&((best, _), _)) if to > best => ((to, owner), Some(best)),
            Some(&(first, second)) => (first, second.max(Some(to))),
        };
        prefix.push(next);
    }
    let mut out = Vec::new();
    for (k, &(from, to, owner)) in items.iter().enumerate() {
        // Items that start on or before our last day.
        let reach = items.partition_point(|x| x.0 <= to);
        let ((best, best_owner), second) = prefix[reach - 1];
        let other_latest = if best_owner != owner { Some(best) } else { second };
        if other_latest.is_some_and(|latest| latest >= from) {
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_ids::RowIds;

    fn day(n: i32) -> Date {
        Date::parse(format!("2022-01-{n:02}").as_bytes()).unwrap()
    }

    fn brute(items: &[(Date, Date, &[u8])]) -> Vec<usize> {
        (0..items.len())
            .filter(|&i| items.iter().any(|o| o.2 != items[i].2 && o.0 <= items[i].1 && items[i].0 <= o.1))
            .collect()
    }

    #[test]
    fn overlap_with_another_owner_only() {
        let items =
            [(day(1), day(10), &b"A"[..]), (day(5), day(6), b"A"), (day(10), day(12), b"B"), (day(20), day(21), b"C")];
        assert_eq!(overlapping_other_owner(&items), vec![0, 2]);
        assert_eq!(brute(&items), vec![0, 2]);
    }

    /// Ids of up to 16 bytes, among them one of 16, two longer ones that share those 16 bytes
    /// and its shard (so that one shard must tell the three apart), and the empty id (a
    /// household may be empty).
    fn ids() -> Vec<String> {
        let state = shard::hasher();
        let shard_of = |id: &str| shard::Id::new(&state, id.as_bytes()).shard();
        let head = "ABCDEFGHIJKLMNOP";
        let long = |n: usize| format!("{head}-{n}");
        let mut twins = (0..).map(long).filter(|id| shard_of(id) == shard_of(head));
        let (first, second) = (twins.next().expect("a shard repeats"), twins.next().expect("and again"));
        vec!["A".into(), head.into(), first, second, "Z".into(), String::new()]
    }

    /// Per rule, the lines `duplicates` flags, and the lines flagged by comparing every pair.
    fn flagged_both_ways(rows: &[(usize, usize, usize, u16, i32, i32)]) -> [(Vec<u64>, Vec<u64>); 2] {
        let ids = ids();
        let id = |k: usize| ids[k].as_bytes();
        let json = br#"{"programs": [{"code": "P", "per_household": true}, {"code": "Q"}]}"#;
        let rulebook = Rulebook::from_json("rulebook.json", json).expect("valid");
        let arena = bumpalo::Bump::new();
        let balances: Vec<(Allocation<'_>, crate::money::Minor)> = rows
            .iter()
            .enumerate()
            .map(|(k, &(card, beneficiary, household, program, from, len))| {
                let ids = RowIds::keep(&arena, [id(card), id(beneficiary), id(household)]);
                let valid = (day(from), day((from + len).min(31)));
                (Allocation::new(k as u64 + 2, ids, program, valid, 1), 1)
            })
            .collect();
        let table = KeptAllocations::new(vec![balances.clone()]);
        let found = duplicates(&rulebook, &table, 2);
        [Rule::DuplicateBeneficiary, Rule::DuplicateHousehold].map(|rule| {
            let mut got: Vec<u64> = found.rows.iter().filter(|f| f.rule == rule).map(|f| f.line).collect();
            got.sort_unstable();
            // Written out rule by rule, not with the code's own `parts`. Program 0 is the
            // per-household one.
            let same_group_other_owner = |mine: &Allocation<'_>, theirs: &Allocation<'_>| match rule {
                Rule::DuplicateBeneficiary => {
                    mine.beneficiary() == theirs.beneficiary() && mine.card() != theirs.card()
                }
                _ => {
                    mine.program == 0
                        && !mine.household().is_empty()
                        && mine.household() == theirs.household()
                        && mine.beneficiary() != theirs.beneficiary()
                }
            };
            let expected = balances
                .iter()
                .map(|(a, _)| a)
                .filter(|mine| {
                    balances.iter().map(|(o, _)| o).any(|theirs| {
                        same_group_other_owner(mine, theirs)
                            && mine.program == theirs.program
                            && theirs.valid_from <= mine.valid_to
                            && mine.valid_from <= theirs.valid_to
                    })
                })
                .map(|a| a.line)
                .collect();
            (got, expected)
        })
    }

    proptest::proptest! {
        #[test]
        fn duplicates_match_comparing_every_pair_whatever_the_id_lengths(
            rows in proptest::collection::vec((0usize..5, 0usize..5, 0usize..6, 0u16..2, 1i32..28, 0i32..5), 0..40)
        ) {
            for (got, expected) in flagged_both_ways(&rows) {
                proptest::prop_assert_eq!(got, expected);
            }
        }

        #[test]
        fn matches_brute_force(raw in proptest::collection::vec((1i32..28, 0i32..5, 0u8..3), 0..30)) {
            let owners: [&[u8]; 3] = [b"A", b"B", b"C"];
            let mut items: Vec<(Date, Date, &[u8])> =
                raw.iter().map(|&(f, len, o)| (day(f), day((f + len).min(31)), owners[o as usize])).collect();
            items.sort();
            proptest::prop_assert_eq!(overlapping_other_owner(&items), brute(&items));
        }
    }
}
