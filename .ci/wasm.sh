#!/usr/bin/env bash
# The browser audit tool (bindings/wasm): installs what is missing, builds the page, and runs
# its two tests: the Node test of the JS API on core/testdata's scenario folders, and the
# end-to-end test of the page in headless Chromium. Fails on any failure. The same command
# a developer runs locally: `bash .ci/wasm.sh`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wasm="$root/bindings/wasm"
export PATH="$HOME/.cargo/bin:$PATH"
sudo=""
if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi

echo "== wasm: tools"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
pinned="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' "$wasm/Cargo.toml")"
if [[ -z "$pinned" ]]; then
  echo "wasm.sh: bindings/wasm/Cargo.toml must pin wasm-bindgen exactly (wasm-bindgen = \"=x.y.z\")" >&2
  exit 1
fi
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$pinned" ]]; then
  # --locked fails when a pinned dependency of the CLI is gone from the registry.
  cargo install wasm-bindgen-cli --version "$pinned" --locked \
    || cargo install wasm-bindgen-cli --version "$pinned"
fi
if ! (cd "$wasm" && npm ls --depth=0 >/dev/null 2>&1); then
  (cd "$wasm" && npm ci --no-audit --no-fund)
fi
if ! command -v chromium >/dev/null; then
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
echo "wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), wasm-opt $("$wasm/node_modules/.bin/wasm-opt" --version | awk '{print $3}'), $(chromium --version 2>/dev/null | head -1), node $(node --version)"

echo "== wasm: build"
"$wasm/build.sh"

echo "== wasm: the command line, for the end-to-end comparison"
(cd "$root" && cargo build --release -p harmoni-cli)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export HARMONI_CLI="$target_dir/release/harmoni"

echo "== wasm: Node test of the JS API"
(cd "$wasm" && node --test tests/api.test.mjs)

echo "== wasm: end-to-end test in Chromium"
(cd "$wasm" && node --test tests/page.test.mjs)
