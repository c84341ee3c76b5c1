"""Shared fixtures: where the repository's data lives, and a small cycle a reader can check
by eye (amounts in the tests follow from SPEC by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TESTDATA = REPO / "core" / "testdata"
DEMO = REPO / "examples" / "data" / "demo"
INPUTS = ("allocations.csv", "debits.csv", "merchants.csv")

RULEBOOK = {
    "currency_scale": 2,
    "timezone": "+07:00",
    "programs": [
        {
            "code": "BPNTD",
            "name": "Bantuan Pangan Non Tunai Daerah",
            "channels": ["pos", "qr"],
            "max_debit": "300000",
            "registered_merchants_only": True,
        },
        {"code": "ASLUT", "name": "Asistensi Lanjut Usia"},
    ],
}

# C1 gets 200000 of BPNTD: T1 (150000) settles, T2 (100000) overdraws and is held, T5 gives
# back 50000 of T1. C2 spends 50000.25 of its ASLUT at an ATM (naive time, read at +07:00).
# T4's amount is not a number: rejected, line 5, column amount.
ALLOCATIONS = """card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount
C1,3571000000000001,KK1,BPNTD,2022-08-01,2022-08-31,200000
C2,3571000000000002,KK2,BPNTD,2022-08-01,2022-08-31,200000
C2,3571000000000002,KK2,ASLUT,2022-08-01,2022-08-31,300000.50
"""
DEBITS = """txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc
T1,debit,,C1,BPNTD,150000,2022-08-06T10:15:00+07:00,M1,EDC1,pos,5411,1
T2,debit,,C1,BPNTD,100000.00,2022-08-07T10:15:00+07:00,M1,EDC1,pos,5411,2
T3,debit,,C2,ASLUT,50000.25,2022-08-08 09:00:00,ATM9,ATM9,atm,,3
T4,debit,,C2,BPNTD,abc,2022-08-08T09:00:00Z,M1,EDC1,pos,5411,4
T5,reversal,T1,C1,BPNTD,50000,2022-08-09T03:00:00Z,,,,,
"""
MERCHANTS = """merchant_id,programs
M1,BPNTD
ATM9,ASLUT
"""


@pytest.fixture()
def cycle(tmp_path: Path) -> Path:
    """The small cycle as a folder of files."""
    (tmp_path / "rulebook.json").write_text(json.dumps(RULEBOOK))
    (tmp_path / "allocations.csv").write_text(ALLOCATIONS)
    (tmp_path / "debits.csv").write_text(DEBITS)
    (tmp_path / "merchants.csv").write_text(MERCHANTS)
    return tmp_path


def scenario_dirs() -> list[Path]:
    """Every scenario folder of core/testdata, found when the tests run."""
    if not TESTDATA.is_dir():
        return []
    return sorted(p for p in TESTDATA.iterdir() if p.is_dir() and (p / "rulebook.json").exists())


def generated_cycle(cards: int, debits: int) -> dict[str, bytes]:
    """A synthetic cycle big enough to take a while (one allocation per card, debits spread
    over the cards and a month)."""
    allocations = ["card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount"]
    allocations += [f"C{c},35710{c:011d},KK{c // 3},BPNTD,2022-08-01,2022-08-31,900000" for c in range(cards)]
    rows = ["txn_id,type,original_txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel,mcc,atc"]
    for i in range(debits):
        c = (i * 7919) % cards
        day, second = 1 + i % 28, i % 86400
        rows.append(
            f"T{i},debit,,C{c},BPNTD,{1000 + i % 50000}.{i % 100:02d},"
            f"2022-08-{day:02d} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d},"
            f"M{i % 500},EDC{i % 700},pos,5411,{i // cards % 65536}"
        )
    merchants = ["merchant_id,programs"] + [f"M{m},BPNTD" for m in range(500)]
    return {
        "allocations.csv": ("\n".join(allocations) + "\n").encode(),
        "debits.csv": ("\n".join(rows) + "\n").encode(),
        "merchants.csv": ("\n".join(merchants) + "\n").encode(),
    }
