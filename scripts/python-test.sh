#!/usr/bin/env bash
# Builds the Python wheel of disentanglekit (python/), installs it into a fresh venv and runs the
# pytest suite and the README's Python example, exactly as a user would after `pip install`.
#   scripts/python-test.sh            # release wheel (what CI runs)
# Needs: python3 (>= 3.9) with venv, cargo; maturin, numpy, scikit-learn, scipy and pytest come
# from PyPI into target/py-venv (the build tool) and target/py-test-venv (the user's venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_VENV=$ROOT/target/py-venv
TEST_VENV=$ROOT/target/py-test-venv
WHEELS=$ROOT/target/wheels
mkdir -p "$ROOT/target"
if [ ! -x "$BUILD_VENV/bin/maturin" ]; then
    python3 -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/pip" install -q "maturin>=1.7,<2"
fi
rm -rf "$WHEELS"
# --locked: python/Cargo.lock is committed; the build is the same offline as on CI.
"$BUILD_VENV/bin/maturin" build --release --locked -m python/Cargo.toml --out "$WHEELS"
WHEEL=$(ls "$WHEELS"/disentanglekit-*.whl)
echo "built $WHEEL"
rm -rf "$TEST_VENV"
python3 -m venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install -q "$WHEEL"
"$TEST_VENV/bin/pip" install -q pytest scikit-learn scipy
# The README's example, as written (the fenced block after the marker).
awk '/<!-- python-example -->/{found=1; next} found && /^```python/{inside=1; next} inside && /^```/{exit} inside{print}' README.md > "$ROOT/target/readme_example.py"
[ -s "$ROOT/target/readme_example.py" ] || { echo "README.md has no python example after <!-- python-example -->" >&2; exit 1; }
(cd "$ROOT/target" && "$TEST_VENV/bin/python" readme_example.py)
# Run from outside the source tree so that `import disentanglekit` is the installed wheel.
cd "$ROOT/python/tests"
"$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
