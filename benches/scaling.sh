#!/usr/bin/env bash
# One build of the command line run on a small and a large cycle, interleaved: medians of wall
# time and peak memory per cycle, and the large against the small (issue 3's "10 million
# debits take at most 11 times 1 million", and memory growing linearly). Interleaving keeps
# the machine's swings out of the ratio, as measuring the sizes minutes apart would not.
#
#   bash benches/scaling.sh SMALL_DIR LARGE_DIR [RUNS] [THREADS]
#
# Builds the working tree (release profile, in $CARGO_TARGET_DIR or target/); each DIR holds
# rulebook.json, allocations.csv, debits.csv and merchants.csv, e.g. from `harmoni generate
# --cards 100000 --debits 1000000 --seed 1 --out DIR` (and 1000000 / 10000000 for the large
# one). The labels are the folders' names. RUNS defaults to 7, THREADS to 2. Needs GNU time
# (/usr/bin/time) and python3.
set -euo pipefail

[ $# -ge 2 ] || { sed -n 2,13p "$0"; exit 2; }
small=$1 large=$2 runs=${3:-7} threads=${4:-2}
[ "$(basename "$small")" != "$(basename "$large")" ] || { echo "the two folders need different names" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/timed-run.sh"
build_working_tree "$work/harmoni"

for _ in $(seq "$runs"); do
    for data in "$small" "$large"; do
        timed_run "$work/times" "$(basename "$data")" "$work/harmoni" "$data" "$work/out" "$threads"
    done
done

echo "$runs runs each, interleaved, $threads threads; medians:"
python3 "$(dirname "$0")/medians.py" "$work/times" "$(basename "$large")" "$(basename "$small")"
