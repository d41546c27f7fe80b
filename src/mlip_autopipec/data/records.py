"""The run's files as typed documents: every JSON file one stage writes and another reads.

Why one module: the files are the workflow's interfaces (DESIGN decision 1). Each is a pydantic model
read with ``Model.read(path)`` (``model_validate_json``) and written with ``record.write(path)``
through the atomic writer, so no stage hands a ``dict[str, Any]`` to another and a reader finds every
field with its unit and meaning here, in the style of atomate2's task documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from mlip_autopipec.data.atomic_io import atomic_write_json

# The settings models belong to the training backends; those modules import this one only inside functions.
from mlip_autopipec.potentials.ace import AceSettings
from mlip_autopipec.potentials.backend import CommitteeSettings
from mlip_autopipec.potentials.device import DeviceChoice
from mlip_autopipec.potentials.mace_backend import MaceSettings


class RunFile(BaseModel):
    """Base of every run file: strict about unknown keys, read and written as JSON, atomically."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def read(cls, path: str | Path) -> Self:
        return cls.model_validate_json(Path(path).read_text())

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.model_dump(mode="json"))


# ---------------------------------------------------------------- labelling (label records)

LabelState = Literal["labelled", "failed"]


class Attempt(RunFile):
    """One run of the DFT program on the recovery ladder, as the label record keeps it."""

    number: int = Field(description="Attempt number within the label job, from 1 (count).")
    rung: str = Field(description="Recovery-ladder rung the attempt ran with, e.g. 'base', 'gentler_mixing' (engine's name).")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters the rung changed relative to the DFT config (engine's names and units, e.g. mixing_beta).",
    )
    restarted_from_charge_density: bool = Field(
        default=False, description="True when the attempt started from the previous attempt's charge density."
    )
    status: str = Field(
        description="Outcome: converged, scf_not_converged, crashed, truncated, missing_forces, missing_stress or walltime_exceeded."
    )
    reason: str = Field(
        default="", description="The outcome in words (the program's error message when it gave one); empty when converged."
    )
    scf_iterations: int | None = Field(
        default=None, description="SCF iterations the program ran (count); None when it printed none."
    )
    wall_time_s: float = Field(default=0.0, description="Wall time of the program's process (s, rounded to 1 ms).")


class LabelRecord(RunFile):
    """``results/iter_{i}/labels/{sid}.json`` (rule ``label``) and each label-cache entry: one DFT label or failure.

    Self-contained: the structure, its energy, forces and stress, the DFT parameters and their hash, and
    every attempt of the ladder. The same JSON is the cache entry ``{cache_dir}/{dft_hash}/{structure_id}.json``.
    """

    structure_id: str = Field(description="Content id of the structure (data.ids.structure_id, 16 hex digits).")
    state: LabelState = Field(description="'labelled' (energy and forces present) or 'failed' (reason says why).")
    reason: str = Field(
        default="", description="Why the label failed: the last outcome and the attempt count; empty when labelled."
    )
    iteration: int = Field(default=0, description="Active-learning iteration the label was asked for (0 = initial selection).")
    origin: str = Field(
        default="unknown", description="Generator or stage the structure came from (e.g. 'rattle_2at', 'isolated_atom')."
    )
    dft_hash: str = Field(description="Hash of dft_parameters: the label cache's key, with the structure id.")
    dft_parameters: dict[str, Any] = Field(
        description="Every DFT value that changes the label (Ry, 1/Angstrom as in the DFT config)."
    )
    pseudo_family: str = Field(description="Pseudopotential family the files came from (e.g. 'oncvpsp-pbe').")
    pseudo_md5: dict[str, str] = Field(description="MD5 checksum of each element's pseudopotential file (element -> hex digest).")
    kpoints: list[int] | None = Field(
        default=None, description="Monkhorst-Pack subdivisions along the three cell vectors; None for the Gamma point only."
    )
    numbers: list[int] = Field(description="Atomic numbers, one per atom.")
    positions: list[list[float]] = Field(description="Cartesian positions, one row per atom (Angstrom).")
    cell: list[list[float]] = Field(description="Cell vectors as rows (Angstrom).")
    pbc: list[bool] = Field(description="Periodicity along the three cell vectors.")
    energy: float | None = Field(default=None, description="Total energy (eV; the free energy with smearing); None when failed.")
    forces: list[list[float]] | None = Field(
        default=None, description="Forces, one row per atom (eV/Angstrom); None when failed."
    )
    stress: list[float] | None = Field(
        default=None,
        description="Stress in Voigt order xx, yy, zz, yz, xz, xy (eV/Angstrom^3); None when failed or not fully periodic.",
    )
    attempts: list[Attempt] = Field(
        default_factory=list, description="Every run of the DFT program, in order; empty for a label never computed here."
    )
    wall_time_s: float = Field(default=0.0, description="Wall time of the whole ladder (s, rounded to 1 ms).")
    cache_hit: bool = Field(
        default=False, description="True when this job took the label from the label cache instead of running DFT."
    )

    @classmethod
    def structure_fields(cls, atoms: Atoms) -> dict[str, Any]:
        """The structure part of a record (numbers, positions, cell, pbc) from ``atoms``."""
        return {
            "numbers": atoms.get_atomic_numbers().tolist(),
            "positions": atoms.get_positions().tolist(),
            "cell": atoms.get_cell().array.tolist(),
            "pbc": [bool(p) for p in atoms.get_pbc()],
        }

    def to_atoms(self) -> Atoms:
        """The structure with its DFT results attached as a SinglePointCalculator (when labelled)."""
        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        atoms.info.update(structure_id=self.structure_id, dft_hash=self.dft_hash, origin=self.origin, iteration=self.iteration)
        if self.state == "labelled":
            results: dict[str, Any] = {"energy": self.energy, "forces": np.array(self.forces)}
            if self.stress is not None and all(self.pbc):  # a slab's or molecule's "stress" is not a bulk stress
                results["stress"] = np.array(self.stress)
            atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms


class IngestSummary(RunFile):
    """``results/iter_{i}/ingested.json`` (rule ``ingest``): what one iteration put into the database index."""

    iteration: int = Field(description="Iteration ingested (0 = initial selection).")
    generated: int = Field(description="Generated structures recorded as 'generated' (count; 0 after iteration 0).")
    selected: int = Field(description="Structures selected for labelling in this iteration (count).")
    labels: dict[str, int] = Field(description="Label records of the iteration by state ('labelled', 'failed' -> count).")
    failed: dict[str, str] = Field(description="Why each failed label failed (structure id -> reason).")
    pw_calls_this_run: int = Field(description="DFT program runs behind the labels, cache hits excluded (count).")
    database: dict[str, int] = Field(description="Rows of the whole database index by state after ingesting (state -> count).")


# ---------------------------------------------------------------- training (plan, member, committee, metrics)


class TrainingFile(RunFile):
    """A training run file: optional fields that are unset are left out of the JSON (``mace`` only in MACE plans)."""

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.model_dump(mode="json", exclude_none=True))


class BaselineChoice(BaseModel):
    """The physical baseline of delta learning, rebuilt from this at run time with the same parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Baseline calculator: zbl, lj or none (potentials.baselines.make_baseline).")
    parameters: dict[str, float | dict[str, float] | None] = Field(
        default_factory=dict, description="Constructor arguments of the baseline (lengths in Angstrom, energies in eV)."
    )


class SplitRecord(BaseModel):
    """How the labelled structures were split into training and held-out test structures."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(description="Seed of the split.")
    test_fraction: float = Field(description="Fraction of the newly split distinct structures held out (dimensionless).")
    origins: dict[str, dict[str, int]] = Field(description="Origin -> {'train': count, 'test': count} of distinct structures.")
    train_file: str = Field(
        description="extxyz of the training structures with their DFT labels, relative to the committee folder."
    )
    test_file: str = Field(
        description="extxyz of the held-out structures with their DFT labels, relative to the committee folder."
    )


class CommitteePlan(TrainingFile):
    """``plan.json``: everything a member job needs, written once before the members train.

    Exactly one of ``ace`` / ``mace`` is set: the settings of ``backend``.
    """

    version: int = Field(description="Layout version of plan.json and committee.json.")
    backend: Literal["ace", "mace"] = Field(description="Training backend of every member.")
    ace: AceSettings | None = Field(default=None, description="pacemaker settings (backend ace).")
    mace: MaceSettings | None = Field(default=None, description="mace_run_train settings (backend mace).")
    elements: list[str] = Field(description="Chemical symbols the committee covers, sorted.")
    committee_size: int = Field(ge=1, description="Number of members (count).")
    baseline: BaselineChoice = Field(description="Baseline subtracted from the labels and added back at run time.")
    reference_energies: dict[str, float] = Field(description="Per-element reference energy (eV/atom) removed from the targets.")
    isolated_energies: dict[str, float] = Field(
        description="DFT isolated-atom energies (eV) that fixed reference energies, if any."
    )
    settings: CommitteeSettings = Field(description="Split, seed and bootstrap: shared by every backend.")
    settings_why: dict[str, str] = Field(description="Setting name -> why it has its value.")
    split: SplitRecord = Field(description="The train/test split.")
    training_ids: list[str] = Field(description="Structure ids of the training frames, in file order (repeats kept).")
    test_ids: list[str] = Field(description="Structure ids of the held-out frames, in file order.")
    initial_test_ids: list[str] = Field(description="The first iteration's test set, held out ever since: the run's yardstick.")
    config_hash: str = Field(description="Hash of every choice above that changes the fit (16 hex digits).")

    def backend_settings(self) -> AceSettings | MaceSettings:
        """The settings of this plan's backend."""
        settings = self.ace if self.backend == "ace" else self.mace
        if settings is None:
            raise ValueError(f"plan for backend {self.backend} has no {self.backend} settings")
        return settings


class MemberRecord(TrainingFile):
    """``member_KK/member.json``: one trained member's files (absolute paths) and facts; fields shared by backends."""

    workdir: Path = Field(description="The member's folder.")
    dataset: Path = Field(description="The training file the trainer read (delta targets).")
    log: Path = Field(description="The trainer's output.")
    seed: int = Field(description="The trainer's seed.")
    n_structures: int = Field(description="Distinct training structures fitted (bootstrap draws > 0) (count).")
    wall_time_s: float = Field(description="Wall time of the fit (s).")


class AceMemberRecord(MemberRecord):
    """An ACE member (pacemaker)."""

    potential_yaml: Path = Field(description="pacemaker's B-basis potential.")
    potential_yace: Path = Field(description="The C-tilde .yace export that LAMMPS pair_style pace reads.")
    active_set: Path | None = Field(default=None, description="The active set (.asi) for the extrapolation grade, if built.")
    input_yaml: Path = Field(description="pacemaker's input.yaml.")
    metrics: Path | None = Field(default=None, description="pacemaker's per-iteration metrics.txt, if written.")
    n_functions: int = Field(description="Basis functions of the potential (count; -1: unknown).")


class MaceMemberRecord(MemberRecord):
    """A MACE member (mace_run_train)."""

    model: Path = Field(description="The saved .model file.")
    curve: Path | None = Field(default=None, description="mace's per-epoch results file (validation errors), if written.")
    max_epochs: int = Field(description="Training epochs (count).")
    n_frames_written: int = Field(description="Frames in the training file, bootstrap repeats included (count).")
    elements: list[str] = Field(description="Chemical symbols of the model.")
    reference_energies: dict[str, float] = Field(description="Per-element reference energies (eV/atom) removed from the targets.")
    argv: list[str] = Field(description="The mace_run_train command line.")
    device: DeviceChoice | None = Field(
        default=None,
        description="Where mace_run_train trained (config 'device') and why; None in files written before it was kept.",
    )


class MemberEntry(BaseModel):
    """One member in ``committee.json``; paths relative to the committee folder."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="Member number, 0-based.")
    seed: int = Field(description="The trainer's seed.")
    n_training_structures: int = Field(description="Distinct training structures fitted (count).")
    bootstrap: dict[str, int] = Field(description="Structure id -> times drawn in this member's resample (count).")
    wall_time_s: float = Field(description="Wall time of the fit (s).")


class AceMemberEntry(MemberEntry):
    potential_yaml: str = Field(description="pacemaker's B-basis potential.")
    potential_yace: str = Field(description="The .yace export for LAMMPS.")
    active_set: str | None = Field(default=None, description="The active set (.asi), if built.")
    pacemaker_log: str = Field(description="pacemaker's output.")
    pacemaker_metrics: str | None = Field(default=None, description="pacemaker's metrics.txt (training curve), if written.")
    n_functions: int = Field(description="Basis functions (count; -1: unknown).")


class MaceMemberEntry(MemberEntry):
    model: str = Field(description="The .model file.")
    mace_log: str = Field(description="mace_run_train's output.")
    mace_curve: str | None = Field(default=None, description="mace's per-epoch validation errors, if written.")
    max_epochs: int = Field(description="Training epochs (count).")
    n_frames_written: int = Field(description="Training frames with bootstrap repeats (count).")


class CommitteeManifest(CommitteePlan):
    """``committee.json``: the plan plus every trained member; enough to rebuild the committee and audit its fit."""

    created: str = Field(description="When the committee was collected (ISO 8601, UTC).")
    members: list[AceMemberEntry | MaceMemberEntry] = Field(description="The members, by index.")


class ErrorStats(BaseModel):
    """Errors of a prediction against DFT on a set of structures (absent when the set is empty)."""

    model_config = ConfigDict(extra="forbid")

    n_structures: int = Field(description="Structures in the set (count).")
    n_atoms: int | None = Field(default=None, description="Atoms in the set (count).")
    energy_rmse_per_atom: float | None = Field(default=None, description="Energy RMSE (eV/atom).")
    energy_mae_per_atom: float | None = Field(default=None, description="Energy MAE (eV/atom).")
    force_rmse: float | None = Field(default=None, description="Force RMSE per Cartesian component (eV/A).")
    force_mae: float | None = Field(default=None, description="Force MAE per Cartesian component (eV/A).")
    force_max_error: float | None = Field(default=None, description="Largest force-component error (eV/A).")
    stress_rmse: float | None = Field(default=None, description="Stress RMSE per Voigt component (eV/A^3).")
    stress_rmse_gpa: float | None = Field(default=None, description="Stress RMSE per Voigt component (GPa).")


class CommitteeErrors(BaseModel):
    """The committee mean's errors on its training and held-out structures."""

    model_config = ConfigDict(extra="forbid")

    train: ErrorStats = Field(description="On the whole training split.")
    test: ErrorStats = Field(description="On the held-out structures.")
    test_condensed: ErrorStats | None = Field(
        default=None, description="Held out, without dimer/trimer scans (only when some were)."
    )
    test_initial: ErrorStats | None = Field(
        default=None, description="On the run's first test set (without scans): the loop's yardstick."
    )


class MemberErrors(BaseModel):
    """One member's errors."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="Member number, 0-based.")
    train: ErrorStats = Field(description="On the whole training split (the member fitted a resample of it).")
    test: ErrorStats = Field(description="On the held-out structures.")
    n_training_structures: int | None = Field(default=None, description="Distinct structures the member fitted (count).")


class CommitteeMetrics(TrainingFile):
    """``metrics.json``: errors of the full prediction (baseline + model + reference energies) against DFT."""

    committee: CommitteeErrors = Field(description="The committee mean's errors.")
    members: list[MemberErrors] = Field(description="Each member's errors, by index.")
    config_hash: str = Field(description="The committee's config hash.")
    units: dict[str, str] = Field(description="Unit of each kind of error.")


# ---------------------------------------------------------------- selection and active learning (summaries, threshold, status)


class GenerateSummary(RunFile):
    """``results/iter_0/generated_summary.json`` (rule ``generate``): what the structure generators produced."""

    structures: int = Field(
        description="Structures written to generated.extxyz, after the distance filter and de-duplication (count)."
    )
    by_origin: dict[str, int] = Field(description="Structures kept per generator origin (origin -> count).")
    dropped_min_distance: dict[str, int] = Field(
        description="Structures dropped for two atoms closer than the minimum distance, per origin (origin -> count)."
    )
    duplicates: int = Field(description="Structures dropped as copies of another with the same content id (count).")
    wall_time_s: float = Field(description="Wall time of the generation (s, rounded to 0.01 s).")
    surrogate: str | None = Field(
        description="Surrogate that relaxed the prototype or gave the normal modes (e.g. 'chgnet'); None when none was needed."
    )
    prototype_ranking: list[dict[str, Any]] | None = Field(
        default=None,
        description="Candidate crystals relaxed by the surrogate, lowest energy first (name, source, space group, "
        "energy_ev_per_atom, above_lowest_mev_per_atom, converged, duplicate_of); None when nothing was ranked.",
    )


class ExploreRun(RunFile):
    """One surrogate MD trajectory of an exploration job (one pressure of one start, temperature and ensemble)."""

    start_id: str = Field(description="Content id of the start structure.")
    temperature_K: float = Field(description="Target temperature (K).")
    ensemble: str = Field(description="Ensemble actually run: 'nvt' or 'npt' ('nvt' for a molecule asked for 'npt').")
    pressure_gpa: float | None = Field(description="Target pressure of an NPT run (GPa); None for NVT.")
    n_atoms: int = Field(description="Atoms in the simulated cell, after growing it to a supercell (count).")
    n_steps_requested: int = Field(description="MD steps asked for (count).")
    n_steps_done: int = Field(description="MD steps integrated before the end or the watchdog's stop (count).")
    sample_every: int = Field(description="Steps between two sampled frames (count).")
    n_frames: int = Field(description="Frames sampled and kept (count).")
    stopped_early: bool = Field(description="True when the watchdog or a failure stopped the trajectory.")
    reason: str | None = Field(description="Why the trajectory stopped early; None when it ran to the end.")
    frames_path: str | None = Field(
        description="File the frames were written to by the driver itself; None when the job writes them."
    )
    wall_time_s: float = Field(description="Wall time of the trajectory (s, rounded to 0.01 s).")
    notes: list[str] = Field(description="Remarks on what was run instead of what was asked (e.g. NPT run as NVT).")


class ExploreSummary(RunFile):
    """``results/iter_0/explore/start*_{ensemble}_{T}K.json`` (rule ``explore``): the surrogate and every trajectory."""

    surrogate: str = Field(description="Surrogate that drove the MD (e.g. 'chgnet', 'mace-mp').")
    frames: int = Field(description="Frames written to the job's trajectory file, all trajectories together (count).")
    runs: list[ExploreRun] = Field(description="One record per trajectory, in the order they ran.")
    device: DeviceChoice | None = Field(
        default=None, description="Where the surrogate ran (config 'device') and why; None in files written before it was kept."
    )


class SelectionSummary(RunFile):
    """``results/iter_0/selection.json`` (checkpoint ``select``): the DIRECT pick of iteration 0."""

    candidates: int = Field(description="Frames DIRECT chose from: generated plus explored (count).")
    generated: int = Field(description="Candidates from the structure generators (count).")
    explored: int = Field(description="Candidates from surrogate MD (count).")
    selected_from_exploration: int = Field(description="Picks that came from surrogate MD (count).")
    selected: int = Field(description="Structures written for labelling, duplicates collapsed (count).")
    forced_isolated_atoms: int = Field(
        description="Isolated atoms kept whatever DIRECT says, for the reference energies (count)."
    )
    few_atom_clusters: int = Field(description="Picks that are dimer or trimer scans (count).")
    strained_crystals: int = Field(default=0, description="Picks reserved for strained crystals, spread over volume (count).")
    coverage: float = Field(
        description="Smallest share of DIRECT clusters that got a pick, over the selection's pools (fraction, 0-1)."
    )
    clusters: int = Field(description="BIRCH clusters over all pools (count).")
    pca_components: int = Field(description="Principal components kept to cluster in, largest over the pools (count).")


class Threshold(RunFile):
    """``results/iter_{i}/models/threshold.json`` (rule ``train_committee``): the committee's uncertainty threshold."""

    model_config = ConfigDict(frozen=True)

    value: float = Field(
        description="Lower trust level: largest per-atom force standard deviation of the committee still trusted; above it "
        "a configuration is labelled (eV/A)."
    )
    percentile: float = Field(description="Percentile of the training spreads the value was read at (percent, 0-100].")
    n: int = Field(
        description="Spreads (or held-out atoms, when calibrated on accuracy) the value came from; 0 when fixed (count)."
    )
    reason: str = Field(description="How the value was obtained, for the status file.")
    upper: float | None = Field(
        default=None,
        description="Upper trust level: above it a configuration is unphysical for this committee; MD goes back to the last "
        "trusted frame and labels that one instead (eV/A). None: no upper level.",
    )
    target_force_rmse: float | None = Field(
        default=None, description="Force RMSE per component the lower level aims at; None when not calibrated on accuracy (eV/A)."
    )
    error_scale: float | None = Field(
        default=None,
        description="Calibrated ratio of true per-atom force error to committee spread on held-out labelled atoms "
        "(sqrt(sum error^2 / sum spread^2)); None when not calibrated (dimensionless).",
    )
    calibration_structures: int = Field(default=0, description="Held-out labelled structures of the calibration (count).")
    spread_error_spearman: float | None = Field(
        default=None,
        description="Spearman rank correlation of per-atom spread and true error on the calibration atoms; None when "
        "undefined (dimensionless, -1 to 1).",
    )

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class OtfRun(RunFile):
    """One on-the-fly committee run (MD or kMC) from one start structure."""

    temperature_K: float = Field(description="Target temperature (K).")
    ensemble: str = Field(description="'nvt' or 'npt' for MD ('nvt' for a molecule), 'kmc' for adaptive kinetic Monte Carlo.")
    steps_done: int = Field(description="MD steps integrated, or aKMC steps taken (count).")
    checks: int = Field(description="Configurations whose committee spread was compared with the threshold (count).")
    uncertain_checks: int = Field(description="Checks above the threshold or stopped by the watchdog (count).")
    uncertain_fraction: float = Field(description="uncertain_checks / checks; 1 when there was no check (fraction, 0-1).")
    collected: int = Field(description="Uncertain configurations handed back for labelling (count).")
    max_uncertainty: float = Field(description="Largest max per-atom force standard deviation seen (eV/A).")
    spreads: list[float] = Field(
        default_factory=list, description="Max per-atom force standard deviation at every finite check, in order (eV/A)."
    )
    unphysical_checks: int = Field(
        default=0,
        description="Checks above the upper trust level: not labelled; the run went back to its last trusted frame and "
        "labelled that one instead (count, included in uncertain_checks).",
    )
    stopped_reason: str | None = Field(description="Why the run ended before its steps; None when it ran them all.")
    wall_time_s: float = Field(description="Wall time of the run (s, rounded to 0.01 s).")


class OtfJobSummary(RunFile):
    """``results/iter_{i}/simulate/{ensemble}_{T}K.json`` (rule ``simulate_md``): every run of one job."""

    threshold: float = Field(description="Uncertainty threshold (lower trust level) the runs were checked against (eV/A).")
    upper: float | None = Field(default=None, description="Upper trust level of the runs; None when there was none (eV/A).")
    runs: list[OtfRun] = Field(description="One record per start structure, in input order.")
    device: DeviceChoice | None = Field(
        default=None,
        description="Where the committee's members ran (config 'device'; ACE members always on the CPU) and why; "
        "None in files written before it was kept.",
    )


LoopState = Literal["converged", "continue"]


class StopEvidence(RunFile):
    """The numbers the stopping rule (``active_learning.convergence.decide_status``) decided on."""

    md_steps: int = Field(description="MD (or aKMC) steps of all runs of the iteration together (count).")
    checks: int = Field(description="Uncertainty checks of all runs together (count).")
    uncertain_checks: int = Field(description="Checks above the threshold, all runs together (count).")
    uncertain_fraction: float = Field(description="uncertain_checks / checks; 1 when there was no check (fraction, 0-1).")
    uncertain_fraction_limit: float = Field(description="Fraction below which the sampling counts as quiet (fraction, 0-1).")
    test_force_rmse_history: list[float | None] = Field(
        description="Held-out force RMSE of every committee so far, oldest first; None where there was none (eV/A)."
    )
    relative_improvement: float | None = Field(
        description="(previous - latest) / previous held-out force RMSE; None with fewer than two comparable values (fraction)."
    )
    target_force_rmse: float | None = Field(
        description="Held-out force RMSE that counts as accurate enough; None when unset (eV/A)."
    )
    labels_so_far: int = Field(description="DFT labels of all iterations up to this one (count).")
    dft_budget: int = Field(description="Most DFT labels the run may spend (count).")
    validation_rows: int | None = Field(
        default=None,
        description="Judged rows of the committee's validation table (count); None when it is not validated every iteration.",
    )
    validation_outside: list[str] = Field(
        default_factory=list,
        description="Rows outside their tolerance (warn or fail) or not computed, as 'group: quantity (mark)'.",
    )


class LoopDecision(RunFile):
    """The stopping rule's answer for one iteration: converged or continue, why, and on what evidence."""

    status: LoopState = Field(
        description="'converged' stops the loop; 'continue' labels the selected structures and trains again."
    )
    reason: str = Field(description="The decision in words, with the numbers it rests on.")
    evidence: StopEvidence = Field(description="The numbers the decision rests on.")
    warning: str | None = Field(
        default=None,
        description="Set when the loop stops learning above the target error, or goes on without labelling anything (why); "
        "omitted from the file when None.",
    )

    @model_serializer(mode="wrap")
    def _omit_missing_warning(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("warning") is None:
            data.pop("warning", None)
        return data


class IterationEvidence(StopEvidence):
    """The stopping rule's evidence and what the iteration's selection did with the uncertain frames."""

    uncertain_frames: int = Field(description="Uncertain configurations the committee runs handed back (count).")
    extracted: int = Field(description="Candidate structures after carving environments out of large cells (count).")
    near_duplicates_removed: int = Field(description="Candidates dropped as near-duplicates in descriptor space (count).")
    selected: int = Field(description="Structures sent to DFT in the next labelling (count; 0 when converged).")
    threshold: Threshold = Field(description="The uncertainty threshold of the committee that ran the simulations.")


class IterationStatus(LoopDecision):
    """``results/iter_{i}/status.json`` (checkpoint ``simulate``), written last: the loop's decision and its evidence."""

    iteration: int = Field(description="Active-learning iteration (1, 2, ...).")
    evidence: IterationEvidence = Field(description="The stopping rule's numbers and the selection's counts.")


# ---------------------------------------------------------------- validation (the delivered potential against DFT)

Mark = Literal["pass", "warn", "fail", "info", "incomplete"]


class ValidationRow(BaseModel):
    """One line of the validation table: a property from DFT and from the potential, and the verdict."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="What kind of check: equation of state, elastic, phonons, defects, validation set, ...")
    quantity: str = Field(description="The property, e.g. 'lattice constant a' or 'force RMSE (rattled_300K)'.")
    unit: str = Field(description="Unit of `dft`, `potential` and `error`, e.g. 'A', 'GPa', 'THz', 'eV', 'eV/A'.")
    dft: float | None = Field(
        description="The DFT value (same engine and parameters as the training labels); None when the row has no DFT side."
    )
    potential: float | None = Field(
        description="The potential's value (an error metric itself for rows without a DFT side); None when the check could not finish."
    )
    error: float | None = Field(description="potential - dft, in `unit`; None without a DFT side.")
    relative_error: float | None = Field(
        description="(potential - dft) / |dft| (dimensionless); None without a DFT side or when dft is 0."
    )
    compared: Literal["relative", "absolute", "value"] = Field(
        description="What the tolerance applies to: relative_error, error, or the potential's value itself."
    )
    tolerance: float | None = Field(
        description="The config's tolerance for this row (same kind as `compared`); None: reported, not judged."
    )
    mark: Mark = Field(
        description="pass: within tolerance; warn: within twice the tolerance; fail: beyond (or the check crashed on the "
        "potential); info: not judged; incomplete: the DFT side could not be computed (its label failed)."
    )
    n_samples: int | None = Field(default=None, description="How many structures, atoms or points the number rests on.")
    note: str = Field(default="", description="How the number was obtained (cell, strain, supercell, ...).")


class ValidationReport(RunFile):
    """``validation.json``: every property of the delivered potential next to DFT, with the verdict."""

    potential: str = Field(description="The committee validated (path of its committee.json).")
    config_hash: str = Field(description="The committee's config hash (training data, settings, baseline).")
    created: str = Field(description="When the validation finished (ISO 8601, UTC).")
    rows: list[ValidationRow] = Field(description="The table, in the order of the checks.")
    dft_runs: int = Field(description="DFT labels the validation computed (cache hits excluded, count).")
    dft_seconds: float = Field(description="Wall time of those DFT runs (s).")
    figures: dict[str, str] = Field(default_factory=dict, description="Figure name -> file, relative to validation.json.")

    @property
    def failed(self) -> list[ValidationRow]:
        return [row for row in self.rows if row.mark == "fail"]

    @property
    def incomplete(self) -> list[ValidationRow]:
        return [row for row in self.rows if row.mark == "incomplete"]

    @property
    def judged(self) -> list[ValidationRow]:
        """Rows with a verdict against a tolerance."""
        return [row for row in self.rows if row.mark in ("pass", "warn", "fail")]

    @property
    def passed(self) -> bool:
        """Something was judged, no row failed and every check could be computed (warnings allowed)."""
        return bool(self.judged) and not self.failed and not self.incomplete


# ---------------------------------------------------------------- export (the delivered potential outside this package)


class ExportedPairTable(BaseModel):
    """One element pair's section of the baseline table for LAMMPS ``pair_style table``."""

    model_config = ConfigDict(extra="forbid")

    elements: list[str] = Field(description="The two chemical symbols, in LAMMPS type order.")
    keyword: str = Field(description="Section keyword in the table file, e.g. 'Si_Si'.")
    r_inner: float = Field(
        description="First distance of the table (Angstrom); LAMMPS stops if two atoms of this pair come closer."
    )
    r_outer: float = Field(description="Last distance of the table, the pair's cutoff in LAMMPS (Angstrom).")
    energy_at_inner: float = Field(description="Baseline pair energy at r_inner (eV).")
    max_energy_error: float = Field(
        description="Largest |E| error of LAMMPS's spline against the baseline, at five points inside every interval (eV)."
    )
    max_force_error: float = Field(
        description="Largest |F| error of LAMMPS's spline against the baseline, at the same points (eV/Angstrom)."
    )
    within_tolerance: bool = Field(
        description="True when every checked point met the export's tolerances (absolute plus relative to the value)."
    )


class ExportedMember(BaseModel):
    """One member's files for use outside this package; paths relative to the committee folder."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="Member number, 0-based (0 is the production potential).")
    model: str = Field(description="The model file an ASE calculator loads (ACE: .yace for pyace; MACE: .model).")
    lammps_model: str = Field(
        description="The model file LAMMPS reads (ACE: the same .yace; MACE: the mace_create_lammps_model output)."
    )
    lammps_input: str = Field(description="LAMMPS include file with the member's pair lines and reference energies.")


class PotentialExport(RunFile):
    """``results/final/export.json`` (rule ``finalize``): what was written to run the potential outside this package."""

    backend: Literal["ace", "mace"] = Field(description="Training backend of every member.")
    elements: list[str] = Field(description="Chemical symbols, in LAMMPS type order (type 1 first).")
    baseline: BaselineChoice = Field(description="The delta-learning baseline the table reproduces.")
    reference_energies: dict[str, float] = Field(description="Per-element reference energy added per atom (eV/atom).")
    table_file: str | None = Field(description="The pair_style table file of the baseline; None without a baseline.")
    table_style: str | None = Field(description="Arguments of pair_style table, e.g. 'spline 10000'; None without a baseline.")
    table_points: int | None = Field(description="Points per table section (count); None without a baseline.")
    energy_cap: float = Field(description="Pair energy at which each table starts (eV).")
    pairs: list[ExportedPairTable] = Field(description="One entry per element pair of the table.")
    baseline_input: str | None = Field(
        description="LAMMPS include file that runs the baseline table alone; None without a baseline."
    )
    reference_input: str = Field(description="LAMMPS include file defining c_e_ref and v_e_total = pe + c_e_ref.")
    members: list[ExportedMember] = Field(description="The members' files, by index.")
    config_hash: str = Field(description="The committee's fit configuration hash (committee.json).")
    dft_hashes: list[str] = Field(description="DFT parameter hashes of the training and test labels (may be empty).")
    created: str = Field(description="When the committee was collected (ISO 8601, UTC).")
    version: str = Field(description="Pipeline version that wrote the export (empty when not given).")
    readme: str = Field(description="The README rendered from this record.")
