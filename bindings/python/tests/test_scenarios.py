"""The core's scenario folders (core/testdata/<name>/), replayed through Python.

Each folder holds the inputs and expected/ with the five output files, or error.txt (the
error code, then the message). Folders are found when the tests run, so new scenarios are
replayed without touching this file. Inputs are given as bytes, named by their bare file
names (as the Rust replay does); successful runs are also replayed from paths, and, where a
pyarrow table holds exactly the rows of the file, from tables.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import harmoni
from conftest import INPUTS, scenario_dirs

SCENARIOS = scenario_dirs()
OUTPUTS = ("balances.csv", "findings.csv", "rejects.csv", "settlement.csv", "summary.json")


def options(folder: Path) -> dict[str, Any]:
    path = folder / "options.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    unknown = set(found) - {"strict"}
    assert not unknown, f"{path}: unknown options {unknown}"
    return found


def expected(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "expected").iterdir())}


def outcome(folder: Path, inputs: dict[str, Any], **extra: Any) -> dict[str, bytes]:
    """The files of the run, or error.txt as the Rust replay writes it."""
    try:
        report = harmoni.reconcile(
            harmoni.Rulebook.from_json((folder / "rulebook.json").read_bytes()),
            inputs["allocations.csv"],
            inputs["debits.csv"],
            inputs.get("merchants.csv"),
            **options(folder),
            **extra,
        )
    except harmoni.HarmoniError as err:
        return {"error.txt": f"{err.code}\n{err}\n".encode()}
    return report.files()


def present(folder: Path) -> list[str]:
    return [name for name in INPUTS if (folder / name).exists()]


def test_the_scenarios_are_there() -> None:
    if not SCENARIOS:
        pytest.skip("core/testdata has no scenario folder yet")
    assert all((folder / "expected").is_dir() for folder in SCENARIOS)


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
@pytest.mark.parametrize("threads", [1, 2])
def test_replay_from_bytes(folder: Path, threads: int) -> None:
    inputs = {name: (folder / name).read_bytes() for name in present(folder)}
    got = outcome(folder, inputs, threads=threads)
    want = expected(folder)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].decode(errors="replace") == want[name].decode(errors="replace"), name


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_replay_from_paths(folder: Path) -> None:
    want = expected(folder)
    if "error.txt" in want:
        pytest.skip("error messages name the path given; the bytes replay checks them")
    got = outcome(folder, {name: folder / name for name in present(folder)})
    assert got == want


def plain_rows(data: bytes) -> bool:
    """Does a table read from this CSV hold exactly its rows, on the same lines? (No BOM,
    quotes, carriage returns or blank lines, valid UTF-8, every record as wide as the header.)"""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return False
    if not text.endswith("\n") or any(c in text for c in ('"', "\r", "\ufeff")):
        return False
    lines = text[:-1].split("\n")
    width = lines[0].count(",")
    return all(line and line.count(",") == width for line in lines)


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_replay_from_pyarrow_tables(folder: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pa_csv = pytest.importorskip("pyarrow.csv")
    want = expected(folder)
    raw = {name: (folder / name).read_bytes() for name in present(folder)}
    if "error.txt" in want or not all(plain_rows(data) for data in raw.values()):
        pytest.skip("only plain CSV files become tables row for row")
    tables: dict[str, Any] = {}
    for name, data in raw.items():
        header = data.decode().split("\n", 1)[0].split(",")
        if len(set(header)) != len(header):
            pytest.skip("a column named twice")
        convert = pa_csv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False)
        tables[name] = pa_csv.read_csv(io.BytesIO(data), convert_options=convert)
    got = outcome(folder, tables)
    for name in OUTPUTS[:-1]:
        assert got[name].decode() == want[name].decode(), name
    # summary.json differs only in the digests of the inputs (tables are other bytes).
    got_summary, want_summary = json.loads(got["summary.json"]), json.loads(want["summary.json"])
    for summary in (got_summary, want_summary):
        for entry in summary["inputs"].values():
            entry.pop("sha256")
    assert got_summary == want_summary
