"""Section `validation`: the delivered committee against DFT (the table with coloured marks) and its figures."""

from __future__ import annotations

from mlip_autopipec.commands.validate import validation_verdict
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.report.page import Section, mark, missing, number, paragraph, table, text
from mlip_autopipec.report.run_files import RunFiles

CAPTIONS = {
    "equation_of_state": "E-V curve: committee against DFT",
    "phonons": "Phonon bands: committee (lines) against DFT (points)",
    "stability_rdf": "Radial distribution functions of the stability MD",
    "validation_set_parity": "Fresh validation set: committee against DFT",
    "uncertainty_calibration": "Calibration of the committee spread against its true error",
}


def _error(row: ValidationRow) -> str:
    if row.compared == "relative":
        return "-" if row.relative_error is None else f"{100 * row.relative_error:+.2f} %"
    return "-" if row.error is None else f"{row.error:+.4g}"


def _tolerance(row: ValidationRow) -> str:
    if row.tolerance is None:
        return "-"
    return f"{100 * row.tolerance:.3g} %" if row.compared == "relative" else f"{row.tolerance:.3g}"


def section(run: RunFiles) -> Section:
    part = Section("validation", "Validation against DFT")
    report = run.validation
    if report is None:
        return part.add(
            missing(
                "No validation: results/validation/validation.json is absent (validation.enabled is false, or the "
                "validate rule has not run; 'mlip-pipe validate' computes it)."
            )
        )
    part.add(
        paragraph(
            f"Committee {report.potential} (config hash {report.config_hash}), validated {report.created}: {validation_verdict(report)}."
        ),
        paragraph(f"{report.dft_runs} DFT runs ({report.dft_seconds:.0f} s) for this validation, label-cache hits excluded."),
    )
    rows = [
        (
            r.group,
            r.quantity,
            r.unit,
            number(r.dft),
            number(r.potential),
            _error(r),
            _tolerance(r),
            mark(r.mark),
            "-" if r.n_samples is None else r.n_samples,
            r.note,
        )
        for r in report.rows
    ]
    headers = ("check", "quantity", "unit", "DFT", "potential", "error", "tolerance", "mark", "n", "note")
    part.add(table(headers, rows, text_columns=(0, 1, 2, 7, 9)))
    for name, relative in report.figures.items():
        path = run.validation_folder / relative
        caption = CAPTIONS.get(name, name.replace("_", " "))
        if path.is_file():
            part.add(f'<h3 id="validation-{name.replace("_", "-")}">{text(caption)}</h3>')
            part.figure(f"validation_{name}", path.read_bytes(), f"{caption} ({path})")
        else:
            part.add(missing(f"{caption}: {path} is listed in validation.json but absent."))
    if not report.figures:
        part.add(missing("The validation drew no figure (no crystal checks for this system, or every check failed)."))
    return part
