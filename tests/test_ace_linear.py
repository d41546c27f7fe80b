"""The exact linear ACE fit against real pacemaker on the real Si labels: it is the minimum, pacemaker's BFGS is not.

Also the non-linear tier's pacemaker input: ``trainable_parameters: ALL`` really trains the radial functions
(a lower-case ``all`` left nothing trainable and pacemaker crashed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from pyace import BBasisConfiguration, PyACECalculator, create_multispecies_basis_config

from mlip_autopipec.potentials.ace import (
    LINEAR_FIT_NAME,
    AceSettings,
    choose_ace_settings,
    pacemaker_dataframe,
    pacemaker_input,
    train_ace_member,
)
from mlip_autopipec.potentials.ace_linear import UnitColumns, fit_linear, has_stress_target, unit_columns, weighted_design
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.delta import delta_targets, reference_energies

ELEMENTS = ["Si"]


def _loss(potential: Path, frames: list[Atoms], settings: AceSettings, references: dict[str, float]) -> float:
    """pacemaker's loss without regularisation, of a saved potential on ``frames``, through our design rows."""
    frame = pacemaker_dataframe(frames, make_baseline("zbl", ELEMENTS), references)
    basis = BBasisConfiguration(str(potential))
    coefficients = np.array(basis.get_func_coeffs())

    def calculator_of(unit: np.ndarray) -> PyACECalculator:
        trial = basis.copy()
        trial.set_func_coeffs(list(unit))
        return PyACECalculator(trial)

    columns = unit_columns(calculator_of, coefficients.size, frame)
    design = weighted_design(columns, frame, settings.kappa, np.ones(len(frame)))
    return float(np.sum((design.matrix @ coefficients - design.target) ** 2))


@pytest.fixture(scope="module")
def fits(si_frames: list[Atoms], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same data and basis fitted twice: exact linear solve, and pacemaker's BFGS (100 steps, as the demo had)."""
    root = tmp_path_factory.mktemp("ace_linear")
    settings, _ = choose_ace_settings(len(si_frames), ELEMENTS)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    out: dict[str, Path] = {}
    for solver in ("linear", "pacemaker"):
        member = train_ace_member(
            si_frames,
            root / solver,
            settings.model_copy(update={"solver": solver}),
            ELEMENTS,
            baseline,
            references,
            seed=7,
            active_set=False,
        )
        out[solver] = member.potential_yaml
    return out


def test_small_and_medium_data_get_the_exact_linear_solver() -> None:
    for n in (20, 150, 500):  # per element: < 60, < 300, < 300 for a binary
        settings, why = choose_ace_settings(n, ["Fe", "Pt"] if n == 500 else ELEMENTS)
        assert settings.solver == "linear" and settings.ndensity == 1 and settings.trainable == "func"
        assert "cross-validation" in why["solver"]
    large, why = choose_ace_settings(3000, ELEMENTS)
    assert large.solver == "pacemaker" and "BFGS" in why["solver"]


def test_linear_solution_is_the_minimum_pacemaker_does_not_reach(fits: dict[str, Path], si_frames: list[Atoms]) -> None:
    settings, _ = choose_ace_settings(len(si_frames), ELEMENTS)
    references = reference_energies(delta_targets(si_frames, make_baseline("zbl", ELEMENTS)), elements=ELEMENTS)
    linear, bfgs = (_loss(fits[s], si_frames, settings, references) for s in ("linear", "pacemaker"))
    assert linear < bfgs, f"exact linear loss {linear:.3g} should be below pacemaker's 100-step BFGS {bfgs:.3g}"
    evidence = (fits["linear"].parent / LINEAR_FIT_NAME).read_text()
    assert '"ridge"' in evidence and '"cv_loss_by_ridge"' in evidence


def test_linear_fit_satisfies_its_normal_equations(si_frames: list[Atoms]) -> None:
    """At the solution the gradient of loss + ridge vanishes: the fit is converged, not stopped."""
    settings, _ = choose_ace_settings(len(si_frames), ELEMENTS)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    frame = pacemaker_dataframe(si_frames, baseline, references)
    rng = np.random.default_rng(0)
    stress_rows = has_stress_target(frame)
    columns = UnitColumns(
        energies=rng.normal(size=(len(frame), 5)),
        forces=rng.normal(size=(3 * sum(len(a) for a in frame["ase_atoms"]), 5)),
        stresses=rng.normal(size=(6 * int(stress_rows.sum()), 5)),
        stress_structure=np.repeat(np.flatnonzero(stress_rows), 6),
    )
    fit = fit_linear(columns, frame, settings.kappa, seed=1, stress_weight=0.5)
    design = weighted_design(columns, frame, settings.kappa, np.ones(len(frame)), stress_weight=0.5)
    assert np.count_nonzero(design.kind == 2) == 6 * int(stress_rows.sum()) > 0
    norms = np.linalg.norm(design.matrix, axis=0)
    scaled = design.matrix / norms
    strength = fit.ridge * float(np.mean(np.sum(scaled**2, axis=0)))
    gradient = scaled.T @ (scaled @ (fit.coefficients * norms) - design.target) + strength * fit.coefficients * norms
    assert np.abs(gradient).max() < 1e-10 * max(1.0, np.abs(scaled.T @ design.target).max())


def test_trainable_all_really_trains_the_radial_functions(si_frames: list[Atoms], tmp_path: Path) -> None:
    settings = AceSettings(trainable="all", solver="pacemaker", maxiter=2, number_of_functions_per_element=6)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames[:4], baseline), elements=ELEMENTS)
    member = train_ace_member(si_frames[:4], tmp_path, settings, ELEMENTS, baseline, references, seed=1, active_set=False)
    trained = np.array(BBasisConfiguration(str(member.potential_yaml)).get_radial_coeffs())
    start = create_multispecies_basis_config(pacemaker_input(settings, ELEMENTS, "d", 1)["potential"])
    initial = np.array(start.get_radial_coeffs())
    assert trained.shape == initial.shape and trained.size > 0
    assert np.abs(trained - initial).max() > 1e-6, "pacemaker left the radial functions at their initial values"


def test_stress_rows_are_the_calculators_stress_times_volume_per_atom(si_frames: list[Atoms]) -> None:
    """The unit columns' stress rows, combined with any coefficients, are pyace's own stress (sign and units)."""
    settings = AceSettings(number_of_functions_per_element=12)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    frame = pacemaker_dataframe(si_frames[-3:], baseline, references)
    basis = create_multispecies_basis_config(pacemaker_input(settings, ELEMENTS, "d", 1)["potential"])
    n = len(basis.get_func_coeffs())

    def calculator_of(unit: np.ndarray) -> PyACECalculator:
        trial = basis.copy()
        trial.set_func_coeffs(list(unit))
        return PyACECalculator(trial)

    columns = unit_columns(calculator_of, n, frame)
    coefficients = np.random.default_rng(3).normal(size=n)
    for index, atoms in enumerate(frame["ase_atoms"]):
        probe = atoms.copy()
        probe.calc = calculator_of(coefficients)
        expected = probe.get_stress(voigt=True) * probe.get_volume() / len(probe)
        rows = columns.stresses[columns.stress_structure == index]
        assert np.allclose(rows @ coefficients, expected, rtol=1e-8, atol=1e-10)
    assert np.abs(columns.stresses).max() > 0


def test_fitting_stress_lowers_the_training_stress_error(si_frames: list[Atoms]) -> None:
    """Real pw.x stresses: with stress rows in the loss the fit reproduces them better than without."""
    settings = AceSettings(number_of_functions_per_element=24)
    baseline = make_baseline("zbl", ELEMENTS)
    references = reference_energies(delta_targets(si_frames, baseline), elements=ELEMENTS)
    frame = pacemaker_dataframe(si_frames, baseline, references)
    basis = create_multispecies_basis_config(pacemaker_input(settings, ELEMENTS, "d", 1)["potential"])

    def calculator_of(unit: np.ndarray) -> PyACECalculator:
        trial = basis.copy()
        trial.set_func_coeffs(list(unit))
        return PyACECalculator(trial)

    columns = unit_columns(calculator_of, len(basis.get_func_coeffs()), frame)
    without = fit_linear(columns, frame, 0.1, seed=1, stress_weight=0.0, ridge=1e-6)
    with_stress = fit_linear(columns, frame, 0.1, seed=1, stress_weight=1.0, ridge=1e-6)
    assert without.stress_rmse_gpa is not None and with_stress.stress_rmse_gpa is not None
    assert with_stress.stress_rmse_gpa < 0.7 * without.stress_rmse_gpa, (without.stress_rmse_gpa, with_stress.stress_rmse_gpa)
