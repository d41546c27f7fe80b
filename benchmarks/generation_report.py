"""Structure generation at the expander's defaults: bonding type, structures per origin, wall time.

    .venv/bin/python benchmarks/generation_report.py [Si FePt NaCl H2O ...] [--json PATH]

Runs the real generators (icet SQS, CHGNet for molecule normal modes and prototype relaxation) on
one core of this machine; the wall time includes loading the surrogate. ``--json PATH`` also writes the
numbers per composition for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures.generate import generate_structures


def main(compositions: list[str], json_path: Path | None = None) -> None:
    warnings.filterwarnings("ignore")
    numbers: dict[str, dict] = {}
    for composition in compositions:
        full = expand_config({"composition": composition})
        start = time.perf_counter()
        result = generate_structures(full.composition, full.seed, full.system, full.generate, lambda: make_surrogate("auto")[0])
        elapsed = time.perf_counter() - start
        origins = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        print(
            f"{composition}: {full.system.bonding_type}; {len(result.frames)} structures ({origins}); "
            f"dropped {sum(result.dropped.values())}, duplicates {result.duplicates}; {elapsed:.1f} s"
        )
        numbers[composition] = {"bonding_type": full.system.bonding_type, "structures": len(result.frames), "wall_s": elapsed}
        numbers[composition] |= {"counts": dict(result.counts), "dropped": sum(result.dropped.values())}
    if json_path:
        json_path.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compositions", nargs="*", default=["Si", "FePt", "NaCl", "H2O"])
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    main(args.compositions, args.json)
