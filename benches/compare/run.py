#!/usr/bin/env python3
"""Harmoni's command line side by side with the same job in DuckDB and in polars.

Run from anywhere (standard library only; it makes its own venv for DuckDB and polars):

    python3 benches/compare/run.py                 # 1m and 10m debits, 3 rounds each
    python3 benches/compare/run.py --sizes 100k --runs 1   # a quick smoke test

It builds the command line (`cargo build --release -p harmoni-cli`, in $CARGO_TARGET_DIR or
<repo>/target), generates each data set once with `harmoni generate --seed 1` into
<target>/compare-data/<size> (kept for later runs), then runs the three tools interleaved
(round 1: harmoni, duckdb, polars; round 2: ...), each as a child process whose wall time and
peak resident memory (wait4's ru_maxrss) are measured, and prints a markdown table with the
medians and the ratios to Harmoni, also written to <target>/compare-data/results.md.
"""
import argparse
import csv
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SIZES = {  # name: (cards, debits); 100k is for smoke tests, not for the README
    "100k": (10_000, 100_000),
    "1m": (100_000, 1_000_000),
    "10m": (1_000_000, 10_000_000),
}
TOOLS = ["harmoni", "duckdb", "polars"]
DATA_FILES = ["rulebook.json", "allocations.csv", "debits.csv", "merchants.csv"]


def log(message):
    print(message, file=sys.stderr, flush=True)


def target_dir():
    """Cargo's target folder: $CARGO_TARGET_DIR (relative to the repository) or <repo>/target."""
    env = os.environ.get("CARGO_TARGET_DIR")
    return (REPO / env).resolve() if env else REPO / "target"


def ensure_venv():
    """The venv for the DuckDB and polars jobs, (re)installed when requirements.txt changes."""
    venv = HERE / ".venv"
    python = venv / "bin" / "python"
    requirements = (HERE / "requirements.txt").read_text()
    stamp = venv / "installed-requirements.txt"
    if not python.exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != requirements:
        log("installing requirements.txt into the venv")
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(HERE / "requirements.txt")],
                       check=True)
        stamp.write_text(requirements)
    return python


def build():
    log("building the command line: cargo build --release -p harmoni-cli")
    subprocess.run(["cargo", "build", "--release", "-p", "harmoni-cli"], cwd=REPO, check=True)
    return target_dir() / "release" / "harmoni"


def generate(harmoni, data_root, size):
    folder = data_root / size
    if all((folder / name).exists() for name in DATA_FILES):
        log(f"{size}: using the data in {folder}")
        return folder
    cards, debits = SIZES[size]
    log(f"{size}: generating {debits:,} debits on {cards:,} cards into {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(harmoni), "generate", "--cards", str(cards), "--debits", str(debits),
                    "--seed", "1", "--out", str(folder), "--replace"], check=True,
                   stdout=subprocess.DEVNULL)
    return folder


def command(tool, harmoni, python, data, out, threads):
    if tool == "harmoni":
        argv = [str(harmoni), "reconcile", "--rulebook", str(data / "rulebook.json"),
                "--allocations", str(data / "allocations.csv"),
                "--debits", str(data / "debits.csv"), "--merchants", str(data / "merchants.csv"),
                "--out", str(out), "--replace"]
    else:
        argv = [str(python), str(HERE / f"{tool}_job.py"), "--data", str(data), "--out", str(out)]
    return argv + (["--threads", str(threads)] if threads else [])


def measure(argv, log_path):
    """Runs argv as a child; returns (wall seconds, peak RSS in bytes) or exits on failure."""
    with open(log_path, "wb") as output:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        log(f"failed ({child.returncode}): {' '.join(argv)}\n{Path(log_path).read_text(errors='replace')}")
        sys.exit(1)
    return wall, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def settled_total(out):
    with open(out / "settlement.csv", newline="") as f:
        return sum((Decimal(row["amount"]) for row in csv.DictReader(f)), Decimal(0))


def run_size(size, data, harmoni, python, args, scratch):
    """Interleaved rounds for one data set; returns the table rows."""
    samples = {tool: [] for tool in TOOLS}  # (wall seconds, peak RSS bytes) per run
    totals = {tool: set() for tool in TOOLS}  # settled totals seen (one unless a tool varies)
    for round_number in range(1, args.runs + 1):
        for tool in TOOLS:
            out = scratch / f"{tool}-{size}-{round_number}"
            wall, rss = measure(command(tool, harmoni, python, data, out, args.threads),
                                scratch / f"{tool}.log")
            totals[tool].add(settled_total(out))
            shutil.rmtree(out)
            samples[tool].append((wall, rss))
            log(f"{size} round {round_number}/{args.runs} {tool:8} {wall:7.2f} s "
                f"{rss / 2**20:8.0f} MiB")
    base_time = statistics.median(wall for wall, _ in samples["harmoni"])
    base_rss = max(rss for _, rss in samples["harmoni"])
    rows = []
    for tool in TOOLS:
        walls = [wall for wall, _ in samples[tool]]
        median, rss = statistics.median(walls), max(r for _, r in samples[tool])
        total = " / ".join(f"{t:,}" for t in sorted(totals[tool]))
        rows.append(f"| {size} | {tool} | {median:.2f} | {min(walls):.2f} to {max(walls):.2f} | "
                    f"{rss / 2**20:,.0f} | {median / base_time:.2f}x | {rss / base_rss:.2f}x | "
                    f"{total} |")
    return rows


def read_field(path, key, separator=":"):
    """The value of the first line of a /proc or /etc file that starts with key."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(separator, 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


def output(argv, **options):
    result = subprocess.run(argv, capture_output=True, text=True, **options)
    return result.stdout.strip() or "unknown"


def describe_machine(harmoni, python, args):
    versions = "import duckdb, polars; print(duckdb.__version__, polars.__version__)"
    duckdb_version, polars_version = output([str(python), "-c", versions]).split()
    flags = read_field("/proc/cpuinfo", "flags")
    cpu = read_field("/proc/cpuinfo", "model name")
    if "hypervisor" in flags.split():
        cpu += " (virtual machine)"
    memory_gib = int(read_field("/proc/meminfo", "MemTotal").split()[0]) / 2**20
    threads = args.threads or f"all ({os.cpu_count()})"
    return "\n".join([
        f"- Machine: {cpu}, {os.cpu_count()} cores, {memory_gib:.1f} GiB RAM, "
        f"{read_field('/etc/os-release', 'PRETTY_NAME', '=')}, Linux {platform.release()}.",
        f"- Date: {datetime.date.today().isoformat()}. Load average at start: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ".",
        f"- Versions: {output([str(harmoni), '--version'])} "
        f"(commit {output(['git', 'describe', '--always', '--dirty'], cwd=REPO)}, "
        f"{output(['rustc', '--version'])}, release build), duckdb {duckdb_version}, "
        f"polars {polars_version}, Python {platform.python_version()}.",
        f"- Threads: {threads} for each tool. Wall time is the median of {args.runs} interleaved "
        "runs of the whole process (start-up, reading the CSV files and writing the results "
        "included); peak RSS is the largest of the runs (wait4's ru_maxrss). Ratios are to "
        "Harmoni's; the settled total is the sum of each tool's settlement.csv.",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m",
                        help="comma-separated: 1m (1,000,000 debits, 100,000 cards), "
                             "10m (10,000,000 debits, 1,000,000 cards), "
                             "100k (100,000 debits, 10,000 cards: a quick check)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds per size")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for each of the three tools (0, the default: every core)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where generated data sets are kept (default <target>/compare-data)")
    args = parser.parse_args()
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes or args.runs < 1:
        parser.error(f"sizes are {', '.join(SIZES)}; --runs is at least 1")
    data_root = (args.data_dir or target_dir() / "compare-data").resolve()

    python = ensure_venv()
    harmoni = build()
    machine = describe_machine(harmoni, python, args)
    table = ["| size | tool | median wall s | min to max s | peak RSS MiB | time vs Harmoni | "
             "memory vs Harmoni | settled total |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    data_lines = []
    with tempfile.TemporaryDirectory(prefix="harmoni-compare-") as scratch:
        for size in sizes:
            data = generate(harmoni, data_root, size)
            megabytes = sum((data / name).stat().st_size for name in DATA_FILES) / 1e6
            cards, debits = SIZES[size]
            data_lines.append(f"- Data {size}: `harmoni generate --cards {cards} --debits {debits} "
                              f"--seed 1` ({megabytes:,.0f} MB of CSV).")
            table += run_size(size, data, harmoni, python, args, Path(scratch))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = "\n".join(table + [""] + data_lines + [machine, f"- Load average at end: {load}."])
    print(report)
    (data_root / "results.md").write_text(report + "\n")
    log(f"written to {data_root / 'results.md'}")


if __name__ == "__main__":
    main()
