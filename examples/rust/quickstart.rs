//! Reconcile a cycle from files, write the report folder, and print per-program totals: the
//! library's whole public path in one page.
//!
//! ```text
//! cargo run -p harmoni --example quickstart -- RULEBOOK ALLOCATIONS DEBITS [MERCHANTS] OUT
//!
//! cargo run -p harmoni --example quickstart -- \
//!     examples/data/demo/rulebook.json examples/data/demo/allocations.csv \
//!     examples/data/demo/debits.csv examples/data/demo/merchants.csv /tmp/harmoni-report
//! ```

use std::path::Path;
use std::process::ExitCode;

use harmoni::{reconcile, Action, Inputs, Options, Rulebook, Source};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (rulebook, allocations, debits, merchants, out) = match args.as_slice() {
        [r, a, d, out] => (r, a, d, None, out),
        [r, a, d, m, out] => (r, a, d, Some(m), out),
        _ => {
            eprintln!("usage: quickstart RULEBOOK ALLOCATIONS DEBITS [MERCHANTS] OUT");
            return ExitCode::from(2);
        }
    };
    match run(rulebook, allocations, debits, merchants, Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Display names the file, line and column; code() is the stable variant name.
            eprintln!("quickstart: {error} [{}]", error.code());
            ExitCode::FAILURE
        }
    }
}

fn run(rulebook: &str, allocations: &str, debits: &str, merchants: Option<&String>, out: &Path) -> harmoni::Result<()> {
    let rulebook = Rulebook::from_path(rulebook)?;
    let inputs = Inputs {
        allocations: Source::from_path(allocations)?,
        debits: Source::from_path(debits)?,
        merchants: merchants.map(Source::from_path).transpose()?,
    };
    // threads: 0 uses every core; the report is the same whatever the number.
    let report = reconcile(&rulebook, &inputs, &Options::default())?;
    // The folder is written atomically. `true` replaces an earlier run's folder, so the
    // example can be run twice; a service would rather pass `false` and refuse.
    report.write(out, true)?;

    println!("{:<12} {:>16} {:>16} {:>14} {:>16}", "program", "allocated", "settled", "held", "remaining");
    for p in report.summary.programs.iter().chain([&report.summary.totals]) {
        let name = if p.program.is_empty() { "total" } else { &p.program };
        // Money prints exactly, with the rulebook's decimals; as text it can be padded.
        let [allocated, settled, held, remaining] =
            [p.allocated, p.settled, p.held, p.remaining].map(|m| m.to_string());
        println!("{name:<12} {allocated:>16} {settled:>16} {held:>14} {remaining:>16}");
    }
    let held = report.findings.iter().filter(|f| f.action() == Action::Hold).count();
    println!(
        "{} findings ({held} hold), {} rejected rows, {} merchants to pay; report in {}",
        report.findings.len(),
        report.rejects.len(),
        report.settlement.len(),
        out.display()
    );
    Ok(())
}
