//! End to end at 1 million debits against 100,000 cards: CSV bytes in memory to the five
//! output files' bytes, on 1 and 2 threads; and the rendering of the files alone.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harmoni::{reconcile, Options};

fn end_to_end(c: &mut Criterion) {
    let cycle = harmoni_benches::cycle(100_000, 1_000_000);
    let mut group = c.benchmark_group("end_to_end_1m");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(cycle.bytes));
    for threads in [1, 2] {
        group.bench_function(format!("threads_{threads}"), |b| {
            let options = Options { threads, ..Options::default() };
            b.iter(|| {
                let report = reconcile(&cycle.rulebook, &cycle.inputs, &options).expect("the cycle reconciles");
                report.files()
            })
        });
    }
    let report = reconcile(&cycle.rulebook, &cycle.inputs, &Options::default()).expect("the cycle reconciles");
    group.bench_function("render_files", |b| b.iter(|| report.files()));
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
