#!/usr/bin/env bash
# Installs the system packages WeightInit needs, only when missing:
#   libopenblas-dev liblapacke-dev zlib1g-dev (build), libopenmpi-dev openmpi-bin (the Distributed
#   target and mpirun for its tests) and dataset-fashion-mnist (real data).
set -euo pipefail
needed=(libopenblas-dev liblapacke-dev zlib1g-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup-deps: swift not found on PATH (Swift 6 toolchain required)" >&2; exit 1; }
