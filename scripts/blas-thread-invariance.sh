#!/usr/bin/env bash
# Are OpenBLAS's bytes independent of its thread count? Builds scripts/blas-thread-invariance.c
# and runs it in separate processes with OPENBLAS_NUM_THREADS=1, 2, 4, 8 (the count is
# process-wide state, so it is never changed inside one process), then prints which lines differ
# from the 1-thread run. OpenBLAS uses at most as many threads as there are cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cc -O2 -o "$out/inv" scripts/blas-thread-invariance.c $(pkg-config --cflags --libs openblas) -llapack
for t in 1 2 4 8; do OPENBLAS_NUM_THREADS=$t "$out/inv" > "$out/t$t.txt"; done
cat "$out/t1.txt"
for t in 2 4 8; do
  echo "--- OPENBLAS_NUM_THREADS=$t: lines that differ from 1 thread ($(head -1 "$out/t$t.txt"))"
  diff <(tail -n +2 "$out/t1.txt") <(tail -n +2 "$out/t$t.txt") | grep '^>' | sed 's/^> /  /' || echo "  none"
done
