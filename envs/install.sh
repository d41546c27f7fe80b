#!/usr/bin/env bash
# Install everything MLIP-AutoPipe needs on Debian with Python 3.11 (as root, or with sudo rights):
# Quantum ESPRESSO from the Debian packages when pw.x is missing, a virtual environment in .venv,
# the CPU build of torch==2.13.0 first (any other torch request downloads a multi-GB CUDA build),
# then this package with all its extras. Safe to run again: finished steps are quick no-ops.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: pw.x and its pseudopotentials, and chromium (the headless browser that checks the HTML report).
if ! command -v pw.x >/dev/null 2>&1 || [ ! -d /usr/share/espresso/pseudo ] || ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq quantum-espresso quantum-espresso-data chromium >/dev/null
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[all]"
echo "installed: $(.venv/bin/mlip-pipe --version), $(command -v pw.x)"
