//! Replays every scenario folder of `core/testdata` and compares the output byte for byte.
//!
//! A scenario folder holds `rulebook.json`, `allocations.csv`, `debits.csv`, optionally
//! `merchants.csv` and `options.json` (`{"strict": true}`), and `expected/` with either the
//! five output files exactly as the engine must write them, or `error.txt` (the error code on
//! the first line, the message on the second) for a run that must fail. Inputs are named by
//! their bare file names, so messages read `debits.csv, line 4, ...` whatever the folder.
//!
//! Every scenario runs with 1 and 2 threads. `HARMONI_BLESS=1` rewrites `expected/` from what
//! the engine does now; the expected files are a specification, so read every blessed file and
//! check it against SPEC by hand before committing it (`core/testdata/README.md` says what
//! each scenario checks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harmoni::{reconcile, Inputs, Options, Rulebook, Source};

/// The output files of a successful run.
const OUTPUTS: [&str; 5] = ["balances.csv", "findings.csv", "rejects.csv", "settlement.csv", "summary.json"];
/// The output of a failed run.
const ERROR: &str = "error.txt";
/// Files a scenario folder may hold besides `expected/`.
const INPUTS: [&str; 5] = ["rulebook.json", "allocations.csv", "debits.csv", "merchants.csv", "options.json"];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every scenario folder, sorted by name.
fn scenarios() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("core/testdata exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn name(dir: &Path) -> String {
    dir.file_name().expect("a folder name").to_string_lossy().into_owned()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The options of a scenario: `options.json` may set `strict`.
fn options(dir: &Path, threads: usize) -> Options {
    let mut options = Options { threads, ..Options::default() };
    let path = dir.join("options.json");
    if path.exists() {
        let value: serde_json::Value = serde_json::from_slice(&read(&path)).expect("options.json is JSON");
        let object = value.as_object().expect("options.json is an object");
        for (key, value) in object {
            match (key.as_str(), value) {
                ("strict", serde_json::Value::Bool(strict)) => options.strict = *strict,
                _ => panic!("{}: unknown option {key}: {value}", path.display()),
            }
        }
    }
    options
}

/// Runs a scenario: the output files by name, or `error.txt`. With one thread the inputs are
/// bytes in memory and the files are taken from [`harmoni::Report::files`] (and its
/// summary.json checked against [`harmoni::Report::summary_file`]); with more, the inputs are
/// files opened by path ([`Source::from_path`], read during the run: errors then name the
/// path, shown here by bare file name) and the files come from the folder
/// [`harmoni::Report::write`] streams them into, so each path is checked against `expected/`.
fn outcome(dir: &Path, threads: usize) -> BTreeMap<String, Vec<u8>> {
    let source = |file: &str| match threads {
        1 => Source::from_bytes(file, read(&dir.join(file))),
        _ => Source::from_path(dir.join(file)).expect("the input opens"),
    };
    let merchants = dir.join("merchants.csv").exists().then(|| source("merchants.csv"));
    let result = Rulebook::from_json("rulebook.json", &read(&dir.join("rulebook.json"))).and_then(|rulebook| {
        let inputs = Inputs { allocations: source("allocations.csv"), debits: source("debits.csv"), merchants };
        reconcile(&rulebook, &inputs, &options(dir, threads))
    });
    match result {
        Ok(report) if threads == 1 => {
            let files = report.files();
            assert_eq!(files.last(), Some(&report.summary_file()), "summary_file() differs from files()");
            files.into_iter().map(|f| (f.name.to_owned(), f.bytes)).collect()
        }
        Ok(report) => {
            let temp = tempfile::tempdir().expect("a temporary folder");
            let out = temp.path().join("out");
            report.write(&out, false).expect("the report is written");
            let names = harmoni::Report::FILE_NAMES;
            names.iter().map(|&name| (name.to_owned(), read(&out.join(name)))).collect()
        }
        Err(error) => {
            let message = error.to_string().replace(&format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR), "");
            BTreeMap::from([(ERROR.to_owned(), format!("{}\n{message}\n", error.code()).into_bytes())])
        }
    }
}

/// The files of `expected/`, by name.
fn expected(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let expected = dir.join("expected");
    let Ok(entries) = std::fs::read_dir(&expected) else { return BTreeMap::new() };
    entries
        .map(|entry| {
            let path = entry.expect("a readable entry").path();
            (name(&path), read(&path))
        })
        .collect()
}

fn bless(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    let expected = dir.join("expected");
    if expected.exists() {
        std::fs::remove_dir_all(&expected).expect("expected/ can be removed");
    }
    std::fs::create_dir_all(&expected).expect("expected/ can be made");
    for (file, bytes) in files {
        std::fs::write(expected.join(file), bytes).expect("an expected file can be written");
    }
}

/// A line diff of `want` and `got` (`-` expected, `+` got) with two lines of context.
fn diff(want: &str, got: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    if a.len() * b.len() > 4_000_000 {
        let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        return format!(
            "first difference at line {}:\n- {}\n+ {}\n",
            at + 1,
            a.get(at).unwrap_or(&"<end>"),
            b.get(at).unwrap_or(&"<end>")
        );
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| ops[k.saturating_sub(2)..(k + 3).min(ops.len())].iter().any(|(op, _)| *op != ' ');
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            out.push_str(&format!("{op} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}

/// What differs between the expected files and a run's, for a person.
fn compare(want: &BTreeMap<String, Vec<u8>>, got: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut problems = Vec::new();
    let names: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for file in names {
        match (want.get(file), got.get(file)) {
            (Some(w), Some(g)) if w == g => {}
            (Some(w), Some(g)) => {
                let (w, g) = (String::from_utf8_lossy(w), String::from_utf8_lossy(g));
                let mut text = format!("{file} differs (- expected, + got):\n{}", diff(&w, &g));
                if w.lines().eq(g.lines()) {
                    text.push_str("  (the lines are equal: line ends or the final newline differ)\n");
                }
                problems.push(text);
            }
            (Some(_), None) => problems.push(format!("{file} is expected but the run did not write it")),
            (None, Some(g)) => problems.push(format!(
                "{file} was written but is not expected:\n{}",
                String::from_utf8_lossy(&g[..g.len().min(2000)])
            )),
            (None, None) => unreachable!(),
        }
    }
    problems
}

#[test]
fn every_scenario_replays_byte_for_byte_whatever_the_threads() {
    let blessing = std::env::var_os("HARMONI_BLESS").is_some_and(|v| v == "1");
    let dirs = scenarios();
    assert!(dirs.len() >= 6, "expected the scenario folders of core/testdata, found {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let one = outcome(dir, 1);
        let two = outcome(dir, 2);
        for problem in compare(&one, &two) {
            failures.push(format!("[{}] 1 thread vs 2 threads: {problem}", name(dir)));
        }
        if blessing {
            bless(dir, &one);
            continue;
        }
        let want = expected(dir);
        if want.is_empty() {
            failures.push(format!("[{}] has no expected/ (run with HARMONI_BLESS=1, then check it)", name(dir)));
            continue;
        }
        for (threads, got) in [(1, &one), (2, &two)] {
            for problem in compare(&want, got) {
                failures.push(format!("[{}] threads {threads}: {problem}", name(dir)));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn scenario_folders_are_self_contained_and_documented() {
    let readme = String::from_utf8(read(&testdata().join("README.md"))).expect("README.md is UTF-8");
    for dir in scenarios() {
        let scenario = name(&dir);
        assert!(readme.contains(&format!("`{scenario}`")), "core/testdata/README.md does not describe {scenario}");
        for required in ["rulebook.json", "allocations.csv", "debits.csv"] {
            assert!(dir.join(required).is_file(), "{scenario} has no {required}");
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = name(&entry.unwrap().path());
            assert!(file == "expected" || INPUTS.contains(&file.as_str()), "{scenario}: unexpected file {file}");
        }
        if std::env::var_os("HARMONI_BLESS").is_some() {
            continue; // expected/ is being rewritten by the other test
        }
        let want = expected(&dir);
        let names: Vec<&str> = want.keys().map(String::as_str).collect();
        assert!(
            names.is_empty() || names == OUTPUTS || names == [ERROR],
            "{scenario}: expected/ must hold the five outputs or error.txt, holds {names:?}"
        );
    }
}

#[test]
fn the_diff_shows_what_changed() {
    let shown = diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nD\ne\nf\ng\n");
    assert_eq!(shown, "  ...\n  b\n  c\n- d\n+ D\n  e\n  f\n  ...\n");
    assert_eq!(compare(&BTreeMap::new(), &BTreeMap::new()), Vec::<String>::new());
}
