"""Logging for workflow jobs: every rule's script logs to its ``log:`` file (and stderr)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def job_logger(name: str, log_path: str | Path | None) -> logging.Logger:
    """A logger writing to the rule's log file; the file is created even when nothing goes wrong."""
    logger = logging.getLogger(f"mlip_autopipec.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger
