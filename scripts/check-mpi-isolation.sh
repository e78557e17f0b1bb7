#!/usr/bin/env bash
# Shows that the core products never reach MPI: only the Distributed target imports COpenMPI, and
# no library product other than Distributed has COpenMPI or Distributed in its dependency closure
# (read from `swift package describe --type json`). With WEIGHTINIT_CHECK_NO_MPI_BUILD=1 it also
# builds every core product with Open MPI hidden (headers, libraries and pkg-config files, in a
# private mount namespace: as on a machine without libopenmpi-dev), in a separate scratch directory
# (.build/no-mpi; a full build, minutes), and checks that the Distributed product fails to build
# there on mpi.h (so MPI was really hidden). See step 3.
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

# 3. Optional: a machine without libopenmpi-dev, simulated in a private mount namespace
#    (`unshare -m`, needs root): Open MPI's headers and libraries (/usr/lib/<triplet>/openmpi, where
#    /usr/include/<triplet>/mpi and libmpi.so point) are covered by an empty tmpfs and its
#    pkg-config files (ompi*, mpi*) are taken out of the pkg-config directory. Hiding them from
#    the pkg-config tool alone (PKG_CONFIG_LIBDIR) is not enough: SwiftPM reads .pc files itself
#    from the default directories. In that namespace the core targets are built (`--target`:
#    `swift build --product` of a library product builds every target of the package) in their own
#    scratch directory, .build/no-mpi, used only inside the namespace (the first run is a full
#    build, minutes), and the Distributed target must FAIL to build, on mpi.h — the proof that
#    MPI really was out of reach.
if [ "${WEIGHTINIT_CHECK_NO_MPI_BUILD:-0}" = "1" ]; then
  started=$(date +%s)
  if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    echo "check-mpi-isolation: WEIGHTINIT_CHECK_NO_MPI_BUILD=1 needs root and unshare -m (a private mount namespace) to hide Open MPI" >&2
    exit 1
  fi
  triplet="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
  ompi="/usr/lib/$triplet/openmpi" pcdir="/usr/lib/$triplet/pkgconfig"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/pc"
  for f in "$pcdir"/*.pc; do
    case "$(basename "$f")" in ompi*|mpi*|*openmpi*) ;; *) cp "$f" "$work/pc/" ;; esac
  done
  products="MatrixModule Initializers NeuralNetwork Datasets WeightInit $(grep -q '"TensorFiles"' Package.swift && echo TensorFiles)"
  # shellcheck disable=SC2016
  unshare -m bash -c '
    set -euo pipefail
    ompi="$1" pcdir="$2" work="$3"; shift 3
    mount --make-rprivate / 2>/dev/null || true
    [ -d "$ompi" ] && mount -t tmpfs -o size=1m none "$ompi"
    mount --bind "$work/pc" "$pcdir"
    for pc in ompi-c ompi mpi mpi-c; do
      if pkg-config --exists "$pc"; then echo "check-mpi-isolation: $pc still visible to pkg-config" >&2; exit 1; fi
    done
    if echo "#include <mpi.h>" | cc -E -x c - >/dev/null 2>&1; then echo "check-mpi-isolation: the C compiler still finds mpi.h" >&2; exit 1; fi
    echo "check-mpi-isolation: Open MPI hidden (no ompi-c/mpi .pc file, no mpi.h, empty $ompi)"
    log="$work/build.log"
    for product in "$@"; do
      if ! swift build --scratch-path .build/no-mpi --target "$product" >"$log" 2>&1; then
        tail -30 "$log" >&2; echo "check-mpi-isolation: $product does not build without Open MPI" >&2; exit 1
      fi
      echo "check-mpi-isolation: $product: $(tail -1 "$log")"
    done
    echo "check-mpi-isolation: building Distributed in the same setup (must fail on mpi.h)"
    if swift build --scratch-path .build/no-mpi --target Distributed >"$log" 2>&1; then
      echo "check-mpi-isolation: Distributed built with Open MPI hidden: the simulation does not hide MPI" >&2; exit 1
    fi
    if ! grep -q "mpi.h.* file not found" "$log"; then
      tail -30 "$log" >&2; echo "check-mpi-isolation: Distributed failed, but not on mpi.h (see above)" >&2; exit 1
    fi
    echo "check-mpi-isolation: Distributed fails as it must: $(grep -m1 "mpi.h.* file not found" "$log" | sed "s/^.*error: //")"
  ' bash "$ompi" "$pcdir" "$work" $products
  echo "check-mpi-isolation: the core products build with Open MPI hidden and the Distributed product cannot ($(( $(date +%s) - started )) s)"
fi
