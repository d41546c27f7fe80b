"""Module C: label one structure through a labelling engine's recovery ladder, using the label cache.

Code-neutral: the ladder loop, the cache and its lock, and the label record live here; what a DFT code
does at each step (input, run, verdict, next rung, results) comes from a ``dft.engine.LabellingEngine``,
Quantum ESPRESSO unless told otherwise. An unconverged SCF is never stored as a label: after the ladder
the record says ``failed`` with the reason, and the workflow goes on with the other structures. A program
that never started (launcher, MPI, loader), an output the file system lost (exit code 0, cut short) or a
run on a full disk is no verdict on the structure: the job raises ``EnvironmentFailure`` at once, with no
ladder rung and nothing cached.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ase import Atoms

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.data.ids import parameters_hash, structure_id
from mlip_autopipec.data.label_cache import LabelCache
from mlip_autopipec.data.records import Attempt, LabelRecord
from mlip_autopipec.dft.engine import (
    CRASHED,
    ENVIRONMENT_FAILURES,
    MISSING_FORCES,
    MISSING_STRESS,
    NOT_RUN,
    OUTPUT_LOST,
    SCRATCH_FOLDER,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    LabellingEngine,
    LabelResults,
    RunOutcome,
    get_engine,
)
from mlip_autopipec.disk import describe_disk, is_disk_full
from mlip_autopipec.errors import DiskFull, EnvironmentFailure


def dft_hash(dft: DFTConfig, engine: LabellingEngine | None = None) -> str:
    """Key of the label cache: every parameter the engine says changes a label (pseudopotential checksums included)."""
    return parameters_hash((engine or get_engine()).dft_parameters(dft))


def run_attempt(
    engine: LabellingEngine,
    atoms: Atoms,
    dft: DFTConfig,
    label: LabelConfig,
    directory: Path,
    overrides: dict[str, Any],
    restart: bool,
    ntasks: int | None = None,
    pass_fds: tuple[int, ...] = (),
) -> tuple[RunOutcome, float]:
    """Write the input, run the program under the wall-time limit, classify its output.

    Returns the verdict and the wall time of the process in seconds.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        engine.write_input(atoms, dft, directory, overrides, restart, label.walltime_s)
    except OSError as error:
        if is_disk_full(error):  # a full disk before the program starts: one line, as after it
            raise DiskFull(
                f"no space left to write the DFT input in {directory} on {describe_disk(directory)}: an environment "
                "failure, not a DFT one, so nothing was cached; free space there, then rerun"
            ) from None
        raise
    process = engine.run(atoms, dft, label, directory, ntasks, pass_fds)
    return engine.classify(directory, process, atoms), process.wall_time_s


def _failure_is_final(record: LabelRecord, label: LabelConfig) -> bool:
    """A cached failure is reused unless asked to retry, unless it ran out of time (a longer limit may help),
    or unless the program may never have run."""
    last = record.attempts[-1].status if record.attempts else ""
    return not label.retry_failed and last not in (WALLTIME_EXCEEDED, TRUNCATED) and not _may_never_have_run(record)


def _may_never_have_run(record: LabelRecord) -> bool:
    """Every attempt crashed before any SCF step without an error stop: how a launch failure was cached before
    launch failures were told apart (srun without PMI support, 4 attempts of 0.2 s), so it is labelled again."""
    return bool(record.attempts) and all(
        a.status == CRASHED and a.scf_iterations is None and "error in routine" not in a.reason for a in record.attempts
    )


def label_structure(
    atoms: Atoms,
    dft: DFTConfig,
    label: LabelConfig,
    workdir: str | Path,
    iteration: int = 0,
    origin: str | None = None,
    ntasks: int | None = None,
    cache: LabelCache | None = None,
    engine: LabellingEngine | None = None,
) -> LabelRecord:
    """Label ``atoms``: from the cache when the same (structure, DFT parameters) was done, else with the engine.

    The cache entry stays locked while the DFT program runs (the program itself holds the lock too, so it
    outlives a killed job), so a concurrent job for the same pair waits and then takes the finished label:
    two programs never run at once for one (structure id, DFT hash).
    """
    engine = engine or get_engine()
    sid = structure_id(atoms)
    key = dft_hash(dft, engine)
    origin = origin or str(atoms.info.get("origin", "unknown"))
    cache = cache if cache is not None else LabelCache(label.cache_dir)
    max_wait_s = label.walltime_s * label.max_attempts + 600.0  # the longest another job can legitimately hold it
    with cache.lock(sid, key, max_wait_s) as lock_fd:
        cached = cache.get(sid, key)
        if cached is not None and (cached.state == "labelled" or _failure_is_final(cached, label)):
            return cached.model_copy(update={"cache_hit": True, "iteration": iteration, "origin": origin})
        keep = () if lock_fd is None else (lock_fd,)
        record = _compute_label(engine, atoms, dft, label, Path(workdir), iteration, origin, ntasks, sid, key, keep)
        cache.put(record)
    return record


def _compute_label(
    engine: LabellingEngine,
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
    """The engine through its recovery ladder in ``workdir``; the record (labelled or failed), not yet cached."""
    scratch = workdir / SCRATCH_FOLDER
    if scratch.exists():
        shutil.rmtree(scratch)  # a previous, killed job may have left a corrupt density
    attempts: list[Attempt] = []
    rung: int | None = 0
    restart = False
    start = time.monotonic()
    outcome = RunOutcome(NOT_RUN, "no attempt was made")
    for number in range(1, label.max_attempts + 1):
        assert rung is not None
        overrides = engine.rung_overrides(rung, dft)
        directory = workdir / f"attempt_{number}"
        if directory.exists():
            shutil.rmtree(directory)
        outcome, seconds = run_attempt(engine, atoms, dft, label, directory, overrides, restart, ntasks, pass_fds)
        if outcome.status in ENVIRONMENT_FAILURES:
            if outcome.status == OUTPUT_LOST:
                raise EnvironmentFailure(
                    f"{sid}: {outcome.reason} (output in {directory}): an environment failure, not a DFT one, so "
                    "nothing was cached; check free disk space and quota where the run folder is, then rerun"
                )
            raise EnvironmentFailure(outcome.reason)  # before any record exists: nothing can reach the cache
        if outcome.status in (MISSING_FORCES, MISSING_STRESS):
            # The pipeline itself asks for forces and stress: their absence after a converged SCF is a truncated
            # output or a foreign program version, never a property of the structure, so nothing is cached.
            raise EnvironmentFailure(
                f"{sid}: {outcome.reason.split(' (')[0]} (output in {directory}): the program or the disk is at "
                "fault, not the structure; nothing was cached: check free disk space and label.command, then rerun"
            )
        attempts.append(
            Attempt(
                number=number,
                rung=engine.rung_name(rung),
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
        rung = engine.next_rung(rung, outcome)
        if rung is None:
            break
        restart = engine.can_restart(outcome, scratch)

    fields = dict(
        structure_id=sid,
        iteration=iteration,
        origin=origin,
        dft_hash=key,
        dft_parameters=engine.dft_parameters(dft),
        pseudo_family=dft.pseudo_family,
        pseudo_md5=dict(dft.pseudo_md5),
        kpoints=engine.kpoints(atoms, dft),
        attempts=attempts,
        wall_time_s=round(time.monotonic() - start, 3),
        **LabelRecord.structure_fields(atoms),
    )
    if outcome.ok:
        results = _read_converged(engine, workdir / f"attempt_{len(attempts)}")
        record = LabelRecord(
            state="labelled",
            energy=float(results.energy),
            forces=results.forces.tolist(),
            stress=results.stress.tolist() if results.stress is not None and atoms.get_pbc().all() else None,
            **fields,
        )
    else:
        reason = f"{outcome.status}: {outcome.reason} (after {len(attempts)} attempt{'s' if len(attempts) > 1 else ''})"
        record = LabelRecord(state="failed", reason=reason, **fields)
    if not label.keep_scratch and scratch.exists():
        shutil.rmtree(scratch)
    return record


def _read_converged(engine: LabellingEngine, directory: Path) -> LabelResults:
    """The results of a converged attempt; an unreadable output is the machine's fault (a truncated file on a full
    disk, a foreign program version), so it stops the job with one line and is never cached as the structure's."""
    try:
        return engine.read_results(directory)
    except (ValueError, OSError) as error:
        raise EnvironmentFailure(
            f"the DFT program reported convergence but its output in {directory} could not be read ({error}); "
            "nothing was cached: check free disk space and label.command's program version, then rerun"
        ) from None
