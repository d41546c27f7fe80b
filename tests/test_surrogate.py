"""The surrogate factory: CHGNet when no MACE weights are here, the real MACE loading path with a tiny model.

No MACE-MP weights can be downloaded here, so the MACE tests build a tiny MACE model themselves (random
weights, Si only, float64), save it with ``torch.save`` exactly as MACE saves its models, and load it
through ``make_surrogate``. Nothing depends on the real ``~/.cache/mace``: ``MACE_CACHE`` is patched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# torch >= 2.6 unpickles weights-only by default; MACE models are whole pickled modules. Set before any
# torch import (mace sets it too, but only when it is imported before e3nn).
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np
import pytest
from ase.build import bulk

from mlip_autopipec.potentials import surrogate
from mlip_autopipec.potentials.surrogate import SurrogateError, make_surrogate

TINY_MODEL_NAME = "tiny-si-mace.model"


@pytest.fixture()
def empty_mace_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "mace-cache"
    cache.mkdir()
    monkeypatch.setattr(surrogate, "MACE_CACHE", cache)
    return cache


@pytest.fixture(scope="module")
def tiny_mace_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real ScaleShiftMACE for Si (4 channels, l <= 1, one interaction, r_max 4 A), saved whole."""
    import mace  # noqa: F401  (must come before e3nn: see DEPENDENCIES.md)
    import torch
    from e3nn import o3
    from mace import modules

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        model = modules.ScaleShiftMACE(
            r_max=4.0,
            num_bessel=4,
            num_polynomial_cutoff=5,
            max_ell=1,
            interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            num_interactions=1,
            num_elements=1,
            hidden_irreps=o3.Irreps("4x0e"),
            MLP_irreps=o3.Irreps("4x0e"),
            atomic_energies=np.array([-4.0]),
            avg_num_neighbors=4.0,
            atomic_numbers=[14],
            correlation=2,
            gate=torch.nn.functional.silu,
            atomic_inter_scale=5.0,
            atomic_inter_shift=0.0,
        )
        path = tmp_path_factory.mktemp("mace") / TINY_MODEL_NAME
        torch.save(model, path)
    finally:
        torch.set_default_dtype(previous)
    return path


def rattled_si():
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.08, seed=3)
    return atoms


def assert_forces_are_minus_gradient(atoms, calculator, components=((0, 0), (3, 1), (5, 2)), h=1e-4) -> None:
    atoms = atoms.copy()
    atoms.calc = calculator
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-4, "forces too small for a meaningful finite-difference check"
    for index, axis in components:
        displaced = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[index, axis] += sign * h
            moved.calc = calculator
            displaced.append(moved.get_potential_energy())
        numerical = -(displaced[0] - displaced[1]) / (2 * h)
        assert numerical == pytest.approx(forces[index, axis], rel=1e-4, abs=1e-6)


def test_auto_without_mace_weights_picks_chgnet(empty_mace_cache: Path) -> None:
    from chgnet.model.dynamics import CHGNetCalculator

    assert surrogate.cached_mace_model() is None
    calculator, name = make_surrogate("auto")
    assert name == "chgnet"
    assert isinstance(calculator, CHGNetCalculator)
    atoms = bulk("Si", "diamond", 5.43)
    atoms.calc = calculator
    assert np.isfinite(atoms.get_potential_energy())
    assert np.all(np.isfinite(atoms.get_forces()))


def test_mace_model_file_loads_and_gives_consistent_forces(tiny_mace_model: Path, empty_mace_cache: Path) -> None:
    from mace.calculators import MACECalculator

    calculator, name = make_surrogate("mace-mp", model_path=str(tiny_mace_model))
    assert name == f"mace-mp:{TINY_MODEL_NAME}"
    assert isinstance(calculator, MACECalculator)
    atoms = rattled_si()
    atoms.calc = calculator
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy) and forces.shape == (8, 3) and np.all(np.isfinite(forces))
    assert np.all(np.isfinite(atoms.get_stress()))
    assert_forces_are_minus_gradient(atoms, calculator)


def test_auto_prefers_a_given_mace_model(tiny_mace_model: Path, empty_mace_cache: Path) -> None:
    calculator, name = make_surrogate("auto", model_path=str(tiny_mace_model))
    assert name == f"mace-mp:{TINY_MODEL_NAME}"
    atoms = rattled_si()
    atoms.calc = calculator
    assert np.isfinite(atoms.get_potential_energy())


def test_auto_and_mace_mp_find_a_model_in_the_mace_cache(tiny_mace_model: Path, empty_mace_cache: Path) -> None:
    shutil.copy(tiny_mace_model, empty_mace_cache / TINY_MODEL_NAME)
    for request in ("auto", "mace-mp"):
        calculator, name = make_surrogate(request)
        assert name == f"mace-mp:{TINY_MODEL_NAME}"
        atoms = rattled_si()
        atoms.calc = calculator
        assert np.all(np.isfinite(atoms.get_forces()))


def test_missing_model_file_names_the_file_and_where_to_put_it(tmp_path: Path, empty_mace_cache: Path) -> None:
    missing = tmp_path / "models" / "mace-mp-0b3-medium.model"
    for request in ("mace-mp", "auto"):
        with pytest.raises(SurrogateError) as caught:
            make_surrogate(request, model_path=str(missing))
        message = str(caught.value)
        assert str(missing) in message
        assert "does not exist" in message
        assert "github.com/ACEsuit/mace-mp" in message  # where to get it
        assert str(empty_mace_cache) in message  # where to put it
        assert "chgnet" in message
        assert "\n" not in message


def test_mace_mp_without_any_weights_is_a_one_line_error(empty_mace_cache: Path) -> None:
    with pytest.raises(SurrogateError) as caught:
        make_surrogate("mace-mp")
    message = str(caught.value)
    assert "\n" not in message
    assert "no MACE-MP weights" in message
    assert str(empty_mace_cache) in message and "surrogate_model" in message and "chgnet" in message


def test_mace_mp_without_a_cache_folder_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(surrogate, "MACE_CACHE", tmp_path / "no-such-folder")
    with pytest.raises(SurrogateError, match="no MACE-MP weights"):
        make_surrogate("mace-mp")


def test_unreadable_model_file_is_a_surrogate_error(tmp_path: Path, empty_mace_cache: Path) -> None:
    broken = tmp_path / "broken.model"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(SurrogateError) as caught:
        make_surrogate("mace-mp", model_path=str(broken))
    assert str(broken) in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_surrogate_name() -> None:
    with pytest.raises(SurrogateError, match="unknown surrogate 'nequip'"):
        make_surrogate("nequip")
