"""Re-record the pw.x outputs used by the parser tests, each from a real run of pw.x.

Run from the repository root: ``python tests/data/pw_outputs/record.py``. Every file here comes
from an actual pw.x process; failures are provoked, never typed by hand:
- converged.pwo: a rattled 2-atom Si cell;
- scf_not_converged.pwo: the same with electron_maxstep = 3 (pw.x still prints JOB DONE);
- crashed.pwo: two atoms on the same site, which pw.x refuses with an error stop;
- killed.pwo: an 8-atom run killed with SIGKILL two seconds in (output cut short);
- missing_forces.pwo: tprnfor = .false.;
- max_seconds.pwo: an 8-atom run with max_seconds = 1 (pw.x stops itself at its time limit).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ase.build import bulk

from mlip_autopipec.config import expand_config
from mlip_autopipec.dft.espresso.inputs import INPUT_NAME, pw_input_data
from mlip_autopipec.dft.kpoints import kpoint_mesh

HERE = Path(__file__).parent


def _write_input(directory: Path, atoms, dft, **changes) -> None:
    from ase.io import write

    data = pw_input_data(dft, atoms, {}, restart=False, walltime_s=600)
    for section, key, value in changes.get("set", []):
        if value is None:
            data[section].pop(key, None)
        else:
            data[section][key] = value
    write(
        directory / INPUT_NAME,
        atoms,
        format="espresso-in",
        input_data=data,
        pseudopotentials=dft.pseudopotentials,
        kpts=kpoint_mesh(atoms, dft.kpoint_spacing),
    )


def record(name: str, atoms, dft, kill_after: float | None = None, **changes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "run"
        directory.mkdir()
        _write_input(directory, atoms, dft, **changes)
        with open(HERE / name, "wb") as out:
            process = subprocess.Popen(
                ["pw.x", "-in", INPUT_NAME],
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            if kill_after is not None:
                time.sleep(kill_after)
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"{name}: exit code {process.returncode}")


def main() -> None:
    full = expand_config({"composition": "Si", "dft": {"ecutwfc": 20.0, "ecutrho": 80.0, "kpoint_spacing": 0.5}})
    dft = full.dft
    small = bulk("Si", "diamond", 5.43)
    small.rattle(0.05, seed=3)
    large = bulk("Si", "diamond", 5.43, cubic=True)
    large.rattle(0.05, seed=3)
    record("converged.pwo", small, dft)
    record("scf_not_converged.pwo", small, dft, set=[("electrons", "electron_maxstep", 3)])
    overlapping = small.copy()
    overlapping.positions[1] = overlapping.positions[0]
    record("crashed.pwo", overlapping, dft)
    record("missing_forces.pwo", small, dft, set=[("control", "tprnfor", False)])
    record("killed.pwo", large, dft, kill_after=2.0)
    record("max_seconds.pwo", large, dft, set=[("control", "max_seconds", 1.0)])
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
