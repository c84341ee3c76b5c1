#!/usr/bin/env bash
# One build of the command line run with 1 and with 2 threads, interleaved: medians of wall
# time and peak memory per setting, and the ratio (issue 3's "2 threads at least 1.7 times
# faster than 1").
#
#   bash benches/threads.sh DATA_DIR [RUNS]
#
# Builds the working tree (release profile, in $CARGO_TARGET_DIR or target/); DATA_DIR holds
# rulebook.json, allocations.csv, debits.csv and merchants.csv, e.g. from
# `harmoni generate --cards 100000 --debits 1000000 --seed 1 --out DIR`. RUNS defaults to 11.
# Needs GNU time (/usr/bin/time) and python3.
set -euo pipefail

[ $# -ge 1 ] || { sed -n 2,11p "$0"; exit 2; }
data=$1 runs=${2:-11}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
(cd "$repo" && cargo build -q --release -p harmoni-cli)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$target/release/harmoni" "$work/harmoni"

. "$(dirname "$0")/timed-run.sh"
for _ in $(seq "$runs"); do
    for threads in 1 2; do
        timed_run "$work/times" "$threads" "$work/harmoni" "$data" "$work/out" "$threads"
    done
done

python3 - "$work/times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    threads, wall, _user, _sys, kib = line.split()
    runs.setdefault(threads, []).append((float(wall), int(kib)))
for threads in sorted(runs):
    walls = [w for w, _ in runs[threads]]
    peak = statistics.median(k for _, k in runs[threads]) / 1024
    print(f"{threads} thread(s): {statistics.median(walls):.2f} s ({min(walls):.2f} to {max(walls):.2f}), {peak:,.0f} MiB")
one, two = (statistics.median(w for w, _ in runs[t]) for t in ("1", "2"))
print(f"2 threads against 1: {one / two:.2f} times faster")
PY
