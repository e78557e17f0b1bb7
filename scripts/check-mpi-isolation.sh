#!/usr/bin/env bash
# Shows that the core products never reach MPI: only the Distributed target imports COpenMPI, and
# no library product other than Distributed has COpenMPI or Distributed in its dependency closure
# (read from `swift package describe --type json`). With WEIGHTINIT_CHECK_NO_MPI_BUILD=1 it also
# builds every core product with Open MPI's pkg-config file hidden (as on a machine without
# libopenmpi-dev), in a separate scratch directory (.build/no-mpi; a full build, minutes), and
# checks that the Distributed product fails to build there on mpi.h (so MPI was really hidden).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${WEIGHTINIT_PYTHON:-python3}"

# 1. Sources: `import COpenMPI` only under Sources/Distributed.
bad="$(grep -rlE '^\s*(@_implementationOnly\s+)?import\s+COpenMPI' Sources Tests | grep -v '^Sources/Distributed/' || true)"
if [ -n "$bad" ]; then echo "check-mpi-isolation: COpenMPI imported outside Sources/Distributed: $bad" >&2; exit 1; fi

# 2. Dependency closure of every library product.
swift package describe --type json 2>/dev/null | "$PY" -c '
import json, sys
pkg = json.load(sys.stdin)
targets = {t["name"]: t for t in pkg["targets"]}
def closure(names):
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in seen or n not in targets: continue
        seen.add(n); todo += targets[n].get("target_dependencies", [])
    return seen
direct = sorted(n for n, t in targets.items() if "COpenMPI" in t.get("target_dependencies", []))
assert direct == ["Distributed"], f"targets depending on COpenMPI directly: {direct} (only Distributed may)"
failed = False
for p in pkg["products"]:
    if "library" not in p["type"]: continue
    c = closure(p["targets"])
    reach = sorted(c & {"COpenMPI", "Distributed"})
    if p["name"] == "Distributed":
        print("  %-14s reaches COpenMPI (the one MPI product)" % p["name"])
        continue
    print("  %-14s closure %s: %s" % (p["name"], ",".join(sorted(c)), "REACHES " + ", ".join(reach) if reach else "no MPI"))
    failed |= bool(reach)
sys.exit(1 if failed else 0)
'
echo "check-mpi-isolation: only Distributed imports COpenMPI; no core product reaches it"

# 3. Optional: build the core products with ompi-c hidden from pkg-config, then show that the
#    simulation really hides MPI: the Distributed product must FAIL to build in the same setup, on
#    mpi.h (if it built, mpi.h or the module would still be reachable without pkg-config and the
#    core builds would prove nothing).
if [ "${WEIGHTINIT_CHECK_NO_MPI_BUILD:-0}" = "1" ]; then
  started=$(date +%s)
  hidden="$(mktemp -d)"
  trap 'rm -rf "$hidden"' EXIT
  for pc in openblas zlib; do
    f="$(pkg-config --variable=pcfiledir "$pc")/$pc.pc"; cp "$f" "$hidden/"
  done
  for dep in $(grep -hoE '^Requires(\.private)?:.*' "$hidden"/*.pc | sed 's/^[^:]*://; s/,/ /g; s/[<>=][^ ]*//g'); do
    f="$(pkg-config --variable=pcfiledir "$dep" 2>/dev/null)/$dep.pc"; [ -f "$f" ] && cp "$f" "$hidden/" || true
  done
  for pc in ompi-c ompi mpi; do
    if PKG_CONFIG_LIBDIR="$hidden" PKG_CONFIG_PATH="" pkg-config --exists "$pc"; then echo "check-mpi-isolation: $pc still visible to pkg-config" >&2; exit 1; fi
  done
  log="$hidden/build.log"
  for product in MatrixModule Initializers NeuralNetwork Datasets WeightInit $(grep -q '"TensorFiles"' Package.swift && echo TensorFiles); do
    echo "check-mpi-isolation: building $product with ompi-c hidden"
    if ! PKG_CONFIG_LIBDIR="$hidden" PKG_CONFIG_PATH="" swift build --scratch-path .build/no-mpi --product "$product" >"$log" 2>&1; then
      tail -30 "$log" >&2; echo "check-mpi-isolation: $product does not build without Open MPI" >&2; exit 1
    fi
    grep -iE 'ompi|COpenMPI' "$log" | head -3 || true      # SwiftPM's pkg-config warnings, if any (for the record)
    tail -1 "$log"
  done
  echo "check-mpi-isolation: building Distributed in the same setup (must fail on mpi.h: proves MPI is hidden)"
  if PKG_CONFIG_LIBDIR="$hidden" PKG_CONFIG_PATH="" swift build --scratch-path .build/no-mpi --product Distributed >"$log" 2>&1; then
    echo "check-mpi-isolation: Distributed built with ompi-c hidden: mpi.h is reachable without pkg-config, so the core builds above prove nothing" >&2
    exit 1
  fi
  if ! grep -q "'mpi.h' file not found" "$log"; then
    tail -30 "$log" >&2; echo "check-mpi-isolation: Distributed failed, but not on mpi.h (see above)" >&2; exit 1
  fi
  grep -m1 "'mpi.h' file not found" "$log"
  echo "check-mpi-isolation: the core products build with Open MPI hidden; the Distributed product cannot ($(( $(date +%s) - started )) s)"
fi
