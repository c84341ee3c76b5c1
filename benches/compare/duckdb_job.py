"""Harmoni's reconcile job written the way a data engineer would write it in DuckDB SQL.

The DuckDB side of benches/compare (README.md there): an APPROXIMATION of Harmoni, not a
reimplementation of SPEC.md. It reads the CSVs as text, then:
- drops rows that do not parse: malformed rows (skipped by DuckDB's reader), bad or
  over-precise amounts, bad instants or dates, unknown programs or channels, missing ids, a
  reversal without original_txn_id;
- money is DECIMAL(38, currency_scale), never a float; naive timestamps are in the rulebook's
  timezone; an allocation is valid from valid_from 00:00 to the day after valid_to there;
- flags DUPLICATE_TXN and CONFLICTING_TXN (parsed values compared), ATC_REPLAY, NO_ALLOCATION
  and OUTSIDE_PERIOD (debits joined to allocations by card, program and period), the program
  checks (channel, mcc, registered merchant, max_debit), and OVERDRAFT: a running sum per
  (card, program) in time order above the card's total allocation for the program;
- applies reversals simply: subtracted from an earlier debit of the same card and program by
  original_txn_id (else ORPHAN_REVERSAL) unless their running total exceeds it
  (REVERSAL_EXCEEDS);
- settles per (merchant, program) over clean debits; writes findings.csv, settlement.csv and
  balances.csv (per card and program) to --out.

Left out: Harmoni's exact balance walk (debits draw from the allocations valid at their
instant in expiry order, split across them; a reversal gives back what its debit drew). Here
money left on an expired allocation still counts, reversals count whenever they happen, and
the running sum includes an overdraft, so later debits of that card and program are flagged
too. Also left out: review rules (NEAR_DUPLICATE, VELOCITY, BULK_DRAIN, DUPLICATE_BENEFICIARY,
DUPLICATE_HOUSEHOLD; repeated allocation rows are dropped silently), rejects.csv, summary.json,
conservation checks, id checks, and the finer points of the timestamp grammar (DuckDB's cast
is more lenient than RFC 3339).
"""
import argparse
import json
import os
import time

import duckdb

CHECKS = ["atc_replay", "no_allocation", "outside_period", "channel_not_allowed",
          "mcc_not_allowed", "merchant_not_registered", "over_limit"]


def setup(con, data, scale, tz, programs):
    con.execute("CREATE TABLE programs (code VARCHAR, channels VARCHAR[], mccs VARCHAR[], "
                f"max_debit DECIMAL(38, {scale}), registered_only BOOLEAN)")
    con.executemany("INSERT INTO programs VALUES (?, ?, ?, ?, ?)", [
        (p["code"], p.get("channels"), p.get("mcc"),
         None if p.get("max_debit") is None else str(p["max_debit"]),
         p.get("registered_merchants_only", False)) for p in programs])
    # Naive `YYYY-MM-DD HH:MM:SS` is local time in the rulebook's timezone.
    con.execute(f"""CREATE MACRO instant(s) AS TRY_CAST(
        CASE WHEN regexp_full_match(s, '\\d{{4}}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d')
             THEN s || '{tz}' ELSE s END AS TIMESTAMPTZ)""")
    # Exact, or NULL: never rounded, so too many decimals makes a bad row.
    decimals = f"(\\.[0-9]{{1,{scale}}})?" if scale else ""
    con.execute(f"""CREATE MACRO money(s) AS CASE WHEN regexp_full_match(s, '[0-9]+{decimals}')
        THEN TRY_CAST(s AS DECIMAL(38, {scale})) END""")
    for name in ("debits", "allocations", "merchants"):
        path = os.path.join(data, f"{name}.csv")
        con.execute(f"CREATE TABLE raw_{name} AS SELECT * FROM read_csv(?, header = true, "
                    "delim = ',', quote = '\"', escape = '\"', all_varchar = true, "
                    "ignore_errors = true)", [path])


def parse(con):
    con.execute("""CREATE TABLE d AS SELECT * EXCLUDE (atc_text) FROM (
        SELECT rowid + 2 AS row, txn_id, coalesce(type, 'debit') AS type,
               CASE WHEN type = 'reversal' THEN original_txn_id END AS original_txn_id,
               card_id, program, money(amount) AS amount, instant(timestamp) AS ts,
               merchant_id, terminal_id, channel, mcc, TRY_CAST(atc AS USMALLINT) AS atc,
               atc AS atc_text
        FROM raw_debits)
        WHERE txn_id IS NOT NULL AND card_id IS NOT NULL AND type IN ('debit', 'reversal')
          AND amount > 0 AND amount <= 1e15 AND ts IS NOT NULL
          AND program IN (SELECT code FROM programs)
          AND (channel IS NULL OR channel IN ('atm', 'pos', 'qr', 'transfer'))
          AND (mcc IS NULL OR regexp_full_match(mcc, '[0-9]{4}'))
          AND (atc_text IS NULL OR atc IS NOT NULL)
          AND CASE type WHEN 'reversal' THEN original_txn_id IS NOT NULL
              ELSE merchant_id IS NOT NULL AND terminal_id IS NOT NULL AND channel IS NOT NULL END
    """)
    con.execute("""CREATE TABLE a AS SELECT card_id, program, amount,
            instant(strftime(valid_from, '%Y-%m-%d 00:00:00')) AS starts,
            instant(strftime(valid_to + 1, '%Y-%m-%d 00:00:00')) AS ends
        FROM (SELECT DISTINCT card_id, beneficiary_id, household_id, program,
                     TRY_CAST(valid_from AS DATE) AS valid_from,
                     TRY_CAST(valid_to AS DATE) AS valid_to, money(amount) AS amount
              FROM raw_allocations)
        WHERE card_id IS NOT NULL AND beneficiary_id IS NOT NULL
          AND program IN (SELECT code FROM programs) AND amount > 0 AND amount <= 1e15
          AND valid_to >= valid_from""")
    # A merchant row with an unknown code or an empty segment registers nothing.
    con.execute("""CREATE TABLE registered AS
        SELECT DISTINCT merchant_id, unnest(codes) AS program FROM (
            SELECT merchant_id, string_split(programs, ';') AS codes FROM raw_merchants
            WHERE merchant_id IS NOT NULL AND programs IS NOT NULL)
        WHERE list_has_all((SELECT list(code) FROM programs), codes)""")


def identity(con):
    con.execute("""CREATE TABLE multi AS SELECT txn_id, min(row) AS first_row
        FROM d GROUP BY txn_id HAVING count(*) > 1""")
    con.execute("""CREATE TABLE conflicting AS SELECT txn_id FROM (
            SELECT DISTINCT * EXCLUDE (row) FROM d SEMI JOIN multi USING (txn_id))
        GROUP BY txn_id HAVING count(*) > 1""")
    con.execute("""CREATE TABLE id_findings AS
        SELECT CASE WHEN c.txn_id IS NULL THEN 'DUPLICATE_TXN' ELSE 'CONFLICTING_TXN' END AS rule,
               d.txn_id, d.card_id, d.program, d.row
        FROM d JOIN multi m USING (txn_id) LEFT JOIN conflicting c USING (txn_id)
        WHERE c.txn_id IS NOT NULL OR d.row <> m.first_row""")
    con.execute("""CREATE TABLE kept AS SELECT * FROM d
        WHERE NOT EXISTS (SELECT 1 FROM id_findings f WHERE f.row = d.row)""")


def checks(con):
    con.execute("""CREATE TABLE replays AS SELECT card_id, atc FROM kept
        WHERE type = 'debit' AND atc IS NOT NULL GROUP BY ALL HAVING count(*) > 1""")
    con.execute("CREATE TABLE totals AS SELECT card_id, program, sum(amount) AS allocated "
                "FROM a GROUP BY ALL")
    con.execute("""CREATE TABLE checked AS
        SELECT k.row, k.txn_id, k.card_id, k.program, k.amount, k.ts, k.merchant_id,
            t.allocated,
            rp.card_id IS NOT NULL AS atc_replay,
            t.allocated IS NULL AS no_allocation,
            t.allocated IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM a WHERE a.card_id = k.card_id AND a.program = k.program
                  AND a.starts <= k.ts AND k.ts < a.ends) AS outside_period,
            p.channels IS NOT NULL AND NOT list_contains(p.channels, k.channel)
                AS channel_not_allowed,
            p.mccs IS NOT NULL AND (k.mcc IS NULL OR NOT list_contains(p.mccs, k.mcc))
                AS mcc_not_allowed,
            p.registered_only AND r.merchant_id IS NULL AS merchant_not_registered,
            coalesce(k.amount > p.max_debit, false) AS over_limit
        FROM kept k JOIN programs p ON p.code = k.program
        LEFT JOIN replays rp ON rp.card_id = k.card_id AND rp.atc = k.atc
        LEFT JOIN totals t ON t.card_id = k.card_id AND t.program = k.program
        LEFT JOIN registered r ON r.merchant_id = k.merchant_id AND r.program = k.program
        WHERE k.type = 'debit'""")


def balance(con):
    # Reversals, the simple way: matched to an earlier debit of the same card and program.
    con.execute("""CREATE TABLE reversals AS SELECT *,
            CASE WHEN original_amount IS NULL THEN 'ORPHAN_REVERSAL'
                 WHEN running > original_amount THEN 'REVERSAL_EXCEEDS' END AS rule
        FROM (SELECT r.row, r.txn_id, r.card_id, r.program, r.original_txn_id, r.amount,
                     o.amount AS original_amount,
                     sum(r.amount) OVER (PARTITION BY r.original_txn_id, r.card_id, r.program
                                         ORDER BY r.ts, r.txn_id) AS running
              FROM kept r LEFT JOIN kept o ON o.txn_id = r.original_txn_id
                   AND o.type = 'debit' AND o.card_id = r.card_id
                   AND o.program = r.program AND o.ts <= r.ts
              WHERE r.type = 'reversal')""")
    con.execute("""CREATE TABLE walked AS SELECT *,
            sum(net) OVER (PARTITION BY card_id, program ORDER BY ts, txn_id) > allocated
                AS overdraft
        FROM (SELECT c.*, c.amount - coalesce(ap.reversed, 0) AS net,
                     coalesce(ap.reversals, 0) AS reversals
              FROM checked c LEFT JOIN (
                  SELECT original_txn_id AS txn_id, sum(amount) AS reversed, count(*) AS reversals
                  FROM reversals WHERE rule IS NULL GROUP BY 1) ap USING (txn_id)
              WHERE NOT (atc_replay OR no_allocation OR outside_period OR channel_not_allowed
                         OR mcc_not_allowed OR merchant_not_registered OR over_limit))""")


def write(con, out):
    os.makedirs(out, exist_ok=True)

    def target(name):  # COPY takes a literal file name, not a parameter
        return "'" + os.path.join(out, name).replace("'", "''") + "'"

    checks_list = ", ".join(CHECKS)
    con.execute(f"""COPY (
        SELECT rule, CASE WHEN rule = 'DUPLICATE_TXN' THEN 'drop'
                          WHEN rule LIKE '%REVERSAL%' THEN 'review' ELSE 'hold' END AS action,
               txn_id, card_id, program, row FROM (
            SELECT * FROM id_findings
            UNION ALL SELECT upper(rule), txn_id, card_id, program, row FROM (
                UNPIVOT (SELECT row, txn_id, card_id, program, {checks_list} FROM checked)
                ON {checks_list} INTO NAME rule VALUE hit) WHERE hit
            UNION ALL SELECT 'OVERDRAFT', txn_id, card_id, program, row FROM walked WHERE overdraft
            UNION ALL SELECT rule, txn_id, card_id, program, row FROM reversals
                      WHERE rule IS NOT NULL)
        ORDER BY card_id, program, txn_id, rule, row
    ) TO {target("findings.csv")} (HEADER)""")
    con.execute(f"""COPY (
        SELECT merchant_id, program, sum(net) AS amount, count(*) AS debits,
               sum(reversals) AS reversals
        FROM walked WHERE NOT overdraft GROUP BY ALL ORDER BY ALL
    ) TO {target("settlement.csv")} (HEADER)""")
    con.execute(f"""COPY (
        SELECT t.card_id, t.program, t.allocated, coalesce(s.spent, 0) AS spent,
               t.allocated - coalesce(s.spent, 0) AS remaining
        FROM totals t LEFT JOIN (SELECT card_id, program, sum(net) AS spent FROM walked
                                 WHERE NOT overdraft GROUP BY ALL) s USING (card_id, program)
        ORDER BY ALL
    ) TO {target("balances.csv")} (HEADER)""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder written by `harmoni generate`")
    ap.add_argument("--out", required=True, help="folder for findings, settlement, balances")
    ap.add_argument("--threads", type=int, default=0, help="threads (0: every core)")
    args = ap.parse_args()
    with open(os.path.join(args.data, "rulebook.json"), encoding="utf-8-sig") as f:
        rulebook = json.load(f)
    scale = rulebook.get("currency_scale", 2)
    tz = rulebook.get("timezone", "+07:00").replace("Z", "+00:00")
    started = time.perf_counter()
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    con.execute("SET TimeZone = 'UTC'")
    setup(con, args.data, scale, tz, rulebook["programs"])
    parse(con)
    identity(con)
    checks(con)
    balance(con)
    write(con, args.out)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"duckdb {duckdb.__version__}, {threads} threads: "
          f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
