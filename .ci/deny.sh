#!/usr/bin/env bash
# Checks every dependency's license, source and version requirements against deny.toml,
# for the main workspace and for the fuzz/ workspace (its own Cargo.lock).
#
# Advisories are not checked: cargo-deny would fetch the advisory database from the
# internet, which CI machines cannot reach (TOOLCHAIN.md).
#
# Installs cargo-deny when missing: `cargo install cargo-deny --locked` took about 4 minutes
# on a 2-core machine (cargo-deny 0.20.2). The check itself takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    echo "deny.sh: installing cargo-deny (about 4 minutes)"
    cargo install cargo-deny --locked
fi

cargo deny --version
echo "deny.sh: workspace"
cargo deny check bans licenses sources
echo "deny.sh: fuzz/ workspace"
cargo deny --manifest-path fuzz/Cargo.toml --config deny.toml check bans licenses sources
