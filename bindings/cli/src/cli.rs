//! The commands: `reconcile`, `demo` and `generate`, their flags, and how each failure maps
//! to an exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use harmoni::{Inputs, Observer, Options, Report, Rulebook, Source, Stage};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit;

const EXIT_CODES: &str = "\
Exit codes:
  0    success (findings do not change it)
  2    usage error (unknown command or flag, missing or bad value)
  3    input error (a file cannot be read, bad rulebook, unusable CSV file, bad row with --strict, a limit)
  4    output error (the output folder exists and is not empty, or cannot be written)
  5    internal error (a bug in harmoni: please report it)
  130  cancelled (Ctrl-C); no output folder is left behind";

/// Settlement and fraud checks for multi-program social-aid cards.
#[derive(Debug, Parser)]
#[command(name = "harmoni", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile one cycle and write the report folder.
    #[command(after_help = EXIT_CODES)]
    Reconcile(ReconcileArgs),
    /// Reconcile the demo data built into the binary (a Kediri-like city, August 2022).
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// Write a synthetic data set (rulebook.json, allocations.csv, debits.csv, merchants.csv).
    #[command(after_help = EXIT_CODES)]
    Generate(GenerateArgs),
}

/// Flags of `harmoni reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The rulebook (JSON): programs and the rules' thresholds.
    #[arg(long, value_name = "FILE")]
    pub rulebook: PathBuf,
    /// allocations.csv: what each card may spend, per program and period.
    #[arg(long, value_name = "FILE")]
    pub allocations: PathBuf,
    /// debits.csv: the cycle's debits and reversals.
    #[arg(long, value_name = "FILE")]
    pub debits: PathBuf,
    /// merchants.csv: the programs each merchant is registered for (without it, none is).
    #[arg(long, value_name = "FILE")]
    pub merchants: Option<PathBuf>,
    /// --out, --threads, --replace.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Stop at the first bad row (exit code 3) instead of listing it in rejects.csv.
    #[arg(long)]
    pub strict: bool,
}

/// Where the report goes and how the run is made.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The report folder to create (it must not exist, or be empty, unless --replace).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Threads to use (0: every core). The report is the same whatever the number.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Replace DIR when it exists and is not empty.
    #[arg(long)]
    pub replace: bool,
}

/// Flags of `harmoni demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Also write the report folder here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Threads to use (0: every core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Replace DIR when it exists and is not empty.
    #[arg(long)]
    pub replace: bool,
}

/// Flags of `harmoni generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Cards (holders) to generate.
    #[arg(long, value_name = "N")]
    pub cards: u64,
    /// Rows of debits.csv, exactly (debits, reversals and the injected anomalies).
    #[arg(long, value_name = "M")]
    pub debits: u64,
    /// The seed: the same flags give the same bytes, whatever the number of threads.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Programs, comma-separated, from BPNTD, YATIM, ABH, ASLUT, DISABILITAS
    /// [default: BPNTD,YATIM,ASLUT,DISABILITAS].
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub programs: Vec<String>,
    /// The folder to create for the four files.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Threads to use (0: every core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Replace DIR when it exists and is not empty.
    #[arg(long)]
    pub replace: bool,
}

/// A failed command: its exit code and the line for stderr.
#[derive(Debug)]
pub struct Failure {
    /// One of [`crate::exit`].
    pub code: u8,
    /// What went wrong, for a person.
    pub message: String,
}

impl Failure {
    /// A core error while reading or reconciling (`writing == false`) or while writing the
    /// report folder.
    pub fn from_core(error: &harmoni::Error, writing: bool) -> Failure {
        use harmoni::Error as E;
        let code = match error {
            E::Io { .. } if writing => exit::OUTPUT,
            E::Io { .. } | E::Rulebook { .. } | E::File { .. } | E::BadRow { .. } | E::Limit { .. } => exit::INPUT,
            E::Output { .. } => exit::OUTPUT,
            E::Cancelled => exit::CANCELLED,
            E::Internal(_) => exit::INTERNAL,
        };
        Failure { code, message: error.to_string() }
    }

    fn cancelled() -> Failure {
        Failure::from_core(&harmoni::Error::Cancelled, false)
    }
}

/// Runs a parsed command line. `cancel` is set by the Ctrl-C handler. Prints the summary on
/// stdout; returns the failure, if any, for the caller to print and exit with.
pub fn run(cli: Cli, cancel: &Arc<AtomicBool>) -> Result<(), Failure> {
    match cli.command {
        Command::Reconcile(args) => reconcile(&args, cancel),
        Command::Demo(args) => demo(&args, cancel),
        Command::Generate(args) => generate(&args, cancel),
    }
}

fn reconcile(args: &ReconcileArgs, cancel: &Arc<AtomicBool>) -> Result<(), Failure> {
    let input = |e: harmoni::Error| Failure::from_core(&e, false);
    let rulebook = Rulebook::from_path(&args.rulebook).map_err(input)?;
    let inputs = Inputs {
        allocations: Source::from_path(&args.allocations).map_err(input)?,
        debits: Source::from_path(&args.debits).map_err(input)?,
        merchants: args.merchants.as_ref().map(Source::from_path).transpose().map_err(input)?,
    };
    let o = &args.output;
    // A folder in the way is told before the run, not after it (`write` checks again).
    Report::check_folder(&o.out, o.replace).map_err(|e| Failure::from_core(&e, true))?;
    let report = run_engine(&rulebook, &inputs, o.threads, args.strict, cancel)?;
    finish(&report, Some((&o.out, o.replace)), cancel)
}

fn demo(args: &DemoArgs, cancel: &Arc<AtomicBool>) -> Result<(), Failure> {
    if let Some(dir) = &args.out {
        Report::check_folder(dir, args.replace).map_err(|e| Failure::from_core(&e, true))?;
    }
    let report = run_engine(&crate::demo::rulebook(), &crate::demo::inputs(), args.threads, false, cancel)?;
    finish(&report, args.out.as_deref().map(|dir| (dir, args.replace)), cancel)
}

/// Writes the folder (unless cancelled) and prints the summary.
fn finish(report: &Report, out: Option<(&Path, bool)>, cancel: &AtomicBool) -> Result<(), Failure> {
    if cancel.load(Ordering::SeqCst) {
        return Err(Failure::cancelled());
    }
    if let Some((dir, replace)) = out {
        report.write(dir, replace).map_err(|e| Failure::from_core(&e, true))?;
    }
    say(&crate::summary::render(report, out.map(|o| o.0)));
    Ok(())
}

/// Prints to stdout; a reader that went away (`harmoni demo | head`) is not an error.
fn say(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn run_engine(
    rulebook: &Rulebook,
    inputs: &Inputs,
    threads: usize,
    strict: bool,
    cancel: &Arc<AtomicBool>,
) -> Result<Report, Failure> {
    if cancel.load(Ordering::SeqCst) {
        return Err(Failure::cancelled());
    }
    let watch = Arc::new(Watch::new(Arc::clone(cancel)));
    let options = Options { threads, strict, observer: Some(watch.clone()) };
    let result = harmoni::reconcile(rulebook, inputs, &options);
    watch.done();
    result.map_err(|e| Failure::from_core(&e, false))
}

/// Shows the stage on stderr (when it is a terminal) and tells the engine about Ctrl-C.
struct Watch {
    cancel: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
}

impl Watch {
    fn new(cancel: Arc<AtomicBool>) -> Watch {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(Stage::ALL.len() as u64);
            let style = ProgressStyle::with_template("{spinner} reconciling [{pos}/{len}] {msg} ({elapsed})")
                .expect("the template is valid");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Watch { cancel, bar }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Watch {
    fn stage(&self, stage: Stage) {
        if let Some(bar) = &self.bar {
            let position = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
            bar.set_position(position as u64 + 1);
            bar.set_message(stage.as_str());
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

fn generate(args: &GenerateArgs, cancel: &Arc<AtomicBool>) -> Result<(), Failure> {
    use crate::generate::{self, Config, Error};
    let config = Config {
        cards: args.cards,
        debits: args.debits,
        seed: args.seed,
        programs: args.programs.clone(),
        threads: args.threads,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("generating [{bar:30}] {pos}/{len} chunks of cards ({elapsed})")
            .expect("the template is valid");
        bar.set_style(style.progress_chars("=> "));
        bar
    });
    let progress = |done: u64, all: u64| {
        if let Some(bar) = &bar {
            bar.set_length(all);
            bar.set_position(done);
        }
    };
    let started = Instant::now();
    let result = generate::write(&config, &args.out, args.replace, cancel, &progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let written = result.map_err(|e| {
        let code = match e {
            Error::Invalid(_) => exit::USAGE,
            Error::Exists(_) | Error::Io { .. } => exit::OUTPUT,
            Error::Cancelled => exit::CANCELLED,
        };
        Failure { code, message: e.to_string() }
    })?;
    let mut text = format!(
        "Wrote {} in {:.1} s: {} cards, {} rows of debits.csv, seed {}\n",
        args.out.display(),
        started.elapsed().as_secs_f64(),
        args.cards,
        args.debits,
        args.seed
    );
    for (name, bytes) in &written.files {
        text.push_str(&format!("  {name:<16} {bytes:>14} bytes\n"));
    }
    say(&text);
    Ok(())
}
