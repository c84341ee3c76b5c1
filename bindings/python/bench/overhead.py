#!/usr/bin/env python3
"""What Python adds to a run: the command line vs `harmoni.reconcile` on the same files, and
DataFrame inputs vs file paths (issue 4, point 9).

    harmoni generate --cards 100000 --debits 1000000 --seed 1 --out /tmp/gen1m
    python bindings/python/bench/overhead.py --data /tmp/gen1m --cli target/release/harmoni

Every measure runs the whole job: reconcile and write the report folder. Runs are interleaved
(one of each per round) so that a noisy neighbour on a shared machine hits all of them alike;
the tables show the median and the best of the rounds, and the ratios of the medians, for
wall-clock time and for CPU time (user + system, all threads; children for processes), which
a busy neighbour disturbs much less.

- cli: the `harmoni reconcile` process, start to exit.
- python process: `python -c "import harmoni; reconcile(paths).write(out)"`, start to exit
  (interpreter start and import included).
- file paths: `reconcile(paths)` + `write`, in a running interpreter.
- <library> frames: the same with the three CSV files already read into DataFrames (every
  column as text, as a job reading them would), in a running interpreter: the time to export
  them through the Arrow C stream interface and write them as CSV text is what this measures.

The generator puts a few deliberately ragged rows (a wrong number of fields) in each file,
which no DataFrame library reads; every measure therefore runs on a copy of the data without
them (pyarrow drops them and writes the rest back, quoting only where needed).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import harmoni

FILES = ("allocations.csv", "debits.csv", "merchants.csv")


def readers() -> dict[str, Callable[[Path], Any]]:
    found: dict[str, Callable[[Path], Any]] = {}
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        def read_pyarrow(path: Path) -> Any:
            header = next(csv.reader(path.open()))
            convert = pa_csv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False)
            return pa_csv.read_csv(path, convert_options=convert)

        found["pyarrow"] = read_pyarrow
    except ImportError:
        pass
    try:
        import polars as pl

        found["polars"] = lambda path: pl.read_csv(path, infer_schema=False)
    except ImportError:
        pass
    try:
        import pandas as pd

        found["pandas"] = lambda path: pd.read_csv(path, dtype=str, keep_default_na=False)
    except ImportError:
        pass
    return found


def without_ragged_rows(source: Path, into: Path) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    into.mkdir(parents=True)
    shutil.copy(source / "rulebook.json", into / "rulebook.json")
    for name in FILES:
        header = next(csv.reader((source / name).open()))
        table = pa_csv.read_csv(
            source / name,
            parse_options=pa_csv.ParseOptions(invalid_row_handler=lambda row: "skip"),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False
            ),
        )
        pa_csv.write_csv(table, into / name, pa_csv.WriteOptions(quoting_style="needed"))
    return into


def measure(
    measures: dict[str, Callable[[], None]],
    rounds: int,
    wall: dict[str, list[float]],
    cpu: dict[str, list[float]],
    cpu_now: Callable[[], float],
) -> None:
    for run in measures.values():  # warm the page cache and the allocator once
        run()
    for round_ in range(rounds):
        for name, run in measures.items():
            started, started_cpu = time.perf_counter(), cpu_now()
            run()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(cpu_now() - started_cpu)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in wall.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder made by `harmoni generate`")
    parser.add_argument("--cli", type=Path, required=True, help="the harmoni command line")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    load = os.getloadavg()
    out_root = Path(tempfile.mkdtemp(prefix="harmoni-bench-"))
    data = without_ragged_rows(args.data, out_root / "data")
    paths = [data / name for name in FILES]
    debits = sum(1 for _ in paths[1].open("rb")) - 1
    rulebook = harmoni.Rulebook.from_path(data / "rulebook.json")
    frames = {}
    for library, read in readers().items():
        started = time.perf_counter()
        frames[library] = [read(p) for p in paths]
        print(f"read the files with {library} in {time.perf_counter() - started:.2f} s (not counted)", flush=True)

    def cli() -> None:
        subprocess.run(
            [str(args.cli), "reconcile", "--rulebook", str(data / "rulebook.json"), "--allocations", str(paths[0]),
             "--debits", str(paths[1]), "--merchants", str(paths[2]), "--out", str(out_root / "cli"), "--replace",
             "--threads", str(args.threads)],
            check=True, stdout=subprocess.DEVNULL,
        )

    def python_process() -> None:
        code = (
            "import sys, harmoni\n"
            "harmoni.reconcile(*sys.argv[1:5], threads=int(sys.argv[6])).write(sys.argv[5], replace=True)\n"
        )
        subprocess.run(
            [sys.executable, "-c", code, str(data / "rulebook.json"), *map(str, paths), str(out_root / "proc"),
             str(args.threads)],
            check=True,
        )

    def in_process(inputs: list[Any], name: str) -> Callable[[], None]:
        def run() -> None:
            harmoni.reconcile(rulebook, *inputs, threads=args.threads).write(out_root / name, replace=True)

        return run

    measures: dict[str, Callable[[], None]] = {
        "cli": cli,
        "python process": python_process,
        "file paths": in_process(paths, "paths"),
    }
    for library, inputs in frames.items():
        measures[f"{library} frames"] = in_process(inputs, library)
    wall: dict[str, list[float]] = {name: [] for name in measures}
    cpu: dict[str, list[float]] = {name: [] for name in measures}

    def cpu_now() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    try:
        measure(measures, args.rounds, wall, cpu, cpu_now)
    finally:
        shutil.rmtree(out_root, ignore_errors=True)


    print(f"\n{debits:,} debits, threads={args.threads}, {args.rounds} rounds; "
          f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"load average before: {' '.join(f'{x:.1f}' for x in load)}")
    for title, times in (("wall clock", wall), ("CPU (user + system)", cpu)):
        median = {name: statistics.median(t) for name, t in times.items()}
        print(f"\n{title}\n| run | median (s) | best (s) | vs cli | vs file paths |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, t in times.items():
            print(f"| {name} | {median[name]:.2f} | {min(t):.2f} | {median[name] / median['cli']:.2f} | "
                  f"{median[name] / median['file paths']:.2f} |")


if __name__ == "__main__":
    main()
