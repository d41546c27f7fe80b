"""The job logger sends the library's own messages to the job's log file, not only the script's."""

from __future__ import annotations

import logging
from pathlib import Path

from mlip_autopipec.joblog import job_logger


def test_library_messages_reach_the_job_log(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "job.log"
    log = job_logger("label", log_path)
    log.info("from the script")
    logging.getLogger("mlip_autopipec.data.label_cache").warning("from the library")
    logging.getLogger("mlip_autopipec.sampling.direct").info("info from the library")
    logging.getLogger("mlip_autopipec.sampling.direct").debug("debug stays out")
    text = log_path.read_text()
    assert "from the script" in text and "from the library" in text and "info from the library" in text
    assert "debug stays out" not in text
    # a second job in the same process (tests, benchmarks) gets its own file, and the first one no new lines
    second = tmp_path / "second.log"
    job_logger("train", second).info("second job")
    assert "second job" in second.read_text() and "second job" not in log_path.read_text()
