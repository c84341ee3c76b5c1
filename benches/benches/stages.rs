//! Each hot stage of a run alone, at 1 million debits against 100,000 cards (set
//! `HARMONI_BENCH_DEBITS=n` for n debits against n/10 cards): parsing each file, identity,
//! the card stage (checks, balance walk and review rules, fused per card), bulk drain,
//! beneficiaries, assembling the report, and rendering the five files.
//!
//! Every stage runs on its input prepared outside the timed region, and its output is
//! dropped outside it too. All stages run on 1 thread (the cost per core); parsing and the
//! card stage, the two biggest, also on 2. Throughput is in bytes for parsing, and in rows
//! for the others: the rows each stage takes in (debits and allocations for the card stage,
//! drains for bulk drain, kept allocations for beneficiaries) or puts out (findings,
//! settlement, balances and rejects for the report and its files).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use harmoni::stages::{self, Arenas, File, Parsed};

/// Debits when `HARMONI_BENCH_DEBITS` is not set.
const DEBITS_DEFAULT: u64 = 1_000_000;

/// The number of debits to bench at.
fn debits() -> u64 {
    match std::env::var("HARMONI_BENCH_DEBITS") {
        Ok(text) => text.parse().expect("HARMONI_BENCH_DEBITS is a number of debits"),
        Err(_) => DEBITS_DEFAULT,
    }
}

/// A group of 10 samples (a stage at 1 million debits takes up to seconds).
fn new_group<'c>(c: &'c mut Criterion, name: &str, throughput: Throughput) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).throughput(throughput);
    group
}

/// Runs `routine` on a fresh input from `setup` each iteration; only `routine` is timed.
fn timed<I, O>(b: &mut criterion::Bencher<'_>, setup: impl FnMut() -> I, routine: impl FnMut(I) -> O) {
    b.iter_batched(setup, routine, BatchSize::PerIteration);
}

fn stages(c: &mut Criterion) {
    let debits = debits();
    let cycle = harmoni_benches::cycle((debits / 10).max(1), debits);
    let (rulebook, inputs) = (&cycle.rulebook, &cycle.inputs);
    let id = |threads: usize| BenchmarkId::new(format!("threads_{threads}"), debits);

    for file in File::ALL {
        let bytes = file.len(inputs) as u64;
        let mut group = new_group(c, &format!("parse_{}", file.as_str()), Throughput::Bytes(bytes));
        for threads in [1, 2] {
            // Rows borrow their arenas, so criterion's batching cannot hold them: time by hand.
            group.bench_function(id(threads), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let mut arenas = Arenas::default();
                        let start = Instant::now();
                        let rows =
                            stages::parse(rulebook, inputs, file, &mut arenas, threads).expect("the file parses");
                        spent += start.elapsed();
                        drop(black_box(rows));
                    }
                    spent
                })
            });
        }
        group.finish();
    }

    let mut arenas = Arenas::default();
    let parsed = Parsed::new(rulebook, inputs, &mut arenas, 2).expect("the cycle parses");

    let mut group = new_group(c, "identity", Throughput::Elements(parsed.debits() as u64));
    group.bench_function(id(1), |b| timed(b, || (), |()| parsed.identity(1)));
    group.finish();

    let rows = (parsed.debits() + parsed.allocations()) as u64;
    let mut group = new_group(c, "cards", Throughput::Elements(rows));
    for threads in [1, 2] {
        group.bench_function(id(threads), |b| {
            timed(b, || parsed.identity(2), |identity| parsed.cards(identity, threads).expect("the cards walk"))
        });
    }
    group.finish();

    let mut walked = parsed.cards(parsed.identity(2), 2).expect("the cards walk");
    let mut group = new_group(c, "bulk_drain", Throughput::Elements(walked.drains() as u64));
    group.bench_function(id(1), |b| timed(b, || (), |()| parsed.bulk_drain(&walked, 1)));
    group.finish();

    let mut group = new_group(c, "beneficiaries", Throughput::Elements(walked.allocations_kept() as u64));
    group.bench_function(id(1), |b| timed(b, || (), |()| parsed.beneficiaries(&walked, 1)));
    group.finish();

    walked.add(parsed.bulk_drain(&walked, 2));
    walked.add(parsed.beneficiaries(&walked, 2));
    let report = parsed.clone().assemble(walked.clone(), 2).expect("the cycle reconciles");
    let rows = (report.findings.len() + report.settlement.len() + report.balances.len() + report.rejects.len()) as u64;

    let mut group = new_group(c, "assemble", Throughput::Elements(rows));
    group.bench_function(id(1), |b| {
        timed(
            b,
            || (parsed.clone(), walked.clone()),
            |(parsed, walked)| parsed.assemble(walked, 1).expect("it reconciles"),
        )
    });
    group.finish();

    let mut group = new_group(c, "render_files", Throughput::Elements(rows));
    group.bench_function(id(1), |b| timed(b, || (), |()| report.files()));
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
