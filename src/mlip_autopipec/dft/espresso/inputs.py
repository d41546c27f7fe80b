"""The pw.x input of one attempt: namelists, the structure as pw.x gets it, k-point pools, written with ASE.

Why ASE's writer: it is the reference writer for pw.x input (species, cards, k-points), and the tests
compare our labels with ASE's own Espresso calculator run on the same namelists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase import Atoms
from ase.calculators.espresso import Espresso, EspressoProfile

from mlip_autopipec.config.models import DFTConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.dft.engine import SCRATCH_FOLDER
from mlip_autopipec.dft.espresso.pseudopotentials import pseudo_directory
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.errors import StructureFileError

PREFIX = "pwscf"
INPUT_NAME, OUTPUT_NAME, ERROR_NAME = "espresso.pwi", "espresso.pwo", "espresso.err"


def pw_input_data(dft: DFTConfig, atoms: Atoms, overrides: dict[str, Any], restart: bool, walltime_s: float) -> dict[str, Any]:
    """The pw.x namelists for one attempt."""
    control: dict[str, Any] = {
        "calculation": "scf",
        "prefix": PREFIX,
        "outdir": f"../{SCRATCH_FOLDER}",
        "pseudo_dir": pseudo_directory(dft.pseudo_family, dft.pseudo_dir),
        "tprnfor": True,
        "tstress": bool(atoms.get_pbc().any()),
        "disk_io": "low",
        # Stop cleanly (writing the charge density) a little before our hard limit kills the run.
        "max_seconds": max(30.0, 0.9 * walltime_s - 10.0),
    }
    system: dict[str, Any] = {
        "ecutwfc": dft.ecutwfc,
        "ecutrho": dft.ecutrho,
        "occupations": dft.occupations,
        "nspin": dft.nspin,
    }
    if dft.occupations == "smearing":
        system.update(smearing=dft.smearing, degauss=overrides.get("degauss", dft.degauss))
    electrons: dict[str, Any] = {
        "conv_thr": dft.conv_thr_per_atom * len(atoms),
        "mixing_beta": overrides.get("mixing_beta", dft.mixing_beta),
        "electron_maxstep": overrides.get("electron_maxstep", dft.electron_maxstep),
        "diagonalization": overrides.get("diagonalization", dft.diagonalization),
    }
    if "mixing_mode" in overrides:
        electrons["mixing_mode"] = overrides["mixing_mode"]
    if restart:
        electrons["startingpot"] = "file"
    return {"control": control, "system": system, "electrons": electrons}


def prepared_atoms(atoms: Atoms, dft: DFTConfig) -> Atoms:
    """Numbers, positions, cell and pbc only (no stray calculator or arrays), with starting moments for spin runs."""
    work = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if abs(work.cell.volume) < 1e-6:
        raise StructureFileError(
            f"structure {structure_id(atoms)} ({work.get_chemical_formula()}) has no cell; "
            "put molecules in a vacuum box (e.g. atoms.center(vacuum=6)) before labelling"
        )
    if dft.nspin == 2:
        work.set_initial_magnetic_moments([dft.initial_magnetic_moments.get(s, 0.0) for s in work.get_chemical_symbols()])
    return work


def pool_flags(ntasks: int, kpts: list[int] | None) -> list[str]:
    """k-point pools (``-nk``): the cheapest parallelism when there are at least as many k-points as ranks."""
    if ntasks > 1 and kpts is not None and kpts[0] * kpts[1] * kpts[2] >= 2 * ntasks:
        return ["-nk", str(ntasks)]
    return []


def espresso_profile(command: str, dft: DFTConfig) -> EspressoProfile:
    """ASE's description of how pw.x is called: the command line and the pseudopotential folder."""
    return EspressoProfile(command=command, pseudo_dir=pseudo_directory(dft.pseudo_family, dft.pseudo_dir))


def write_pw_input(
    atoms: Atoms, dft: DFTConfig, directory: Path, overrides: dict[str, Any], restart: bool, walltime_s: float
) -> None:
    """Write ``espresso.pwi`` for one attempt into ``directory`` with ASE's Espresso calculator."""
    work = prepared_atoms(atoms, dft)
    calc = Espresso(
        profile=espresso_profile("pw.x", dft),  # the command is not part of the input file
        directory=str(directory),
        input_data=pw_input_data(dft, work, overrides, restart, walltime_s),
        pseudopotentials=dict(dft.pseudopotentials),
        kpts=kpoint_mesh(work, dft.kpoint_spacing),
    )
    calc.write_inputfiles(work, ["energy", "forces", "stress"])
