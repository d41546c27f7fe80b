"""Find the command-line tools that pip installs beside this Python (pacemaker, mace_run_train, ...)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_tool(name: str) -> str | None:
    """The tool in this interpreter's bin folder (an unactivated venv works), else on PATH, else None."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    return shutil.which(name)
