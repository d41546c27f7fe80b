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


def run_logged(
    argv: list[str],
    cwd: Path,
    log: Path,
    env: dict[str, str],
    timeout_s: float | None,
    error: type[Exception],
    append: bool = True,
) -> None:
    """Run a trainer with its output appended to ``log``; on time-out or failure raise ``error`` naming the log and its tail."""
    import os
    import subprocess

    with open(log, "a" if append else "w") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n")
        handle.flush()
        try:
            process = subprocess.run(
                argv, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **env}, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise error(f"{Path(argv[0]).name} exceeded {timeout_s} s in {cwd}; see {log}") from None
    if process.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise error(f"{Path(argv[0]).name} failed (exit {process.returncode}) in {cwd}; see {log}:\n" + "\n".join(tail))
