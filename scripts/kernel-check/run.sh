#!/bin/sh
# Builds and runs the CFillKernels test/benchmark harness; then the scipy KS check.
# Usage: scripts/kernel-check/run.sh [nobench | benchonly]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-$(command -v /opt/swift/usr/bin/clang || command -v clang)}
out=${TMPDIR:-/tmp}/wi-kernel-check
mkdir -p "$out"
"$CC" -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I "$root/Sources/CFillKernels/include" \
  "$here/check.c" "$root"/Sources/CFillKernels/*.c -lm -lpthread -o "$out/check"
"$out/check" "$out" "${1:-bench}"
[ "${1:-}" = benchonly ] && exit 0
if python3 -c 'import scipy' 2>/dev/null; then python3 "$here/ks.py" "$out"; fi
