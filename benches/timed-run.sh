# Sourced by ab.sh and threads.sh: one run of the command line on a cycle, timed by GNU time.
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
