"""Module C: label one structure with real pw.x, through the recovery ladder, using the label cache.

An unconverged SCF is never stored as a label: after the ladder the record says ``failed`` with
the reason, and the workflow goes on with the other structures.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ase import Atoms
from ase.calculators.espresso import Espresso, EspressoProfile

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.data.ids import parameters_hash, structure_id
from mlip_autopipec.data.label_cache import LabelCache
from mlip_autopipec.data.labels import Attempt, LabelRecord
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.dft.pw_output import SCF_NOT_CONVERGED, TRUNCATED, WALLTIME_EXCEEDED, PwOutcome, classify_pw_output, read_pw_results
from mlip_autopipec.dft.recovery import LADDER, next_rung, rung_overrides
from mlip_autopipec.dft.runner import mpi_prefix, run_process
from mlip_autopipec.errors import StructureFileError

PREFIX = "pwscf"
INPUT_NAME, OUTPUT_NAME, ERROR_NAME = "espresso.pwi", "espresso.pwo", "espresso.err"


def dft_hash(dft: DFTConfig) -> str:
    """Key of the label cache: every physics parameter (pseudopotential checksums included)."""
    return parameters_hash(dft.physics_parameters())


def pw_input_data(dft: DFTConfig, atoms: Atoms, overrides: dict[str, Any], restart: bool, walltime_s: float) -> dict[str, Any]:
    """The pw.x namelists for one attempt."""
    control: dict[str, Any] = {
        "calculation": "scf",
        "prefix": PREFIX,
        "outdir": "../scratch",
        "pseudo_dir": dft.pseudo_dir,
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


def _prepared_atoms(atoms: Atoms, dft: DFTConfig) -> Atoms:
    work = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if abs(work.cell.volume) < 1e-6:
        raise StructureFileError(
            f"structure {structure_id(atoms)} ({work.get_chemical_formula()}) has no cell; "
            "put molecules in a vacuum box (e.g. atoms.center(vacuum=6)) before labelling"
        )
    if dft.nspin == 2:
        work.set_initial_magnetic_moments([dft.initial_magnetic_moments.get(s, 0.0) for s in work.get_chemical_symbols()])
    return work


def _has_charge_density(scratch: Path) -> bool:
    save = scratch / f"{PREFIX}.save"
    return any(save.glob("charge-density*")) if save.is_dir() else False


def pool_flags(ntasks: int, kpts: list[int] | None) -> list[str]:
    """k-point pools (``-nk``): the cheapest parallelism when there are at least as many k-points as ranks."""
    if ntasks > 1 and kpts is not None and kpts[0] * kpts[1] * kpts[2] >= 2 * ntasks:
        return ["-nk", str(ntasks)]
    return []


def run_attempt(
    atoms: Atoms,
    dft: DFTConfig,
    label: LabelConfig,
    directory: Path,
    overrides: dict[str, Any],
    restart: bool,
    ntasks: int | None = None,
    pass_fds: tuple[int, ...] = (),
) -> tuple[PwOutcome, float]:
    """Write the input with ASE's Espresso calculator, run pw.x under the wall-time limit, classify the output.

    Returns the verdict and the wall time of the process in seconds.
    """
    directory.mkdir(parents=True, exist_ok=True)
    work = _prepared_atoms(atoms, dft)
    kpts = kpoint_mesh(work, dft.kpoint_spacing)
    launch = mpi_prefix(label.mpi, ntasks)
    pools = pool_flags(ntasks or label.mpi.ntasks, kpts) if launch else []
    command = " ".join([*launch, label.command, *pools])
    profile = EspressoProfile(command=command, pseudo_dir=dft.pseudo_dir)
    calc = Espresso(
        profile=profile,
        directory=str(directory),
        input_data=pw_input_data(dft, work, overrides, restart, label.walltime_s),
        pseudopotentials=dict(dft.pseudopotentials),
        kpts=kpts,
    )
    calc.write_inputfiles(work, ["energy", "forces", "stress"])
    process = run_process(profile.get_command(INPUT_NAME), directory, directory / OUTPUT_NAME, directory / ERROR_NAME, label.walltime_s, pass_fds)
    text = (directory / OUTPUT_NAME).read_text(errors="replace")
    outcome = classify_pw_output(text, process.returncode, process.timed_out, periodic=bool(work.get_pbc().any()))
    return outcome, process.wall_time_s


def _failure_is_final(record: LabelRecord, label: LabelConfig) -> bool:
    """A cached failure is reused unless asked to retry, or unless it ran out of time (a longer limit may help)."""
    last = record.attempts[-1].status if record.attempts else ""
    return not label.retry_failed and last not in (WALLTIME_EXCEEDED, TRUNCATED)


def label_structure(
    atoms: Atoms,
    dft: DFTConfig,
    label: LabelConfig,
    workdir: str | Path,
    iteration: int = 0,
    origin: str | None = None,
    ntasks: int | None = None,
    cache: LabelCache | None = None,
) -> LabelRecord:
    """Label ``atoms``: from the cache when the same (structure, DFT parameters) was done, else with pw.x.

    The cache entry stays locked while pw.x runs (pw.x itself holds the lock too, so it outlives a
    killed job), so a concurrent job for the same pair waits and then takes the finished label:
    two pw.x never run at once for one (structure id, DFT hash).
    """
    sid = structure_id(atoms)
    key = dft_hash(dft)
    origin = origin or str(atoms.info.get("origin", "unknown"))
    cache = cache if cache is not None else LabelCache(label.cache_dir)
    max_wait_s = label.walltime_s * label.max_attempts + 600.0  # the longest another job can legitimately hold it
    with cache.lock(sid, key, max_wait_s) as lock_fd:
        cached = cache.get(sid, key)
        if cached is not None and (cached.state == "labelled" or _failure_is_final(cached, label)):
            return cached.model_copy(update={"cache_hit": True, "iteration": iteration, "origin": origin})
        keep = () if lock_fd is None else (lock_fd,)
        record = _compute_label(atoms, dft, label, Path(workdir), iteration, origin, ntasks, sid, key, keep)
        cache.put(record)
    return record


def _compute_label(
    atoms: Atoms,
    dft: DFTConfig,
    label: LabelConfig,
    workdir: Path,
    iteration: int,
    origin: str,
    ntasks: int | None,
    sid: str,
    key: str,
    pass_fds: tuple[int, ...] = (),
) -> LabelRecord:
    """pw.x through the recovery ladder in ``workdir``; the record (labelled or failed), not yet cached."""
    scratch = workdir / "scratch"
    if scratch.exists():
        shutil.rmtree(scratch)  # a previous, killed job may have left a corrupt density
    attempts: list[Attempt] = []
    base = {"mixing_beta": dft.mixing_beta, "electron_maxstep": dft.electron_maxstep, "degauss": dft.degauss}
    rung: int | None = 0
    restart = False
    start = time.monotonic()
    outcome = PwOutcome("not_run", "no attempt was made")
    for number in range(1, label.max_attempts + 1):
        assert rung is not None
        overrides = rung_overrides(rung, base, smeared=dft.occupations == "smearing")
        directory = workdir / f"attempt_{number}"
        if directory.exists():
            shutil.rmtree(directory)
        outcome, seconds = run_attempt(atoms, dft, label, directory, overrides, restart, ntasks, pass_fds)
        attempts.append(
            Attempt(
                number=number,
                rung=LADDER[rung].name,
                overrides=overrides,
                restarted_from_charge_density=restart,
                status=outcome.status,
                reason=outcome.reason,
                scf_iterations=outcome.scf_iterations,
                wall_time_s=round(seconds, 3),
            )
        )
        if outcome.ok:
            break
        rung = next_rung(rung, outcome.status, outcome.reason)
        if rung is None:
            break
        restart = outcome.status in (SCF_NOT_CONVERGED, WALLTIME_EXCEEDED) and _has_charge_density(scratch)

    fields = dict(
        structure_id=sid,
        iteration=iteration,
        origin=origin,
        dft_hash=key,
        dft_parameters=dft.physics_parameters(),
        pseudo_family=dft.pseudo_family,
        pseudo_md5=dict(dft.pseudo_md5),
        kpoints=kpoint_mesh(atoms, dft.kpoint_spacing),
        attempts=attempts,
        wall_time_s=round(time.monotonic() - start, 3),
        **LabelRecord.structure_fields(atoms),
    )
    if outcome.ok:
        results = read_pw_results(workdir / f"attempt_{len(attempts)}" / OUTPUT_NAME)
        record = LabelRecord(
            state="labelled",
            energy=float(results["energy"]),
            forces=results["forces"].tolist(),
            stress=results["stress"].tolist() if "stress" in results and atoms.get_pbc().all() else None,
            **fields,
        )
    else:
        reason = f"{outcome.status}: {outcome.reason} (after {len(attempts)} attempt{'s' if len(attempts) > 1 else ''})"
        record = LabelRecord(state="failed", reason=reason, **fields)
    if not label.keep_scratch and scratch.exists():
        shutil.rmtree(scratch)
    return record

