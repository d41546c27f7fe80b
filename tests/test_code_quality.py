"""The habits that keep the code readable: ruff (lint and format) and mypy are clean, as `.ci/run` checks here.

Why in the test suite: `.ci/run` runs the README's test command, so these run on every submission, with the
settings in `pyproject.toml`, and a regression fails CI with the offending lines in the message.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, REPO

BIN = Path(PYTHON).parent


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command: list[str]) -> None:
    result = _run([str(BIN / "ruff"), *command, "."])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_is_clean() -> None:
    result = _run([str(BIN / "mypy")])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
