#!/usr/bin/env python3
"""The nightly reconciliation job of a bank running several social-aid programs on one card.

Reads the cycle's files, reconciles them, writes the report folder (the same folder the
command line writes), prints the per-program summary, and exits with status 3 when the money
held for review (debits a rule held, net of reversals) is above the threshold given, so the
scheduler pages someone before the settlement file goes out.

    python examples/python/nightly.py --data examples/data/demo --out /tmp/report \
        --review-threshold 1000000

Exit status: 0 all clear; 3 held money above the threshold; 1 the run failed (bad rulebook,
unusable file, ...: the message names the file, line and column); 130 interrupted (Ctrl-C:
nothing is written).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import harmoni

log = logging.getLogger("nightly")

EXIT_OK, EXIT_FAILED, EXIT_REVIEW = 0, 1, 3


def amount(text: str) -> Decimal:
    """A threshold from the command line, as an exact decimal (never a float)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}")
    return value


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with rulebook.json, allocations.csv, "
                        "debits.csv and (optionally) merchants.csv")
    parser.add_argument("--out", type=Path, required=True, help="the report folder to write")
    parser.add_argument("--review-threshold", type=amount, required=True, metavar="AMOUNT",
                        help="exit with status 3 when the money held for review is above AMOUNT")
    parser.add_argument("--replace", action="store_true", help="replace the report folder if it exists")
    parser.add_argument("--threads", type=int, default=0, help="threads (0: every core)")
    parser.add_argument("--strict", action="store_true", help="fail on the first bad row instead of rejecting it")
    return parser.parse_args(argv)


def print_summary(report: harmoni.Report) -> None:
    summary = report.summary
    columns = ("allocated", "settled", "held", "remaining")
    rows = [(code, *(program[c] for c in columns)) for code, program in summary["programs"].items()]
    rows.append(("total", *(summary["totals"][c] for c in columns)))
    width = max(len(str(cell)) for row in rows for cell in row[1:]) + 2
    print("Programs (settled and held are net of reversals)")
    print(f"  {'program':<12}" + "".join(f"{c:>{width}}" for c in columns))
    for code, *cells in rows:
        print(f"  {code:<12}" + "".join(f"{str(cell):>{width}}" for cell in cells))
    findings = summary["totals"]["findings"]
    if findings:
        print(f"Findings ({sum(findings.values())} in findings.csv)")
        for rule, count in sorted(findings.items(), key=lambda item: -item[1]):
            print(f"  {rule:<24}{count:>8}")
    rejected = {name: entry["rows_rejected"] for name, entry in summary["inputs"].items() if entry["rows_rejected"]}
    if rejected:
        print("Rejected rows: " + ", ".join(f"{name} {count}" for name, count in rejected.items()))


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    merchants = args.data / "merchants.csv"
    started = time.monotonic()
    try:
        report = harmoni.reconcile(
            args.data / "rulebook.json",
            args.data / "allocations.csv",
            args.data / "debits.csv",
            merchants if merchants.exists() else None,
            threads=args.threads,
            strict=args.strict,
            progress=lambda stage: log.info("stage: %s", stage),
        )
        report.write(args.out, replace=args.replace)
    except harmoni.HarmoniError as error:
        log.error("reconciliation failed (%s): %s", error.code, error)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("interrupted: nothing was written")
        return 130
    log.info("report written to %s in %.2f s", args.out, time.monotonic() - started)

    print_summary(report)
    held = report.summary["totals"]["held"]
    if held > args.review_threshold:
        print(f"REVIEW: {held} held for review, above the threshold of {args.review_threshold}")
        return EXIT_REVIEW
    print(f"OK: {held} held for review, within the threshold of {args.review_threshold}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
