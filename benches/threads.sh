#!/usr/bin/env bash
# One build of the command line run with 1 and with 2 threads, interleaved: medians of wall
# time and peak memory per setting, and the ratio (issue 3's "2 threads at least 1.7 times
# faster than 1": the last line's wall time ratio).
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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/timed-run.sh"
build_working_tree "$work/harmoni"

for _ in $(seq "$runs"); do
    for label in 1-thread 2-threads; do
        timed_run "$work/times" "$label" "$work/harmoni" "$data" "$work/out" "${label%%-*}"
    done
done

python3 "$(dirname "$0")/medians.py" "$work/times" 1-thread 2-threads
