//! `BULK_DRAIN` (rule 4): many cards emptied at one terminal within a window.
//!
//! Drains come from the balance walk (settled debits of at least `drain_ratio` of their
//! available balance). A drain is flagged when some window of `window_seconds` containing it
//! holds drains of at least `min_cards` distinct cards at its terminal. A window can always
//! be slid right until it starts at a drain without losing any, so only windows starting at
//! a drain are tried: one pass per terminal with two pointers.

use crate::cards::Drain;
use crate::finding::{FoundList, RowId, Rule};
use crate::parallel;
use crate::rulebook::Rulebook;
use crate::shard;

/// Findings of `BULK_DRAIN` over all drains.
pub(crate) fn bulk_drain<'a>(rulebook: &Rulebook, drains: &[Drain<'a>], threads: usize) -> FoundList {
    let shards = shard::partition(threads, drains.len(), |i| Some(drains[i].terminal));
    let found = parallel::map(threads, shards, |ids| {
        let mut ids = ids.rows();
        ids.sort_unstable_by(|&a, &b| {
            let (x, y) = (&drains[a as usize], &drains[b as usize]);
            (x.terminal, x.instant, x.card, x.txn).cmp(&(y.terminal, y.instant, y.card, y.txn))
        });
        let mut findings = FoundList::default();
        for group in ids.chunk_by(|&a, &b| drains[a as usize].terminal == drains[b as usize].terminal) {
            let at_terminal: Vec<&Drain<'a>> = group.iter().map(|&i| &drains[i as usize]).collect();
            for k in flagged(rulebook, &at_terminal) {
                let d = at_terminal[k];
                let terminal = String::from_utf8_lossy(d.terminal);
                let (cards, window) = (rulebook.bulk_drain_min_cards, rulebook.bulk_drain_window_seconds);
                let row = RowId { txn: d.txn, card: d.card, program: d.program, line: d.line };
                let detail =
                    format_args!("terminal {terminal} emptied cards of at least {cards} holders within {window} s");
                findings.push(Rule::BulkDrain, row, detail);
            }
        }
        findings
    });
    FoundList::gather(found)
}

/// Indices of the drains (of one terminal, by instant) that lie in a busy window.
fn flagged(rulebook: &Rulebook, drains: &[&Drain<'_>]) -> Vec<usize> {
    let mut cards: crate::shard::Map<&[u8], u32> = crate::shard::map();
    let mut out = Vec::new();
    let (mut end, mut flagged_to) = (0, 0);
    for start in 0..drains.len() {
        let until = drains[start].instant.plus_seconds(rulebook.bulk_drain_window_seconds);
        while end < drains.len() && drains[end].instant <= until {
            *cards.entry(drains[end].card).or_default() += 1;
            end += 1;
        }
        if cards.len() as u64 >= rulebook.bulk_drain_min_cards {
            out.extend(flagged_to.max(start)..end);
            flagged_to = flagged_to.max(end);
        }
        let card = drains[start].card;
        let count = cards.get_mut(card).expect("the window holds its first drain");
        *count -= 1;
        if *count == 0 {
            cards.remove(card);
        }
    }
    out
}
