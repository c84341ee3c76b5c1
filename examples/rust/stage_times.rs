//! Times each stage of a run (through the `Observer`), for profiling.
//!
//! cargo run --release -p harmoni --example stage_times -- DIR [THREADS]
//!
//! DIR holds rulebook.json, allocations.csv, debits.csv and merchants.csv (for example from
//! `harmoni generate`); THREADS defaults to every core.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harmoni::{Inputs, Observer, Options, Rulebook, Source, Stage};

/// Prints how long the previous stage took whenever a new one starts.
struct StageTimer(Mutex<Option<(Stage, Instant)>>);

impl StageTimer {
    fn lap(&self, next: Option<Stage>) {
        let mut current = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((stage, started)) = current.take() {
            println!("  {:<14} {:>8.1} ms", stage.as_str(), millis(started.elapsed()));
        }
        *current = next.map(|s| (s, Instant::now()));
    }
}

impl Observer for StageTimer {
    fn stage(&self, stage: Stage) {
        self.lap(Some(stage));
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: stage_times DIR [THREADS]")?;
    let threads: usize = args.next().map_or(Ok(0), |t| t.parse())?;
    let path = |name: &str| format!("{dir}/{name}");
    let rulebook = Rulebook::from_path(path("rulebook.json"))?;
    let inputs = Inputs {
        allocations: Source::from_path(path("allocations.csv"))?,
        debits: Source::from_path(path("debits.csv"))?,
        merchants: Some(Source::from_path(path("merchants.csv"))?),
    };
    let timer = Arc::new(StageTimer(Mutex::new(None)));
    let started = Instant::now();
    let report = harmoni::reconcile(
        &rulebook,
        &inputs,
        &Options { threads, observer: Some(timer.clone()), ..Options::default() },
    )?;
    timer.lap(None);
    let reconciled = started.elapsed();
    let files = report.files();
    let rendered = started.elapsed() - reconciled;
    println!("  {:<14} {:>8.1} ms", "render files", millis(rendered));
    println!(
        "threads {threads}: {:.1} ms in all, {} findings, {} bytes of output",
        millis(started.elapsed()),
        report.findings.len(),
        files.iter().map(|f| f.bytes.len()).sum::<usize>()
    );
    Ok(())
}
