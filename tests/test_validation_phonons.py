"""Phonon validation: phonopy finite displacements with real calculators (EMT, Lennard-Jones, and pw.x on Si)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from conftest import FAST_SI_DFT
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.validation.dft_reference import LabelledDft
from mlip_autopipec.validation.phonons import (
    IMAGINARY_THRESHOLD,
    PhononResult,
    band_rmse,
    phonon_bands,
    phonon_rows,
    plot_phonons,
)

CU_A = 3.59  # EMT's fcc Cu lattice constant (A)
SUPERCELL = (3, 3, 3)


def _cu(a: float = CU_A) -> Atoms:
    return bulk("Cu", "fcc", a=a)


@pytest.fixture(scope="module")
def emt_cu() -> PhononResult:
    return phonon_bands(_cu(), EMT(), supercell=SUPERCELL)


def _row(rows: list, quantity: str):
    matches = [row for row in rows if row.quantity.startswith(quantity)]
    assert len(matches) == 1, [row.quantity for row in rows]
    return matches[0]


def test_emt_cu_phonons_are_physical(emt_cu: PhononResult) -> None:
    assert emt_cu.n_displaced == 1  # fcc: one symmetry-reduced displacement
    assert emt_cu.path == "GXWKGLUWLK,UX"
    assert emt_cu.frequencies.shape == (510, 3)  # 10 segments x 51 q-points, 3 branches
    np.testing.assert_allclose(emt_cu.special_frequencies["G"], 0.0, atol=IMAGINARY_THRESHOLD)  # acoustic at Gamma
    assert emt_cu.min_frequency > -IMAGINARY_THRESHOLD  # no imaginary modes on the path or the mesh
    x = emt_cu.special_frequencies["X"]
    assert x[0] == pytest.approx(x[1], abs=1e-6) and x[2] > x[0] > 1.0  # two degenerate TA below LA at X
    assert emt_cu.special_frequencies["K"] == pytest.approx(emt_cu.special_frequencies["U"], abs=1e-6)
    assert emt_cu.dos.shape == emt_cu.dos_frequencies.shape and emt_cu.dos.max() > 0
    step = emt_cu.dos_frequencies[1] - emt_cu.dos_frequencies[0]
    assert float(np.sum(emt_cu.dos) * step) == pytest.approx(3.0, rel=0.05)  # 3 branches per 1-atom cell


def test_the_same_calculator_on_both_sides_passes_with_zero_error(emt_cu: PhononResult) -> None:
    again = phonon_bands(_cu(), EMT(), supercell=SUPERCELL)
    rows = phonon_rows(again, emt_cu, ValidationConfig())
    assert all(row.mark == "pass" for row in rows), [(row.quantity, row.mark) for row in rows]
    assert _row(rows, "band-structure RMSE").potential == pytest.approx(0.0, abs=1e-9)
    # 1-atom cell: no optical mode; X, W, K/U (equivalent, one pair), L: two rows each; RMSE and imaginary rows
    assert [row.quantity for row in rows] == [
        "band-structure RMSE (GXWKGLUWLK,UX)",
        "lowest frequency at X",
        "highest frequency at X",
        "lowest frequency at W",
        "highest frequency at W",
        "lowest frequency at K/U",
        "highest frequency at K/U",
        "lowest frequency at L",
        "highest frequency at L",
        "most negative frequency (imaginary modes)",
    ]
    assert all(row.group == "phonons" and row.unit == "THz" for row in rows)


def test_a_compressed_crystal_is_stiffer_and_fails_the_rmse(emt_cu: PhononResult) -> None:
    """2% compression: every zone-boundary frequency rises (positive Grueneisen parameter) by about 12-15%."""
    compressed = phonon_bands(_cu(0.98 * CU_A), EMT(), supercell=SUPERCELL)
    rows = phonon_rows(compressed, emt_cu, ValidationConfig())
    rmse = _row(rows, "band-structure RMSE")
    assert rmse.potential == pytest.approx(band_rmse(compressed, emt_cu))
    assert rmse.potential > 2 * ValidationConfig().phonon_rmse_tolerance and rmse.mark == "fail"
    boundary = [row for row in rows if " at " in row.quantity]
    assert boundary and all(row.error is not None and row.error > 0 for row in boundary)
    assert all(0.10 < row.relative_error < 0.20 and row.mark == "warn" for row in boundary)  # elastic tolerance 0.10
    assert _row(rows, "most negative frequency").mark == "pass"
    loose = phonon_rows(compressed, emt_cu, ValidationConfig(phonon_rmse_tolerance=1.0, elastic_tolerance=0.2))
    assert all(row.mark == "pass" for row in loose)  # the marks follow the config's tolerances


def test_a_differently_parametrised_potential_gives_a_nonzero_rmse(emt_cu: PhononResult) -> None:
    lj = LennardJones(sigma=2.338, epsilon=0.4093, rc=6.0, smooth=True)  # Cu-like LJ, stiffer than EMT at a = 3.59 A
    other = phonon_bands(_cu(), lj, supercell=SUPERCELL)
    rmse = band_rmse(other, emt_cu)
    assert rmse > 1.0
    assert rmse == pytest.approx(band_rmse(emt_cu, other))  # symmetric in its sides
    assert other.special_frequencies["X"][-1] > emt_cu.special_frequencies["X"][-1]


def test_imaginary_modes_of_the_potential_alone_fail() -> None:
    """EMT's bcc Cu is unstable at N (an imaginary TA mode) at a = 2.87 A and stable when compressed to 2.55 A."""
    stable = phonon_bands(bulk("Cu", "bcc", a=2.55), EMT(), supercell=(4, 4, 4))
    unstable = phonon_bands(bulk("Cu", "bcc", a=2.87), EMT(), supercell=(4, 4, 4))
    assert stable.min_frequency > -IMAGINARY_THRESHOLD
    assert unstable.special_frequencies["N"][0] < -0.5 and unstable.min_frequency < -0.5
    cfg = ValidationConfig()
    imaginary = _row(phonon_rows(unstable, stable, cfg), "most negative frequency")
    assert imaginary.mark == "fail" and imaginary.potential == pytest.approx(unstable.min_frequency)
    assert imaginary.dft == pytest.approx(0.0, abs=1e-4)  # DFT's lowest frequency: an acoustic mode at Gamma
    assert _row(phonon_rows(unstable, unstable, cfg), "most negative frequency").mark == "pass"  # both unstable alike
    assert _row(phonon_rows(stable, unstable, cfg), "most negative frequency").mark == "fail"  # a missed instability
    # the zone-boundary rows use the branches DFT has above the threshold, the same on both sides
    assert _row(phonon_rows(stable, unstable, cfg), "lowest frequency at N").note.startswith("phonopy")
    assert "branch 2 of 3" in _row(phonon_rows(stable, unstable, cfg), "lowest frequency at N").note


def test_bands_on_different_paths_are_not_compared(emt_cu: PhononResult) -> None:
    short = phonon_bands(_cu(), EMT(), supercell=SUPERCELL, path="GXL")
    assert short.path == "GXL" and short.frequencies.shape == (102, 3)
    with pytest.raises(ValueError, match="same path"):
        band_rmse(short, emt_cu)


def test_plot_has_both_sides(emt_cu: PhononResult, tmp_path: Path) -> None:
    compressed = phonon_bands(_cu(0.98 * CU_A), EMT(), supercell=SUPERCELL)
    png = plot_phonons(compressed, emt_cu, tmp_path / "figures" / "phonons.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert not list(png.parent.glob(".*tmp"))


@pytest.mark.dft
@pytest.mark.usefixtures("pw_available")
def test_si_phonons_from_pw_x_and_from_the_cache(tmp_path: Path) -> None:
    """One displaced 16-atom supercell through the labelling engine; the second run takes it from the label cache."""
    full = expand_config(
        {"composition": "Si", "dft": dict(FAST_SI_DFT), "label": {"mpi": {"ntasks": 2}, "cache_dir": str(tmp_path / "cache")}}
    )
    si = bulk("Si", "diamond", a=5.43)
    dft = LabelledDft(full.dft, full.label, tmp_path / "work", ntasks=2)
    result = phonon_bands(si, dft, supercell=(2, 2, 2))
    assert result.n_displaced == 1 and dft.dft_runs == 1
    assert dft.records[0].origin == "validation_phonons" and len(dft.records[0].numbers) == 16
    gamma = result.special_frequencies["G"]
    np.testing.assert_allclose(gamma[:3], 0.0, atol=IMAGINARY_THRESHOLD)  # acoustic
    assert 14.0 < gamma[-1] < 17.0  # Si's optical mode at Gamma (15.5 THz measured)
    assert result.min_frequency > -IMAGINARY_THRESHOLD

    cached = LabelledDft(full.dft, full.label, tmp_path / "work_again", ntasks=2)
    again = phonon_bands(si, cached, supercell=(2, 2, 2))
    assert cached.dft_runs == 0 and len(cached.records) == 1
    rows = phonon_rows(again, result, ValidationConfig())
    assert _row(rows, "band-structure RMSE").potential == pytest.approx(0.0, abs=1e-9)
    optical = _row(rows, "highest optical frequency at Γ")
    assert optical.dft == pytest.approx(gamma[-1]) and optical.mark == "pass"
