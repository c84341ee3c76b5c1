//! The pipeline, stage by stage: ingest (and hash) -> identity -> cards (checks, balance walk,
//! review per card) -> settle (per merchant and program) -> bulk drain -> beneficiaries ->
//! conservation -> report.
//!
//! Every stage works on shards through [`crate::parallel`], and its outcome does not depend on
//! the number of threads or the order of input rows: groups are formed by key, and each
//! group is put in a defined order before any rule looks at it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cards::{self, Ctx, Drain, KeptAllocations, Registry};
use crate::error::{Error, Location};
use crate::finding::{Findings, Found, FoundList, Rule, Subject};
use crate::identity::{self, Status};
use crate::ingest::{self, Allocation, AllocationSpec, Debit, DebitSpec, FileKind, Merchant, MerchantSpec, Parsed};
use crate::money::Money;
use crate::names::Names;
use crate::rejects::Rejects;
use crate::report::{Balances, InputSummary, Report, Settlement, Summary};
use crate::rulebook::{ProgramId, Rulebook};
use crate::settle::{self, SettleAcc};
use crate::shard::{self, prefix};
use crate::source::Source;
use crate::{beneficiary, drain, parallel, summary};

/// The input files of one cycle.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// allocations.csv
    pub allocations: Source,
    /// debits.csv
    pub debits: Source,
    /// merchants.csv, when there is one (without it no merchant is registered for anything).
    pub merchants: Option<Source>,
}

/// A stage of the run, as told to an [`Observer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Reading and checking the CSV files (and hashing them).
    Ingest,
    /// Rule 1: duplicate and conflicting transactions.
    Identity,
    /// Rules 2 to 4 per card: checks, the balance walk, near duplicates and velocity; then
    /// settlement per merchant and program.
    Cards,
    /// `BULK_DRAIN` per terminal.
    BulkDrain,
    /// Rule 5 on allocations.
    Beneficiaries,
    /// Conservation, and the report.
    Report,
}

impl Stage {
    /// Every stage, in run order.
    pub const ALL: [Stage; 6] =
        [Stage::Ingest, Stage::Identity, Stage::Cards, Stage::BulkDrain, Stage::Beneficiaries, Stage::Report];

    /// A short name for a person.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "reading files",
            Stage::Identity => "identity",
            Stage::Cards => "cards",
            Stage::BulkDrain => "bulk drain",
            Stage::Beneficiaries => "beneficiaries",
            Stage::Report => "report",
        }
    }
}

/// Watches a run: told each stage as it starts, asked whether to stop.
pub trait Observer: Send + Sync {
    /// A stage starts.
    fn stage(&self, _stage: Stage) {}
    /// Should the run stop? Asked between stages; a yes ends the run with
    /// [`Error::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// How to run.
#[derive(Clone, Default)]
pub struct Options {
    /// Threads to use; 0 means every core. The report is the same whatever the number. With
    /// more than one, one more thread hashes the input files while they are parsed. (Not
    /// counted here: `Report::write` and `Report::files` render balances.csv on up to 4
    /// cores.)
    pub threads: usize,
    /// Stop at the first bad row (as an [`Error::BadRow`]) instead of rejecting it.
    pub strict: bool,
    /// Told about progress, asked about cancellation.
    pub observer: Option<Arc<dyn Observer>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("threads", &self.threads)
            .field("strict", &self.strict)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Options {
    fn enter(&self, stage: Stage) -> Result<(), Error> {
        if let Some(observer) = &self.observer {
            if observer.cancelled() {
                return Err(Error::Cancelled);
            }
            observer.stage(stage);
        }
        Ok(())
    }
}

/// Reconciles one cycle: every rule of SPEC over the inputs, settlement, and the report.
pub fn reconcile(rulebook: &Rulebook, inputs: &Inputs, options: &Options) -> Result<Report, Error> {
    let threads = parallel::threads(options.threads);
    options.enter(Stage::Ingest)?;
    let mut arenas: [Vec<bumpalo::Bump>; 3] = Default::default();
    let ingested = ingest_all(rulebook, inputs, options.strict, threads, &mut arenas)?;
    let registry = registry(ingested.merchants.as_ref(), &ingested.debits.names);

    options.enter(Stage::Identity)?;
    let identity = identity::debits(&ingested.debits.rows, rulebook.programs.len(), threads);

    options.enter(Stage::Cards)?;
    let mut walked = walk_cards(rulebook, &registry, &ingested, identity, threads)?;

    options.enter(Stage::BulkDrain)?;
    walked.found.append(drain::bulk_drain(rulebook, &walked.drains, threads));

    options.enter(Stage::Beneficiaries)?;
    walked.found.append(beneficiary::duplicates(rulebook, &walked.balances, threads));

    options.enter(Stage::Report)?;
    assemble(rulebook, ingested, walked, threads)
}

/// The three files, parsed, and every rejected row (sorted by file and line).
#[derive(Clone)]
pub(crate) struct Ingested<'a> {
    pub(crate) allocations: Parsed<'a, Allocation<'a>>,
    pub(crate) debits: Parsed<'a, Debit<'a>>,
    pub(crate) merchants: Option<Parsed<'a, Merchant<'a>>>,
    rejects: Rejects,
    /// SHA-256 of allocations.csv, debits.csv and merchants.csv (when given), in that order.
    digests: Vec<String>,
}

/// What the card stage produced, merged over shards.
#[derive(Clone)]
pub(crate) struct Walked<'a> {
    pub(crate) found: FoundList,
    tallies: Vec<summary::Tally>,
    pub(crate) drains: Vec<Drain<'a>>,
    /// Kept allocations with what is left of them, batch after batch, each in balance order.
    pub(crate) balances: KeptAllocations<'a>,
    /// Per batch, the heads of its balances' cards ([`cards::ShardOut::heads`]).
    balance_heads: Vec<Vec<u128>>,
    /// Per (merchant, program) with a settled debit, in `merchant_id` then program order.
    settlement: Vec<(&'a [u8], ProgramId, SettleAcc)>,
}

/// Parses the three files and hashes them; in strict mode the first bad row is an error.
pub(crate) fn ingest_all<'a>(
    rulebook: &Rulebook,
    inputs: &'a Inputs,
    strict: bool,
    threads: usize,
    arenas: &'a mut [Vec<bumpalo::Bump>; 3],
) -> Result<Ingested<'a>, Error> {
    // SHA-256 cannot be split, so the files are hashed on a thread of their own while the
    // parser's threads work, rather than later with all but one thread idle.
    let mut files = vec![&inputs.allocations, &inputs.debits];
    files.extend(&inputs.merchants);
    let (parsed, digests) = parallel::join(
        threads,
        || parse_all(rulebook, inputs, strict, threads, arenas),
        || files.iter().map(|file| file.text().sha256_hex()).collect::<Result<Vec<_>, _>>(),
    );
    // Files opened by path were read while they were parsed and hashed: one version of each
    // (checked first, so that a file changed midway is told as such, not as what its mix of
    // versions looked like).
    for file in files {
        file.text().unchanged()?;
    }
    let (parsed, digests) = (parsed?, digests?);
    Ok(Ingested { digests, ..parsed })
}

/// [`ingest_all`] but for the digests.
fn parse_all<'a>(
    rulebook: &Rulebook,
    inputs: &'a Inputs,
    strict: bool,
    threads: usize,
    arenas: &'a mut [Vec<bumpalo::Bump>; 3],
) -> Result<Ingested<'a>, Error> {
    let [allocation_arena, debit_arena, merchant_arena] = arenas;
    let (a, d) = (&inputs.allocations, &inputs.debits);
    let (allocations, mut rejects) =
        ingest::parse_file(&AllocationSpec(rulebook), a.name(), a.text(), allocation_arena, threads)?;
    let (debits, debit_rejects) = ingest::parse_file(&DebitSpec(rulebook), d.name(), d.text(), debit_arena, threads)?;
    rejects.append(debit_rejects);
    let merchants = match &inputs.merchants {
        Some(m) => {
            let (merchants, merchant_rejects) =
                ingest::parse_file(&MerchantSpec(rulebook), m.name(), m.text(), merchant_arena, threads)?;
            rejects.append(merchant_rejects);
            Some(merchants)
        }
        None => None,
    };
    let rejects = rejects.finish();
    if let (true, Some((kind, first))) = (strict, rejects.first_of_kind()) {
        let source = match kind {
            FileKind::Allocations => a,
            FileKind::Debits => d,
            FileKind::Merchants => inputs.merchants.as_ref().expect("a merchants reject has a file"),
        };
        let at = Location {
            file: source.name().to_owned(),
            line: Some(first.line),
            column: (!first.column.is_empty()).then(|| first.column.to_owned()),
        };
        return Err(Error::BadRow { at, reason: first.reason.to_owned() });
    }
    Ok(Ingested { allocations, debits, merchants, rejects, digests: Vec::new() })
}

/// The programs each merchant of debits.csv (`names`) is registered for: the union of its
/// rows in merchants.csv.
pub(crate) fn registry(merchants: Option<&Parsed<'_, Merchant<'_>>>, names: &Names<'_>) -> Registry {
    let mut registered: crate::shard::Map<&[u8], Vec<ProgramId>> = crate::shard::map();
    for m in merchants.iter().flat_map(|m| m.rows.iter()) {
        registered.entry(m.merchant).or_default().extend(&m.programs);
    }
    Registry::new(names.iter().map(|name| {
        let mut programs = registered.remove(name).unwrap_or_default();
        programs.sort_unstable();
        programs.dedup();
        programs
    }))
}

/// Rules 2 to 4 per card, on shards of cards; orphan reversals explained from the whole file.
pub(crate) fn walk_cards<'a>(
    rulebook: &Rulebook,
    registry: &Registry,
    ingested: &Ingested<'a>,
    identity: identity::Identity,
    threads: usize,
) -> Result<Walked<'a>, Error> {
    let (debits, allocations) = (&ingested.debits.rows, &ingested.allocations.rows);
    let debit_shards = shard::partition_headed(threads, debits.len(), |i| {
        (identity.status[i] == Status::Kept).then_some(debits[i].card())
    });
    let allocation_shards = shard::partition_headed(threads, allocations.len(), |i| Some(allocations[i].card()));
    let ctx = Ctx { rulebook, registry, merchants: &ingested.debits.names };
    let shards: Vec<_> = debit_shards.into_iter().zip(allocation_shards).collect();
    // A few batches of shards per thread, each worked into one output: a hostile file's
    // findings then sit in a few large lists that `FoundList::gather` moves, rather than in
    // 256 small ones it would copy, whose freed memory the allocator keeps.
    let batches = parallel::batches(shards, threads.saturating_mul(4));
    let (merchants, programs) = (ctx.merchants.len(), rulebook.programs.len());
    let rows: usize = batches.iter().flatten().map(|(debit_ids, _)| debit_ids.len()).sum();
    // Settlement sums are kept per thread, not per batch: a thread's table then has room for
    // the rows of all the batches it works ([`settle::Sums::new`]), however many threads.
    let (outs, settled) = parallel::map_with(
        threads,
        batches,
        |workers| settle::Sums::new(merchants, programs, rows / workers.max(1)),
        |sums, batch| {
            let mut out = cards::ShardOut::new(programs);
            for (debit_ids, allocation_ids) in batch {
                cards::shard(&ctx, debits, debit_ids, allocations, allocation_ids, &mut out, sums)?;
            }
            out.finish();
            Ok(out)
        },
    );
    let mut outs = outs.into_iter().collect::<Result<Vec<_>, Error>>()?;
    let orphans: Vec<(usize, usize)> =
        outs.iter().enumerate().flat_map(|(s, out)| out.orphans.iter().map(move |&(k, ..)| (s, k))).collect();
    let queries: Vec<(&[u8], &[u8])> =
        outs.iter().flat_map(|out| out.orphans.iter().map(|&(_, original, card)| (original, card))).collect();
    let whys = identity.explain_orphans(debits, &queries, threads);
    for (((s, k), (original, _)), why) in orphans.into_iter().zip(&queries).zip(whys) {
        let original = String::from_utf8_lossy(original);
        outs[s].findings.set_detail(k, format_args!("original {original} {why}"));
    }
    let mut found = vec![identity.findings];
    found.extend(outs.iter_mut().map(|out| std::mem::take(&mut out.findings)));
    let mut walked = Walked {
        found: FoundList::gather(found),
        tallies: identity.tallies,
        drains: Vec::new(),
        balances: KeptAllocations::default(),
        balance_heads: Vec::with_capacity(outs.len()),
        settlement: Vec::new(),
    };
    let mut balances = Vec::with_capacity(outs.len());
    for out in outs {
        summary::Tally::add_all(&mut walked.tallies, &out.tallies);
        walked.drains.extend(out.drains);
        balances.push(out.balances);
        walked.balance_heads.push(out.heads);
    }
    walked.balances = KeptAllocations::new(balances);
    walked.settlement = settle::settlement(settled, &ingested.debits.names, threads);
    Ok(walked)
}

/// An id as text ([`crate::rows::push_id`]: as it is, or lossily for anything but checked ASCII).
fn text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    crate::rows::push_id(&mut text, bytes);
    text
}

/// Conservation, and the report's rows in SPEC order (settlement was summed with the cards).
pub(crate) fn assemble(
    rulebook: &Rulebook,
    mut ingested: Ingested<'_>,
    mut walked: Walked<'_>,
    threads: usize,
) -> Result<Report, Error> {
    // The parsed debits are done with: freed before the report's rows are made, so that the
    // two are never held at once (at 10M debits, sampled RSS showed that moment as the run's
    // peak while the 1.4 GB of parsed debits were held).
    let inputs_summary = input_summaries(&ingested);
    drop(std::mem::take(&mut ingested.debits.rows));
    let scale = rulebook.currency_scale;
    let code = |id: ProgramId| rulebook.program(id).code().to_owned();
    let settlement: Vec<Settlement> = walked
        .settlement
        .into_iter()
        .map(|(merchant, program, acc)| Settlement {
            merchant_id: text(merchant),
            program: code(program),
            amount: Money::new(acc.gross - acc.reversed, scale),
            debits: acc.debits,
            reversals: acc.reversals,
        })
        .collect();
    let counts = finding_counts(rulebook, &walked.found.rows);
    let (programs, totals) = summary::summarize(rulebook, &walked.tallies, &settlement, &counts)?;
    let codes: Vec<Box<str>> = rulebook.programs.iter().map(|p| Box::from(p.code())).collect();
    let findings = findings_in_order(walked.found, codes.clone());
    debug_assert!(findings.iter().zip(findings.iter().skip(1)).all(|(x, y)| x.sort_key() <= y.sort_key()));
    let heads = std::mem::take(&mut walked.balance_heads);
    let balances = balance_rows(&walked.balances, heads, codes, scale, threads);
    drop(walked.balances);
    let summary = Summary {
        currency_scale: scale,
        programs,
        totals,
        inputs: inputs_summary,
        rulebook_sha256: rulebook.sha256.clone(),
    };
    Ok(Report { summary, findings, settlement, balances, rejects: ingested.rejects })
}

/// Findings per program and rule code (only codes that fired).
fn finding_counts(rulebook: &Rulebook, found: &[Found]) -> Vec<BTreeMap<String, u64>> {
    let mut counts = vec![[0u64; Rule::ALL.len()]; rulebook.programs.len()];
    for f in found {
        counts[usize::from(f.program)][f.rule as usize] += 1;
    }
    counts
        .iter()
        .map(|per_rule| {
            Rule::ALL
                .iter()
                .filter(|r| per_rule[**r as usize] > 0)
                .map(|r| (r.as_str().to_owned(), per_rule[*r as usize]))
                .collect()
        })
        .collect()
}

/// Kept allocations in SPEC order: (card_id, program), then draw order. Each batch of the
/// card stage is already in that order ([`cards::ShardOut::finish`]), so sorting their
/// positions beside the heads it kept ([`cards::merged_balance_keys`]) merges a few sorted
/// runs. Reading the rows in merged order reads each batch front to back. The rows are then
/// packed on every thread, a slice of the order each, and the slices put end to end.
fn balance_rows(
    kept: &KeptAllocations<'_>,
    heads: Vec<Vec<u128>>,
    programs: Vec<Box<str>>,
    scale: u32,
    threads: usize,
) -> Balances {
    debug_assert_eq!(heads.iter().map(Vec::len).sum::<usize>(), kept.len(), "a head per kept allocation");
    let order = cards::merged_balance_keys(&heads, |i| &kept[i].0);
    // Only the keys needed them (16 bytes a balance): freed before the rows are packed.
    drop(heads);
    let parts = parallel::map(threads, parallel::slices(order.len(), threads), |(start, end)| {
        let mut part = Balances::new(programs.clone(), scale);
        for &(head, i) in &order[start..end] {
            let (a, remaining) = kept[i as usize];
            // A card id of at most 16 bytes is the start of its head ([`prefix`]), so
            // it is copied from there, not read from its row's arena (a cache miss a row).
            let head = head.to_be_bytes();
            let card = match a.card() {
                card if card.len() <= head.len() => &head[..card.len()],
                card => card,
            };
            debug_assert_eq!(card, a.card());
            part.push(card, a.program, (a.valid_from, a.valid_to), a.amount, remaining);
        }
        part
    });
    Balances::concat(parts).unwrap_or_else(|| Balances::new(programs, scale))
}

/// Rows read and rejected, and the SHA-256, of each input file.
fn input_summaries(ingested: &Ingested<'_>) -> Vec<InputSummary> {
    let mut files: Vec<(FileKind, u64)> =
        vec![(FileKind::Allocations, ingested.allocations.rows_read), (FileKind::Debits, ingested.debits.rows_read)];
    files.extend(ingested.merchants.as_ref().map(|m| (FileKind::Merchants, m.rows_read)));
    files
        .iter()
        .zip(&ingested.digests)
        .map(|(&(kind, rows_read), sha256)| InputSummary {
            file: kind.name().to_owned(),
            rows_read,
            rows_rejected: ingested.rejects.count(kind),
            sha256: sha256.clone(),
        })
        .collect()
}

/// The findings in SPEC order of findings.csv: (subject, card_id, program, txn_id, rule
/// code, line), packed. The sort moves 16 bytes per finding, a key that never decreases as
/// (subject, card_id) increases (the subject and the card's first 63 bits); each run of
/// equal keys (one card, or cards sharing their first 8 bytes) is then sorted on the rest. The
/// details stay where they were written: a hostile file's findings are most of a run's
/// memory, and must not be held twice.
fn findings_in_order(list: FoundList, programs: Vec<Box<str>>) -> Findings {
    let mut rank = [0u8; Rule::ALL.len()];
    let mut by_name = Rule::ALL;
    by_name.sort_by_key(|r| r.as_str());
    for (i, r) in by_name.iter().enumerate() {
        rank[*r as usize] = i as u8;
    }
    let key = |f: &Found| {
        let card = list.ids(f).1.as_bytes();
        u64::from(f.rule.subject() == Subject::Debit) << 63 | (prefix(card) >> 65) as u64
    };
    let mut order: Vec<(u64, usize)> = list.rows.iter().enumerate().map(|(i, f)| (key(f), i)).collect();
    order.sort_unstable();
    let full = |i: usize| {
        let f = &list.rows[i];
        let (txn, card) = list.ids(f);
        (card, f.program, prefix(txn.as_bytes()), txn, rank[f.rule as usize], f.line)
    };
    let compare = |x: usize, y: usize| {
        let (fx, fy) = (&list.rows[x], &list.rows[y]);
        let ((tx, cx), (ty, cy)) = (list.ids(fx), list.ids(fy));
        (cx, fx.program)
            .cmp(&(cy, fy.program))
            .then_with(|| tx.cmp(ty))
            .then_with(|| (rank[fx.rule as usize], fx.line).cmp(&(rank[fy.rule as usize], fy.line)))
    };
    // A run is sorted on keys made once (a few dozen bytes each) unless it is more than a
    // quarter of all findings (card ids sharing their first bytes): then on keys compared as
    // they are read, so that no run holds a second copy of the findings.
    let cached = (order.len() / 4).max(4096);
    for run in order.chunk_by_mut(|x, y| x.0 == y.0).filter(|run| run.len() > 1) {
        if run.len() <= cached {
            run.sort_by_cached_key(|&(_, i)| full(i));
        } else {
            run.sort_unstable_by(|&(_, x), &(_, y)| compare(x, y));
        }
    }
    let order = order.into_iter().map(|(_, i)| i).collect();
    Findings::new(list, order, programs)
}
