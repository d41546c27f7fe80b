"""Section `dft-failures`: labels whose first DFT attempt failed, the recovery-ladder rungs tried, and the one that fixed it."""

from __future__ import annotations

from mlip_autopipec.data.records import LabelRecord
from mlip_autopipec.report.page import Section, missing, paragraph, table
from mlip_autopipec.report.run_files import RunFiles


def fixed_by(record: LabelRecord) -> str:
    """The rung of the attempt that converged; 'not fixed' for a failed label."""
    if record.state != "labelled":
        return "not fixed"
    converged = [attempt for attempt in record.attempts if attempt.status == "converged"]
    return converged[-1].rung if converged else "-"


def needed_recovery(record: LabelRecord) -> bool:
    return record.state == "failed" or len(record.attempts) > 1


def section(run: RunFiles) -> Section:
    part = Section("dft-failures", "DFT failures and their recovery")
    records = [record for it in run.iterations for record in it.labels]
    if not records:
        return part.add(missing("No label record yet (no results/iter_N/labels/*.json)."))
    recovered = [r for r in records if needed_recovery(r)]
    failed = sum(r.state == "failed" for r in records)
    part.add(
        paragraph(
            f"{len(records)} label records (results/iter_N/labels): {len(recovered)} needed more than one DFT attempt, "
            f"{len(recovered) - failed} of them recovered by the ladder, {failed} failed for good."
        )
    )
    if not recovered:
        return part.add(paragraph("No DFT failure: every label converged on its first attempt (or came from the label cache)."))
    rows = [
        (
            r.iteration,
            r.structure_id,
            r.origin,
            " -> ".join(f"{a.rung}: {a.status}" for a in r.attempts),
            fixed_by(r),
            r.state,
            r.reason,
        )
        for r in recovered
    ]
    headers = ("iteration", "structure", "origin", "attempts (rung: outcome)", "fixed by", "state", "reason")
    return part.add(table(headers, rows, text_columns=(1, 2, 3, 4, 5, 6)))
