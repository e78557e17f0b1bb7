#!/usr/bin/env bash
# The test command: install what is missing, build, run the whole suite (Swift Testing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
# Python (numpy, safetensors, optional torch) for the interop tests; they skip and say so without it.
if [ -z "${WEIGHTINIT_PYTHON:-}" ]; then
  WEIGHTINIT_PYTHON="$(scripts/setup-python.sh)"
  export WEIGHTINIT_PYTHON
fi
swift build --build-tests
swift test --skip-build --parallel "$@"
