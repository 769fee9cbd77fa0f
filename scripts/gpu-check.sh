#!/usr/bin/env bash
# The GPU check: one prepared run on a machine with an NVIDIA GPU and its driver, no network and
# ~16 cores, in under 8 minutes. It prints, and writes under $OUT (default ./gpu-check-out):
#   1. agreement: 3 steps of conv/vae, split/factor-vae, shared/vae and conv/vae with correlated
#      noise on each GPU device against the CPU engine (loss per step, relative gap), and a resume
#      across engines (2 steps on the GPU, 2 more on the CPU == 4 on the CPU, within tolerance);
#   2. `disentangle bench train` and `bench encode` on each GPU device that passed 1;
#   3. a short study (8 runs of 300 steps on dSprites) with `--jobs 1` and `--jobs 4` on one GPU:
#      wall time, runs per hour and the GPU memory per worker (nvidia-smi);
#   4. PyTorch's numbers on the same GPU: `python3 torch_step.py --device cuda --encode`.
#
# What must be carried there (nothing is built on that machine; `--prepare` makes them here):
#   gpu-carry/disentangle    the CLI built with `--features wgpu` (CARGO_TARGET_DIR=target/gpu),
#                            stripped so that it fits the 64 MiB a call may carry
#   gpu-carry/disentangle-spirv.xz  (optional, `--prepare --spirv`) the CLI built with
#                            `--features vulkan` (burn's SPIR-V compiler, CARGO_TARGET_DIR=
#                            target/gpu-spirv), stripped and xz-compressed so that both binaries
#                            fit (unpacked there with python3's lzma); checked as the device `spirv` (it runs
#                            `--device vulkan`). It refuses drivers without
#                            VK_KHR_workgroup_memory_explicit_layout (README, GPU backends).
#   gpu-carry/torch_step.py  a copy of ../shared/peers/torch_step.py (../shared does not travel)
#   .gl/*.deb                the Vulkan loader and GL libraries (libvulkan1, libegl1, libglvnd0, …;
#                            the device tool's README gives the apt-get download line); unpacked
#                            into / here when `ldconfig -p` shows no libvulkan
# `gpu-carry/` and `.gl/` are listed in .git/info/exclude by --prepare, so they travel only when
# named in `carry`.
#
# Usage:
#   scripts/gpu-check.sh --prepare [--spirv]  # here: build, strip, copy, download the .debs
#   scripts/gpu-check.sh [--devices "wgpu vulkan spirv"] [--quick]
#                                             # there (or here on lavapipe: --quick, CPU Vulkan)
# --quick: 1 config for agreement, 3 bench steps, a 2-run study with --jobs 1 and 2, no PyTorch
# (the CPU-side test of this script, on Mesa's software Vulkan driver).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
carry=$root/gpu-carry
devices=""
quick=0
prepare=0
spirv=0
while [ $# -gt 0 ]; do
    case $1 in
        --prepare) prepare=1 ;;
        --quick) quick=1 ;;
        --spirv) spirv=1 ;;
        --devices) devices=$2; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ $prepare = 1 ]; then
    set -e
    CARGO_TARGET_DIR=target/gpu cargo build --release --locked -p disentangle-cli --features wgpu
    mkdir -p "$carry"
    strip -o "$carry/disentangle" target/gpu/release/disentangle
    if [ $spirv = 1 ]; then
        CARGO_TARGET_DIR=target/gpu-spirv cargo build --release --locked -p disentangle-cli --features vulkan
        strip -o target/gpu-spirv/disentangle-stripped target/gpu-spirv/release/disentangle
        xz -T0 -9 -c target/gpu-spirv/disentangle-stripped >"$carry/disentangle-spirv.xz"
    fi
    cp ../shared/peers/torch_step.py "$carry/"
    grep -qx '/gpu-carry/' .git/info/exclude || echo /gpu-carry/ >>.git/info/exclude
    grep -qx '/.gl/' .git/info/exclude || echo /.gl/ >>.git/info/exclude
    if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
        mkdir -p .gl /tmp/amd64/partial
        o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
        apt-get $o update -q >/dev/null
        (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    fi
    du -sh "$carry" .gl
    total=$(du -cb "$carry" .gl | tail -1 | cut -f1)
    if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
        echo "gpu-carry and .gl hold $total bytes, more than the 64 MiB a call may carry" >&2
        exit 1
    fi
    echo "carry: gpu-carry .gl; run: scripts/gpu-check.sh"
    exit 0
fi

bin=${DISENTANGLE_BIN:-$carry/disentangle}
[ -x "$bin" ] || bin=$root/target/gpu/release/disentangle
[ -x "$bin" ] || { echo "no wgpu build: run scripts/gpu-check.sh --prepare first" >&2; exit 1; }
out=${OUT:-$root/gpu-check-out}
mkdir -p "$out"
work=$(mktemp -d)
spirv_bin=${DISENTANGLE_SPIRV_BIN:-$work/disentangle-spirv}
if [ -z "${DISENTANGLE_SPIRV_BIN:-}" ] && [ -f "$carry/disentangle-spirv.xz" ]; then
    python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
        "$carry/disentangle-spirv.xz" "$spirv_bin" && chmod +x "$spirv_bin"
fi
if [ -z "$devices" ]; then
    devices="wgpu vulkan"
    [ -x "$spirv_bin" ] && devices="$devices spirv"
fi
# A device of this script is a binary and a `--device`: `spirv` is the SPIR-V build on Vulkan.
bin_of() { if [ "$1" = spirv ]; then echo "$spirv_bin"; else echo "$bin"; fi; }
dev_of() { if [ "$1" = spirv ]; then echo vulkan; else echo "$1"; fi; }
log=$out/gpu-check.log
exec > >(tee "$log") 2>&1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }

stamp "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
else
    echo "no nvidia-smi: no NVIDIA driver here (software Vulkan only)"
fi
if ! ldconfig -p | grep -q libvulkan.so.1; then
    if ls .gl/*.deb >/dev/null 2>&1; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
        echo "unpacked the carried Vulkan loader"
    else
        echo "no Vulkan loader and none carried (.gl/*.deb): the GPU devices will fail"
    fi
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; echo "Vulkan driver: $icd"; fi
done

# 1. Agreement with the CPU engine.
if [ $quick = 1 ]; then
    agree_configs="conv:vae:independent"
else
    agree_configs="conv:vae:independent split:factor-vae:independent shared:vae:independent conv:vae:correlated"
fi
train() { # device encoder model noise steps out [extra...]
    local dev=$1 enc=$2 model=$3 noise=$4 steps=$5 dir=$6 gamma=()
    shift 6
    [ "$model" = factor-vae ] && gamma=(--gamma 30)   # `train` refuses --gamma for other models
    timeout 300 "$(bin_of "$dev")" train --dataset dsprites --model "$model" "${gamma[@]}" --encoder "$enc" --noise "$noise" \
        --steps "$steps" --batch-size 64 --seed 3 --log-every 1 --summary-batches 2 --device "$(dev_of "$dev")" --quiet --out "$dir" "$@"
}
compare() { # a/log.jsonl b/log.jsonl label → prints the largest relative loss gap
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:3])
gap = max(abs(x - y) / max(abs(y), 1e-3) for x, y in zip(a, b)) if len(a) == len(b) and a else float("inf")
print(f"{sys.argv[3]:<40} steps {len(a)}  losses {' '.join(f'{x:.4f}' for x in a)}  max relative gap {gap:.2e}  {'AGREE' if gap < 1e-4 else 'DIFFER'}")
PY
}
working=""
for dev in $devices; do
    stamp "agreement: $dev vs cpu"
    ok=1
    for c in $agree_configs; do
        IFS=: read -r enc model noise <<<"$c"
        train cpu "$enc" "$model" "$noise" 3 "$work/cpu-$c" || ok=0
        if train "$dev" "$enc" "$model" "$noise" 3 "$work/$dev-$c"; then
            compare "$work/$dev-$c/log.jsonl" "$work/cpu-$c/log.jsonl" "$dev $enc/$model/$noise"
        else
            echo "$dev $enc/$model/$noise: FAILED (exit $?)"; ok=0
        fi
    done
    # Resume across engines: 2 steps on the GPU, then 2 on the CPU, against 4 on the CPU.
    if [ $ok = 1 ] && train "$dev" conv vae independent 2 "$work/$dev-resume" && train cpu conv vae independent 4 "$work/cpu-4" &&
        timeout 300 "$bin" train --resume "$work/$dev-resume" --steps 4 --device cpu --quiet; then
        compare "$work/$dev-resume/log.jsonl" "$work/cpu-4/log.jsonl" "$dev→cpu resume (4 steps)"
        # Encoding for metrics on the GPU: evaluate the GPU-trained run there.
        printf '[mig]\nnum_train = 2000\n' >"$work/eval.toml"
        timeout 300 "$(bin_of "$dev")" evaluate "$work/$dev-resume" --metrics mig --eval-config "$work/eval.toml" --device "$(dev_of "$dev")" --out "$work/$dev-eval.json" >/dev/null &&
            python3 -c "import json,sys; print('$dev evaluate: mig.discrete =', json.load(open(sys.argv[1]))['mig.discrete'])" "$work/$dev-eval.json" || ok=0
    else
        ok=0
    fi
    [ $ok = 1 ] && working="$working $dev"
done
stamp "GPU devices that work:${working:- none}"

# 2. Benchmarks.
steps=$([ $quick = 1 ] && echo 3 || echo 30)
configs=$([ $quick = 1 ] && echo conv/vae || echo conv/vae,conv/factor-vae,split/vae,split/factor-vae)
for dev in $working; do
    stamp "bench train/encode on $dev"
    timeout 600 "$(bin_of "$dev")" bench train --device "$(dev_of "$dev")" --steps "$steps" --configs "$configs"
    timeout 300 "$(bin_of "$dev")" bench encode --device "$(dev_of "$dev")" --configs conv/vae,split/vae
done

# 3. Several runs sharing one GPU.
first=$(echo $working | cut -d' ' -f1)
if [ -n "$first" ]; then
    runs=$([ $quick = 1 ] && echo 2 || echo 8)
    study_steps=$([ $quick = 1 ] && echo 20 || echo 300)
    for jobs in 1 $([ $quick = 1 ] && echo 2 || echo 4); do
        cat >"$work/share.toml" <<EOF
name = "gpu-share"
seeds = $((runs / 2))
steps = $study_steps
summary_batches = 10
metrics = ["mig"]
[[grid]]
datasets = ["dsprites"]
encoders = ["conv", "split"]
noises = ["independent"]
objectives = [{ model = "vae" }]
[eval]
mig = { num_train = 2000 }
EOF
        stamp "study: $runs runs × $study_steps steps on $first with --jobs $jobs"
        rm -rf "$work/share-$jobs"
        start=$(date +%s.%N)
        "$(bin_of "$first")" study run "$work/share.toml" --dir "$work/share-$jobs" --jobs "$jobs" --device "$(dev_of "$first")" --quiet &
        pid=$!
        peak=0
        while kill -0 $pid 2>/dev/null; do
            if command -v nvidia-smi >/dev/null; then
                m=$(nvidia-smi --query-compute-apps=used_memory --format=csv,noheader,nounits 2>/dev/null | awk '{s+=$1} END {print s+0}')
                [ "${m:-0}" -gt "$peak" ] && peak=$m
            fi
            sleep 1
        done
        wait $pid; rc=$?
        wall=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
        echo "--jobs $jobs: exit $rc, $wall s wall, $(python3 -c "print(f'{$runs * 3600 / $wall:.0f}')") runs/hour at $study_steps steps; peak GPU memory of all workers $(command -v nvidia-smi >/dev/null && echo "${peak} MiB" || echo "unknown (no nvidia-smi)")"
    done
fi

# 4. PyTorch on the same GPU.
peer=$carry/torch_step.py
[ -f "$peer" ] || peer=$root/../shared/peers/torch_step.py
if [ $quick = 0 ] && [ -f "$peer" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    stamp "PyTorch $(python3 -c 'import torch; print(torch.__version__)') on cuda"
    timeout 600 python3 "$peer" --device cuda --steps 30 --configs conv/vae,conv/factor-vae,split/vae,split/factor-vae --encode
else
    stamp "PyTorch on cuda: skipped (quick mode, no peer, or no CUDA torch)"
fi
stamp "done"
rm -rf "$work"
