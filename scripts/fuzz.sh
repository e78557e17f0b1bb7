#!/usr/bin/env bash
# Fuzz every parser with libFuzzer + AddressSanitizer: scripts/fuzz.sh [SECONDS] [TARGET…]
#
# Each target is a directory fuzz/NAME/ with
#   harness.swift  — defines LLVMFuzzerTestOneInput (@_cdecl), compiled into the same module as
#   sources        — the package sources it needs, one glob per line (relative to the repository), and
#   corpus/        — committed seed inputs.
# or, for a parser inside a target with dependencies, `modules` instead of (or besides) `sources`:
# one module a line, `NAME GLOB…`, in dependency order. A module of C files is compiled with
# clang (AddressSanitizer, fuzzer coverage) and given a module map for its include/ header; a
# module of Swift files is compiled as its own module (-wmo), so `import NAME` works as in
# SwiftPM, and its object is linked into the harness.
# SwiftPM renames `main` in executable targets and has no fuzzer product type, so the harness and
# the sources are compiled here with swiftc -sanitize=fuzzer,address into .build/fuzz/NAME.
# New inputs found while fuzzing go to .build/fuzz/NAME-corpus (the committed seeds stay small);
# crashes go to .build/fuzz/NAME-artifacts/ and make the script exit non-zero.
# Each target runs SECONDS (default 60) on one worker, or until FUZZ_RUNS executions when that is
# set; the summary line gives the execution count.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=($(ls fuzz)); fi
mkdir -p .build/fuzz
status=0
for t in "${targets[@]}"; do
    dir="fuzz/$t"
    [ -f "$dir/harness.swift" ] || { echo "fuzz: no harness in $dir" >&2; status=1; continue; }
    sources=()
    if [ -f "$dir/sources" ]; then
        while IFS= read -r pattern; do
            [ -z "$pattern" ] && continue
            for f in $pattern; do sources+=("$f"); done
        done < "$dir/sources"
    fi
    includes=()
    for m in Modules/*/; do includes+=(-I "$m"); done
    extra=()
    [ -f "$dir/flags" ] && read -r -a extra < "$dir/flags"
    bin=".build/fuzz/$t"
    buildlog=".build/fuzz/$t-build.log"
    : > "$buildlog"
    objects=()
    failed=0
    if [ -f "$dir/modules" ]; then
        mods=".build/fuzz/$t-modules"
        rm -rf "$mods"; mkdir -p "$mods"
        includes+=(-I "$mods")
        while read -r name patterns; do
            [ -z "$name" ] && continue
            files=()
            for f in $patterns; do files+=("$f"); done
            echo "fuzz: $t: module $name (${#files[@]} files)"
            if [[ "${files[0]}" == *.c ]]; then
                srcdir=$(dirname "${files[0]}")
                mkdir -p "$mods/$name"
                printf 'module %s {\n    umbrella header "%s"\n    export *\n}\n' "$name" \
                    "$PWD/$srcdir/include/$name.h" > "$mods/$name/module.modulemap"
                includes+=(-I "$mods/$name")
                for f in "${files[@]}"; do
                    o="$mods/$name-$(basename "$f" .c).o"
                    clang -O2 -g -fsanitize=address,fuzzer-no-link -I "$srcdir/include" -c "$f" -o "$o" >> "$buildlog" 2>&1 || failed=1
                    objects+=("$o")
                done
            else
                swiftc -O -g -sanitize=fuzzer,address -parse-as-library -wmo -module-name "$name" "${includes[@]}" "${extra[@]}" \
                    -emit-module -emit-module-path "$mods/$name.swiftmodule" -c "${files[@]}" -o "$mods/$name.o" >> "$buildlog" 2>&1 || failed=1
                objects+=("$mods/$name.o")
            fi
            [ "$failed" -ne 0 ] && break
        done < "$dir/modules"
    fi
    echo "fuzz: building $t (${#sources[@]} sources, ${#objects[@]} module objects)"
    if [ "$failed" -ne 0 ] || ! swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz${t//[^A-Za-z0-9]/}" \
            "${includes[@]}" "${extra[@]}" "${sources[@]}" "$dir/harness.swift" "${objects[@]}" -o "$bin" >> "$buildlog" 2>&1; then
        cat "$buildlog" >&2; status=1; continue
    fi
    mkdir -p ".build/fuzz/$t-corpus" ".build/fuzz/$t-artifacts"
    log=".build/fuzz/$t.log"
    runs_flag=()
    [ -n "${FUZZ_RUNS:-}" ] && runs_flag=(-runs="$FUZZ_RUNS")
    "$bin" "${runs_flag[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        -artifact_prefix=".build/fuzz/$t-artifacts/" ".build/fuzz/$t-corpus" "$dir/corpus" > "$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(ls ".build/fuzz/$t-artifacts" | wc -l)
    echo "fuzz: $t: ${runs:-?} executions in ${seconds} s, exit $rc, $crashes crash files (log: $log)"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then status=1; tail -40 "$log" >&2; fi
done
exit $status
