"""The label cache lock: held by the running program itself, so a killed job's orphan keeps it; no hang or crash
where the file system has no flock."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlip_autopipec.data import label_cache
from mlip_autopipec.data.label_cache import LabelCache

HOLDER = """
import sys, time
from pathlib import Path
from mlip_autopipec.data.label_cache import LabelCache
from mlip_autopipec.dft.runner import run_process
folder = Path(sys.argv[1])
with LabelCache(folder / "cache").lock("sid", "hash") as fd:
    (folder / "locked").write_text("yes")
    run_process(["sleep", "4"], folder, folder / "out", folder / "err", 60, pass_fds=(fd,))
"""


def lock_is_free(path: Path) -> bool:
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def test_an_orphaned_program_keeps_the_lock_after_its_job_is_killed(tmp_path: Path) -> None:
    job = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)])
    deadline = time.monotonic() + 30
    while not (tmp_path / "locked").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the program (sleep 4) is running now
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    lock = LabelCache(tmp_path / "cache").path("sid", "hash").with_suffix(".lock")
    assert not lock_is_free(lock), "the killed job's program still runs, so the entry must stay locked"
    started = time.monotonic()
    with LabelCache(tmp_path / "cache").lock("sid", "hash") as fd:
        waited = time.monotonic() - started
        assert fd is not None
    assert 1.0 < waited < 10.0  # until the orphan finished, not forever
    assert lock_is_free(lock)


def test_no_flock_on_the_file_system_warns_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Lustre mounted noflock answers ENOSYS; a real run here cannot produce that, so flock is replaced."""

    def no_flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(label_cache.fcntl, "flock", no_flock)
    with LabelCache(tmp_path).lock("sid", "hash") as fd:
        assert fd is None
    assert "without the lock" in caplog.text


def test_a_lock_never_released_is_given_up_after_the_longest_wait(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = LabelCache(tmp_path)
    with cache.lock("sid", "hash") as held:
        assert held is not None
        started = time.monotonic()
        with cache.lock("sid", "hash", max_wait_s=1.0) as second:
            assert second is None
        assert time.monotonic() - started >= 1.0
    assert "still locked" in caplog.text
