#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time; fails when any target finds a
# crash (a panic, a hang over 20 s on one input, or over 2 GB of memory).
#
#   FUZZ_SECONDS=30 .ci/fuzz.sh                     # every target, 30 s each (the default)
#   FUZZ_TARGETS="rulebook differential" .ci/fuzz.sh
#
# Uses the nightly toolchain when rustup has one, else stable with RUSTC_BOOTSTRAP=1
# (TOOLCHAIN.md; FUZZ_TOOLCHAIN=stable forces that path). No sanitizer by default: the core
# forbids unsafe code, and AddressSanitizer made the targets about 10 times slower;
# FUZZ_SANITIZER=address (nightly only) turns it on. Debug assertions and overflow checks
# are on (cargo-fuzz's default).
#
# Each target starts from the committed seeds (fuzz/seeds/<target>) and regressions
# (fuzz/regressions/<target>); what it learns goes to fuzz/corpus/<target> (not committed).
# A crash leaves its input in fuzz/artifacts/<target>/: commit it under
# fuzz/regressions/<target>/ with a sentence in fuzz/regressions/README.md, and
# core/tests/hostile.rs replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets="${FUZZ_TARGETS:-allocations_csv debits_csv merchants_csv rulebook differential}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (about 40 s)"
    cargo install cargo-fuzz --locked
fi

if [ "${FUZZ_TOOLCHAIN:-}" != stable ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    sanitizer="${FUZZ_SANITIZER:-none}"
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    sanitizer=none
fi
echo "fuzz.sh: ${fuzz[*]} with sanitizer ${sanitizer}, ${seconds} s per target"

"${fuzz[@]}" build --fuzz-dir fuzz -s "$sanitizer"

status=0
summary=()
for target in $targets; do
    mkdir -p "fuzz/corpus/$target"
    corpora=("fuzz/corpus/$target")
    for dir in "fuzz/seeds/$target" "fuzz/regressions/$target"; do
        [ -d "$dir" ] && corpora+=("$dir")
    done
    dict=()
    [ -f "fuzz/dictionaries/$target.dict" ] && dict=("-dict=fuzz/dictionaries/$target.dict")
    log="fuzz/artifacts/$target.log"
    mkdir -p "fuzz/artifacts/$target"
    echo "fuzz.sh: $target for ${seconds} s"
    if "${fuzz[@]}" run --fuzz-dir fuzz -s "$sanitizer" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
        summary+=("$target: ok, ${runs:-?} runs in ${seconds} s, ${speed:-?} runs/s")
    else
        status=1
        tail -n 60 "$log"
        summary+=("$target: FAILED (log $log, input in fuzz/artifacts/$target/)")
    fi
done
printf 'fuzz.sh: %s\n' "${summary[@]}"
exit "$status"
