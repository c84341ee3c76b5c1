//! The summary a person reads on stdout after a run: money per program, findings per rule,
//! rejected rows per file, and where the report folder is.

use std::fmt::Write as _;
use std::path::Path;

use harmoni::{Report, Rule};

/// Renders the summary of `report`; `folder` is where it was written, if it was.
pub fn render(report: &Report, folder: Option<&Path>) -> String {
    let mut out = String::new();
    programs(&mut out, report);
    findings(&mut out, report);
    rejects(&mut out, report);
    match folder {
        Some(dir) => {
            let names = Report::FILE_NAMES.join(", ");
            let _ = writeln!(out, "\nReport written to {} ({names})", dir.display());
        }
        None => out.push_str("\nNo report folder written (add --out DIR to keep one).\n"),
    }
    out
}

/// Rows of cells as a table: the first `left` columns left-aligned, the others
/// right-aligned.
fn table(out: &mut String, rows: &[Vec<String>], left: usize) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.len()).max().unwrap_or(0)).collect();
    for row in rows {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            if c < left {
                let _ = write!(line, " {cell:<w$}", w = widths[c] + usize::from(c > 0));
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn programs(out: &mut String, report: &Report) {
    out.push_str("Programs (settled and held are net of reversals)\n");
    let mut rows = vec![vec![
        "program".to_owned(),
        "allocated".to_owned(),
        "settled".to_owned(),
        "held".to_owned(),
        "remaining".to_owned(),
    ]];
    let summary = &report.summary;
    for p in summary.programs.iter().chain(std::iter::once(&summary.totals)) {
        let name = if p.program.is_empty() { "total".to_owned() } else { p.program.clone() };
        rows.push(vec![
            name,
            p.allocated.to_string(),
            p.settled.to_string(),
            p.held.to_string(),
            p.remaining.to_string(),
        ]);
    }
    table(out, &rows, 1);
}

fn findings(out: &mut String, report: &Report) {
    let counts: Vec<(Rule, usize)> = Rule::ALL
        .iter()
        .map(|&rule| (rule, report.findings.iter().filter(|f| f.rule == rule).count()))
        .filter(|&(_, n)| n > 0)
        .collect();
    if counts.is_empty() {
        out.push_str("\nFindings: none\n");
        return;
    }
    let _ = writeln!(out, "\nFindings ({} in findings.csv)", report.findings.len());
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(rule, n)| vec![rule.as_str().to_owned(), rule.action().as_str().to_owned(), n.to_string()])
        .collect();
    table(out, &rows, 2);
}

fn rejects(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\nRejected rows ({} in rejects.csv)", report.rejects.len());
    let mut rows = vec![vec!["file".to_owned(), "rows".to_owned(), "rejected".to_owned()]];
    for input in &report.summary.inputs {
        rows.push(vec![input.file.clone(), input.rows_read.to_string(), input.rows_rejected.to_string()]);
    }
    table(out, &rows, 1);
}
