#!/usr/bin/env bash
# The test command: install what is missing, build, run the whole suite (Swift Testing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
swift build --build-tests
swift test --skip-build --parallel "$@"
