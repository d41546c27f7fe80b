"""Reproducible seeds for jobs: one run seed, and one derived seed per job from the job's identity.

Why: jobs run in any order and on any node; a seed derived from (run seed, what the job is) gives the
same trajectory whatever the schedule, and different jobs different streams.
"""

from __future__ import annotations

import hashlib


def job_seed(seed: int, *parts: object) -> int:
    """A reproducible 32-bit seed for one job from the run's seed and the job's identity."""
    text = "|".join([str(int(seed)), *(str(part) for part in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
