//! Rule 5 on allocations: `DUPLICATE_BENEFICIARY` and `DUPLICATE_HOUSEHOLD`.
//!
//! Both ask the same question of a group of allocations (same beneficiary and program, or
//! same household and per-household program): does this allocation's validity overlap
//! (dates inclusive) that of one with a different owner (card, or beneficiary)? Sorting the
//! group by `valid_from` and keeping, over each prefix, the latest `valid_to` and the latest
//! of any other owner answers it for every allocation in O(n log n).

use crate::cards::Balances;
use crate::finding::{FoundList, Rule};
use crate::ingest::Allocation;
use crate::parallel;
use crate::rulebook::{ProgramId, Rulebook};
use crate::shard::{self, prefix};
use crate::time::Date;

/// Findings of both rules over the kept allocations (the card walk's balances).
pub(crate) fn duplicates<'a>(rulebook: &Rulebook, kept: &Balances<'a>, threads: usize) -> FoundList {
    let by_beneficiary = shard::partition(threads, kept.len(), |i| Some(kept[i].0.beneficiary));
    let by_household = shard::partition(threads, kept.len(), |i| {
        let a = &kept[i].0;
        (rulebook.program(a.program).per_household() && !a.household.is_empty()).then_some(a.household)
    });
    let items: Vec<(Rule, Vec<u32>)> = by_beneficiary
        .into_iter()
        .map(|ids| (Rule::DuplicateBeneficiary, ids.rows()))
        .chain(by_household.into_iter().map(|ids| (Rule::DuplicateHousehold, ids.rows())))
        .collect();
    let found = parallel::map(threads, items, |(rule, ids)| shard_findings(rulebook, kept, rule, ids));
    FoundList::gather(found)
}

/// A kept allocation's place in a shard's order: (group id's first 16 bytes, program,
/// `valid_from`, owner id's first 16 bytes, `valid_to`, line, row; whether either id is longer
/// than 16 bytes). The last field never decides: line numbers differ.
type SortKey = (u128, ProgramId, Date, u128, Date, u64, u32, bool);

fn shard_findings<'a>(rulebook: &Rulebook, kept: &Balances<'a>, rule: Rule, mut ids: Vec<u32>) -> FoundList {
    // group: who must match; owner: who must differ.
    let parts = |a: &Allocation<'a>| -> (&'a [u8], &'a [u8]) {
        match rule {
            Rule::DuplicateBeneficiary => (a.beneficiary, a.card),
            _ => (a.household, a.beneficiary),
        }
    };
    let full = |&x: &u32, &y: &u32| {
        let (a, b) = (&kept[x as usize].0, &kept[y as usize].0);
        (parts(a).0, a.program, a.valid_from, parts(a).1, a.valid_to, a.line).cmp(&(
            parts(b).0,
            b.program,
            b.valid_from,
            parts(b).1,
            b.valid_to,
            b.line,
        ))
    };
    // Sorted on keys made with one read of each row, the ids' first 16 bytes standing for
    // them, rather than by reading rows and ids back at every comparison (a cache miss each:
    // at 10M debits this stage grew 17 times from 1M). Where ids are longer, a run of equal
    // first bytes is sorted again in the full order.
    let mut keyed: Vec<SortKey> = ids
        .iter()
        .map(|&i| {
            let a = &kept[i as usize].0;
            let (group, owner) = parts(a);
            let long = group.len() > 16 || owner.len() > 16;
            (prefix(group), a.program, a.valid_from, prefix(owner), a.valid_to, a.line, i, long)
        })
        .collect();
    keyed.sort_unstable();
    for run in keyed.chunk_by_mut(|x, y| x.0 == y.0).filter(|run| run.len() > 1 && run.iter().any(|k| k.7)) {
        run.sort_unstable_by(|x, y| full(&x.6, &y.6));
    }
    ids.clear();
    ids.extend(keyed.iter().map(|k| k.6));
    let mut findings = FoundList::default();
    let same_group = |&x: &u32, &y: &u32| {
        let (a, b) = (&kept[x as usize].0, &kept[y as usize].0);
        parts(a).0 == parts(b).0 && a.program == b.program
    };
    for group in ids.chunk_by(same_group) {
        let items: Vec<(Date, Date, &[u8])> = group
            .iter()
            .map(|&i| {
                let a = &kept[i as usize].0;
                (a.valid_from, a.valid_to, parts(a).1)
            })
            .collect();
        for k in overlapping_other_owner(&items) {
            let a = &kept[group[k] as usize].0;
            let code = rulebook.program(a.program).code();
            if rule == Rule::DuplicateBeneficiary {
                let beneficiary = String::from_utf8_lossy(a.beneficiary);
                let detail = format_args!(
                    "beneficiary {beneficiary} also holds an overlapping {code} allocation on another card"
                );
                findings.push(rule, a.into(), detail);
            } else {
                let household = String::from_utf8_lossy(a.household);
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
pub(crate) fn overlapping_other_owner(items: &[(Date, Date, &[u8])]) -> Vec<usize> {
    // prefix[k]: over items[..=k], the latest `to` with its owner, and the latest `to` of any
    // other owner.
    type Latest<'o> = ((Date, &'o [u8]), Option<Date>);
    let mut prefix: Vec<Latest<'_>> = Vec::with_capacity(items.len());
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

    proptest::proptest! {
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
