"""Harmoni's reconcile job written the way a data engineer would write it with polars.

The polars side of benches/compare (README.md there): the same job as duckdb_job.py, whose
docstring says what it does and what it leaves out. It is an APPROXIMATION of Harmoni, not a
reimplementation of SPEC.md. Differences from the DuckDB job:
- money is pl.Decimal(38, currency_scale);
- polars pads a row with too few fields with nulls: such a row is kept if the rest parses
  (DuckDB's reader skips it);
- timestamps are parsed by polars' own formats rather than DuckDB's cast.
"""
import argparse
import datetime
import json
import os
import time
from decimal import Decimal


def arguments():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder written by `harmoni generate`")
    ap.add_argument("--out", required=True, help="folder for findings, settlement, balances")
    ap.add_argument("--threads", type=int, default=0, help="threads (0: every core)")
    return ap.parse_args()


ARGS = arguments()
if ARGS.threads:  # polars reads this once, when it is imported
    os.environ["POLARS_MAX_THREADS"] = str(ARGS.threads)
import polars as pl  # noqa: E402

CHANNELS = ["atm", "pos", "qr", "transfer"]
CHECKS = ["atc_replay", "no_allocation", "outside_period", "channel_not_allowed",
          "mcc_not_allowed", "merchant_not_registered", "over_limit"]
FINDING = ["rule", "txn_id", "card_id", "program", "row"]
MONEY_MAX = Decimal(10**15)


def present(*names):
    return pl.all_horizontal(pl.col(*names).is_not_null())


def read(data, rulebook, codes):
    scale = rulebook.get("currency_scale", 2)
    tz = rulebook.get("timezone", "+07:00").replace("Z", "+00:00")
    offset = (-1 if tz[0] == "-" else 1) * datetime.timedelta(hours=int(tz[1:3]),
                                                              minutes=int(tz[4:6]))
    pattern = r"^[0-9]+" + (rf"(\.[0-9]{{1,{scale}}})?$" if scale else "$")

    def money(name):  # exact, or null: never rounded, so too many decimals is a bad row
        s = pl.col(name)
        return pl.when(s.str.contains(pattern)).then(s.cast(pl.Decimal(38, scale), strict=False))

    def instant(name):  # naive `YYYY-MM-DD HH:MM:SS` is local time in the rulebook's timezone
        s = pl.col(name)
        naive = s.str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        text = pl.when(naive).then(s.str.replace(" ", "T") + tz) \
            .otherwise(s.str.replace("Z$", "+00:00"))
        return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC")

    def day_start(date):  # 00:00 of a date in the rulebook's timezone
        return (date.cast(pl.Datetime("us")) - offset).dt.replace_time_zone("UTC")

    def csv(name, **options):
        return pl.scan_csv(os.path.join(data, f"{name}.csv"), infer_schema=False, **options)

    is_reversal = pl.col("type") == "reversal"
    debits = csv("debits", row_index_name="row", row_index_offset=2).select(
        "row", "txn_id", pl.col("type").fill_null("debit"),
        pl.when(is_reversal).then("original_txn_id").alias("original_txn_id"),
        "card_id", "program", money("amount"), instant("timestamp").alias("ts"),
        "merchant_id", "terminal_id", "channel", "mcc",
        pl.col("atc").cast(pl.UInt16, strict=False), pl.col("atc").alias("atc_text"),
    ).filter(
        present("txn_id", "card_id"), pl.col("type").is_in(["debit", "reversal"]),
        pl.col("amount").is_between(0, MONEY_MAX, closed="right"), pl.col("ts").is_not_null(),
        pl.col("program").is_in(codes),
        pl.col("channel").is_null() | pl.col("channel").is_in(CHANNELS),
        pl.col("mcc").is_null() | pl.col("mcc").str.contains(r"^[0-9]{4}$"),
        pl.col("atc_text").is_null() | pl.col("atc").is_not_null(),
        pl.when(is_reversal).then(present("original_txn_id"))
        .otherwise(present("merchant_id", "terminal_id", "channel")),
    ).drop("atc_text").collect()
    allocations = csv("allocations").with_columns(
        money("amount"), pl.col("valid_from", "valid_to").str.to_date("%Y-%m-%d", strict=False),
    ).filter(
        present("card_id", "beneficiary_id"), pl.col("program").is_in(codes),
        pl.col("amount").is_between(0, MONEY_MAX, closed="right"),
        pl.col("valid_to") >= pl.col("valid_from"),
    ).unique(["card_id", "beneficiary_id", "household_id", "program", "valid_from", "valid_to",
              "amount"]).select(
        "card_id", "program", "amount",
        day_start(pl.col("valid_from")).alias("starts"),
        day_start(pl.col("valid_to") + pl.duration(days=1)).alias("ends"),
    ).collect()
    # A merchant row with an unknown code or an empty segment registers nothing.
    registered = csv("merchants").filter(present("merchant_id", "programs")).select(
        "merchant_id", pl.col("programs").str.split(";").alias("program"),
    ).filter(pl.col("program").list.eval(pl.element().is_in(codes)).list.all()) \
        .explode("program").unique().with_columns(registered=pl.lit(True)).collect()
    return debits, allocations, registered


def identity(d):
    multi = d.group_by("txn_id").agg(copies=pl.len(), first_row=pl.col("row").min()) \
        .filter(pl.col("copies") > 1)
    conflicting = (d.join(multi, on="txn_id", how="semi").drop("row").unique()
                   .group_by("txn_id").len().filter(pl.col("len") > 1)
                   .select("txn_id", conflict=pl.lit(True)))
    findings = (d.join(multi, on="txn_id").join(conflicting, on="txn_id", how="left")
                .filter(pl.col("conflict").is_not_null() | (pl.col("row") != pl.col("first_row")))
                .select(pl.when(pl.col("conflict")).then(pl.lit("CONFLICTING_TXN"))
                        .otherwise(pl.lit("DUPLICATE_TXN")).alias("rule"), *FINDING[1:]))
    return findings, d.join(findings, on="row", how="anti")


def checks(kept, allocations, registered, programs):
    debits = kept.filter(pl.col("type") == "debit")
    replays = (debits.filter(pl.col("atc").is_not_null()).group_by("card_id", "atc").len()
               .filter(pl.col("len") > 1).select("card_id", "atc", atc_replay=pl.lit(True)))
    totals = allocations.group_by("card_id", "program").agg(allocated=pl.col("amount").sum())
    in_period = (debits.select("txn_id", "card_id", "program", "ts")
                 .join(allocations, on=["card_id", "program"])
                 .filter(pl.col("ts") >= pl.col("starts"), pl.col("ts") < pl.col("ends"))
                 .select("txn_id").unique().with_columns(in_period=pl.lit(True)))
    checked = (debits.join(programs, on="program")
               .join(replays, on=["card_id", "atc"], how="left")
               .join(totals, on=["card_id", "program"], how="left")
               .join(in_period, on="txn_id", how="left")
               .join(registered, on=["merchant_id", "program"], how="left"))
    return totals, checked.with_columns(
        atc_replay=pl.col("atc_replay").fill_null(False),
        no_allocation=pl.col("allocated").is_null(),
        outside_period=pl.col("allocated").is_not_null() & pl.col("in_period").is_null(),
        channel_not_allowed=pl.col("channels").is_not_null()
        & ~pl.col("channels").list.contains(pl.col("channel")),
        mcc_not_allowed=pl.col("mccs").is_not_null()
        & (pl.col("mcc").is_null() | ~pl.col("mccs").list.contains(pl.col("mcc"))),
        merchant_not_registered=pl.col("registered_only") & pl.col("registered").is_null(),
        over_limit=(pl.col("amount") > pl.col("max_debit")).fill_null(False),
    )


def balance(kept, checked):
    # Reversals, the simple way: matched to an earlier debit of the same card and program.
    originals = kept.filter(pl.col("type") == "debit").select(
        "txn_id", "card_id", "program", original_ts="ts", original_amount="amount")
    keys = ["original_txn_id", "card_id", "program"]
    reversals = kept.filter(pl.col("type") == "reversal").join(
        originals, left_on=keys, right_on=["txn_id", "card_id", "program"], how="left",
    ).with_columns(
        original_amount=pl.when(pl.col("original_ts") <= pl.col("ts")).then("original_amount"),
        running=pl.col("amount").cum_sum().over(keys, order_by=["ts", "txn_id"]),
    ).with_columns(
        rule=pl.when(pl.col("original_amount").is_null()).then(pl.lit("ORPHAN_REVERSAL"))
        .when(pl.col("running") > pl.col("original_amount")).then(pl.lit("REVERSAL_EXCEEDS")))
    applied = (reversals.filter(pl.col("rule").is_null()).group_by(txn_id="original_txn_id")
               .agg(reversed=pl.col("amount").sum(), reversals=pl.len()))
    walked = checked.filter(~pl.any_horizontal(CHECKS)).join(applied, on="txn_id", how="left") \
        .with_columns(net=pl.col("amount") - pl.col("reversed").fill_null(0),
                      reversals=pl.col("reversals").fill_null(0))
    running = pl.col("net").cum_sum().over(["card_id", "program"], order_by=["ts", "txn_id"])
    return reversals, walked.with_columns(overdraft=running > pl.col("allocated"))


def write(out, id_findings, checked, reversals, walked, totals):
    os.makedirs(out, exist_ok=True)
    findings = pl.concat([
        id_findings,
        checked.unpivot(on=CHECKS, index=FINDING[1:], variable_name="rule", value_name="hit")
        .filter("hit").select(pl.col("rule").str.to_uppercase(), *FINDING[1:]),
        walked.filter("overdraft").select(pl.lit("OVERDRAFT").alias("rule"), *FINDING[1:]),
        reversals.filter(pl.col("rule").is_not_null()).select(FINDING),
    ])
    action = (pl.when(pl.col("rule") == "DUPLICATE_TXN").then(pl.lit("drop"))
              .when(pl.col("rule").str.contains("REVERSAL")).then(pl.lit("review"))
              .otherwise(pl.lit("hold")))
    findings.select("rule", action.alias("action"), *FINDING[1:]) \
        .sort("card_id", "program", "txn_id", "rule", "row") \
        .write_csv(os.path.join(out, "findings.csv"))
    settled = walked.filter(~pl.col("overdraft"))
    settled.group_by("merchant_id", "program").agg(
        amount=pl.col("net").sum(), debits=pl.len(), reversals=pl.col("reversals").sum(),
    ).sort("merchant_id", "program").write_csv(os.path.join(out, "settlement.csv"))
    spent = settled.group_by("card_id", "program").agg(spent=pl.col("net").sum())
    totals.join(spent, on=["card_id", "program"], how="left") \
        .with_columns(spent=pl.col("spent").fill_null(0)) \
        .with_columns(remaining=pl.col("allocated") - pl.col("spent")) \
        .sort("card_id", "program").write_csv(os.path.join(out, "balances.csv"))


def main():
    with open(os.path.join(ARGS.data, "rulebook.json"), encoding="utf-8-sig") as f:
        rulebook = json.load(f)
    started = time.perf_counter()
    scale, rows = rulebook.get("currency_scale", 2), rulebook["programs"]
    codes = [p["code"] for p in rows]
    max_debits = [None if p.get("max_debit") is None else Decimal(str(p["max_debit"]))
                  for p in rows]
    programs = pl.DataFrame({
        "program": codes,
        "channels": [p.get("channels") for p in rows],
        "mccs": [p.get("mcc") for p in rows],
        "max_debit": pl.Series(max_debits, dtype=pl.Decimal(38, scale)),
        "registered_only": [p.get("registered_merchants_only", False) for p in rows],
    }, schema_overrides={"channels": pl.List(pl.String), "mccs": pl.List(pl.String)})
    d, allocations, registered = read(ARGS.data, rulebook, codes)
    id_findings, kept = identity(d)
    totals, checked = checks(kept, allocations, registered, programs)
    reversals, walked = balance(kept, checked)
    write(ARGS.out, id_findings, checked, reversals, walked, totals)
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads: "
          f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
