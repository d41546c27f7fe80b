"""The cross-validated choice of the linear ACE basis (``ace_selection``), with real pyace bases on the Si labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from pyace import PyACECalculator

from mlip_autopipec.config.models import TrainConfig
from mlip_autopipec.potentials.ace import (
    LINEAR_CANDIDATES,
    AceSettings,
    choose_ace_settings,
    linear_columns,
    pacemaker_dataframe,
    select_linear_settings,
)
from mlip_autopipec.potentials.ace_selection import assign_folds, best_per_basis, score_basis
from mlip_autopipec.potentials.backend import TrainingData
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.committee_plan import plan_committee
from mlip_autopipec.potentials.delta import delta_targets, reference_energies

ELEMENTS = ["Si"]


def _labelled_by(frames: list[Atoms], settings: AceSettings, scale: float, seed: int) -> list[Atoms]:
    """The frames relabelled by a linear ACE model with random coefficients: data that basis can fit exactly."""
    basis, _ = linear_columns(settings, ELEMENTS, 1, pacemaker_dataframe(frames[:1], None, {"Si": 0.0}))
    coefficients = np.random.default_rng(seed).normal(scale=scale, size=len(basis.get_func_coeffs()))
    basis.set_func_coeffs(list(coefficients))
    calc = PyACECalculator(basis)
    out = []
    for atoms in frames:
        copy = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        copy.calc = calc
        results = {"energy": copy.get_potential_energy(), "forces": copy.get_forces(), "stress": copy.get_stress()}
        copy.calc = SinglePointCalculator(copy, **results)
        copy.info.update(atoms.info)
        out.append(copy)
    return out


def test_a_richer_model_is_recognised_and_the_small_basis_rejected(si_frames: list[Atoms]) -> None:
    """Data made by an 80-function model: cross-validation must prefer a basis that can represent it, and measure
    the 24-function basis as clearly worse on held-out forces."""
    _, nradmax, lmax = next(c for c in LINEAR_CANDIDATES if c[0] == 80)
    truth = AceSettings(number_of_functions_per_element=80, nradmax_by_orders=nradmax, lmax_by_orders=lmax)
    frames = _labelled_by(si_frames, truth, scale=0.05, seed=11)
    chosen, why = select_linear_settings(AceSettings(), TrainingData(frames, None, {"Si": 0.0}), ELEMENTS, seed=3)
    assert chosen.number_of_functions_per_element >= 80, why
    assert chosen.ridge is not None and chosen.kappa in (0.03, 0.1, 0.3, 0.6)
    frame = pacemaker_dataframe(frames, None, {"Si": 0.0})
    best = {}
    for functions, nradmax_k, lmax_k in LINEAR_CANDIDATES[:2]:
        settings = AceSettings(number_of_functions_per_element=functions, nradmax_by_orders=nradmax_k, lmax_by_orders=lmax_k)
        _, columns = linear_columns(settings, ELEMENTS, 1, frame)
        best[functions] = best_per_basis(score_basis(columns, frame, functions, seed=3))[0]
    assert best[24].force_rmse > 2.0 * best[80].force_rmse, (best[24].summary(), best[80].summary())
    for functions, _, _ in LINEAR_CANDIDATES:
        assert f"{functions} functions" in why["number_of_functions_per_element"]


def test_real_labels_get_a_selected_basis_recorded_in_the_plan(si_frames: list[Atoms], tmp_path: pytest.TempPathFactory) -> None:
    """The plan of the real pw.x labels carries the chosen basis, kappa, stress weight and ridge with the evidence."""
    plan = plan_committee(si_frames, tmp_path, ELEMENTS, train=TrainConfig(committee_size=2), seed=5)
    assert plan.ace is not None
    assert plan.ace.ridge is not None
    assert plan.ace.number_of_functions_per_element in {c[0] for c in LINEAR_CANDIDATES}
    why = plan.settings_why["number_of_functions_per_element"]
    assert "held-out" in why and "meV/atom" in why and "GPa" in why
    default, _ = choose_ace_settings(len(si_frames), ELEMENTS)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    few, few_why = select_linear_settings(default, TrainingData(si_frames[:5], baseline, references), ELEMENTS, seed=5)
    assert few == default and "not cross-validated" in few_why["basis_selection"]


def test_atoms_dimers_and_trimers_are_never_held_out() -> None:
    crystal = bulk("Si", "diamond", 5.43)
    origins = ["isolated_atom", "dimer", "trimer"] + ["rattle"] * 70
    frame = pd.DataFrame({"origin": origins, "ase_atoms": [crystal] * len(origins)})
    folds = assign_folds(frame, seed=0)
    assert (folds[:3] == -1).all()
    assert (folds[3:] >= 0).all() and folds.max() == 9  # 70 scored structures: ten random folds
    small = assign_folds(frame.iloc[:20], seed=0)
    assert sorted(small[3:]) == list(range(17))  # leave one out


def _cu_cells() -> list[Atoms]:
    """Rattled fcc Cu cells labelled by EMT (a real calculator with a stable crystal)."""
    from ase.calculators.emt import EMT

    frames = []
    for seed in range(3):
        atoms = bulk("Cu", "fcc", 3.61, cubic=True)
        atoms.rattle(0.02 * (seed + 1), seed=seed)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
        frames.append(atoms)
    return frames


def test_the_probe_accepts_a_stable_potential_and_rejects_one_that_collapses() -> None:
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    from mlip_autopipec.potentials.stability_probe import ProbeSettings, probe, probe_start

    start = probe_start(_cu_cells())
    assert start is not None and len(start) == 4 and start.calc is None
    settings = ProbeSettings(temperature_K=600.0, timestep_fs=2.0, duration_ps=0.4)
    stable = probe(EMT(), start, settings)
    assert stable.stable and "d_min/d_nn" in stable.summary
    collapsing = probe(LennardJones(sigma=1.0, epsilon=2.0, rc=4.0), start, settings)  # its minimum at 1.1 A
    assert not collapsing.stable and "stopped" in collapsing.summary


def test_the_selection_records_its_probe(si_frames: list[Atoms]) -> None:
    """With a probe, the chosen candidate is one that passed it, and the plan's reasons say so."""
    from mlip_autopipec.potentials.stability_probe import ProbeSettings

    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    probe = ProbeSettings(temperature_K=300.0, timestep_fs=2.0, duration_ps=0.2)
    default, _ = choose_ace_settings(len(si_frames), ELEMENTS)
    chosen, why = select_linear_settings(default, TrainingData(si_frames, baseline, references, probe), ELEMENTS, seed=5)
    assert chosen.ridge is not None, why
    last = why["stability_probe"].split("; ")[-1]
    assert last.startswith(f"{chosen.number_of_functions_per_element} functions") and ": stable," in last
