"""The HTML report of a run (``mlip-pipe report``, rule ``report``): one self-contained page from the files under
``results/`` (parity, learning curve, uncertainty, validation, structures, DFT failures, time per stage, provenance).

Why its own package: the page is read by people deciding whether to trust a potential, so each section is drawn
from the run's typed files alone (``report.run_files``), one module per section, testable without Snakemake.
"""

from mlip_autopipec.report.build import INDEX, SECTION_IDS, SNAKEMAKE_REPORT, build_report, report_folder

__all__ = ["INDEX", "SECTION_IDS", "SNAKEMAKE_REPORT", "build_report", "report_folder"]
