"""Every error class: raised for its cause, with code, file, line and column where they apply."""

from __future__ import annotations

from pathlib import Path

import pytest

import harmoni
from conftest import ALLOCATIONS, DEBITS, RULEBOOK

CLASSES = [
    harmoni.IoError,
    harmoni.RulebookError,
    harmoni.FileError,
    harmoni.BadRowError,
    harmoni.LimitError,
    harmoni.OutputError,
    harmoni.CancelledError,
    harmoni.InternalError,
]


def test_one_base_class() -> None:
    assert len(set(CLASSES)) == len(CLASSES)
    for cls in CLASSES:
        assert issubclass(cls, harmoni.HarmoniError)
        assert issubclass(cls, Exception)
        assert cls.__module__ == "harmoni"
    assert harmoni.HarmoniError.line is None and harmoni.HarmoniError.code == ""


def test_io_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "debits.csv"
    with pytest.raises(harmoni.IoError) as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), missing)
    err = caught.value
    assert err.code == "io" and err.file == str(missing) and err.line is None
    assert str(err).startswith(str(missing))


def test_rulebook_error_has_line_and_column() -> None:
    with pytest.raises(harmoni.RulebookError) as caught:
        harmoni.Rulebook.from_json('{\n  "programs": [{"code": "A"}],\n  "curency_scale": 2\n}')
    err = caught.value
    assert err.code == "rulebook" and err.file == "rulebook.json"
    assert err.line == 3 and err.column is not None
    assert "curency_scale" in str(err)
    with pytest.raises(harmoni.RulebookError):
        harmoni.Rulebook.from_dict({"programs": []})


def test_file_error_for_a_missing_column() -> None:
    debits = DEBITS.replace("txn_id,", "", 1)
    with pytest.raises(harmoni.FileError) as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), debits.encode())
    err = caught.value
    assert err.code == "file" and err.file == "debits.csv" and err.line == 1
    assert "txn_id" in err.reason


def test_file_error_for_an_unterminated_quote() -> None:
    debits = DEBITS + 'T9,debit,,C1,BPNTD,"5\n'
    with pytest.raises(harmoni.FileError, match="unterminated quote") as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), debits.encode())
    assert caught.value.line == 7


def test_bad_row_error_in_strict_mode() -> None:
    with pytest.raises(harmoni.BadRowError) as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), strict=True)
    err = caught.value
    assert (err.code, err.file, err.line, err.column) == ("bad_row", "debits.csv", 5, "amount")
    assert "abc" in err.reason
    assert str(err) == f"debits.csv, line 5, column amount: {err.reason}"


def test_limit_error() -> None:
    header = ",".join(f"c{i}" for i in range(2000))
    with pytest.raises(harmoni.LimitError) as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), (header + "\n").encode())
    assert caught.value.code == "limit" and caught.value.line == 1
    with pytest.raises(harmoni.LimitError):
        harmoni.Rulebook.from_json(" " * (2 << 20) + "{}")


def test_output_error(tmp_path: Path) -> None:
    report = harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode())
    (tmp_path / "keep.txt").write_text("not Harmoni's")
    with pytest.raises(harmoni.OutputError) as caught:
        report.write(tmp_path)
    assert caught.value.code == "output" and caught.value.file == str(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "not Harmoni's"


def test_cancelled_error(tmp_path: Path) -> None:
    with pytest.raises(harmoni.CancelledError) as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), progress=lambda stage: stage != "cards")
    assert caught.value.code == "cancelled"


def test_an_exception_in_progress_stops_the_run_and_propagates() -> None:
    def progress(stage: str) -> None:
        if stage == "identity":
            raise LookupError("the job's own error")

    with pytest.raises(LookupError, match="the job's own error"):
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), progress=progress)


def test_a_rust_panic_is_an_internal_error() -> None:
    with pytest.raises(harmoni.InternalError) as caught:
        harmoni._harmoni._panic_for_tests()
    assert caught.value.code == "internal"
    assert "a test asked for a panic" in str(caught.value)
