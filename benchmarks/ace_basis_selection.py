"""The linear ACE basis chosen by cross-validation (``potentials.ace_selection``), among the candidates that hold the
run's highest target temperature (``potentials.stability_probe``), against the size tier alone
(the rule before it: 24 functions below 60 structures per element), on the labels of a finished run, judged by
the run's own validation against DFT from the same engine.

Why: the choice of basis is what a committee trained on a few dozen labels is most sensitive to; this measures
its effect on what a scientist reads (lattice constant, B, Cij, phonons, vacancy, fresh-set errors), with the
training time, on data that neither variant chose.

    .venv/bin/python benchmarks/ace_basis_selection.py --run /path/to/finished/run [--json benchmarks/ace_basis_selection.json]

Both committees are planned from the run's labels (``results/iter_*/labels``) with the same split, seed and
committee size, then validated with the run's config minus the stability MD and the committee-MD snapshots of
the fresh set: every other DFT number is then read from the run's label cache (no pw.x run when the run itself was
validated). Prints each judged row's |error| with the selection over |error| with the size tier (below 1: closer
to DFT) and writes them to the JSON, one entry per run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.data.records import CommitteePlan, ValidationReport, ValidationRow
from mlip_autopipec.potentials.ace import choose_ace_settings
from mlip_autopipec.potentials.committee_plan import (
    PLAN_NAME,
    collect_committee,
    plan_config_hash,
    plan_from_labels,
    train_member,
)
from mlip_autopipec.potentials.stability_probe import ProbeSettings
from mlip_autopipec.validation.validate import validate_committee

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "ace_basis_selection.json"
CACHED_CHECKS = ["equation of state", "elastic", "phonons", "defects", "validation set"]
VARIANTS = ("size tier", "cross-validated")
SELECTION_KEYS = {"stress_weight", "ridge", "basis_selection"}


def _config(run: Path) -> FullConfig:
    """The run's expanded config with the validation limited to checks whose DFT the run's label cache holds."""
    raw = yaml.safe_load((run / "results" / "exec_config_dump.yaml").read_text())
    raw["validation"] = {**raw.get("validation", {}), "checks": CACHED_CHECKS, "set_md_snapshots": 0}
    return FullConfig.model_validate(raw)


def train_variant(run: Path, full: FullConfig, workdir: Path, variant: str) -> tuple[Path, float, dict[str, Any]]:
    """Plan (the selection is part of planning) and train the committee of one variant; its manifest, wall time
    and ACE settings."""
    done = workdir / "trained.json"
    if done.is_file():  # trained by an earlier call with this work folder: validate it again, do not retrain
        stored = json.loads(done.read_text())
        return workdir / "committee.json", float(stored["seconds"]), stored["settings"]
    labels = sorted(str(p) for p in run.glob("results/iter_*/labels/*.json"))
    start = time.monotonic()
    probe = ProbeSettings(max(full.temperatures), full.explore.timestep_fs, seed=int(full.seed))
    planned = plan_from_labels(labels, workdir, full.elements, full.train, seed=int(full.seed), probe=probe)
    if variant == "size tier":
        plan = planned.plan
        tier, tier_why = choose_ace_settings(planned.n_labelled, full.elements)
        plan.ace = tier
        plan.settings_why = {key: value for key, value in plan.settings_why.items() if key not in SELECTION_KEYS}
        plan.settings_why.update(tier_why)
        plan.config_hash = plan_config_hash(plan)
        plan.write(workdir / PLAN_NAME)
    for member in range(planned.plan.committee_size):
        train_member(workdir, member, active_set=False)
    manifest = collect_committee(workdir)
    ace = CommitteePlan.read(workdir / PLAN_NAME).ace
    assert ace is not None
    settings = ace.model_dump(include={"number_of_functions_per_element", "kappa", "stress_weight", "ridge"})
    seconds = time.monotonic() - start
    done.write_text(json.dumps({"seconds": seconds, "settings": settings}))
    return manifest, seconds, settings


def _judged(row: ValidationRow) -> float | None:
    """What the row's tolerance applies to: the value itself (an RMSE), its absolute or its relative error."""
    return row.potential if row.compared == "value" else row.error if row.compared == "absolute" else row.relative_error


def measure(run: Path, out: Path) -> dict[str, Any]:
    full = _config(run)
    reports: dict[str, ValidationReport] = {}
    timing: dict[str, float] = {}
    settings: dict[str, dict[str, Any]] = {}
    generated = run / "results" / "iter_0" / "generated.extxyz"
    for variant in VARIANTS:
        folder = out / variant.replace(" ", "_")
        manifest, seconds, settings[variant] = train_variant(run, full, folder / "committee", variant)
        timing[variant] = seconds
        cwd = os.getcwd()
        os.chdir(run)  # the label cache lives in the run folder
        try:
            reports[variant] = validate_committee(
                manifest, full, folder / "validation", generated=generated if generated.is_file() else None
            )
        finally:
            os.chdir(cwd)
    rows = []
    selected = {row.quantity: row for row in reports["cross-validated"].rows}
    for row in reports["size tier"].rows:
        other = selected.get(row.quantity)
        if row.tolerance is None or other is None or _judged(row) is None or _judged(other) is None:
            continue
        mine, reference = abs(float(_judged(other) or 0.0)), abs(float(_judged(row) or 0.0))
        rows.append(
            {
                "group": row.group,
                "quantity": row.quantity,
                "unit": row.unit,
                "dft": row.dft,
                "size_tier": row.potential,
                "size_tier_mark": row.mark,
                "cross_validated": other.potential,
                "cross_validated_mark": other.mark,
                "error_ratio": mine / reference if reference else None,
                "n_samples": other.n_samples,
            }
        )
    return {
        "run": str(run),
        "labels": len(list(run.glob("results/iter_*/labels/*.json"))),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "train_seconds": timing,
        "dft_runs": {variant: reports[variant].dft_runs for variant in VARIANTS},
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"ACE basis: cross-validated vs size tier, {result['labels']} labels of {result['run']}")
    for column in ("quantity", "DFT", "size tier", "cross-validated", "|err| ratio"):
        table.add_column(column, justify="left" if column == "quantity" else "right")
    for row in result["rows"]:
        ratio = row["error_ratio"]
        table.add_row(
            row["quantity"],
            "-" if row["dft"] is None else f"{row['dft']:.4g}",
            f"{row['size_tier']:.4g} {row['size_tier_mark']}",
            f"{row['cross_validated']:.4g} {row['cross_validated_mark']}",
            "-" if ratio is None else f"{ratio:.2f}",
        )
    console = Console(width=140)
    console.print(table)
    for variant in VARIANTS:
        console.print(f"{variant}: {result['settings'][variant]}, trained in {result['train_seconds'][variant]:.0f} s")
    ratios = [row["error_ratio"] for row in result["rows"] if row["error_ratio"] is not None]
    better = sum(r < 1 for r in ratios)
    console.print(f"closer to DFT with the cross-validated basis: {better} of {len(ratios)} judged rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="A finished run folder (its labels, config and label cache).")
    parser.add_argument("--out", type=Path, default=None, help="Work folder [default: a temporary one].")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    run = args.run.resolve()
    out = (args.out or Path(os.environ.get("TMPDIR", "/tmp")) / f"ace_basis_selection_{run.name}").resolve()
    result = measure(run, out)
    show(result)
    stored = json.loads(args.json.read_text()) if args.json.is_file() else {}
    stored[run.name] = result
    args.json.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
