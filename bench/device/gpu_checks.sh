#!/usr/bin/env bash
# Every GPU measurement issue 21 asks for, in one call on a lent GPU machine (each step under its own time limit, so
# one slow step cannot lose the others), with what it prints written under $OUT:
#   the device name:   run(command="bash bench/device/gpu_checks.sh", carry=[".device"], timeout_s=590)
# after `bash bench/device/build_deps.sh` here. Reads nothing from ../shared (it does not travel): the benchmarks
# make their own full-size photographs. Results go into bench/RESULTS.md by hand, with the device named.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
log="$OUT/gpu_checks.log"
if [ -f .device/deps312.tar.xz ]; then
  tar xJf .device/deps312.tar.xz -C /tmp && export PYTHONPATH="/tmp/site312:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export RAN_DEVICE=${RAN_DEVICE:-cuda} QT_QPA_PLATFORM=offscreen
py=${PYTHON:-python3}
step() {  # step SECONDS NAME COMMAND...: runs it with a limit, its output in the log (at most 8 files come back)
  local limit=$1 name=$2
  shift 2
  echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)" | tee -a "$log"
  timeout "$limit" "$@" >> "$log" 2>&1
  echo "=== $name: exit $?" | tee -a "$log"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"; } | tee -a "$log"
step 20 versions "$py" -c "import sys, torch, torchvision, kornia, sqlalchemy; print(sys.version, torch.__version__,
  torchvision.__version__, kornia.__version__, sqlalchemy.__version__, torch.cuda.get_device_name(0))"
step 120 cuda_tests "$py" -m pytest -q -p no:cacheprovider tests/engine/model/test_cuda.py \
  tests/engine/imaging/test_jpeg_on_device.py
step 150 end_to_end "$py" bench/run.py --only end_to_end --out "$OUT/end_to_end.md"
step 90 training "$py" bench/run.py --only training --out "$OUT/training.md"
step 90 decode "$py" -m bench.preparation --decode-on-device cuda --workers 1 4 8
step 60 on_device "$py" -m bench.preparation --on-device
echo "done $(date -u +%H:%M:%S)" | tee -a "$log"
