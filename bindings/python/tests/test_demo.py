"""The demo data set (examples/data/demo): the folder write() makes is the command line's, a
DataFrame of the files gives the files' report, and the nightly example job works."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

import harmoni
from conftest import DEMO, REPO

pytestmark = pytest.mark.skipif(not (DEMO / "debits.csv").exists(), reason="examples/data/demo is not there yet")
CSV_OUTPUTS = ("balances.csv", "findings.csv", "rejects.csv", "settlement.csv")


def demo(**options: Any) -> harmoni.Report:
    return harmoni.reconcile(
        DEMO / "rulebook.json", DEMO / "allocations.csv", DEMO / "debits.csv", DEMO / "merchants.csv", **options
    )


def cli() -> Path | None:
    """The command line: $HARMONI_CLI, or a build in the workspace's target folder."""
    if os.environ.get("HARMONI_CLI"):
        return Path(os.environ["HARMONI_CLI"])
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "harmoni"
        if path.is_file():
            return path
    found = shutil.which("harmoni")
    return Path(found) if found else None


def test_write_makes_the_command_line_folder(tmp_path: Path) -> None:
    binary = cli()
    if binary is None:
        pytest.skip("no harmoni command line built (cargo build --release -p harmoni-cli)")
    by_cli, by_python = tmp_path / "cli", tmp_path / "python"
    subprocess.run(
        [
            str(binary),
            "reconcile",
            "--rulebook", str(DEMO / "rulebook.json"),
            "--allocations", str(DEMO / "allocations.csv"),
            "--debits", str(DEMO / "debits.csv"),
            "--merchants", str(DEMO / "merchants.csv"),
            "--out", str(by_cli),
        ],
        check=True,
        capture_output=True,
    )
    demo().write(by_python)
    names = sorted(p.name for p in by_cli.iterdir())
    assert names == sorted(p.name for p in by_python.iterdir())
    for name in names:
        assert (by_python / name).read_bytes() == (by_cli / name).read_bytes(), name


def test_every_library_gives_the_files_report() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    pa_csv = pytest.importorskip("pyarrow.csv")
    want = demo().files()

    def frames(read: Callable[[Path], Any]) -> list[Any]:
        return [read(DEMO / name) for name in ("allocations.csv", "debits.csv", "merchants.csv")]

    readers: dict[str, Callable[[Path], Any]] = {
        "pandas": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
        "polars": lambda p: pl.read_csv(p, infer_schema=False),
        "pyarrow": lambda p: pa_csv.read_csv(
            p,
            convert_options=pa_csv.ConvertOptions(
                column_types={c: "string" for c in p.read_text().split("\n", 1)[0].split(",")},
                strings_can_be_null=False,
            ),
        ),
    }
    for library, read in readers.items():
        try:
            inputs = frames(read)
        except Exception as error:  # a deliberately bad row the library cannot read
            pytest.skip(f"{library} cannot read the demo files as they are: {error}")
        got = harmoni.reconcile(DEMO / "rulebook.json", *inputs).files()
        for name in CSV_OUTPUTS:
            assert got[name] == want[name], (library, name)


def nightly() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nightly", REPO / "examples" / "python" / "nightly.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_nightly_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = nightly()
    held = demo().summary["totals"]["held"]
    assert held > Decimal(0)
    common = ["--data", str(DEMO), "--out", str(tmp_path / "report")]
    assert job.main([*common, "--review-threshold", str(held)]) == 0
    out = capsys.readouterr().out
    assert "total" in out and f"OK: {held} held for review" in out
    assert (tmp_path / "report" / "summary.json").exists()
    assert job.main([*common, "--replace", "--review-threshold", str(held - Decimal("0.01"))]) == 3
    assert "REVIEW:" in capsys.readouterr().out
    # An existing folder without --replace is a failed run, reported with its message.
    assert job.main([*common, "--review-threshold", "0"]) == 1
    with pytest.raises(SystemExit):
        job.main([*common, "--review-threshold", "lots"])


def test_demo_tables_in_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    report = demo()
    settlement = report.settlement  # noqa: F841 (DuckDB finds it by name)
    total = duckdb.sql("select sum(amount) from settlement").fetchall()[0][0]
    assert total == report.summary["totals"]["settled"]


def test_the_readme_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("pandas")
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "harmoni.reconcile(" in block
    monkeypatch.chdir(REPO)
    block = block.replace('report.write("reports/2022-08")', f"report.write({str(tmp_path / 'out')!r})")
    exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "out" / "summary.json").exists()
