#!/usr/bin/env bash
# Creates .build/venv with numpy and safetensors (from PyPI) for the interop tests, plus torch
# when the wheel directory in $PIP_FIND_LINKS has one (optional). Prints the interpreter's path
# on stdout when the environment is usable, nothing otherwise (the tests then skip their Python
# legs and say so). Idempotent: does nothing when the packages import already.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=.build/venv
py="$venv/bin/python"
log=.build/setup-python.log
mkdir -p .build
if [ ! -x "$py" ]; then
  python3 -m venv "$venv" >"$log" 2>&1 || { echo "setup-python: cannot create $venv (see $log); interop tests will skip" >&2; exit 0; }
fi
if ! "$py" -c "import numpy, safetensors" 2>/dev/null; then
  echo "setup-python: installing numpy and safetensors into $venv" >&2
  "$py" -m pip install -q numpy safetensors >>"$log" 2>&1 || { echo "setup-python: pip install failed (see $log); interop tests will skip" >&2; exit 0; }
fi
if ! "$py" -c "import torch" 2>/dev/null && [ -n "${PIP_FIND_LINKS:-}" ] && ls "$PIP_FIND_LINKS"/torch-*.whl >/dev/null 2>&1; then
  echo "setup-python: installing torch from $PIP_FIND_LINKS (optional)" >&2
  # The wheel itself from the directory; its dependencies (filelock, sympy, …) from PyPI when the
  # directory lacks them.
  whl="$(ls "$PIP_FIND_LINKS"/torch-*.whl | head -1)"
  "$py" -m pip install -q --no-index --find-links "$PIP_FIND_LINKS" torch >>"$log" 2>&1 \
    || "$py" -m pip install -q "$whl" >>"$log" 2>&1 \
    || echo "setup-python: torch not installed (optional; see $log)" >&2
fi
"$py" -c "import numpy, safetensors" 2>/dev/null && echo "$(pwd)/$py"
exit 0
