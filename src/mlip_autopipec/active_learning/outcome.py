"""How a run ended, in a few lines a user reads at the prompt: why the loop stopped, and whether the targets are met.

Why: a run that stops on its DFT budget with the error above target, or whose validation fails rows, has still
"succeeded" as a workflow; the user must not take its potential for a good one. ``mlip-pipe run`` prints these
lines after Snakemake finishes, and ``mlip-pipe status`` and the report show the same facts from the same files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlip_autopipec.data.records import IterationStatus, ValidationReport

_ITERATION = re.compile(r"iter_(\d+)$")


@dataclass
class RunOutcome:
    """The loop's last decision and the validation's verdict, as far as the run got."""

    last_iteration: int | None = None
    stop_reason: str | None = None
    stopped_on_budget: bool = False
    warnings: list[str] = field(default_factory=list)
    validation_passed: bool | None = None
    failed_rows: list[str] = field(default_factory=list)

    @property
    def targets_met(self) -> bool | None:
        """False when the loop warns or the validation failed; True when the validation passed without a warning;
        None while nothing has judged the potential (no validation yet and no warning)."""
        if self.warnings or self.validation_passed is False:
            return False
        return True if self.validation_passed else None

    def lines(self) -> list[str]:
        """The outcome in words, one fact per line."""
        out = []
        if self.last_iteration is not None:
            out.append(f"loop: stopped after iteration {self.last_iteration}: {self.stop_reason}")
        out += [f"warning: {warning}" for warning in self.warnings]
        if self.validation_passed is not None:
            verdict = "passed" if self.validation_passed else f"FAILED {len(self.failed_rows)} rows"
            out.append(f"validation: {verdict}" + (f" ({'; '.join(self.failed_rows)})" if self.failed_rows else ""))
        if self.targets_met is False:
            out.append(
                "targets unmet: the delivered potential is not yet as accurate as the config asks; raise dft_budget or "
                "max_iterations and run again (finished DFT labels are reused)"
            )
        return out


def _last_status(results: Path) -> IterationStatus | None:
    folders = [(int(m.group(1)), p) for p in results.glob("iter_*") if (m := _ITERATION.search(p.name))]
    for _, folder in sorted(folders, reverse=True):
        if (folder / "status.json").is_file():
            return IterationStatus.read(folder / "status.json")
    return None


def run_outcome(results: str | Path = "results") -> RunOutcome:
    """The outcome of the run whose files are under ``results``."""
    results = Path(results)
    outcome = RunOutcome()
    status = _last_status(results)
    if status is not None:
        outcome.last_iteration = status.iteration
        outcome.stopped_on_budget = status.status == "converged" and "budget" in status.reason
        if status.status == "converged":
            outcome.stop_reason = status.reason
        else:  # the snakefile delivers the last committee once max_iterations is reached, whatever the decision
            outcome.stop_reason = f"max_iterations reached while the loop was still learning ({status.reason})"
            outcome.warnings.append("the loop was stopped by max_iterations, not by its stopping rule")
        if status.warning:
            outcome.warnings.append(status.warning)
    report = results / "validation" / "validation.json"
    if report.is_file():
        validation = ValidationReport.read(report)
        outcome.validation_passed = validation.passed
        outcome.failed_rows = [f"{row.group}: {row.quantity}" for row in validation.failed + validation.incomplete]
    return outcome
