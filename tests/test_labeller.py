"""Module C with the real pw.x: labels, the recovery ladder, failures, wall time and the label cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from conftest import FAST_SI_DFT, direct_ase_energy, small_si_structures
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.data.label_cache import LabelCache
from mlip_autopipec.dft.engine import RunOutcome
from mlip_autopipec.dft.espresso.recovery import LADDER, next_rung, rung_overrides
from mlip_autopipec.dft.labeller import dft_hash, label_structure

pytestmark = [pytest.mark.dft, pytest.mark.usefixtures("pw_available")]


def _config(tmp_path: Path, dft: dict | None = None, label: dict | None = None) -> FullConfig:
    return expand_config(
        {
            "composition": "Si",
            "dft": {**FAST_SI_DFT, **(dft or {})},
            "label": {"mpi": {"ntasks": 2}, "cache_dir": str(tmp_path / "cache"), **(label or {})},
        }
    )


def test_label_matches_a_direct_ase_run_and_is_cached(tmp_path: Path) -> None:
    full = _config(tmp_path)
    atoms = small_si_structures(1)[0]
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "labelled" and not record.cache_hit
    assert [a.status for a in record.attempts] == ["converged"]
    energy, forces = direct_ase_energy(atoms, full, tmp_path / "direct")
    assert record.energy == pytest.approx(energy, abs=1e-5)  # k-point pools vs G-space parallelism: round-off only
    np.testing.assert_allclose(record.forces, forces, atol=1e-5)
    assert record.stress is not None and len(record.stress) == 6
    assert record.pseudo_md5 == full.dft.pseudo_md5 and record.pseudo_family == "oncvpsp-pbe"
    assert not (tmp_path / "work" / "scratch").exists()  # wavefunctions cleaned after success

    again = label_structure(atoms, full.dft, full.label, tmp_path / "work2")
    assert again.cache_hit and again.energy == record.energy
    assert not (tmp_path / "work2").exists()  # no pw.x run at all
    assert LabelCache(full.label.cache_dir).get(record.structure_id, dft_hash(full.dft)) is not None


def test_two_jobs_for_one_structure_run_pw_once(tmp_path: Path) -> None:
    """A resumed run may start a label job while the killed run's orphan still labels the same structure:
    the second waits on the cache entry's lock and takes the finished label instead of running pw.x."""
    from concurrent.futures import ThreadPoolExecutor

    full = _config(tmp_path, label={"mpi": {"ntasks": 1}})
    atoms = small_si_structures(1)[0]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(label_structure, atoms, full.dft, full.label, tmp_path / f"job{k}") for k in range(2)]
        records = [future.result() for future in futures]
    assert sorted(r.cache_hit for r in records) == [False, True]
    assert records[0].energy == records[1].energy
    ran = [k for k in range(2) if (tmp_path / f"job{k}").exists()]
    assert len(ran) == 1 and len(list((tmp_path / f"job{ran[0]}").glob("attempt_*"))) == 1


def test_a_run_that_fails_once_then_converges_keeps_its_attempt_history(tmp_path: Path) -> None:
    full = _config(tmp_path, dft={"electron_maxstep": 5})
    atoms = small_si_structures(1)[0]
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "labelled"
    assert [a.status for a in record.attempts] == ["scf_not_converged", "converged"]
    second = record.attempts[1]
    assert second.rung == LADDER[1].name
    assert second.overrides == {"mixing_beta": 0.2, "electron_maxstep": 10}
    assert second.restarted_from_charge_density
    reference = label_structure(atoms, _config(tmp_path / "ref").dft, _config(tmp_path / "ref").label, tmp_path / "ref_work")
    assert record.energy == pytest.approx(reference.energy, abs=2e-5)


def test_unconverged_scf_is_never_stored_as_a_label(tmp_path: Path) -> None:
    full = _config(tmp_path, dft={"electron_maxstep": 1}, label={"max_attempts": 2})
    record = label_structure(small_si_structures(1)[0], full.dft, full.label, tmp_path / "work")
    assert record.state == "failed"
    assert record.energy is None and record.forces is None
    assert record.reason.startswith("scf_not_converged") and "after 2 attempts" in record.reason
    assert len(record.attempts) == 2


def test_an_input_error_ends_the_ladder_at_once(tmp_path: Path) -> None:
    full = _config(tmp_path)
    atoms = bulk("Si", "diamond", 5.43)
    atoms.positions[1] = atoms.positions[0]
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "failed"
    assert len(record.attempts) == 1
    assert "check_atoms" in record.reason


def test_wall_time_limit_kills_and_is_reported(tmp_path: Path) -> None:
    full = _config(tmp_path, dft={"kpoint_spacing": 0.2}, label={"walltime_s": 2.0, "max_attempts": 2})
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.05, seed=1)
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "failed"
    assert [a.status for a in record.attempts] == ["walltime_exceeded", "walltime_exceeded"]
    assert all(a.wall_time_s < 30 for a in record.attempts)


def test_ladder_rungs_are_bounded_and_cumulative() -> None:
    base = {"mixing_beta": 0.4, "electron_maxstep": 100, "degauss": 0.01}
    assert rung_overrides(0, base, smeared=True) == {}
    last = rung_overrides(len(LADDER) - 1, base, smeared=True)
    assert (
        last["diagonalization"] == "cg" and last["mixing_beta"] == pytest.approx(0.1) and last["degauss"] == pytest.approx(0.02)
    )
    assert "degauss" not in rung_overrides(len(LADDER) - 1, base, smeared=False)
    assert next_rung(len(LADDER) - 1, RunOutcome("scf_not_converged", "")) is None
    assert (
        next_rung(
            0,
            RunOutcome("crashed", "pw.x error in routine cdiaghg (1): S matrix not positive definite", failing_routine="cdiaghg"),
        )
        == len(LADDER) - 1
    )
    assert next_rung(0, RunOutcome("missing_forces", "")) is None
    assert next_rung(2, RunOutcome("walltime_exceeded", "")) == 2
