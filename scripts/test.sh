#!/usr/bin/env bash
# The test command: install what is missing, check that the core products cannot reach MPI, build,
# run the whole suite (Swift Testing; the Distributed tests start mpirun on loopback themselves).
# Prints a short summary; the full build and test logs are kept in .build/test-logs/ and shown
# (their failing part) when something fails. The last line of a run is Swift Testing's own
# summary ("Test run with N tests in M suites passed after … seconds."), which CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh || exit 1
scripts/check-mpi-isolation.sh || exit 1
# Python (numpy, safetensors, optional torch) for the interop tests; they skip and say so without it.
if [ -z "${WEIGHTINIT_PYTHON:-}" ]; then
  WEIGHTINIT_PYTHON="$(scripts/setup-python.sh)"
  export WEIGHTINIT_PYTHON
fi
logs=.build/test-logs
mkdir -p "$logs"
build_log="$logs/build.log" test_log="$logs/test.log"

start=$(date +%s)
if ! swift build --build-tests > "$build_log" 2>&1; then
    grep -E "error:" "$build_log" | sort -u | head -40
    tail -30 "$build_log"
    echo "test.sh: the build failed (full log: $build_log)"
    exit 1
fi
warnings=$(grep -E "warning:" "$build_log" | grep -v "^\s" | sort -u | wc -l)
echo "test.sh: build ok in $(( $(date +%s) - start )) s, $warnings compiler warnings (log: $build_log)"

start=$(date +%s)
swift test --skip-build --parallel "$@" > "$test_log" 2>&1
status=$?
# Legs that were skipped or ran conditionally (tests print "skipped" / "leg" lines).
grep -E "skipped|SKIPPED|legs? (ran|skipped)|property test:|fuzz" "$test_log" | grep -v "^◇" | sort -u | head -20
xctest=$(grep -E "Executed [0-9]+ tests?, with" "$test_log" | tail -1)
[ -n "$xctest" ] && echo "XCTest: ${xctest# *}"
if [ "$status" -ne 0 ]; then
    echo "test.sh: failures (full log: $test_log):"
    grep -E "^✘|error:|Fatal error|Expectation failed" "$test_log" | head -60
    tail -20 "$test_log"
fi
echo "test.sh: tests ran in $(( $(date +%s) - start )) s (log: $test_log)"
grep -E "Test run with [0-9]+ tests?" "$test_log" | tail -1
exit $status
