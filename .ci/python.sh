#!/usr/bin/env bash
# The Python package (bindings/python): builds the wheel with maturin in a fresh virtual
# environment, installs it there, checks the type stubs against the built module
# (mypy.stubtest) and the example with mypy, runs the pytest suite and the nightly example.
# Fails on any failure, including a pytest run that collected no test (exit code 5).
# The same command a developer runs locally: `bash .ci/python.sh`.
#
#   PYTHON=python3.11        the interpreter that makes the virtual environment
#   HARMONI_PY_VENV=DIR      reuse (or create) the environment at DIR instead of a fresh one in a
#                            temporary folder; tools already installed there are not installed again
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="$root/bindings/python"
export PATH="$HOME/.cargo/bin:$PATH"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
venv="${HARMONI_PY_VENV:-$work/venv}"

echo "== python: virtual environment ($venv)"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
# pip leaves a requirement that is already satisfied alone: nothing is fetched twice.
"$py" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9,<2" "pytest>=7" "pandas>=2.2" "polars>=1.0" "pyarrow>=14" "duckdb>=1.1" "mypy>=1.10"
"$py" - <<'EOF'
import importlib.metadata as m, sys
tools = ["maturin", "pytest", "pandas", "polars", "pyarrow", "duckdb", "mypy"]
print(f"python {sys.version.split()[0]}, " + ", ".join(f"{t} {m.version(t)}" for t in tools))
EOF

echo "== python: build the wheel"
(cd "$package" && "$venv/bin/maturin" build --release --out "$work/wheels")
wheel="$(ls "$work"/wheels/harmoni-*.whl)"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
echo "installed $(basename "$wheel")"

echo "== python: the command line, for the comparison of report folders"
(cd "$root" && cargo build --release -p harmoni-cli)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$py" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export HARMONI_CLI="$target_dir/release/harmoni"

# From a folder of its own, so `import harmoni` finds the installed wheel, not the sources.
mkdir -p "$work/run"
cd "$work/run"

echo "== python: stubs against the built module (mypy.stubtest); the example and the tests through them (mypy)"
"$py" -m mypy.stubtest harmoni
"$py" -m mypy --strict --no-incremental "$root/examples/python/nightly.py"
# pyarrow ships no type information: its imports are Any.
"$py" -m mypy --strict --no-incremental --ignore-missing-imports "$package/tests"

echo "== python: pytest"
status=0
"$py" -m pytest -p no:cacheprovider "$package/tests" || status=$?
if [[ "$status" -ne 0 ]]; then
  echo "python.sh: pytest failed with exit code $status (5 means no test was collected)" >&2
  exit 1
fi

echo "== python: the nightly example on the demo data"
demo="$root/examples/data/demo"
"$py" "$root/examples/python/nightly.py" --data "$demo" --out "$work/report" --review-threshold 1000000000
status=0
"$py" "$root/examples/python/nightly.py" --data "$demo" --out "$work/report" --replace --review-threshold 0 \
  >/dev/null 2>&1 || status=$?
if [[ "$status" -ne 3 ]]; then
  echo "python.sh: the nightly example should exit 3 when held money is above the threshold, got $status" >&2
  exit 1
fi
echo "python: all green"
