"""Structure ids, atomic writes, k-point meshes, label records and the database index."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from conftest import FAST_SI_DFT
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import DFTConfig
from mlip_autopipec.data.atomic_io import atomic_write, atomic_write_extxyz, atomic_write_text
from mlip_autopipec.data.database import StructureIndex, structure_id_of
from mlip_autopipec.data.ids import id_digest, structure_id
from mlip_autopipec.data.label_cache import LabelCache, copy_records
from mlip_autopipec.data.records import Attempt, LabelRecord
from mlip_autopipec.data.structure_files import fan_out, read_structures
from mlip_autopipec.dft.engine import get_engine
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.dft.labeller import dft_hash
from mlip_autopipec.errors import StructureFileError

RECORD_BEFORE_ENGINES = Path(__file__).parent / "data" / "label_record_before_engines.json"


def test_structure_id_is_a_content_hash() -> None:
    atoms = bulk("Si", "diamond", 5.43)
    same = atoms.copy()
    same.positions += 1e-8  # below the rounding
    moved = atoms.copy()
    moved.positions[1, 0] += 1e-3
    assert structure_id(atoms) == structure_id(same)
    assert structure_id(atoms) != structure_id(moved)
    assert structure_id(atoms) != structure_id(Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=False))
    negative_zero = Atoms("H", positions=[[-0.0, 0.0, 0.0]], cell=[5, 5, 5])
    assert structure_id(negative_zero) == structure_id(Atoms("H", positions=[[0.0, 0.0, 0.0]], cell=[5, 5, 5]))


def testatomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.extxyz"
    atomic_write_text(target, "old")

    def write_half_then_fail(handle) -> None:
        handle.write("new, but only ha")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, write_half_then_fail)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_kpoint_mesh_follows_the_spacing() -> None:
    cubic = bulk("Si", "diamond", 5.43, cubic=True)
    assert kpoint_mesh(cubic, 0.3) == [4, 4, 4]  # 2 pi / 5.43 = 1.157 -> ceil(3.86)
    assert kpoint_mesh(cubic.repeat((2, 1, 1)), 0.3) == [2, 4, 4]
    slab = cubic.copy()
    slab.pbc = (True, True, False)
    assert kpoint_mesh(slab, 0.3)[2] == 1
    water = molecule("H2O")
    water.center(vacuum=5.0)
    assert kpoint_mesh(water, 0.3) is None


def _record(atoms: Atoms, state: str = "labelled") -> LabelRecord:
    return LabelRecord(
        structure_id=structure_id(atoms),
        state=state,
        reason="" if state == "labelled" else "scf_not_converged: after 4 attempts",
        dft_hash="abc",
        origin="user",
        dft_parameters={"ecutwfc": 20.0},
        pseudo_family="oncvpsp-pbe",
        pseudo_md5={"Si": "00"},
        energy=-10.0 if state == "labelled" else None,
        forces=np.zeros((len(atoms), 3)).tolist() if state == "labelled" else None,
        stress=[0.0] * 6 if state == "labelled" else None,
        attempts=[Attempt(number=1, rung="base", status="converged" if state == "labelled" else "scf_not_converged")],
        **LabelRecord.structure_fields(atoms),
    )


def test_label_record_round_trip(tmp_path: Path) -> None:
    atoms = bulk("Si", "diamond", 5.43)
    record = _record(atoms)
    record.write(tmp_path / "r.json")
    back = LabelRecord.read(tmp_path / "r.json")
    assert back == record
    assert back.to_atoms().get_potential_energy() == -10.0
    assert structure_id(back.to_atoms()) == record.structure_id


def test_label_records_are_carried_to_another_cache_whole_and_once(tmp_path: Path) -> None:
    """Kept labels (committed as data, or from another machine) replay into a new run's cache: parsed records only."""
    run, kept = LabelCache(tmp_path / "run"), tmp_path / "kept"
    crystal, rattled = bulk("Si", "diamond", 5.43), bulk("Si", "diamond", 5.43)
    rattled.rattle(0.05, seed=1)
    for atoms in (crystal, rattled):
        run.put(_record(atoms))
    with run.lock(structure_id(crystal), "abc"):
        pass  # leaves its lock file beside the record
    cut_short = run.path("s" + "0" * 16, "abc")
    cut_short.write_text(run.path(structure_id(crystal), "abc").read_text()[:100])
    assert copy_records(run.root, kept) == 2  # the cut-short record and the lock file stay behind
    assert sorted(path.name for path in kept.rglob("*") if path.is_file()) == sorted(
        f"{structure_id(atoms)}.json" for atoms in (crystal, rattled)
    )
    assert copy_records(run.root, kept) == 0  # nothing new
    fresh = LabelCache(tmp_path / "fresh")
    assert copy_records(kept, fresh.root) == 2 and copy_records(tmp_path / "absent", fresh.root) == 0
    assert fresh.get(structure_id(rattled), "abc") == _record(rattled)
    run.put(_record(rattled, state="failed"))  # a failure never replaces a kept label ...
    assert copy_records(run.root, kept) == 0 and LabelCache(kept).get(structure_id(rattled), "abc").state == "labelled"
    assert copy_records(kept, run.root) == 1 and run.get(structure_id(rattled), "abc").state == "labelled"  # ... a label does
    assert not [path for path in kept.rglob("*") if path.name.endswith(".tmp")]


def test_label_records_and_cache_entries_written_before_engines_still_read(tmp_path: Path) -> None:
    """A label record (and the same JSON as a label-cache entry) written by the code before the engine interface."""
    record = LabelRecord.read(RECORD_BEFORE_ENGINES)
    assert record.state == "labelled" and [a.rung for a in record.attempts] == ["base", "gentler_mixing"]
    assert record.to_atoms().get_potential_energy() == record.energy
    cache = LabelCache(tmp_path)
    entry = cache.path(record.structure_id, record.dft_hash)
    entry.parent.mkdir(parents=True)
    entry.write_text(RECORD_BEFORE_ENGINES.read_text())
    assert cache.get(record.structure_id, record.dft_hash) == record
    record.write(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == RECORD_BEFORE_ENGINES.read_text()  # same fields, same file


def test_dft_hash_of_existing_configs_is_unchanged() -> None:
    """The label cache's keys must not move when the code does, or every cached label would be recomputed."""
    explicit = DFTConfig(
        pseudopotentials={"Fe": "Fe.UPF", "Pt": "Pt.UPF"},
        pseudo_md5={"Fe": "0123", "Pt": "4567"},
        ecutwfc=45.0,
        ecutrho=360.0,
        nspin=2,
        initial_magnetic_moments={"Fe": 2.5},
        pseudo_dir="/x",
        pseudo_family="user:x",
        why={"ecutwfc": "given"},
    )
    assert dft_hash(explicit) == "b4b4fc3bbb729f79"
    assert dft_hash(DFTConfig()) == "af342521120691dd"
    si = expand_config({"composition": "Si", "dft": FAST_SI_DFT}).dft
    assert dft_hash(si) == "30c8031fc3151dd1"  # the key of every label in tests/data/si_labels
    assert get_engine("quantum_espresso").dft_parameters(si) == si.physics_parameters()
    with pytest.raises(ValueError, match="unknown labelling engine"):
        get_engine("vasp")


def test_index_states_move_forward_only(tmp_path: Path) -> None:
    index = StructureIndex(tmp_path / "db.db")
    atoms = bulk("Si", "diamond", 5.43)
    sid = index.upsert(atoms, "selected_for_labelling", iteration=0, origin="user")
    index.record_label(_record(atoms))
    assert index.state_of(sid) == "labelled"
    index.upsert(atoms, "selected_for_labelling", iteration=1)
    assert index.state_of(sid) == "labelled"
    row = index.rows("labelled")[0]
    assert row.origin == "user" and row.energy == -10.0 and row.attempts == 1
    other = atoms.copy()
    other.rattle(0.1, seed=1)
    index.record_label(_record(other, "failed"))
    assert index.counts() == {"labelled": 1, "failed": 1}
    assert "scf_not_converged" in index.rows("failed")[0].reason


def test_index_takes_ids_that_read_as_numbers_and_keeps_the_state_history(tmp_path: Path) -> None:
    """ASE's database refuses number-like strings; one hash in ~2000 is all digits (seen in a real run before ids had
    their letter prefix): such a structure is indexed, and its id is a name, not a number."""
    base = bulk("Si", "diamond", 5.43)
    for seed in range(200_000):
        atoms = base.copy()
        atoms.positions[0, 0] = 1e-4 * seed
        if id_digest(structure_id(atoms)).isdigit():
            break
    else:
        pytest.fail("no all-digit id found")
    index = StructureIndex(tmp_path / "db.db")
    sid = index.upsert(atoms, "generated", iteration=0, origin="strain_rattle")
    index.upsert(atoms, "selected_for_labelling", iteration=0)
    index.record_label(_record(atoms))
    assert id_digest(sid).isdigit() and not sid.isdigit() and index.state_of(sid) == "labelled"
    row = index.rows("labelled")[0]
    assert structure_id_of(row) == sid
    assert [step["state"] for step in row.data["history"]] == ["generated", "selected_for_labelling", "labelled"]


def test_fan_out_names_files_by_id_and_drops_duplicates(tmp_path: Path) -> None:
    atoms = bulk("Si", "diamond", 5.43)
    written = fan_out([atoms, atoms.copy()], tmp_path, origin="user")
    assert list(written) == [structure_id(atoms)]
    assert written[structure_id(atoms)].name == f"{structure_id(atoms)}.extxyz"


def test_structure_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.extxyz"
    bad.write_text("this is not a structure\n")
    with pytest.raises(StructureFileError, match="cannot read"):
        read_structures(bad)
    good = tmp_path / "good.extxyz"
    atomic_write_extxyz(good, bulk("Cu", "fcc", 3.6))
    with pytest.raises(StructureFileError, match="contains Cu, which is not in the composition"):
        read_structures(good, allowed_elements=["Si"])


def test_structure_ids_never_read_as_numbers_and_legacy_cache_entries_are_found(tmp_path: Path) -> None:
    """Ids are names everywhere (ASE's database, YAML); a label cached under the id spelling of earlier versions
    (bare hex) is still found, so a finished DFT label is not recomputed because ids gained their prefix."""
    import yaml

    from mlip_autopipec.data.ids import ID_PATTERN

    for scale in np.linspace(5.30, 5.50, 40):
        sid = structure_id(bulk("Si", "diamond", float(scale)))
        assert re.fullmatch(ID_PATTERN, sid) and isinstance(yaml.safe_load(sid), str)
        with pytest.raises(ValueError):
            float(sid)
    index = StructureIndex(tmp_path / "index.db")
    atoms = bulk("Si", "diamond", 5.43)
    atoms.info["origin"] = "test"
    index.upsert(atoms, "generated")
    assert [structure_id_of(row) for row in index.db.select()] == [structure_id(atoms)]
    record = _record(atoms)
    cache = LabelCache(tmp_path / "cache")
    legacy = cache.path(id_digest(record.structure_id), record.dft_hash)
    legacy.parent.mkdir(parents=True)
    legacy.write_text(record.model_copy(update={"structure_id": id_digest(record.structure_id)}).model_dump_json())
    assert cache.get(record.structure_id, record.dft_hash) == record


def test_status_on_a_locked_index_names_the_lock_in_one_line(tmp_path: Path) -> None:
    """`mlip-pipe status` while another program holds the index locked: one line naming the lock and the
    fix after a few seconds (exit 3, an environment failure), not SQLite's traceback after a minute."""
    import sqlite3
    import subprocess
    import sys

    from ase.build import bulk

    from mlip_autopipec.data.database import StructureIndex

    database = tmp_path / "results" / "database.db"
    StructureIndex(database).upsert(bulk("Si"), "generated")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status = subprocess.run(
            [sys.executable, "-m", "mlip_autopipec.cli", "status", "--database", str(database)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status.returncode == 3, status.stdout + status.stderr  # an environment failure, not bad input
    (line,) = status.stderr.strip().splitlines()
    assert "is locked" in line and "close the program holding it" in line and "Traceback" not in status.stderr
