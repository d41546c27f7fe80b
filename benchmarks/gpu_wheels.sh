#!/usr/bin/env bash
# Wheels that benchmarks/gpu_speed.py needs on a GPU machine whose python3 (3.12) already holds CUDA torch, numpy,
# scipy, matplotlib, pandas, h5py, sympy, opt-einsum(-fx), torchmetrics and tqdm but none of this project's own
# dependencies. Versions are read from this checkout's .venv so both sides run the same code; two pure-Python
# packages that PyPI ships only as source (python-hostlist, nvidia-ml-py3) are built here.
#   bash benchmarks/gpu_wheels.sh [DIR]   (default .whl; list it in .git/info/exclude)
# There:  python3 -m pip install -q --no-index --no-deps --target /tmp/site DIR/*.whl
#         PYTHONPATH=/tmp/site:src PATH=/tmp/site/bin:$PATH python3 benchmarks/gpu_speed.py --surrogate member
set -euo pipefail
dir=${1:-.whl}
venv_pip=.venv/bin/pip
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$(pwd)
binary=(ase mace-torch pydantic pydantic-core annotated-types typing-inspection configargparse matscipy torch-ema
  prettytable wcwidth lmdb orjson e3nn pymatgen pymatgen-core monty ruamel.yaml chgnet palettable spglib)
for name in "${binary[@]}"; do
  version=$($venv_pip show "$name" | awk '/^Version/{print $2}')
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$dir" "$name==$version"
done
for name in python-hostlist nvidia-ml-py3; do
  version=$($venv_pip show "$name" | awk '/^Version/{print $2}')
  (cd /tmp && "$root/$venv_pip" wheel -q --no-deps "$name==$version" -w "$dir")
done
du -sh "$dir"
