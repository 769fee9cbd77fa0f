#!/usr/bin/env bash
# Builds the Python wheel of disentanglekit (python/) as a manylinux2014 wheel (checked by
# auditwheel) and the sdist, installs the wheel into a fresh venv and runs the pytest suite and
# the README's Python example, exactly as a user would after `pip install`; then builds the sdist
# in a venv of its own and imports it.
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
if [ ! -x "$BUILD_VENV/bin/maturin" ] || [ ! -x "$BUILD_VENV/bin/auditwheel" ] || ! "$BUILD_VENV/bin/python" -c "import ziglang" 2>/dev/null; then
    python3 -m venv "$BUILD_VENV"
    # zig (from PyPI's ziglang) links against glibc 2.17's symbols: a manylinux2014 wheel that
    # installs on any Linux of the last decade, whatever this machine's glibc is.
    "$BUILD_VENV/bin/pip" install -q "maturin>=1.7,<2" ziglang auditwheel
fi
rm -rf "$WHEELS"
# --locked: python/Cargo.lock is committed; the build is the same offline as on CI.
PATH="$BUILD_VENV/bin:$PATH" "$BUILD_VENV/bin/maturin" build --release --locked --zig --compatibility manylinux2014 \
    -m python/Cargo.toml --out "$WHEELS"
WHEEL=$(ls "$WHEELS"/disentanglekit-*.whl)
echo "built $WHEEL"
# The wheel must be what its tag says: auditwheel finds no symbol newer than glibc 2.17.
"$BUILD_VENV/bin/auditwheel" show "$WHEEL" | tee "$ROOT/target/auditwheel.txt"
grep -q "consistent with the following platform tag:" "$ROOT/target/auditwheel.txt"
grep -q "manylinux_2_17_$(uname -m)" "$ROOT/target/auditwheel.txt" || { echo "the wheel is not manylinux2014 (manylinux_2_17)" >&2; exit 1; }
# The source distribution: only Rust (cargo) and PyPI's maturin are needed to build it.
"$BUILD_VENV/bin/maturin" sdist -m python/Cargo.toml --out "$WHEELS"
SDIST=$(ls "$WHEELS"/disentanglekit-*.tar.gz)
tar tzf "$SDIST" > "$ROOT/target/sdist-files.txt"
grep -q "crates/metrics/src/lib.rs" "$ROOT/target/sdist-files.txt"
echo "built $SDIST"
rm -rf "$TEST_VENV"
python3 -m venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install -q "$WHEEL"
"$TEST_VENV/bin/pip" install -q pytest scikit-learn scipy
# The README's example, as written (the fenced block after the marker).
awk '/<!-- python-example -->/{found=1; next} found && /^```python/{inside=1; next} inside && /^```/{exit} inside{print}' README.md > "$ROOT/target/readme_example.py"
[ -s "$ROOT/target/readme_example.py" ] || { echo "README.md has no python example after <!-- python-example -->" >&2; exit 1; }
(cd "$ROOT/target" && "$TEST_VENV/bin/python" readme_example.py)
# The sdist builds and imports in a venv of its own (cargo compiles it; ~1.5 min on 2 cores).
SDIST_VENV=$ROOT/target/py-sdist-venv
rm -rf "$SDIST_VENV"
python3 -m venv "$SDIST_VENV"
"$SDIST_VENV/bin/pip" install -q "$SDIST"
"$SDIST_VENV/bin/python" -c "import numpy as np, disentanglekit as dk; f = np.stack([np.arange(400) % 4, np.arange(400) // 100], axis=1); assert dk.mig(f.astype(np.float32), f)['discrete_mig'] > 0.99"
# Run from outside the source tree so that `import disentanglekit` is the installed wheel.
(cd "$ROOT/python/tests" && "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider "$@")
# disentanglekit.torch, where torch is: target/torch-venv (scripts/bench-vs-pytorch.sh and .ci/run
# install it; ~5 GB with the CUDA libraries PyPI's wheel brings). The wheel goes in beside torch,
# then test_torch.py and the README's PyTorch example run as written, against the CLI of this
# checkout ($DISENTANGLE_BIN, else target/debug/disentangle, built if missing).
TORCH_VENV=$ROOT/target/torch-venv
if "$TORCH_VENV/bin/python" -c "import torch" 2>/dev/null; then
    "$TORCH_VENV/bin/pip" install -q --force-reinstall --no-deps "$WHEEL"
    "$TORCH_VENV/bin/pip" install -q pytest numpy
    BIN=${DISENTANGLE_BIN:-$ROOT/target/debug/disentangle}
    [ -x "$BIN" ] || (cd "$ROOT" && cargo build -q --locked -p disentangle-cli)
    export DISENTANGLE_BIN=$BIN
    (cd "$ROOT/python/tests" && "$TORCH_VENV/bin/python" -m pytest -q -p no:cacheprovider test_torch.py)
    work=$(mktemp -d)
    for marker in torch-example torch-example-cli; do
        awk -v m="<!-- $marker -->" '$0 == m {found=1; next} found && /^```/ && !inside {inside=1; next} inside && /^```/ {exit} inside {print}' README.md > "$work/$marker"
        [ -s "$work/$marker" ] || { echo "README.md has no block after <!-- $marker -->" >&2; exit 1; }
    done
    (
        cd "$work"
        PATH=$(dirname "$BIN"):$PATH
        "$BIN" train --out runs/split --dataset dsprites --model factor-vae --encoder split --steps 3 --batch-size 8 --summary-batches 1 --quiet >/dev/null
        "$TORCH_VENV/bin/python" torch-example
        PATH=$(dirname "$BIN"):$PATH bash -e torch-example-cli
    )
    rm -rf "$work"
elif [ "${DISENTANGLE_REQUIRE_TORCH_TESTS:-}" = 1 ]; then
    echo "DISENTANGLE_REQUIRE_TORCH_TESTS=1 but $TORCH_VENV has no torch" >&2
    exit 1
else
    echo "skipped: disentanglekit.torch tests and the README's PyTorch example (no torch in $TORCH_VENV)"
fi
