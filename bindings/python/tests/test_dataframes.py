"""DataFrame inputs (pandas, polars, pyarrow) and Arrow outputs (pyarrow, pandas, polars,
DuckDB), both ways through the Arrow PyCapsule interface."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import harmoni
from conftest import ALLOCATIONS, DEBITS, MERCHANTS, RULEBOOK

pa = pytest.importorskip("pyarrow")
pa_csv = pytest.importorskip("pyarrow.csv")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

CSV_OUTPUTS = ("balances.csv", "findings.csv", "rejects.csv", "settlement.csv")
JAKARTA = dt.timezone(dt.timedelta(hours=7))


def as_strings(text: str) -> Any:
    """A CSV text read by pyarrow with every column a string, empty fields as empty strings."""
    data = text.encode()
    names = text.split("\n", 1)[0].split(",")
    convert = pa_csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    return pa_csv.read_csv(io.BytesIO(data), convert_options=convert)


def reference() -> dict[str, bytes]:
    return harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), MERCHANTS.encode()).files()


def same_outputs(got: dict[str, bytes], want: dict[str, bytes]) -> None:
    for name in CSV_OUTPUTS:
        assert got[name].decode() == want[name].decode(), name


def test_pyarrow_string_tables_give_the_file_report() -> None:
    report = harmoni.reconcile(RULEBOOK, as_strings(ALLOCATIONS), as_strings(DEBITS), as_strings(MERCHANTS))
    same_outputs(report.files(), reference())
    # The rejected row keeps its line: row 3 of the table is line 5 of the file.
    assert report.rejects.to_arrow().to_pylist()[0]["line"] == 5


def test_pyarrow_record_batch_and_reader_inputs() -> None:
    debits = as_strings(DEBITS)
    batch = debits.combine_chunks().to_batches()[0]
    reader = pa.RecordBatchReader.from_batches(debits.schema, debits.to_batches(max_chunksize=2))
    for given in (batch, reader):
        report = harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), given, MERCHANTS.encode())
        same_outputs(report.files(), reference())


def typed_debits() -> dict[str, list[Any]]:
    """The small cycle's debits, typed the way a job holds them (the bad row left out)."""
    return {
        "txn_id": ["T1", "T2", "T3", "T5"],
        "type": ["debit", "debit", "debit", "reversal"],
        "original_txn_id": [None, None, None, "T1"],
        "card_id": ["C1", "C1", "C2", "C1"],
        "program": ["BPNTD", "BPNTD", "ASLUT", "BPNTD"],
        "amount": [Decimal("150000"), Decimal("100000.00"), Decimal("50000.25"), Decimal("50000")],
        "timestamp": [
            dt.datetime(2022, 8, 6, 10, 15, tzinfo=JAKARTA),
            dt.datetime(2022, 8, 7, 10, 15, tzinfo=JAKARTA),
            dt.datetime(2022, 8, 8, 9, 0, tzinfo=JAKARTA),
            dt.datetime(2022, 8, 9, 3, 0, tzinfo=dt.timezone.utc),
        ],
        "merchant_id": ["M1", "M1", "ATM9", None],
        "terminal_id": ["EDC1", "EDC1", "ATM9", None],
        "channel": ["pos", "pos", "atm", None],
        "mcc": ["5411", "5411", None, None],
        "atc": [1, 2, 3, None],
    }


def typed_allocations() -> dict[str, list[Any]]:
    return {
        "card_id": ["C1", "C2", "C2"],
        "beneficiary_id": ["3571000000000001", "3571000000000002", "3571000000000002"],
        "household_id": ["KK1", "KK2", "KK2"],
        "program": ["BPNTD", "BPNTD", "ASLUT"],
        "valid_from": [dt.date(2022, 8, 1)] * 3,
        "valid_to": [dt.date(2022, 8, 31)] * 3,
        "amount": [Decimal("200000"), Decimal("200000"), Decimal("300000.50")],
    }


def typed_reference() -> dict[str, bytes]:
    lines = DEBITS.splitlines(keepends=True)
    without_bad_row = "".join(line for line in lines if not line.startswith("T4,"))
    return harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), without_bad_row.encode(), MERCHANTS.encode()).files()


def check_typed(allocations: Any, debits: Any) -> harmoni.Report:
    report = harmoni.reconcile(RULEBOOK, allocations, debits, MERCHANTS.encode())
    got, want = report.files(), typed_reference()
    # T5 is on line 5 here and in the reference (T4 left out of both).
    same_outputs(got, want)
    return report


def test_typed_pyarrow_tables() -> None:
    debits = typed_debits()
    schema = pa.schema(
        [
            ("amount", pa.decimal128(12, 2)),
            ("timestamp", pa.timestamp("us", tz="+07:00")),
            ("atc", pa.uint16()),
        ]
    )
    columns = {
        name: pa.array(values, type=schema.field(name).type if name in schema.names else None)
        for name, values in debits.items()
    }
    allocations = pa.table(typed_allocations())
    assert allocations.schema.field("valid_from").type == pa.date32()
    check_typed(allocations, pa.table(columns))


def test_pandas_dataframes() -> None:
    debits = pd.DataFrame(typed_debits())
    debits["timestamp"] = pd.to_datetime(debits["timestamp"], utc=True).dt.tz_convert("Asia/Jakarta")
    debits["atc"] = debits["atc"].astype("Int64")
    allocations = pd.DataFrame(typed_allocations())
    check_typed(allocations, debits)
    # Categorical columns travel as Arrow dictionaries and are read as their values.
    debits["program"] = debits["program"].astype("category")
    check_typed(allocations, debits)


def test_polars_dataframes() -> None:
    debits = pl.DataFrame(typed_debits()).with_columns(
        pl.col("amount").cast(pl.Decimal(14, 2)),
        pl.col("atc").cast(pl.UInt16),
        pl.col("program").cast(pl.Categorical),
        pl.col("timestamp").dt.convert_time_zone("Asia/Jakarta"),
    )
    allocations = pl.DataFrame(typed_allocations())
    check_typed(allocations, debits)


def test_naive_timestamps_read_in_the_rulebook_timezone() -> None:
    debits = typed_debits()
    debits["timestamp"] = [t.astimezone(JAKARTA).replace(tzinfo=None) for t in debits["timestamp"]]
    check_typed(pa.table(typed_allocations()), pa.table(debits))


def test_float_columns_are_refused() -> None:
    debits = pd.read_csv(io.StringIO(DEBITS.replace("abc", "1")))
    assert debits["amount"].dtype == "float64"
    with pytest.raises(harmoni.FileError, match="floating-point") as caught:
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), debits)
    assert (caught.value.file, caught.value.column) == ("debits.csv", "amount")
    # Read as text, the same frame goes through.
    as_text = pd.read_csv(io.StringIO(DEBITS), dtype=str, keep_default_na=False)
    same_outputs(harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), as_text, MERCHANTS.encode()).files(), reference())


def test_a_lazy_frame_is_a_type_error_with_a_hint() -> None:
    with pytest.raises(TypeError, match="collect"):
        harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), pl.DataFrame(typed_debits()).lazy())


# Outputs.


@pytest.fixture(scope="module")
def report() -> harmoni.Report:
    return harmoni.reconcile(RULEBOOK, ALLOCATIONS.encode(), DEBITS.encode(), MERCHANTS.encode())


def test_tables_are_arrow_streams(report: harmoni.Report) -> None:
    capsule = report.settlement.__arrow_c_stream__()
    assert type(capsule).__name__ == "PyCapsule"
    table = pa.table(report.settlement)
    assert table.schema.field("amount").type == pa.decimal128(38, 2)
    assert table.schema.field("debits").type == pa.int64()
    assert pa.table(report.balances).schema.field("valid_from").type == pa.date32()
    assert table.column("amount").to_pylist() == [Decimal("50000.25"), Decimal("100000.00")]


def test_pandas_reads_tables(report: harmoni.Report) -> None:
    settlement = report.settlement.to_pandas()
    assert list(settlement.columns) == report.settlement.column_names
    assert str(settlement["amount"].dtype) == "decimal128(38, 2)[pyarrow]"
    assert settlement["amount"].sum() == report.summary["totals"]["settled"]
    if hasattr(pd.DataFrame, "from_arrow"):  # pandas 3
        balances = pd.DataFrame.from_arrow(report.balances)
        assert balances["remaining"].tolist() == [Decimal("100000.00"), Decimal("250000.25"), Decimal("200000.00")]


def test_polars_reads_tables(report: harmoni.Report) -> None:
    for frame in (report.balances.to_polars(), pl.DataFrame(report.balances)):
        assert frame.schema["allocated"] == pl.Decimal(38, 2)
        assert frame["allocated"].sum() == report.summary["totals"]["allocated"]
    findings = pl.DataFrame(report.findings)
    assert findings["rule"].to_list() == ["OVERDRAFT"]


def test_duckdb_reads_tables(report: harmoni.Report) -> None:
    duckdb = pytest.importorskip("duckdb")
    settlement = report.settlement  # noqa: F841 (DuckDB finds it by name)
    rows = duckdb.sql("select program, sum(amount) as amount from settlement group by program order by program")
    assert rows.fetchall() == [("ASLUT", Decimal("50000.25")), ("BPNTD", Decimal("100000.00"))]
    con = duckdb.connect()
    con.register("balances", pa.table(report.balances))
    assert con.sql("select typeof(remaining) from balances limit 1").fetchall() == [("DECIMAL(38,2)",)]


def test_a_report_table_feeds_the_next_run(report: harmoni.Report, tmp_path: Path) -> None:
    """Round trip: an output table (Arrow) as input of another call, in each library."""
    allocations = pa.table(report.balances).select(["card_id", "program", "valid_from", "valid_to", "remaining"])
    allocations = allocations.rename_columns(["card_id", "program", "valid_from", "valid_to", "amount"])
    allocations = allocations.append_column("beneficiary_id", pa.array(["B1", "B2", "B3"]))
    for given in (allocations, allocations.to_pandas(), pl.from_arrow(allocations)):
        rerun = harmoni.reconcile(RULEBOOK, given, b"txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n")
        assert rerun.summary["totals"]["allocated"] == report.summary["totals"]["remaining"]


def test_a_settlement_beyond_38_digits_widens_instead_of_rounding() -> None:
    """At scale 18, 100,001 debits of the largest amount at one merchant settle 10^38 + 10^33
    minor units: more than decimal128 holds. The column becomes decimal256, exact."""
    cards = 100_001
    big = "1000000000000000"
    allocations = "card_id,beneficiary_id,program,valid_from,valid_to,amount\n" + "".join(
        f"C{c},B{c},P,2022-08-01,2022-08-31,{big}\n" for c in range(cards)
    )
    debits = "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n" + "".join(
        f"T{c},C{c},P,{big},2022-08-06T10:15:00Z,M1,EDC{c},pos\n" for c in range(cards)
    )
    rulebook = {"currency_scale": 18, "programs": [{"code": "P"}]}
    report = harmoni.reconcile(rulebook, allocations.encode(), debits.encode())
    total = Decimal("100001000000000000000.000000000000000000")
    assert report.summary["totals"]["settled"] == total
    settlement = pa.table(report.settlement)
    assert settlement.schema.field("amount").type == pa.decimal256(76, 18)
    assert settlement.column("amount").to_pylist() == [total]
    assert pa.table(report.balances).schema.field("allocated").type == pa.decimal128(38, 18)
