//! Rule 1, identity: resent copies and conflicting rows of debits.csv.
//!
//! Rows are sharded by `txn_id`. Within a `txn_id`, when every row has equal values (parsed
//! values, so `50000` equals `50000.00`), the first by line is kept and the others are
//! `DUPLICATE_TXN` copies; when any two differ, every row is `CONFLICTING_TXN`, held, and
//! takes no further part. (Identical allocations are found with the cards, in `cards`.)

use crate::finding::{FoundList, Rule};
use crate::ingest::{Debit, Kind};
use crate::money::Sum;
use crate::parallel;
use crate::shard;
use crate::summary::Tally;
use crate::table::Table;

/// What identity decided for a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// In play: goes on to the other rules.
    Kept,
    /// A resent copy: dropped.
    Duplicate,
    /// Shares its `txn_id` with a different row: held (a debit) or not applied (a reversal).
    Conflicting,
}

/// The outcome of rule 1 over debits.csv.
pub(crate) struct Identity {
    /// Per row.
    pub status: Vec<Status>,
    pub findings: FoundList,
    /// Per program: debits left after dropping copies, and the conflicting (held) ones.
    pub tallies: Vec<Tally>,
}

/// Applies rule 1 to all rows of debits.csv.
pub(crate) fn debits<'a>(rows: &Table<Debit<'a>>, programs: usize, threads: usize) -> Identity {
    let shards = shard::partition(threads, rows.len(), |i| Some(rows[i].txn()));
    // A few batches of shards per thread, each with one list of findings (see `walk_cards`).
    let batches = parallel::batches(shards, threads.saturating_mul(4));
    let worked = parallel::map(threads, batches, |batch| {
        let mut decided: Vec<(u32, Status)> = Vec::new();
        let mut findings = FoundList::default();
        for ids in batch {
            decide(rows, ids, &mut decided, &mut findings);
        }
        (decided, findings)
    });
    let mut status = vec![Status::Kept; rows.len()];
    let mut findings = Vec::with_capacity(worked.len());
    for (decided, found) in worked {
        for (i, s) in decided {
            status[i as usize] = s;
        }
        findings.push(found);
    }
    let mut identity =
        Identity { status, findings: FoundList::gather(findings), tallies: vec![Tally::default(); programs] };
    identity.tallies = tally(rows, &identity.status, programs, threads);
    identity
}

/// Rule 1 on the rows `ids` of one shard of `txn_id`s: what is decided of the repeated ones,
/// and their findings.
fn decide<'a>(
    rows: &Table<Debit<'a>>,
    ids: shard::Shard<shard::Keyed<'a>>,
    decided: &mut Vec<(u32, Status)>,
    findings: &mut FoundList,
) {
    // Most ids are unique: a map from each id (hashed once, when sharding) to its first
    // row finds the repeats without sorting and without reading other rows.
    let mut first: shard::IdMap<u32> = shard::id_map(ids.len());
    let mut repeats: Vec<(u32, u32)> = Vec::new();
    for keyed in ids.iter() {
        match first.entry(keyed.id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(keyed.row);
            }
            std::collections::hash_map::Entry::Occupied(o) => repeats.push((*o.get(), keyed.row)),
        }
    }
    drop(first);
    repeats.sort_unstable();
    for chunk in repeats.chunk_by(|a, b| a.0 == b.0) {
        let group: Vec<u32> = std::iter::once(chunk[0].0).chain(chunk.iter().map(|r| r.1)).collect();
        let group = &group[..];
        let first = &rows[group[0] as usize];
        let identical = group.iter().all(|&i| rows[i as usize].same_values(first));
        if identical {
            for &i in &group[1..] {
                decided.push((i, Status::Duplicate));
                let row = &rows[i as usize];
                let detail = format_args!("identical copy of an earlier row; the first copy is kept");
                findings.push(Rule::DuplicateTxn, row.into(), detail);
            }
        } else {
            for &i in group {
                decided.push((i, Status::Conflicting));
                let row = &rows[i as usize];
                let detail = format_args!("{} rows share this txn_id with different values; none is used", group.len());
                findings.push(Rule::ConflictingTxn, row.into(), detail);
            }
        }
    }
}

/// Per program: the debits left after dropping copies, and the conflicting (held) ones. One
/// pass over the rows in file order, apart from the shards: an independent count that
/// conservation compares with what the card walk settled and held.
fn tally(rows: &Table<Debit<'_>>, status: &[Status], programs: usize, threads: usize) -> Vec<Tally> {
    let parts = parallel::map(threads, parallel::slices(rows.len(), threads), |(start, end)| {
        let mut tallies = vec![Tally::default(); programs];
        for (row, status) in rows.range(start, end).zip(&status[start..end]) {
            match status {
                Status::Kept => count_debit(&mut tallies, row, false),
                Status::Conflicting => count_debit(&mut tallies, row, true),
                Status::Duplicate => {}
            }
        }
        tallies
    });
    let mut tallies = vec![Tally::default(); programs];
    for part in parts {
        Tally::add_all(&mut tallies, &part);
    }
    tallies
}

/// Counts a debit (not a reversal) left after dropping copies; a conflicting one is held.
fn count_debit(tallies: &mut [Tally], row: &Debit<'_>, conflicting: bool) {
    if row.kind != Kind::Debit {
        return;
    }
    let t = &mut tallies[usize::from(row.program)];
    t.debits += 1;
    t.debits_gross += Sum::from(row.amount);
    if conflicting {
        t.debits_held += 1;
        t.held_gross += Sum::from(row.amount);
    }
}

impl Identity {
    /// For each orphan reversal `(original, card)` whose original is not a row of its card:
    /// why the original cannot be reversed there, seen from the whole file (the end of a
    /// sentence that starts with the original's id). Orphans are few: one sequential scan of
    /// the rows (in parallel slices) finds the first row of each.
    pub(crate) fn explain_orphans(
        &self,
        rows: &Table<Debit<'_>>,
        queries: &[(&[u8], &[u8])],
        threads: usize,
    ) -> Vec<&'static str> {
        if queries.is_empty() {
            return Vec::new();
        }
        let mut asked: shard::Map<&[u8], u32> = shard::map();
        for (txn, _) in queries {
            asked.insert(txn, u32::MAX);
        }
        let asked = &asked;
        let parts = parallel::map(threads, parallel::slices(rows.len(), threads), |(start, end)| {
            let mut first: shard::Map<&[u8], u32> = shard::map();
            for (i, row) in rows.range(start, end).enumerate() {
                if asked.contains_key(row.txn()) {
                    first.entry(row.txn()).or_insert((start + i) as u32);
                }
            }
            first
        });
        let mut first = asked.clone();
        for part in parts {
            for (txn, i) in part {
                let at = first.get_mut(txn).expect("only asked ids are found");
                *at = (*at).min(i);
            }
        }
        queries.iter().map(|&(txn, card)| self.why_not(rows, card, first[txn])).collect()
    }

    fn why_not(&self, rows: &Table<Debit<'_>>, card: &[u8], first: u32) -> &'static str {
        let Some(row) = rows.get(first as usize) else {
            return "is not in debits.csv";
        };
        if self.status[first as usize] == Status::Conflicting {
            "is in conflict"
        } else if row.kind == Kind::Reversal {
            "is a reversal, not a debit"
        } else if row.card() != card {
            "is a debit of another card"
        } else {
            "cannot be reversed here"
        }
    }
}
