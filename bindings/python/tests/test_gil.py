"""The GIL is released while the engine runs, and Ctrl-C stops a long run cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import harmoni
from conftest import RULEBOOK, generated_cycle


def test_another_python_thread_keeps_running() -> None:
    data = generated_cycle(cards=20_000, debits=300_000)
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    seen: dict[str, int] = {}

    def progress(stage: str) -> None:
        seen[stage] = ticks

    counter = threading.Thread(target=count)
    counter.start()
    try:
        harmoni.reconcile(
            RULEBOOK, data["allocations.csv"], data["debits.csv"], data["merchants.csv"], threads=1, progress=progress
        )
    finally:
        done.set()
        counter.join()
    # Between the first stage and the last the engine ran in Rust; had it held the GIL, the
    # counting thread could not have moved at all.
    assert seen["report"] - seen["reading files"] > 1_000, seen


CHILD = textwrap.dedent(
    """
    import sys, time
    import harmoni
    sys.path.insert(0, sys.argv[1])
    from conftest import RULEBOOK, generated_cycle

    data = generated_cycle(cards=100_000, debits=1_000_000)
    stages = []
    print("ready", flush=True)
    started = time.monotonic()
    try:
        harmoni.reconcile(RULEBOOK, data["allocations.csv"], data["debits.csv"], data["merchants.csv"],
                          threads=1, progress=stages.append).write(sys.argv[2])
        print("finished", stages, flush=True)
    except KeyboardInterrupt:
        print("interrupted", round(time.monotonic() - started, 3), stages, flush=True)
        sys.exit(3)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_long_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(Path(__file__).parent), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # inside the engine by now
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    output, _ = child.communicate(timeout=120)
    stopped = time.monotonic() - sent
    assert child.returncode == 3, output
    assert output.startswith("interrupted"), output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "no temporary folder left"
    assert stopped < 10, f"took {stopped:.1f} s to stop"
    print(f"stopped {stopped:.2f} s after SIGINT: {output.strip()}")
