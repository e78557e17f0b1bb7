#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer: scripts/sanitize.sh [address|thread …] [-- swift test args]
#
# Each sanitizer builds into its own directory (.build/sanitize-NAME), so the normal build is left
# alone, and keeps its log in .build/sanitize-NAME.log. A sanitizer report fails the run
# (ASan aborts on the first error; TSAN_OPTIONS=halt_on_error=1 makes TSan do the same).
# Slow: a full rebuild per sanitizer and tests several times slower; heavy tests stay behind
# their environment variables as in scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
sanitizers=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sanitizers+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#sanitizers[@]} -eq 0 ] && sanitizers=(address thread)
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
status=0
for s in "${sanitizers[@]}"; do
    dir=".build/sanitize-$s" log=".build/sanitize-$s.log"
    start=$(date +%s)
    if swift build --build-tests --sanitize="$s" --build-path "$dir" > "$log" 2>&1 &&
       swift test --skip-build --sanitize="$s" --build-path "$dir" "$@" >> "$log" 2>&1; then
        result="passed"
    else
        result="FAILED"; status=1
        grep -E "ERROR: (Address|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY:|^✘|error:" "$log" | head -40
    fi
    echo "sanitize: $s: $result in $(( $(date +%s) - start )) s (log: $log)"
    grep -E "Test run with [0-9]+ tests?" "$log" | tail -1
done
exit $status
