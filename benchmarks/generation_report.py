"""Structure generation at the expander's defaults: bonding type, structures per origin, wall time.

    .venv/bin/python benchmarks/generation_report.py [Si FePt NaCl H2O ...]

Runs the real generators (icet SQS, CHGNet for molecule normal modes and prototype relaxation) on
one core of this machine; the wall time includes loading the surrogate.
"""

from __future__ import annotations

import sys
import time
import warnings

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures.generate import generate_structures


def main(compositions: list[str]) -> None:
    warnings.filterwarnings("ignore")
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


if __name__ == "__main__":
    main(sys.argv[1:] or ["Si", "FePt", "NaCl", "H2O"])
