#!/usr/bin/env bash
# Two builds of the command line side by side on one cycle: runs interleaved, medians of wall
# time, user and system time and peak memory, and whether the two output folders are equal.
#
#   bash benches/ab.sh REV_A REV_B DATA_DIR [RUNS] [THREADS]
#
# REV_A and REV_B are git revisions (built in temporary worktrees, release profile); DATA_DIR
# holds rulebook.json, allocations.csv, debits.csv and merchants.csv, e.g. from
# `harmoni generate --cards 100000 --debits 1000000 --seed 1 --out DIR`. RUNS defaults to 11,
# THREADS to 2. Needs GNU time (/usr/bin/time) and python3.
set -euo pipefail

[ $# -ge 3 ] || { sed -n 2,10p "$0"; exit 2; }
rev_a=$1 rev_b=$2 data=$3 runs=${4:-11} threads=${5:-2}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/a" 2>/dev/null || true;
      git -C "$repo" worktree remove --force "$work/b" 2>/dev/null || true; rm -rf "$work"' EXIT

for side in a b; do
    rev=$([ $side = a ] && echo "$rev_a" || echo "$rev_b")
    git -C "$repo" worktree add --detach -q "$work/$side" "$rev"
    (cd "$work/$side" && CARGO_TARGET_DIR="$work/target-$side" cargo build -q --release -p harmoni-cli)
    cp "$work/target-$side/release/harmoni" "$work/harmoni-$side"
done

. "$(dirname "$0")/timed-run.sh"
for _ in $(seq "$runs"); do
    for side in a b; do
        timed_run "$work/times" "$side" "$work/harmoni-$side" "$data" "$work/out-$side" "$threads"
    done
done

if diff -rq "$work/out-a" "$work/out-b" > /dev/null; then
    echo "output folders: identical"
else
    echo "output folders: DIFFER"
fi
python3 - "$work/times" "$rev_a" "$rev_b" "$runs" "$threads" <<'EOF'
import statistics, sys
path, rev_a, rev_b, runs, threads = sys.argv[1:]
rows = {"a": [], "b": []}
for line in open(path):
    side, *values = line.split()
    rows[side].append([float(v) for v in values])
print(f"{runs} runs each, interleaved, {threads} threads; medians:")
for side, rev in (("a", rev_a), ("b", rev_b)):
    median = [statistics.median(r[i] for r in rows[side]) for i in range(4)]
    walls = [r[0] for r in rows[side]]
    print(f"  {rev:>12}: wall {median[0]:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), "
          f"user {median[1]:.2f} s, sys {median[2]:.2f} s, peak {median[3] / 1024:.0f} MiB")
EOF
