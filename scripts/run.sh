#!/usr/bin/env bash
# The main job: install what is missing, build in release, then check the BLAS kernel and
# benchmark this machine (fills against memset, products against raw cblas_sgemm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
swift build -c release --product weightinit
BIN="$(swift build -c release --show-bin-path)/weightinit"
"$BIN" doctor
echo
"$BIN" bench --quick "$@"
