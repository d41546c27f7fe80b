"""Run the Si short loop and write its fingerprint: every DFT label, committee metric, threshold and decision.

Why: a refactor must not change what the loop does, and two runs of one config with one seed must give the
same labels and the same committee. This runs ``mlip-pipe run`` on ``config/examples/si_short_loop.yaml``
(one active-learning iteration) in a fresh folder and writes ``fingerprint.json``; ``--compare A B``
prints where two fingerprints differ beyond float tolerance (exit 1 when they do).

    .venv/bin/python benchmarks/loop_fingerprint.py run /tmp/loop_a
    .venv/bin/python benchmarks/loop_fingerprint.py compare /tmp/loop_a/fingerprint.json /tmp/loop_b/fingerprint.json [--json PATH]

``--json PATH`` (compare) also writes the counts and the differences for benchmarks/run_all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHORT_LOOP = REPO / "config" / "examples" / "si_short_loop.yaml"


def _labels(results: Path) -> list[dict[str, Any]]:
    """Every label record as (iteration, content of the structure, energy, forces summary, state)."""
    rows = []
    for path in sorted(results.glob("iter_*/labels/*.json")):
        record = json.loads(path.read_text())
        forces = record.get("forces") or []
        rows.append(
            {
                "iteration": int(path.parent.parent.name.split("_")[1]),
                "structure_id": record.get("structure_id"),
                "n_atoms": len(record.get("numbers") or []),
                "origin": record.get("origin"),
                "state": record.get("state"),
                "energy": record.get("energy"),
                "sum_abs_force": float(sum(abs(c) for row in forces for c in row)) if forces else None,
            }
        )
    return sorted(rows, key=lambda r: (r["iteration"], r["n_atoms"], r["energy"] if r["energy"] is not None else 0.0))


def _committee(models: Path) -> dict[str, Any]:
    metrics = json.loads((models / "metrics.json").read_text())
    threshold = json.loads((models / "threshold.json").read_text())
    committee = metrics.get("committee", {})
    return {
        "train_force_rmse": committee.get("train", {}).get("force_rmse"),
        "test_force_rmse": committee.get("test", {}).get("force_rmse"),
        "train_energy_rmse_per_atom": committee.get("train", {}).get("energy_rmse_per_atom"),
        "test_energy_rmse_per_atom": committee.get("test", {}).get("energy_rmse_per_atom"),
        "test_stress_rmse": committee.get("test", {}).get("stress_rmse"),
        "threshold": threshold.get("value"),
    }


def fingerprint(workdir: Path) -> dict[str, Any]:
    results = workdir / "results"
    iterations = sorted(int(p.name.split("_")[1]) for p in results.glob("iter_*"))
    out: dict[str, Any] = {"labels": _labels(results), "committees": {}, "status": {}}
    for i in iterations:
        models = results / f"iter_{i}" / "models"
        if (models / "metrics.json").is_file():
            out["committees"][str(i)] = _committee(models)
        status = results / f"iter_{i}" / "status.json"
        if status.is_file():
            data = json.loads(status.read_text())
            evidence = data.get("evidence", {})
            out["status"][str(i)] = {
                "status": data.get("status"),
                "checks": evidence.get("checks"),
                "uncertain_checks": evidence.get("uncertain_checks"),
                "selected": evidence.get("selected"),
            }
    return out


def run(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(SHORT_LOOP.read_text())
    config["max_iterations"] = 1
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    mlip_pipe = str(Path(sys.executable).parent / "mlip-pipe")
    started = time.monotonic()
    with open(workdir / "run.log", "w") as log:
        subprocess.run(
            [mlip_pipe, "run", "--config", "config.yaml", "--cores", "2"],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    data = fingerprint(workdir)
    data["wall_time_s"] = round(time.monotonic() - started, 1)
    path = workdir / "fingerprint.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= atol + rtol * abs(float(b))
    return a == b


def compare(first: dict[str, Any], second: dict[str, Any], rtol: float = 1e-6, atol: float = 1e-8) -> list[str]:
    """Human-readable differences (ignoring structure ids, which are names, and wall time)."""
    differences = []
    if len(first["labels"]) != len(second["labels"]):
        differences.append(f"label count {len(first['labels'])} != {len(second['labels'])}")
    for a, b in zip(first["labels"], second["labels"], strict=False):
        for key in ("iteration", "n_atoms", "origin", "state", "energy", "sum_abs_force"):
            if not _close(a[key], b[key], rtol, atol):
                differences.append(f"label {a['structure_id']} / {b['structure_id']}: {key} {a[key]} != {b[key]}")
    for section in ("committees", "status"):
        for iteration in sorted(set(first[section]) | set(second[section])):
            a, b = first[section].get(iteration, {}), second[section].get(iteration, {})
            for key in sorted(set(a) | set(b)):
                if not _close(a.get(key), b.get(key), rtol, atol):
                    differences.append(f"{section}[{iteration}].{key}: {a.get(key)} != {b.get(key)}")
    return differences


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "run":
        print(run(Path(sys.argv[2]).resolve()))
        return 0
    if len(sys.argv) in (4, 6) and sys.argv[1] == "compare" and (len(sys.argv) == 4 or sys.argv[4] == "--json"):
        first, second = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        differences = compare(first, second)
        print(
            f"{len(first['labels'])} labels, {len(first['committees'])} committees compared: "
            + ("identical within tolerance" if not differences else f"{len(differences)} differences")
        )
        for line in differences:
            print("  " + line)
        if len(sys.argv) == 6:
            counts = {"labels": len(first["labels"]), "committees": len(first["committees"]), "differences": differences}
            Path(sys.argv[5]).write_text(json.dumps(counts | {"compared": sys.argv[2:4]}, indent=1))
        return 1 if differences else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
