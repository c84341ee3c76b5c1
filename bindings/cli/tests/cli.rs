//! The command line end to end: the demo fires every rule, the demo files are what the
//! generator writes, generated data is valid input, and the binary's exit codes, folders and
//! messages are as bindings/cli/README.md documents.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use harmoni::{reconcile, Inputs, Options, Report, Rule, Rulebook, Source};
use harmoni_cli::generate::{self, Config, Dataset};
use harmoni_cli::{demo, exit};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/demo")
}

fn harmoni(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harmoni")).args(args).output().expect("the binary runs")
}

fn code(output: &Output) -> u8 {
    u8::try_from(output.status.code().expect("exited with a code")).expect("a code from 0 to 255")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn run(data: &Dataset) -> Report {
    let rulebook = Rulebook::from_json("rulebook.json", &data.rulebook).unwrap();
    let inputs = Inputs {
        allocations: Source::from_bytes("allocations.csv", data.allocations.clone()),
        debits: Source::from_bytes("debits.csv", data.debits.clone()),
        merchants: Some(Source::from_bytes("merchants.csv", data.merchants.clone())),
    };
    reconcile(&rulebook, &inputs, &Options::default()).unwrap()
}

fn missing_rules(report: &Report) -> Vec<&'static str> {
    Rule::ALL.iter().filter(|r| !report.findings.iter().any(|f| f.rule == **r)).map(|r| r.as_str()).collect()
}

/// Every file in `dir`, by name.
fn folder(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_demo_fires_every_rule_and_rejects_a_few_rows_of_each_file() {
    let report = reconcile(&demo::rulebook(), &demo::inputs(), &Options::default()).unwrap();
    assert_eq!(missing_rules(&report), Vec::<&str>::new(), "rules that never fire on the demo");
    for file in ["allocations.csv", "debits.csv", "merchants.csv"] {
        let n = report.rejects.iter().filter(|r| r.file == file).count();
        assert!((1..=5).contains(&n), "{n} rejects in {file}");
    }
    let size = demo::RULEBOOK.len() + demo::ALLOCATIONS.len() + demo::DEBITS.len() + demo::MERCHANTS.len();
    assert!(size < 512 * 1024, "the demo is {size} bytes");
    let summary = harmoni_cli::summary::render(&report, None);
    for rule in Rule::ALL {
        assert!(summary.contains(rule.as_str()), "{rule} is missing from the summary");
    }
}

#[test]
fn the_demo_files_are_what_the_generator_writes() {
    let data = generate::generate(&demo::config()).unwrap();
    // Compared as text so that a difference shows where it is.
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    assert_eq!(text(&data.rulebook), text(demo::RULEBOOK), "rulebook.json");
    assert_eq!(text(&data.merchants), text(demo::MERCHANTS), "merchants.csv");
    assert_eq!(text(&data.allocations), text(demo::ALLOCATIONS), "allocations.csv");
    assert_eq!(text(&data.debits), text(demo::DEBITS), "debits.csv");
}

#[test]
fn generating_depends_on_the_seed_and_not_on_threads() {
    let config = |seed, threads| Config { threads, ..Config::new(9_000, 40_000, seed) };
    let one = generate::generate(&config(5, 1)).unwrap();
    let two = generate::generate(&config(5, 2)).unwrap();
    assert!(one == two, "threads changed the data set");
    let other = generate::generate(&config(6, 2)).unwrap();
    assert_ne!(one.debits, other.debits);
    assert_eq!(one.debits.iter().filter(|&&b| b == b'\n').count(), 40_000 + 1, "exactly --debits rows");
}

#[test]
fn generated_data_is_valid_input_with_every_rule_at_work() {
    let config =
        Config { programs: vec!["BPNTD".into(), "ABH".into(), "ASLUT".into()], ..Config::new(9_000, 60_000, 11) };
    let data = generate::generate(&config).unwrap();
    let report = run(&data);
    assert_eq!(missing_rules(&report), Vec::<&str>::new());
    let debits = report.summary.inputs.iter().find(|i| i.file == "debits.csv").unwrap();
    assert_eq!(debits.rows_read, 60_000);
    // Only the deliberately bad rows are rejected: a few per chunk of 4,096 cards.
    assert!(report.rejects.len() <= 3 * 20, "{} rejects", report.rejects.len());
    let planned = [
        "'",
        "is before",
        "channel 'EDC'",
        "timestamp",
        "unknown program",
        "fields, expected",
        "atc",
        "not a valid date",
    ];
    for reject in &report.rejects {
        assert!(
            planned.iter().any(|p| reject.reason.contains(p)) || reject.column == "beneficiary_id",
            "unplanned reject: {reject:?}"
        );
    }
    // Ordinary spending never overdraws: overdrafts are the planned ones, about 0.05%.
    let overdrafts = report.findings.iter().filter(|f| f.rule == Rule::Overdraft).count();
    assert!(overdrafts <= 60, "{overdrafts} overdrafts");
}

#[test]
fn any_single_program_can_be_generated() {
    for code in generate::PROGRAMS.iter().map(|p| p.code) {
        let config = Config { programs: vec![code.into()], ..Config::new(500, 4_000, 3) };
        let report = run(&generate::generate(&config).unwrap());
        assert_eq!(report.summary.programs.len(), 1);
        assert!(report.findings.iter().any(|f| f.rule == Rule::BulkDrain), "{code}: no bulk drain");
    }
}

#[test]
fn bad_generate_settings_are_refused() {
    let cases = [
        (Config::new(0, 10, 1), "--cards"),
        (Config::new(10, 10_000, 1), "--debits"),
        (Config { programs: vec!["BLT".into()], ..Config::new(10, 10, 1) }, "unknown program 'BLT'"),
        (Config { programs: vec!["ASLUT".into(), "ASLUT".into()], ..Config::new(10, 10, 1) }, "twice"),
    ];
    for (config, expected) in cases {
        let err = generate::generate(&config).unwrap_err();
        assert!(matches!(err, generate::Error::Invalid(_)) && err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn a_cancelled_generate_or_reconcile_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let cancel = AtomicBool::new(true);
    let err = generate::write(&Config::new(10_000, 50_000, 1), &out, false, &cancel, &|_, _| {}).unwrap_err();
    assert!(matches!(err, generate::Error::Cancelled));
    let cli = <harmoni_cli::cli::Cli as clap::Parser>::parse_from(["harmoni", "demo", "--out", out.to_str().unwrap()]);
    let failure = harmoni_cli::cli::run(cli, &Arc::new(AtomicBool::new(true))).unwrap_err();
    assert_eq!(failure.code, exit::CANCELLED);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "something was left behind");
}

#[test]
fn the_binary_demo_writes_what_reconcile_writes_for_the_demo_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let demo_run = harmoni(&["demo", "--out", a.to_str().unwrap()]);
    assert_eq!(code(&demo_run), 0, "{}", stderr(&demo_run));
    let stdout = String::from_utf8(demo_run.stdout).unwrap();
    assert!(stdout.contains("BULK_DRAIN") && stdout.contains("Report written to"), "{stdout}");
    let d = demo_dir();
    let file = |name: &str| d.join(name).to_str().unwrap().to_owned();
    let reconcile_run = harmoni(&[
        "reconcile",
        "--rulebook",
        &file("rulebook.json"),
        "--allocations",
        &file("allocations.csv"),
        "--debits",
        &file("debits.csv"),
        "--merchants",
        &file("merchants.csv"),
        "--out",
        b.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code(&reconcile_run), 0, "{}", stderr(&reconcile_run));
    assert_eq!(folder(&a), folder(&b));
    assert_eq!(folder(&a).len(), 5);
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["reconcile", "--rulebook"][..],
        &["reconcile", "--debits", "d.csv"],
        &["frobnicate"],
        &["demo", "--threads", "many"],
    ] {
        let output = harmoni(args);
        assert_eq!(code(&output), exit::USAGE, "{args:?}: {}", stderr(&output));
    }
    let output = harmoni(&["generate", "--cards", "0", "--debits", "1", "--out", "/nonexistent/x"]);
    assert_eq!(code(&output), exit::USAGE, "{}", stderr(&output));
    let help = harmoni(&["--help"]);
    assert_eq!(code(&help), 0);
    assert!(String::from_utf8_lossy(&help.stdout).contains("130  cancelled"));
}

/// Flags of `reconcile` whose demo file is replaced by another path.
type Swap<'p> = &'p [(&'p str, &'p Path)];

/// Runs `reconcile` on the demo files with some of them swapped; returns the output and
/// whether the output folder exists afterwards.
fn reconcile_demo(swap: Swap<'_>, extra: &[&str]) -> (Output, bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let d = demo_dir();
    let mut args: Vec<String> = vec!["reconcile".into()];
    for (flag, name) in
        [("--rulebook", "rulebook.json"), ("--allocations", "allocations.csv"), ("--debits", "debits.csv")]
    {
        let path = swap.iter().find(|(f, _)| *f == flag).map_or(d.join(name), |(_, p)| p.to_path_buf());
        args.extend([flag.to_owned(), path.to_str().unwrap().to_owned()]);
    }
    args.extend(["--out".to_owned(), out.to_str().unwrap().to_owned()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = Command::new(env!("CARGO_BIN_EXE_harmoni")).args(&args).output().unwrap();
    let exists = out.exists();
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, usize::from(exists), "a temporary folder was left behind");
    (output, exists)
}

#[test]
fn input_errors_exit_with_3_on_one_line_and_leave_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bad_rulebook = dir.path().join("rulebook.json");
    std::fs::write(&bad_rulebook, "{\"programs\": [{\"code\": \"BPNTD\", \"chanels\": [\"pos\"]}]}").unwrap();
    let no_header = dir.path().join("debits.csv");
    std::fs::write(&no_header, "txn_id,card_id\nT1,C1\n").unwrap();
    let missing = dir.path().join("nope.csv");
    let cases: [(Swap<'_>, &[&str], &str); 4] = [
        (&[("--allocations", &missing)], &[], "nope.csv"),
        (&[("--rulebook", &bad_rulebook)], &[], "unknown field `chanels`"),
        (&[("--debits", &no_header)], &[], "missing column"),
        (&[], &["--strict"], "allocations.csv, line"),
    ];
    for (swap, extra, expected) in cases {
        let (output, exists) = reconcile_demo(swap, extra);
        let message = stderr(&output);
        assert_eq!(code(&output), exit::INPUT, "{message}");
        assert!(!exists, "a failed run left its folder");
        assert!(message.starts_with("harmoni: error: ") && message.contains(expected), "{message}");
        assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    }
}

#[test]
fn a_non_empty_output_folder_exits_with_4_and_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep me").unwrap();
    let output = harmoni(&["demo", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), exit::OUTPUT, "{}", stderr(&output));
    assert!(stderr(&output).contains("not empty"));
    assert_eq!(folder(&out), vec![("mine.txt".to_owned(), b"keep me".to_vec())]);
    // Told before the run: a debits file the run would refuse is not read.
    let d = demo_dir();
    let no_header = dir.path().join("debits.csv");
    std::fs::write(&no_header, "txn_id,card_id\nT1,C1\n").unwrap();
    let (rulebook, allocations) = (d.join("rulebook.json"), d.join("allocations.csv"));
    let output = harmoni(&[
        "reconcile",
        "--rulebook",
        rulebook.to_str().unwrap(),
        "--allocations",
        allocations.to_str().unwrap(),
        "--debits",
        no_header.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), exit::OUTPUT, "{}", stderr(&output));
    assert!(stderr(&output).contains("not empty"));
    assert_eq!(folder(&out), vec![("mine.txt".to_owned(), b"keep me".to_vec())]);
    let generate = harmoni(&["generate", "--cards", "10", "--debits", "10", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&generate), exit::OUTPUT, "{}", stderr(&generate));
    let replaced = harmoni(&["demo", "--out", out.to_str().unwrap(), "--replace"]);
    assert_eq!(code(&replaced), 0, "{}", stderr(&replaced));
    assert_eq!(folder(&out).len(), 5);
    assert!(!out.join("mine.txt").exists());
}

#[test]
fn the_binary_generates_what_the_library_generates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let output =
        harmoni(&["generate", "--cards", "700", "--debits", "5000", "--seed", "9", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let data = generate::generate(&Config::new(700, 5000, 9)).unwrap();
    let expected: Vec<(String, Vec<u8>)> = vec![
        ("allocations.csv".into(), data.allocations),
        ("debits.csv".into(), data.debits),
        ("merchants.csv".into(), data.merchants),
        ("rulebook.json".into(), data.rulebook),
    ];
    assert!(folder(&out) == expected, "the files differ");
}

#[cfg(unix)]
#[test]
fn ctrl_c_exits_with_130_and_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big");
    let child = Command::new(env!("CARGO_BIN_EXE_harmoni"))
        .args(["generate", "--cards", "4000000", "--debits", "40000000", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), exit::CANCELLED, "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "something was left behind");
}
