# Sourced by ab.sh, threads.sh and scaling.sh: one run of the command line on a cycle, timed by
# GNU time.
#
#   timed_run TIMES LABEL BINARY DATA_DIR OUT_DIR THREADS
#
# appends "LABEL wall user sys peak_KiB" to TIMES; OUT_DIR is replaced.
timed_run() {
    local times=$1 label=$2 binary=$3 data=$4 out=$5 threads=$6
    rm -rf "$out"
    /usr/bin/time -a -o "$times" -f "$label %e %U %S %M" "$binary" reconcile \
        --rulebook "$data/rulebook.json" --allocations "$data/allocations.csv" \
        --debits "$data/debits.csv" --merchants "$data/merchants.csv" \
        --out "$out" --threads "$threads" > /dev/null
}

# Builds the working tree's command line (release profile, in $CARGO_TARGET_DIR or target/)
# and copies the binary to DEST, so that a rebuild meanwhile does not change what is timed.
#
#   build_working_tree DEST
build_working_tree() {
    local dest=$1 repo target
    repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
    target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    (cd "$repo" && cargo build -q --release -p harmoni-cli)
    cp "$target/release/harmoni" "$dest"
}
