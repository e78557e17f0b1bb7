#!/usr/bin/env bash
# Data-parallel throughput on this machine: training samples/s of the default MLP (784-256-128-10)
# and of the deep MLP (784, 20 hidden layers of 256, 10) on Fashion-MNIST, one rank with 2 OpenBLAS
# threads against 2 ranks (mpirun, loopback) with 1 thread each, same global batch; plus the
# gradient all-reduce time and bytes per step. Ratios are measured in one run; on a machine shared
# with other work they move with the load (say so next to any number).
# Usage: scripts/bench-distributed.sh [--epochs N] [--limit SAMPLES] [--batch-size B]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=1; limit=30000; batch=128
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2;;
    --limit) limit="$2"; shift 2;;
    --batch-size) batch="$2"; shift 2;;
    *) echo "bench-distributed: unknown option $1" >&2; exit 64;;
  esac
done
scripts/setup-deps.sh
swift build -c release --product weightinit >&2
BIN="$(swift build -c release --show-bin-path)/weightinit"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
deep="$(printf '256,%.0s' $(seq 20))"; deep="${deep%,}"
PY="${WEIGHTINIT_PYTHON:-python3}"
field() { "$PY" -c 'import json,sys; o=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %16s %16s %7s %14s %14s\n' model "1 rank x 2 thr" "2 ranks x 1 thr" ratio "allreduce ms" "bytes/step"
for model in default deep; do
  hidden="256,128"; [ "$model" = deep ] && hidden="$deep"
  args=(train --hidden "$hidden" --epochs "$epochs" --limit "$limit" --batch-size "$batch" --json)
  one="$(OPENBLAS_NUM_THREADS=2 "$BIN" "${args[@]}" --threads 2 --batch-threads 1)"
  two="$(timeout 900 mpirun -np 2 --bind-to core -x OPENBLAS_NUM_THREADS=1 "$BIN" "${args[@]}" --threads 1 --distributed)"
  s1="$(echo "$one" | field 'sum(e["samples_per_second"] for e in o["epochs"])/len(o["epochs"])')"
  s2="$(echo "$two" | field 'sum(e["samples_per_second"] for e in o["epochs"])/len(o["epochs"])')"
  ms="$(echo "$two" | field 'o["allreduce"]["seconds_per_step"]*1000')"
  bytes="$(echo "$two" | field 'o["allreduce"]["bytes_per_step"]')"
  printf '%-12s %16.0f %16.0f %7.2f %14.3f %14s\n' "$model" "$s1" "$s2" "$("$PY" -c "print($s2/$s1)")" "$ms" "$bytes"
done
