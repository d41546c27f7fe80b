"""The accuracy yardstick of a finished run: its validation table for every iteration's committee, against DFT from
the same engine, and each row's error set against a committed earlier measurement of the same demo.

Why: the validation stage (issue 11) measures what a scientist judges a potential by (lattice constant, bulk
modulus, elastic constants, phonons, vacancy, fresh-set errors, stability). A change to generation, selection or
training is judged by whether these numbers move towards DFT; this script keeps them, per iteration, in
``benchmarks/demo_validation.json`` and prints, for every judged row, the delivered committee's |error| over the
reference run's |error| (below 1: closer to DFT than before).

    .venv/bin/python benchmarks/demo_validation.py --run /path/to/finished/run [--reference benchmarks/demo_validation.json]
        [--json benchmarks/demo_validation.json] [--label "what changed"]

Reads ``results/iter_*/validation/validation.json`` (the per-iteration validations), ``results/validation/
validation.json`` (the delivered committee), ``results/iter_*/labels/*.json`` (DFT labels per iteration) and the
expanded config. The reference file is the JSON this script wrote for an earlier run (its ``delivered`` rows).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from mlip_autopipec.data.records import ValidationReport, ValidationRow

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "demo_validation.json"


def _row(row: ValidationRow) -> dict[str, Any]:
    return {
        "group": row.group,
        "quantity": row.quantity,
        "unit": row.unit,
        "dft": row.dft,
        "potential": row.potential,
        "error": row.error,
        "relative_error": row.relative_error,
        "mark": row.mark,
        "n_samples": row.n_samples,
    }


def _labels(run: Path, iteration: int) -> int:
    return len(list((run / "results" / f"iter_{iteration}" / "labels").glob("*.json")))


def read_run(run: Path) -> dict[str, Any]:
    """Every validation of ``run`` as plain rows, with the labels behind each iteration's committee."""
    iterations = sorted(
        int(path.parent.parent.name.removeprefix("iter_")) for path in run.glob("results/iter_*/validation/validation.json")
    )
    per_iteration = {}
    labels = 0
    for iteration in range(max(iterations, default=-1) + 1):
        labels += _labels(run, iteration)
        path = run / "results" / f"iter_{iteration}" / "validation" / "validation.json"
        if path.is_file():
            per_iteration[str(iteration)] = {"dft_labels": labels, "rows": [_row(r) for r in ValidationReport.read(path).rows]}
    final = run / "results" / "validation" / "validation.json"
    if not final.is_file():
        raise SystemExit(f"demo_validation: no {final}; give --run a finished run folder (mlip-pipe run, then validate)")
    report = ValidationReport.read(final)
    config = yaml.safe_load((run / "results" / "exec_config_dump.yaml").read_text())
    return {
        "composition": config.get("composition"),
        "profile": config.get("profile"),
        "seed": config.get("seed"),
        "dft": {key: config["dft"].get(key) for key in ("functional", "pseudo_family", "ecutwfc", "ecutrho", "kpoint_spacing")},
        "iterations": per_iteration,
        "delivered": {
            "rows": [_row(r) for r in report.rows],
            "passed": report.passed,
            "failed": [r.quantity for r in report.failed],
            "validation_dft_runs": report.dft_runs,
        },
    }


def compare(delivered: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per judged row present in both: |error| now, |error| in the reference, and their ratio."""
    earlier = {(r["group"], r["quantity"]): r for r in reference}
    out = []
    for row in delivered:
        before = earlier.get((row["group"], row["quantity"]))
        if before is None or row["error"] is None or before["error"] is None or row["mark"] not in ("pass", "warn", "fail"):
            continue
        now, then = abs(row["error"]), abs(before["error"])
        out.append(
            {
                "group": row["group"],
                "quantity": row["quantity"],
                "unit": row["unit"],
                "error": now,
                "reference_error": then,
                "ratio": now / then if then > 0 else None,
                "mark": row["mark"],
                "reference_mark": before["mark"],
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder")
    parser.add_argument("--reference", type=Path, default=DEFAULT_JSON, help="an earlier JSON of this script")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the result")
    parser.add_argument("--label", default="", help="what this run is (code version, what changed)")
    args = parser.parse_args()
    measured = read_run(args.run)
    reference = json.loads(args.reference.read_text()) if args.reference.is_file() else None
    result: dict[str, Any] = {
        "benchmark": "demo_validation",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "run": str(args.run),
        **measured,
        "reference": None,
    }
    table = Table(title=f"{measured['composition']}: delivered committee against DFT (|error| / reference |error|)")
    for column in ("quantity", "DFT", "potential", "error", "reference error", "ratio", "mark"):
        table.add_column(column)
    if reference is not None:
        rows = compare(measured["delivered"]["rows"], reference["delivered"]["rows"])
        ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
        closer = sum(1 for r in ratios if r < 1.0)
        result["reference"] = {
            "label": reference.get("label", ""),
            "created": reference.get("created"),
            "rows": rows,
            "closer_to_dft": closer,
            "compared": len(ratios),
        }
        by_key = {(r["group"], r["quantity"]): r for r in rows}
        for row in measured["delivered"]["rows"]:
            compared = by_key.get((row["group"], row["quantity"]))
            if compared is None:
                continue
            ratio = compared["ratio"]
            table.add_row(
                row["quantity"],
                f"{row['dft']:.4g}",
                f"{row['potential']:.4g}",
                f"{compared['error']:.3g} {row['unit']}",
                f"{compared['reference_error']:.3g}",
                "-" if ratio is None else f"{ratio:.2f}",
                row["mark"],
            )
        Console(width=160).print(table)
        print(f"closer to DFT than the reference ({reference.get('label', '')}): {closer} of {len(ratios)} judged rows")
    else:
        print("no reference: the rows are written as the first yardstick")
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
