"""The API over files, bytes and rulebook forms, checked against values worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import harmoni
from conftest import ALLOCATIONS, DEBITS, MERCHANTS, RULEBOOK


def run_files(cycle: Path, **options: Any) -> harmoni.Report:
    return harmoni.reconcile(
        cycle / "rulebook.json",
        cycle / "allocations.csv",
        cycle / "debits.csv",
        cycle / "merchants.csv",
        **options,
    )


def test_summary_amounts_are_exact_decimals(cycle: Path) -> None:
    summary = run_files(cycle).summary
    bpntd, aslut, totals = summary["programs"]["BPNTD"], summary["programs"]["ASLUT"], summary["totals"]
    assert (bpntd["allocated"], bpntd["settled"], bpntd["held"], bpntd["remaining"]) == (
        Decimal("400000.00"),
        Decimal("100000.00"),
        Decimal("100000.00"),
        Decimal("300000.00"),
    )
    assert (aslut["settled"], aslut["remaining"]) == (Decimal("50000.25"), Decimal("250000.25"))
    assert totals["settled"] == Decimal("150000.25")
    # Exactly their text, scale included, and never a float anywhere in the summary.
    assert str(totals["held"]) == "100000.00"
    assert str(aslut["held"]) == "0.00"

    def walk(value: object) -> None:
        assert not isinstance(value, float), value
        if isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(summary)
    assert summary["currency_scale"] == 2
    assert summary["inputs"]["debits.csv"]["rows_rejected"] == 1
    assert bpntd["debits_held"] == 1 and bpntd["reversals_applied"] == 1


def test_summary_is_summary_json(cycle: Path) -> None:
    report = run_files(cycle)
    from_file = json.loads(report.files()["summary.json"])
    summary = report.summary
    assert summary.keys() == from_file.keys()
    for key in from_file:
        if key in ("programs", "totals"):
            continue
        assert summary[key] == from_file[key]
    for code, program in from_file["programs"].items():
        for field, value in program.items():
            want = Decimal(value) if isinstance(value, str) else value
            assert summary["programs"][code][field] == want


def test_findings_and_rejects(cycle: Path) -> None:
    report = run_files(cycle)
    findings = report.findings.to_arrow().to_pylist()
    assert [(f["rule"], f["action"], f["txn_id"], f["line"]) for f in findings] == [("OVERDRAFT", "hold", "T2", 3)]
    rejects = report.rejects.to_arrow().to_pylist()
    assert [(r["file"], r["line"], r["column"]) for r in rejects] == [("debits.csv", 5, "amount")]


def test_write_is_the_command_line_folder(cycle: Path, tmp_path: Path) -> None:
    report = run_files(cycle)
    out = tmp_path / "out"
    report.write(out)
    files = report.files()
    assert sorted(p.name for p in out.iterdir()) == sorted(files) == [
        "balances.csv",
        "findings.csv",
        "rejects.csv",
        "settlement.csv",
        "summary.json",
    ]
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    with pytest.raises(harmoni.OutputError):
        report.write(out)
    report.write(str(out), replace=True)


def test_paths_bytes_and_bytearrays_give_the_same_report(cycle: Path) -> None:
    by_path = run_files(cycle).files()
    by_bytes = harmoni.reconcile(
        RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), bytearray(MERCHANTS.encode())
    ).files()
    by_str_path = harmoni.reconcile(
        str(cycle / "rulebook.json"),
        str(cycle / "allocations.csv"),
        str(cycle / "debits.csv"),
        str(cycle / "merchants.csv"),
    ).files()
    assert by_path == by_str_path
    # The dict rulebook is other bytes (its digest differs); every CSV output is the same.
    for name in ("balances.csv", "findings.csv", "rejects.csv", "settlement.csv"):
        assert by_path[name] == by_bytes[name]


def test_rulebook_forms(cycle: Path) -> None:
    text = (cycle / "rulebook.json").read_text()
    from_path = harmoni.Rulebook.from_path(cycle / "rulebook.json")
    from_json = harmoni.Rulebook.from_json(text)
    assert from_path.sha256 == from_json.sha256 == harmoni.Rulebook.from_json(text.encode()).sha256
    assert from_path.programs == ["ASLUT", "BPNTD"]
    assert from_path.currency_scale == 2
    with_decimals = dict(RULEBOOK, bulk_drain={"drain_ratio": Decimal("0.95")})
    assert harmoni.Rulebook.from_dict(with_decimals).programs == ["ASLUT", "BPNTD"]
    assert "BPNTD" in repr(from_path)


def test_merchants_are_optional(cycle: Path) -> None:
    report = harmoni.reconcile(RULEBOOK, cycle / "allocations.csv", cycle / "debits.csv")
    rules = {f["rule"] for f in report.findings.to_arrow().to_pylist()}
    assert "MERCHANT_NOT_REGISTERED" in rules
    assert "merchants.csv" not in report.summary["inputs"]


def test_threads_do_not_change_the_report(cycle: Path) -> None:
    one = run_files(cycle, threads=1).files()
    assert one == run_files(cycle, threads=2).files() == run_files(cycle, threads=0).files()


def test_progress_sees_every_stage(cycle: Path) -> None:
    stages: list[str] = []
    run_files(cycle, progress=stages.append)
    assert stages == ["reading files", "identity", "cards", "bulk drain", "beneficiaries", "report"]


def test_tables_hold_the_csv_values(cycle: Path) -> None:
    """Every table, read through pyarrow, is its CSV file cell for cell."""
    report = run_files(cycle)
    files = report.files()
    for table in (report.findings, report.settlement, report.balances, report.rejects):
        rows = list(csv.reader(io.StringIO(files[table.name].decode())))
        arrow = table.to_arrow()
        assert rows[0] == table.column_names == arrow.column_names
        assert len(table) == table.num_rows == arrow.num_rows == len(rows) - 1
        cells = [[str(v) for v in row.values()] for row in arrow.to_pylist()]
        assert cells == rows[1:], table.name


def test_wrong_input_types_are_type_errors(cycle: Path) -> None:
    with pytest.raises(TypeError, match="debits.csv: expected a path, bytes, or a table"):
        harmoni.reconcile(RULEBOOK, cycle / "allocations.csv", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rulebook"):
        harmoni.reconcile(3.5, cycle / "allocations.csv", cycle / "debits.csv")  # type: ignore[arg-type]
