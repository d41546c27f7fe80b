"""Exploration MD with the real CHGNet surrogate: NVT/NPT trajectories, the watchdog, atomic output, the script."""

from __future__ import annotations

import gzip
import json
import os
import runpy
from pathlib import Path

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import find_mic

from mlip_autopipec.data.seeds import job_seed
from mlip_autopipec.data.trajectories import read_frames, write_frames
from mlip_autopipec.exploration.explore import Watchdog, default_sample_every, explore_md
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures.filters import min_distance_ratio

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chgnet() -> Calculator:
    calculator, name = make_surrogate("chgnet")
    assert name == "chgnet"
    return calculator


def si8() -> Atoms:
    return bulk("Si", "diamond", 5.43, cubic=True)


def mean_displacement(frames: list[Atoms], start: Atoms) -> float:
    moves = [np.linalg.norm(find_mic(f.positions - start.positions, f.cell, f.pbc)[0], axis=1).mean() for f in frames]
    return float(np.mean(moves))


class SpringPull(Calculator):
    """The surrogate plus a stiff spring that pulls atoms 0 and 1 together: a trajectory that collapses."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, base: Calculator, k: float) -> None:
        super().__init__()
        self.base, self.k = base, k

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        work = self.atoms.copy()
        work.calc = self.base
        energy, forces = work.get_potential_energy(), work.get_forces().copy()
        vector = find_mic(self.atoms.positions[1] - self.atoms.positions[0], self.atoms.cell, self.atoms.pbc)[0]
        energy += 0.5 * self.k * float(vector @ vector)
        forces[0] += self.k * vector
        forces[1] -= self.k * vector
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}


class FailsAfter(Calculator):
    """The surrogate until its n-th evaluation, then an error (as a surrogate may raise on a broken graph)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, base: Calculator, n_ok: int) -> None:
        super().__init__()
        self.base, self.n_ok, self.calls = base, n_ok, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        if self.calls > self.n_ok:
            raise RuntimeError("graph construction failed")
        work = self.atoms.copy()
        work.calc = self.base
        self.results = {"energy": work.get_potential_energy(), "forces": work.get_forces(), "stress": work.get_stress()}
        self.results["free_energy"] = self.results["energy"]


# --- trajectories with the real surrogate ---------------------------------------------------------------------


def test_nvt_at_two_temperatures(chgnet: Calculator, tmp_path: Path) -> None:
    start = si8()
    runs = {}
    for temperature in (300.0, 1200.0):
        output = tmp_path / f"si_nvt_{temperature:g}K.extxyz.gz"
        result = explore_md(
            start,
            chgnet,
            temperature_K=temperature,
            ensemble="nvt",
            steps=20,
            sample_every=2,
            supercell_atoms=8,
            seed=7,
            start_id="si8",
            output=output,
            surrogate_name="chgnet",
        )
        assert not result.stopped_early and result.reason is None
        assert result.n_steps_done == 20 and result.n_atoms == 8
        assert result.frames_path == output and output.is_file()
        with gzip.open(output, "rt") as handle:  # really gzip-compressed extxyz
            assert handle.readline().strip() == "8"
        frames = read_frames(output)
        assert len(frames) == result.n_frames == 10
        assert [f.info["step"] for f in frames] == list(range(2, 21, 2))
        for frame in frames:
            assert np.isfinite(frame.get_potential_energy())
            assert frame.get_forces().shape == (8, 3) and np.all(np.isfinite(frame.get_forces()))
            assert frame.get_stress().shape == (6,)
            assert frame.info["origin"] == "explore"
            assert frame.info["temperature"] == temperature
            assert frame.info["ensemble"] == "nvt"
            assert frame.info["start_structure_id"] == "si8"
            assert frame.info["surrogate"] == "chgnet"
        runs[temperature] = frames
    cold, hot = runs[300.0], runs[1200.0]
    kinetic = {t: np.mean([f.info["kinetic_temperature"] for f in runs[t]]) for t in runs}
    assert kinetic[1200.0] > 2 * kinetic[300.0]
    assert mean_displacement(hot, start) > mean_displacement(cold, start)
    assert len(start) == 8 and start.calc is None  # the caller's structure is untouched


def test_npt_changes_the_cell(chgnet: Calculator, tmp_path: Path) -> None:
    start = si8()
    result = explore_md(
        start,
        chgnet,
        temperature_K=600.0,
        ensemble="npt",
        pressure_gpa=1.0,
        steps=8,
        sample_every=2,
        supercell_atoms=8,
        seed=3,
        start_id="si8",
        output=tmp_path / "npt.extxyz.gz",
    )
    assert not result.stopped_early and result.ensemble == "npt" and result.pressure_gpa == 1.0
    frames = read_frames(result.frames_path)
    assert len(frames) == 4
    volumes = np.array([f.get_volume() for f in frames])
    assert np.all(np.abs(volumes - start.get_volume()) > 1e-3)
    assert all(f.info["ensemble"] == "npt" and f.info["pressure_gpa"] == 1.0 for f in frames)


def test_npt_on_a_non_orthogonal_cell(chgnet: Calculator) -> None:
    start = bulk("Si", "diamond", 5.43)  # the 2-atom primitive cell: 60 degree angles
    result = explore_md(start, chgnet, temperature_K=900.0, ensemble="npt", steps=4, sample_every=2, supercell_atoms=2, seed=1)
    assert not result.stopped_early and len(result.frames) == 2
    final = result.frames[-1]
    assert not np.allclose(final.cell.array, start.cell.array)
    assert final.cell.angles() == pytest.approx(start.cell.angles(), abs=5.0)  # still the same kind of cell


def test_supercell_is_built_to_the_requested_size(chgnet: Calculator) -> None:
    result = explore_md(bulk("Si", "diamond", 5.43), chgnet, temperature_K=300.0, steps=2, sample_every=2, supercell_atoms=16)
    assert result.n_atoms == 16 and len(result.frames[0]) == 16


def test_molecule_runs_nvt_without_a_cell(chgnet: Calculator) -> None:
    result = explore_md(molecule("H2O"), chgnet, temperature_K=300.0, ensemble="npt", steps=4, sample_every=2, seed=2)
    assert result.ensemble == "nvt" and result.pressure_gpa is None
    assert not result.stopped_early and len(result.frames) == 2
    assert "npt was run as nvt" in result.notes[0]
    assert all(not f.pbc.any() and f.info["ensemble"] == "nvt" for f in result.frames)


def test_isolated_atom_has_nothing_to_explore(chgnet: Calculator, tmp_path: Path) -> None:
    result = explore_md(Atoms("Si"), chgnet, temperature_K=300.0, steps=10, output=tmp_path / "atom.extxyz.gz")
    assert result.n_steps_done == 0 and not result.stopped_early and result.frames == []
    assert read_frames(tmp_path / "atom.extxyz.gz") == []


def test_same_seed_same_trajectory(chgnet: Calculator) -> None:
    runs = [explore_md(si8(), chgnet, temperature_K=500.0, steps=4, sample_every=4, supercell_atoms=8, seed=11) for _ in range(2)]
    assert np.allclose(runs[0].frames[-1].positions, runs[1].frames[-1].positions)
    other = explore_md(si8(), chgnet, temperature_K=500.0, steps=4, sample_every=4, supercell_atoms=8, seed=12)
    assert not np.allclose(other.frames[-1].positions, runs[0].frames[-1].positions)


# --- the watchdog ----------------------------------------------------------------------------------------------


def test_watchdog_stops_a_start_with_overlapping_atoms(chgnet: Calculator, tmp_path: Path) -> None:
    start = si8()
    start.positions[1] = start.positions[0] + np.array([0.6, 0.0, 0.0])  # two Si atoms 0.6 A apart
    output = tmp_path / "overlap.extxyz.gz"
    result = explore_md(start, chgnet, temperature_K=300.0, steps=20, sample_every=2, supercell_atoms=8, output=output)
    assert result.stopped_early
    assert result.reason.startswith("start structure: close contact")
    assert "0.27 of their covalent bond length" in result.reason
    assert result.n_steps_done == 0 and result.frames == []
    assert output.is_file() and read_frames(output) == []  # a valid, empty output: the job does not fail


def test_watchdog_keeps_the_frames_before_a_collapse(chgnet: Calculator, tmp_path: Path) -> None:
    output = tmp_path / "collapse.extxyz.gz"
    # The spring heats the system as it pulls; let only the distance criterion fire here.
    only_distances = Watchdog(max_energy_jump_per_atom=1e6, max_temperature_factor=1e6)
    result = explore_md(
        si8(),
        SpringPull(chgnet, k=50.0),
        temperature_K=300.0,
        steps=40,
        sample_every=1,
        supercell_atoms=8,
        seed=5,
        output=output,
        watchdog=only_distances,
    )
    assert result.stopped_early and "close contact" in result.reason
    event_step = int(result.reason.split(":")[0].removeprefix("step "))
    assert result.n_steps_done == event_step < 40
    frames = read_frames(output)
    assert len(frames) == event_step - 1 >= 2  # every sample before the event, none after
    assert [f.info["step"] for f in frames] == list(range(1, event_step))
    assert all(min_distance_ratio(f) >= 0.5 for f in frames)


def test_watchdog_keeps_the_frames_before_the_surrogate_fails(chgnet: Calculator) -> None:
    result = explore_md(si8(), FailsAfter(chgnet, n_ok=5), temperature_K=300.0, steps=20, sample_every=1, supercell_atoms=8)
    assert result.stopped_early and "RuntimeError: graph construction failed" in result.reason
    assert result.n_steps_done == 4 and [f.info["step"] for f in result.frames] == [1, 2, 3, 4]


def with_results(atoms: Atoms, energy: float, forces: np.ndarray | None = None) -> Atoms:
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.zeros((len(atoms), 3)) if forces is None else forces)
    return atoms


def test_watchdog_checks() -> None:
    dog = Watchdog()
    assert dog.check(with_results(si8(), -40.0), -5.0, 300.0) is None
    assert "energy jump: 2.00 eV/atom" in dog.check(with_results(si8(), -24.0), -5.0, 300.0)
    assert "non-finite" in dog.check(with_results(si8(), float("nan")), None, 300.0)
    hot = with_results(si8(), -40.0)
    hot.set_momenta(np.full((8, 3), 40.0))  # tens of thousands of K
    assert "temperature runaway" in dog.check(hot, -5.0, 300.0)
    assert dog.temperature_limit(300.0) == 2300.0 and dog.temperature_limit(1200.0) == 6000.0
    strict = Watchdog(min_distance_factor=0.9)
    squeezed = with_results(bulk("Si", "diamond", 4.3, cubic=True), -40.0)  # bonds at 0.84 of covalent
    assert "close contact" in strict.check(squeezed, None, 300.0)


# --- atomic output -----------------------------------------------------------------------------------------------


def test_output_appears_only_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [with_results(si8(), -40.0 - i) for i in range(3)]
    target = tmp_path / "out" / "frames.extxyz.gz"
    seen = []
    real_replace = os.replace

    def watching_replace(source, destination):
        source, destination = Path(source), Path(destination)
        seen.append((source, destination, destination.exists(), len(read_frames(source))))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", watching_replace)
    write_frames(target, frames)
    [(source, destination, existed, complete)] = seen
    assert source.parent == destination.parent == target.parent  # same folder: an atomic rename
    assert source.name.startswith(".") and source.name.endswith(".tmp")
    assert destination == target and not existed and complete == 3
    assert [f.get_potential_energy() for f in read_frames(target)] == [-40.0, -41.0, -42.0]
    assert sorted(p.name for p in target.parent.iterdir()) == ["frames.extxyz.gz"]


def test_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "frames.extxyz.gz"
    real_write = ase.io.write

    def dies_halfway(handle, images, **kwargs):
        real_write(handle, images[:1], **kwargs)  # part of the file is already written ...
        raise KeyboardInterrupt  # ... when the job is killed

    monkeypatch.setattr(ase.io, "write", dies_halfway)
    frames = [with_results(si8(), -40.0), with_results(si8(), -41.0)]
    with pytest.raises(KeyboardInterrupt):
        write_frames(target, frames)
    assert list(tmp_path.iterdir()) == []  # neither the output nor the temporary file

    monkeypatch.setattr(ase.io, "write", real_write)
    write_frames(target, frames)
    monkeypatch.setattr(ase.io, "write", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_frames(target, frames[:1])
    assert len(read_frames(target)) == 2  # the earlier complete file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["frames.extxyz.gz"]


def test_helpers() -> None:
    assert job_seed(1, "abc", 300.0, "nvt") == job_seed(1, "abc", 300.0, "nvt")
    assert job_seed(1, "abc", 300.0, "nvt") != job_seed(1, "abc", 300.0, "npt")
    assert default_sample_every(2000) == 20 and default_sample_every(20) == 1
    with pytest.raises(ValueError, match="unknown ensemble"):
        explore_md(si8(), None, temperature_K=300.0, ensemble="nve")
    with pytest.raises(ValueError, match="above 0 K"):
        explore_md(si8(), None, temperature_K=0.0)


# --- the Snakemake script ----------------------------------------------------------------------------------------


class Bag(dict):
    """Enough of Snakemake's Namedlist for the script: attribute access, ``get`` and ``[0]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def test_snakemake_script(tmp_path: Path) -> None:
    structure = tmp_path / "in" / "0123456789abcdef.extxyz"
    structure.parent.mkdir()
    ase.io.write(structure, si8(), format="extxyz")
    log = tmp_path / "logs" / "explore.log"
    snakemake = Bag(
        input=Bag(structure=str(structure)),
        output=Bag(frames=str(tmp_path / "out" / "frames.extxyz.gz"), summary=str(tmp_path / "out" / "summary.json")),
        params=Bag(
            explore={  # the keys rule explore passes (workflow/rules/explore.smk)
                "steps": 4,
                "supercell_atoms": 8,
                "pressures": [0.0, 2.0],
                "timestep_fs": 2.0,
                "surrogate": "chgnet",
                "surrogate_model": None,
            },
            seed=42,
            surrogate={"name": "chgnet", "model": None},
            sample_every=2,
        ),
        wildcards=Bag(sid="0123456789abcdef", temperature="300", ensemble="npt"),
        log=[str(log)],
        rule="explore",
        config={"composition": "Si"},
    )
    runpy.run_path(str(REPO / "scripts" / "explore_md.py"), init_globals={"snakemake": snakemake})
    frames = read_frames(snakemake.output.frames)
    assert len(frames) == 4  # two pressures x two frames
    assert sorted({f.info["pressure_gpa"] for f in frames}) == [0.0, 2.0]
    assert all(f.info["start_structure_id"] == "0123456789abcdef" for f in frames)
    summary = json.loads(Path(snakemake.output.summary).read_text())
    assert summary["surrogate"] == "chgnet" and summary["frames"] == 4 and len(summary["runs"]) == 2
    assert "wrote 4 frames" in log.read_text()


# --- one explore job: wildcards, pressures, the summary -------------------------------------------------------------


def test_job_wildcards_and_pressures() -> None:
    from mlip_autopipec.config.models import ExploreConfig
    from mlip_autopipec.data.ids import structure_id
    from mlip_autopipec.exploration.job import job_pressures, parse_temperature, start_identity

    assert [parse_temperature(t) for t in ("300", "300.0", "300K", "T300", " t300k ")] == [300.0] * 5
    explore = ExploreConfig(pressures=[0.0, 2.0])
    assert job_pressures("npt", None, explore) == [0.0, 2.0]
    assert job_pressures("npt", "1.5", explore) == [1.5] and job_pressures("nvt", None, explore) == [0.0]
    atoms = si8()
    assert start_identity(atoms, "abc") == "abc" and start_identity(atoms) == structure_id(atoms)
    atoms.info["structure_id"] = "from-file"
    assert start_identity(atoms) == "from-file"


def test_a_molecule_asked_for_npt_runs_nvt_once(tmp_path: Path) -> None:
    from mlip_autopipec.config.models import ExploreConfig
    from mlip_autopipec.data.records import ExploreSummary
    from mlip_autopipec.exploration.job import run_exploration_job

    water = molecule("H2O")
    explore = ExploreConfig(pressures=[0.0, 2.0], steps=4)
    frames, summary = run_exploration_job(
        water, explore, temperature="T300K", ensemble="NPT", run_seed=1, sid="water", surrogate={"name": "chgnet"}, sample_every=2
    )
    assert len(summary.runs) == 1 and summary.runs[0].ensemble == "nvt" and summary.runs[0].pressure_gpa is None
    assert summary.surrogate == "chgnet" and summary.frames == len(frames) == 2
    assert summary.runs[0].temperature_K == 300.0 and all(f.info["start_structure_id"] == "water" for f in frames)
    summary.write(tmp_path / "summary.json")
    assert ExploreSummary.read(tmp_path / "summary.json") == summary


def test_a_molecule_is_thermostatted_to_the_temperature_asked_for() -> None:
    """Langevin's ``fixcm`` overheats a 3-atom molecule (about 800 K for 300 K); the pipeline's NVT keeps the centre
    of mass with ``FixCom`` instead, and the molecule's mean kinetic temperature lands near the target."""
    from ase import units
    from ase.calculators.emt import EMT

    from mlip_autopipec.exploration.explore import initial_velocities, make_dynamics

    water = molecule("H2O")
    water.center(vacuum=4.0)
    water.calc = EMT()
    initial_velocities(water, 300.0, np.random.default_rng(1))
    dyn = make_dynamics(water, "nvt", 300.0, 0.0, 0.5, 0.01, 100.0, 1000.0, np.random.default_rng(2))
    temperatures = []
    for _ in range(400):
        dyn.run(5)
        temperatures.append(2.0 * water.get_kinetic_energy() / (6 * units.kB))  # 9 - 3 degrees of freedom (centre fixed)
    mean = float(np.mean(temperatures[100:]))
    assert 200.0 < mean < 420.0, f"mean kinetic temperature {mean:.0f} K for a 300 K thermostat"
