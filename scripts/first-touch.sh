#!/usr/bin/env bash
# The floor under a fill into a new buffer: builds scripts/first-touch.c and prints, for 4 KiB
# pages and for transparent huge pages, the time 2 threads (or $1) need only to fault in and
# have the kernel zero 1 GiB of new memory, next to a memset of the same resident buffer.
# A fill of rate R GB/s into a new buffer cannot beat R_new = 1 / (1/R + 1/Z) where Z is the
# fault+zero rate, i.e. a ratio to steady state of Z / (Z + R). Compare with
# `weightinit bench --only fresh` run in the same window.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cc -O2 -pthread -o "$out/first-touch" scripts/first-touch.c
grep -H . /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null || true
"$out/first-touch" $((1 << 30)) "${1:-2}" "${2:-3}"
