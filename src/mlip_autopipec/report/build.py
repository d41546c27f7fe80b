"""The report of a run: every section from the files under ``results/``, into one ``index.html``."""

from __future__ import annotations

import logging
from pathlib import Path

from mlip_autopipec.data.atomic_io import atomic_write, atomic_write_text
from mlip_autopipec.report.page import Section, render_page
from mlip_autopipec.report.run_files import read_run
from mlip_autopipec.report.sections import (
    failures,
    learning_curve,
    parity,
    provenance,
    structures,
    timing,
    uncertainty,
    validation,
)

logger = logging.getLogger(__name__)

INDEX = "index.html"
FIGURES = "figures"
SNAKEMAKE_REPORT = "snakemake_report.html"
SECTION_IDS = ("parity", "learning-curve", "uncertainty", "validation", "structures", "dft-failures", "timing", "provenance")
"""The ``<h2>`` ids of the sections, in page order: stable, for links and tests."""


def write_figures(folder: Path, figures: dict[str, bytes]) -> None:
    """Every figure of the page as ``{name}.png`` (the Snakemake report shows them); older ones removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        if old.stem not in figures:
            old.unlink()
    for name, png in figures.items():
        atomic_write(folder / f"{name}.png", lambda handle, png=png: handle.write(png), mode="wb").chmod(0o644)


def report_folder(results: str | Path) -> Path:
    return Path(results) / "report"


def build_report(
    results: str | Path = "results", output: str | Path | None = None, snakemake_report: str | Path | None = None
) -> Path:
    """Write ``index.html`` (default ``results/report/``) for the run under ``results``; returns its path.

    The run's folder (where ``.snakemake`` lives) is the parent of ``results``. ``snakemake_report`` is the
    provenance report the page links to (the caller writes it); when None, the provenance section says there is none.
    Every figure is also written to ``figures/{name}.png`` next to the page.
    """
    results = Path(results)
    folder = Path(output) if output is not None else report_folder(results)
    run = read_run(results)
    sections: list[Section] = [
        parity.section(run),
        learning_curve.section(run),
        uncertainty.section(run),
        validation.section(run),
        structures.section(run),
        failures.section(run),
        timing.section(results.resolve().parent),
        provenance.section(run, folder, None if snakemake_report is None else Path(snakemake_report)),
    ]
    assert tuple(s.id for s in sections) == SECTION_IDS  # the ids are the page's contract
    subtitle = f"{len(run.iterations)} iteration folders under {results}; delivered committee: " + (
        "none yet" if run.final is None else f"iteration {run.delivered_iteration()} ({', '.join(run.final.elements)})"
    )
    page = render_page("MLIP-AutoPipe report", subtitle, sections)
    write_figures(folder / FIGURES, {name: png for s in sections for name, png in s.figures.items()})
    path = atomic_write_text(folder / INDEX, page)
    path.chmod(0o644)  # a page to be served or shared, not a private temporary file
    logger.info("report written: %s (%d kB)", path, len(page) // 1024)
    return path
