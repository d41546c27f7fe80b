"""Logging for workflow jobs: every rule's script logs to its ``log:`` file (and stderr).

Why the package logger: library modules log through ``logging.getLogger(__name__)`` (children of
``mlip_autopipec``). Configuring that one logger sends their messages, and the script's own, to the
job's log, where a user looking at a failed or slow job reads them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

PACKAGE_LOGGER = "mlip_autopipec"


def job_logger(name: str, log_path: str | Path | None) -> logging.Logger:
    """The logger of job ``name``; it and every library module log to the rule's log file, which is
    created even when nothing goes wrong."""
    package = logging.getLogger(PACKAGE_LOGGER)
    package.setLevel(logging.INFO)
    for handler in package.handlers:
        handler.close()
    package.handlers.clear()
    package.propagate = False  # one copy of each message, whatever the root logger does
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(formatter)
        package.addHandler(handler)
    logger = logging.getLogger(f"{PACKAGE_LOGGER}.jobs.{name}")
    logger.setLevel(logging.INFO)
    return logger
