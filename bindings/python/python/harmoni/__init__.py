"""Harmoni: settlement and fraud checks for multi-program social-aid cards.

Reconcile one cycle: every card debit against the card's program allocations, with
double-spends, overdrafts and misuse caught as findings, clean amounts settled per merchant
and program, and a report anyone can re-compute::

    import harmoni

    report = harmoni.reconcile("rulebook.json", "allocations.csv", "debits.csv", "merchants.csv")
    report.summary["totals"]["held"]        # Decimal('150000.00'): money is never a float
    report.findings.to_pandas()             # or to_polars(), pyarrow.table(...), DuckDB
    report.write("out/2022-08")             # the same folder as the command line

Inputs may be paths, bytes, or DataFrames/tables (pandas, polars, pyarrow: anything with the
Arrow PyCapsule stream interface). The engine runs with the GIL released.
"""

from harmoni._harmoni import (
    BadRowError,
    CancelledError,
    FileError,
    HarmoniError,
    InternalError,
    IoError,
    LimitError,
    OutputError,
    Report,
    Rulebook,
    RulebookError,
    Table,
    __version__,
    reconcile,
)

__all__ = [
    "BadRowError",
    "CancelledError",
    "FileError",
    "HarmoniError",
    "InternalError",
    "IoError",
    "LimitError",
    "OutputError",
    "Report",
    "Rulebook",
    "RulebookError",
    "Table",
    "__version__",
    "reconcile",
]
