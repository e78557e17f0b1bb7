#!/usr/bin/env bash
# The test command: install what is missing, check that the core products cannot reach MPI, build,
# run the whole suite (Swift Testing; the Distributed tests start mpirun on loopback themselves and
# set OMPI_ALLOW_RUN_AS_ROOT, --oversubscribe and OMPI_MCA_btl_vader_single_copy_mechanism=none).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/check-mpi-isolation.sh
# Python (numpy, safetensors, optional torch) for the interop tests; they skip and say so without it.
if [ -z "${WEIGHTINIT_PYTHON:-}" ]; then
  WEIGHTINIT_PYTHON="$(scripts/setup-python.sh)"
  export WEIGHTINIT_PYTHON
fi
swift build --build-tests
swift test --skip-build --parallel "$@"
