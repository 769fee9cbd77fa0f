#!/usr/bin/env bash
# Our training step and encoding against the PyTorch peer (../shared/peers/torch_step.py),
# in alternation on the same machine, so the ratio is fair even when the machine is noisy.
#
#   scripts/bench-vs-pytorch.sh [ROUNDS] [STEPS]      (defaults: 2 rounds, 30 timed steps)
#
# Builds nothing: it uses target/release/disentangle (or $DISENTANGLE_BIN). Installs torch
# into target/torch-venv if it is not there. Prints ms/step of both and ours / PyTorch per
# configuration and round, then the encoding rates. Both sides use 2 threads.
#
# As on a CPU without AVX-512, on any x86-64 machine: our binary built with
# `cargo build --release -p disentangle-cli --no-default-features` (the gemm crate without its
# AVX-512 kernels), DISENTANGLE_ENGINE_KERNELS=avx2 (or avx2-gemm), and PyTorch held to AVX2
# by ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 (the header
# prints the kernels and torch's capability, so the output says which ran).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
steps=${2:-30}
bin=${DISENTANGLE_BIN:-target/release/disentangle}
peer=${TORCH_PEER:-../shared/peers/torch_step.py}
venv=target/torch-venv
[ -x "$bin" ] || { echo "no $bin: run cargo build --release first" >&2; exit 1; }
[ -f "$peer" ] || { echo "no PyTorch peer at $peer" >&2; exit 1; }
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "installing torch into $venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch numpy
fi
configs=conv/vae,conv/factor-vae,split/vae,split/factor-vae
out=$(mktemp -d)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "ours: $("$bin" --version 2>/dev/null || echo disentangle), RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2}, DISENTANGLE_ENGINE_KERNELS=${DISENTANGLE_ENGINE_KERNELS:-(unset: best)}"
echo "torch: $("$venv/bin/python" -c 'import torch; print(torch.__version__, "cpu capability", torch.backends.cpu.get_cpu_capability())')"
for r in $(seq "$rounds"); do
    echo "round $r/$rounds: ours ..." >&2
    RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2} "$bin" bench train --device cpu --steps "$steps" --configs "$configs" >"$out/ours-$r.txt"
    RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2} "$bin" bench encode --device cpu --configs conv/vae,split/vae >>"$out/ours-$r.txt"
    echo "round $r/$rounds: PyTorch ..." >&2
    "$venv/bin/python" "$peer" --threads 2 --steps "$steps" --configs "$configs" --encode >"$out/torch-$r.txt"
done
python3 - "$out" "$rounds" <<'PY'
import re, sys
out, rounds = sys.argv[1], int(sys.argv[2])
step = re.compile(r"^(\S+)\s+(\S+)\s+median\s+([\d.]+) ms/step\s+min\s+([\d.]+)")
enc = re.compile(r"^(\S+)\s+encode\s+([\d.]+) images/s")
def parse(path):
    steps, rates = {}, {}
    for line in open(path):
        if m := step.match(line):
            steps[f"{m[1]}/{m[2]}"] = float(m[3])
        elif m := enc.match(line):
            rates[m[1]] = float(m[2])
    return steps, rates
runs = [(parse(f"{out}/ours-{r}.txt"), parse(f"{out}/torch-{r}.txt")) for r in range(1, rounds + 1)]
def table(title, index, digits):
    print(f"\n{title[0]:<18} {title[1]:>22} {title[2]:>22} {'ours / PyTorch':>22}")
    for key in runs[0][0][index]:
        ours = [o[index][key] for o, _ in runs]
        torch = [t[index][key] for _, t in runs]
        fmt = lambda v, d: " ".join(f"{x:.{d}f}" for x in v)
        print(f"{key:<18} {fmt(ours, digits):>22} {fmt(torch, digits):>22} {fmt([a / b for a, b in zip(ours, torch)], 2):>22}")
table(("config", "ours ms/step", "PyTorch ms/step"), 0, 1)
table(("encoder", "ours images/s", "PyTorch images/s"), 1, 0)
print("\n(one column entry per round, in order; ms/step are medians over the timed steps; ours include data generation)")
PY
rm -rf "$out"
