#!/usr/bin/env bash
# The main job: install what is missing, build in release, check the BLAS kernel, then train the
# default MLP (784-256-128-10, ReLU, He init, SGD Nesterov + cosine, 5 epochs) on Fashion-MNIST.
# Extra arguments go to `weightinit train` (e.g. scripts/run.sh --init lsuv --epochs 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
swift build -c release --product weightinit
BIN="$(swift build -c release --show-bin-path)/weightinit"
"$BIN" doctor
echo
"$BIN" train "$@"
