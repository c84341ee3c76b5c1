"""Type stubs of the extension module (checked against the built module by mypy.stubtest)."""

import os
from typing import Any, Callable, Protocol, Union, final

__version__: str
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

class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class _ArrowArrayExportable(Protocol):
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

_Path = Union[str, os.PathLike[str]]
# A path, the file's bytes, or a table: pandas (2.2+), polars or pyarrow, or anything else
# with the Arrow PyCapsule interface.
_Input = Union[_Path, bytes, bytearray, _ArrowStreamExportable, _ArrowArrayExportable]

class HarmoniError(Exception):
    """Base class of every error Harmoni raises."""

    code: str
    """The core's stable code: io, rulebook, file, bad_row, limit, output, cancelled, internal."""
    reason: str
    """What went wrong, without the location."""
    file: str | None
    """The file (a path, or the role name such as debits.csv for bytes and tables)."""
    line: int | None
    """The line, where it applies (the header is line 1)."""
    column: str | None
    """The column name (CSV) or character position (rulebook JSON), where it applies."""

class IoError(HarmoniError):
    """A file could not be read or written."""

class RulebookError(HarmoniError):
    """The rulebook is not valid: the whole run is refused."""

class FileError(HarmoniError):
    """An input as a whole is unusable (missing or repeated column, unterminated quote, a
    table column that cannot be read as text such as floats)."""

class BadRowError(HarmoniError):
    """Strict mode: the first bad row, with the reason rejects.csv would hold."""

class LimitError(HarmoniError):
    """Input goes beyond one of Harmoni's limits."""

class OutputError(HarmoniError):
    """The output folder cannot be used (it exists and is not empty, say)."""

class CancelledError(HarmoniError):
    """The run was cancelled (the progress callback returned False)."""

class InternalError(HarmoniError):
    """A bug in Harmoni (an invariant failed, or a panic was caught): no report."""

@final
class Rulebook:
    """The rules of a cycle: currency scale, timezone, programs, review thresholds."""

    @staticmethod
    def from_path(path: _Path) -> Rulebook:
        """Reads a rulebook file (JSON)."""

    @staticmethod
    def from_json(json: str | bytes) -> Rulebook:
        """Reads a rulebook from JSON text."""

    @staticmethod
    def from_dict(rulebook: dict[str, Any]) -> Rulebook:
        """Reads a rulebook from a dict shaped like the JSON (decimals as Decimal, str or int)."""

    @property
    def currency_scale(self) -> int:
        """Decimals of every amount."""

    @property
    def programs(self) -> list[str]:
        """The program codes, sorted."""

    @property
    def sha256(self) -> str:
        """SHA-256 of the rulebook's bytes."""

@final
class Table:
    """One table of a report, in the order and with the values of its CSV file; amounts are
    decimal128(38, currency_scale). Readable by pyarrow, polars, pandas and DuckDB through
    the Arrow PyCapsule interface."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Exports the table as an Arrow C stream (a PyCapsule)."""

    @property
    def name(self) -> str:
        """The file this table is written to (findings.csv, ...)."""

    @property
    def column_names(self) -> list[str]:
        """The column names, as in the CSV header."""

    @property
    def num_rows(self) -> int:
        """The number of rows."""

    def __len__(self) -> int: ...
    def to_arrow(self) -> Any:
        """As a pyarrow.Table (needs pyarrow)."""

    def to_pandas(self) -> Any:
        """As a pandas.DataFrame with Arrow-backed columns; amounts stay exact decimals."""

    def to_polars(self) -> Any:
        """As a polars.DataFrame; amounts are pl.Decimal(38, scale)."""

@final
class Report:
    """The reconciliation of one cycle."""

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json as a dict; amounts under programs and totals are decimal.Decimal."""

    @property
    def findings(self) -> Table:
        """Every finding (findings.csv)."""

    @property
    def settlement(self) -> Table:
        """Net settlement per merchant and program (settlement.csv)."""

    @property
    def balances(self) -> Table:
        """Every kept allocation and what is left of it (balances.csv)."""

    @property
    def rejects(self) -> Table:
        """Every rejected row (rejects.csv)."""

    def files(self) -> dict[str, bytes]:
        """The five output files by name, byte for byte as write() writes them."""

    def write(self, path: _Path, *, replace: bool = False) -> None:
        """Writes the output folder exactly as the command line does."""

def reconcile(
    rulebook: Rulebook | _Path | dict[str, Any],
    allocations: _Input,
    debits: _Input,
    merchants: _Input | None = None,
    *,
    threads: int = 0,
    strict: bool = False,
    progress: Callable[[str], object] | None = None,
) -> Report:
    """Reconciles one cycle and returns the report (the GIL is released while it runs)."""

def _panic_for_tests() -> None:
    """Panics inside the panic guard: raises InternalError (a test hook)."""
