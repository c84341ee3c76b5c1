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
# one). RUNS defaults to 7, THREADS to 2. Needs GNU time (/usr/bin/time) and python3.
set -euo pipefail

[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
small=$1 large=$2 runs=${3:-7} threads=${4:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/timed-run.sh"
build_working_tree "$work/harmoni"

for _ in $(seq "$runs"); do
    timed_run "$work/times" small "$work/harmoni" "$small" "$work/out" "$threads"
    timed_run "$work/times" large "$work/harmoni" "$large" "$work/out" "$threads"
done

echo "small: $small; large: $large"
echo "$runs run$([ "$runs" = 1 ] || echo s) each, interleaved, $threads threads; medians:"
python3 "$(dirname "$0")/medians.py" "$work/times" large small
