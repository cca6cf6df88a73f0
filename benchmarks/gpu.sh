#!/usr/bin/env bash
# GPU check in one short run (< 8 minutes on a CUDA machine): the CIFAR example's throughput
# (bf16 + channels_last, built-in data), the per-step overhead ratio of benchmarks/overhead.py on the
# GPU, and OneCycle / LRFinder under FSDP. Writes docs/benchmarks/gpu.{md,json}.
#
#   bash benchmarks/gpu.sh              # on a CUDA machine
#   bash benchmarks/gpu.sh --dry-run    # CPU, tiny sizes: checks the script; writes to a temporary folder
#   bash benchmarks/gpu.sh --dry-run --out DIR
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python}
limit=480  # the GPU run must finish in 8 minutes
if [[ " $* " == *" --dry-run "* || " $* " == *" --cpu "* ]]; then
    limit=1800  # a CPU dry run trains the ResNet-9 on the CPU: slow, and it only checks the script
elif command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec timeout "$limit" "$PYTHON" benchmarks/gpu_check.py "$@"
