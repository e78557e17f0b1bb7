#!/usr/bin/env bash
# Shows that the core products never reach MPI: only the Distributed target imports COpenMPI, and
# no library product other than Distributed has COpenMPI or Distributed in its dependency closure
# (read from `swift package describe --type json`). With WEIGHTINIT_CHECK_NO_MPI_BUILD=1 it also
# builds every core product with Open MPI's pkg-config file hidden (as on a machine without
# libopenmpi-dev), in a separate scratch directory (.build/no-mpi; a full build, minutes).
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

# 3. Optional: build the core products with ompi-c hidden from pkg-config.
if [ "${WEIGHTINIT_CHECK_NO_MPI_BUILD:-0}" = "1" ]; then
  hidden="$(mktemp -d)"
  trap 'rm -rf "$hidden"' EXIT
  for pc in openblas zlib; do
    f="$(pkg-config --variable=pcfiledir "$pc")/$pc.pc"; cp "$f" "$hidden/"
  done
  for dep in $(grep -hoE '^Requires(\.private)?:.*' "$hidden"/*.pc | sed 's/^[^:]*://; s/,/ /g; s/[<>=][^ ]*//g'); do
    f="$(pkg-config --variable=pcfiledir "$dep" 2>/dev/null)/$dep.pc"; [ -f "$f" ] && cp "$f" "$hidden/" || true
  done
  if PKG_CONFIG_LIBDIR="$hidden" PKG_CONFIG_PATH="" pkg-config --exists ompi-c; then echo "check-mpi-isolation: ompi-c still visible" >&2; exit 1; fi
  for product in MatrixModule Initializers NeuralNetwork Datasets WeightInit $(grep -q '"TensorFiles"' Package.swift && echo TensorFiles); do
    echo "check-mpi-isolation: building $product with ompi-c hidden"
    PKG_CONFIG_LIBDIR="$hidden" PKG_CONFIG_PATH="" swift build --scratch-path .build/no-mpi --product "$product" 2>&1 | tail -1
  done
  echo "check-mpi-isolation: the core products build with Open MPI hidden"
fi
