#!/usr/bin/env bash
# Builds the audit page into bindings/wasm/dist/ (git-ignored):
#   dist/index.html, style.css, app.js, worker.js, harmoni.js   the page and the JS API
#   dist/pkg/harmoni_wasm.js, harmoni_wasm_bg.wasm, .d.ts      the core, compiled and optimized
#   dist/sample/                                               the demo data set (examples/data/demo)
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli at the version pinned in
# Cargo.toml, and `npm ci` done here (binaryen's wasm-opt). .ci/wasm.sh installs them all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dist="$here/dist"
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"

pinned="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' "$here/Cargo.toml")"
installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$installed" != "$pinned" ]]; then
  echo "build.sh: wasm-bindgen-cli $pinned is needed (found '${installed:-none}'):" >&2
  echo "  cargo install wasm-bindgen-cli --version $pinned --locked   (or without --locked)" >&2
  exit 1
fi
if [[ ! -x "$here/node_modules/.bin/wasm-opt" ]]; then
  echo "build.sh: run 'npm ci' in $here first (it brings binaryen's wasm-opt)" >&2
  exit 1
fi

echo "== cargo build (wasm32, release)"
# A RUSTFLAGS variable from the caller would change the build (and its cache): not used here.
(cd "$root" && env -u RUSTFLAGS cargo build -p harmoni-wasm --target wasm32-unknown-unknown --release)

echo "== wasm-bindgen"
rm -rf "$dist.tmp"
mkdir -p "$dist.tmp/pkg" "$dist.tmp/sample"
# --experimental-reset-state-function: after a panic (wasm32 aborts) harmoni.js gets a fresh
# instance instead of a module left in a broken state.
wasm-bindgen --target web --experimental-reset-state-function --out-dir "$dist.tmp/pkg" \
  "$target_dir/wasm32-unknown-unknown/release/harmoni_wasm.wasm"

echo "== wasm-opt -O3"
wasm="$dist.tmp/pkg/harmoni_wasm_bg.wasm"
"$here/node_modules/.bin/wasm-opt" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --strip-debug --strip-producers "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"

echo "== page and sample"
cp "$here"/web/*.html "$here"/web/*.css "$here"/web/*.js "$dist.tmp/"
demo="${HARMONI_DEMO_DIR:-$root/examples/data/demo}"
for name in rulebook.json allocations.csv debits.csv merchants.csv; do
  if [[ ! -f "$demo/$name" ]]; then
    echo "build.sh: the demo data set is incomplete: $demo/$name is missing" >&2
    exit 1
  fi
  cp "$demo/$name" "$dist.tmp/sample/"
done

rm -rf "$dist"
mv "$dist.tmp" "$dist"
raw=$(stat -c %s "$dist/pkg/harmoni_wasm_bg.wasm")
gz=$(gzip -9 -c "$dist/pkg/harmoni_wasm_bg.wasm" | wc -c)
echo "built $dist: harmoni_wasm_bg.wasm $raw bytes, $gz bytes gzipped (limit 1048576)"
if (( gz > 1048576 )); then
  echo "build.sh: the module is over 1 MB gzipped" >&2
  exit 1
fi
