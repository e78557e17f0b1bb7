#!/usr/bin/env bash
# Speed and memory, measured in one process per tool: `weightinit bench` (fills against memset,
# orthogonal against the LAPACK QR, Matrix products against raw cblas_sgemm, dense layers, training
# throughput, LSUV cost, peak-memory growth of in-place fills), then the training throughput of
# the same MLP in peers (scripts/compare-peers.py: numpy always, PyTorch when installed).
# Usage: scripts/bench.sh [--quick] [--json] [--threads N]   (extra arguments go to weightinit bench)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
swift build -c release --product weightinit
BIN="$(swift build -c release --show-bin-path)/weightinit"
"$BIN" bench "$@"
if command -v python3 >/dev/null && python3 -c "import numpy" 2>/dev/null; then
  echo
  python3 scripts/compare-peers.py --binary "$BIN"
fi
