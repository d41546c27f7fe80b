"""Pydantic models of the configuration.

``MinimalConfig`` is what a user writes; ``FullConfig`` is every parameter a stage needs, produced
by the expander. Both reject unknown keys, so a typo is an error and never silently ignored.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlip_autopipec.config.profiles import PROFILE_DESCRIPTION, Profile

Ensemble = Literal["nvt", "npt"]
Device = Literal["auto", "cpu", "cuda"]
DEVICE_DESCRIPTION = (
    "Where the torch models run (surrogate exploration, MACE training, committee MD and kMC): 'auto' CUDA when torch "
    "sees it on the node, else the CPU; 'cpu'; 'cuda' (a job without CUDA stops with one line). Under SLURM, 'cuda' "
    "asks one GPU for those jobs. Not a rerun trigger: CPU and GPU results agree within float tolerance."
)


def _nvt_only() -> list[Ensemble]:
    return ["nvt"]


class StrictModel(BaseModel):
    """Unknown keys are errors; values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MinimalConfig(StrictModel):
    """What a user writes: a composition and, optionally, conditions, budget and overrides."""

    composition: str = Field(description="Chemical formula, e.g. 'Si', 'FePt', 'Fe0.5Pt0.5', 'H2O'.")
    profile: Profile = Field(default="production", description=PROFILE_DESCRIPTION)
    temperatures: list[float] | None = Field(default=None, description="Target temperatures in K.")
    pressure: float | None = Field(default=None, description="Target pressure in GPa.")
    dft_budget: int | None = Field(default=None, gt=0, description="Most DFT labels the whole run may compute.")
    max_iterations: int | None = Field(default=None, gt=0, description="Most active-learning iterations.")
    seed: int = Field(default=42, ge=0, description="Seed for every random choice of the run.")
    structures: str | None = Field(default=None, description="extxyz (or any ASE-readable) file of user structures.")
    device: Device = Field(default="auto", description=DEVICE_DESCRIPTION)
    system: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'system' section.")
    generate: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'generate' section.")
    explore: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'explore' section.")
    select: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'select' section.")
    train: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'train' section.")
    active_learning: dict[str, Any] | None = Field(
        default=None, description="Overrides of the expanded 'active_learning' section."
    )
    dft: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'dft' section.")
    label: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'label' section.")
    validation: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'validation' section.")
    resources: dict[str, Any] | None = Field(
        default=None, description="Overrides of the expanded 'resources' section, per rule, e.g. {label: {mem_mb: 64000}}."
    )

    @field_validator("temperatures")
    @classmethod
    def _positive_temperatures(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not value:
                raise ValueError("is an empty list; give at least one temperature in K or remove the key")
            if any(t <= 0 for t in value):
                raise ValueError("must be positive (in K); remove negative or zero temperatures")
            if any(t > 10000 for t in value):  # no solid or liquid survives it: a larger value is a unit slip
                raise ValueError("must be at most 10000 K; give temperatures in K, e.g. [300, 900]")
        return value


def _cutoff_at_most(value: float, limit: float) -> float:
    if value > limit:
        raise ValueError(f"must be at most {limit:g} Ry (ecutwfc is typically 30-120); give it in Ry, or 0 for the table's")
    return value


class DFTConfig(StrictModel):
    """Quantum ESPRESSO parameters; everything here except ``why`` and ``pseudo_dir`` enters the DFT hash."""

    functional: str = "PBE"
    pseudo_family: str = "auto"
    pseudo_dir: str | None = None
    pseudopotentials: dict[str, str] = Field(default_factory=dict)
    pseudo_md5: dict[str, str] = Field(default_factory=dict)
    ecutwfc: float = Field(default=0.0, ge=0, description="Ry; 0 means: from the pseudopotential table.")
    ecutrho: float = Field(default=0.0, ge=0, description="Ry; 0 means: from the pseudopotential table.")
    kpoint_spacing: float = Field(default=0.30, gt=0, description="Largest k-point spacing in 1/Angstrom (2 pi included).")
    occupations: Literal["smearing", "fixed"] = "smearing"
    smearing: Literal["mv", "cold", "gaussian", "fd", "mp"] = "gaussian"
    degauss: float = Field(default=0.01, gt=0, description="Ry")
    nspin: Literal[1, 2] = 1
    initial_magnetic_moments: dict[str, float] = Field(default_factory=dict, description="mu_B per element.")
    conv_thr_per_atom: float = Field(default=1e-9, gt=0, description="Ry per atom; scaled by the atom count.")
    mixing_beta: float = Field(default=0.4, gt=0, le=1)
    electron_maxstep: int = Field(default=100, gt=0)
    diagonalization: Literal["david", "cg", "ppcg", "paro"] = "david"
    why: dict[str, str] = Field(default_factory=dict, description="Why the expander chose each value.")

    @field_validator("ecutwfc")
    @classmethod
    def _ecutwfc_not_absurd(cls, value: float) -> float:
        """pw.x would run for days or exhaust memory; such a value is a slip (units, an extra zero), never a choice."""
        return _cutoff_at_most(value, 1000)

    @field_validator("ecutrho")
    @classmethod
    def _ecutrho_not_absurd(cls, value: float) -> float:
        return _cutoff_at_most(value, 8000)

    def physics_parameters(self) -> dict[str, Any]:
        """The values that change a label; ``pseudo_dir`` is left out because the checksums fix identity."""
        return self.model_dump(exclude={"why", "pseudo_dir", "pseudo_family"})


class MPIConfig(StrictModel):
    launcher: Literal["auto", "mpirun", "srun", "none"] = Field(
        default="auto", description="auto: srun inside a SLURM job, mpirun when available, else none."
    )
    ntasks: int = Field(default=1, gt=0, description="MPI ranks per pw.x run.")
    extra_args: str = Field(default="", description="Words after either launcher (mpirun or srun).")
    srun_args: str = Field(
        default="",
        description="Words after srun only, e.g. '--mpi=pmix' where OpenMPI lacks SLURM's PMI: a config that runs "
        "under srun on the cluster and under mpirun on a workstation keeps both working.",
    )
    mpirun_args: str = Field(default="", description="Words after mpirun only.")


class LabelConfig(StrictModel):
    """How labels are computed: program, parallelism, limits, recovery and the label cache."""

    command: str = "pw.x"
    mpi: MPIConfig = Field(default_factory=MPIConfig)
    walltime_s: float = Field(default=3600.0, gt=0, description="Wall-time limit of one pw.x attempt.")
    max_attempts: int = Field(default=4, ge=1, le=10, description="Attempts per structure, the recovery ladder included.")
    cache_dir: str = Field(
        default="label_cache", description="Labels keyed by (structure id, DFT hash); survives 'rm -r results'."
    )
    retry_failed: bool = Field(default=False, description="Recompute structures whose cached label failed.")
    keep_scratch: bool = Field(default=False, description="Keep wavefunctions and charge density after success.")
    stop_failed_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Stop the run when this fraction of an iteration's labels fail for one reason."
    )
    stop_failed_min_labels: int = Field(
        default=4, ge=1, description="Iterations with fewer labels never stop for a common failure."
    )


BondingType = Literal["metallic", "covalent", "ionic", "molecular", "mixed"]


class SystemConfig(StrictModel):
    """What the composition is: bonding type, prototype, molecule, melting point (each with its reason)."""

    bonding_type: BondingType = "metallic"
    prototype: str | None = None
    molecule: str | None = None
    melting_point_k: float = Field(default=1000.0, gt=0)
    why: dict[str, str] = Field(default_factory=dict)


class GenerateConfig(StrictModel):
    """Initial structures: which generators run and how many structures each makes."""

    enabled: bool = Field(default=True, description="Generate structures from the composition.")
    target_atoms: int = Field(default=32, ge=1, description="Atoms per bulk cell sent to DFT.")
    rattle_temperatures: list[float] = Field(default_factory=lambda: [300.0], description="K; thermal rattling amplitudes.")
    strained_per_temperature: int = Field(default=6, ge=0)
    max_volumetric_strain: float = Field(default=0.05, ge=0, le=0.3)
    max_shear_strain: float = Field(default=0.03, ge=0, le=0.3)
    relaxed_strained: int = Field(
        default=3,
        ge=0,
        description="Strained cells whose ions the surrogate relaxes at the fixed cell, unrattled (per seed crystal): "
        "the inner-strain path that relaxed-ion elastic constants (C44) follow, which rattled cells meet only by chance.",
    )
    vacancies: int = Field(default=3, ge=0)
    antisites: int = Field(default=3, ge=0)
    surfaces: bool = True
    surface_layers: int = Field(default=4, ge=2)
    sqs_sizes: list[int] = Field(default_factory=lambda: [8, 16])
    sqs_concentration_shifts: list[float] = Field(default_factory=lambda: [0.0])
    sqs_annealing_steps: int = Field(default=3000, ge=100)
    random_cells: int = Field(default=6, ge=0, description="Random packed cells when no prototype fits.")
    relax_prototype: bool = Field(
        default=True,
        description="Relax every candidate crystal (table prototypes, random search) with the surrogate and seed from the "
        "lowest; false: the radius-ratio prototype, unrelaxed.",
    )
    prototype_window_ev_per_atom: float = Field(
        default=0.05, ge=0, description="Also seed from distinct candidates within this surrogate energy of the lowest (eV/atom)."
    )
    search_random_cells: int = Field(
        default=2, ge=0, description="Random packed cells relaxed beside the prototypes (random structure search)."
    )
    nms_samples_per_temperature: int = Field(default=20, ge=0)
    dimer_points: int = Field(default=10, ge=0)
    trimer_points: int = Field(default=3, ge=0)
    scan_max_factor: float = Field(default=2.0, gt=0, description="Largest dimer/trimer distance in covalent bond lengths.")
    min_distance_factor: float = Field(default=0.5, gt=0, lt=1, description="Closest allowed pair, in covalent bond lengths.")
    why: dict[str, str] = Field(default_factory=dict)


class ExploreConfig(StrictModel):
    """Surrogate molecular dynamics that explores configuration space before any DFT."""

    enabled: bool = Field(default=True, description="Run surrogate MD before selecting (iteration 0).")
    starts: int = Field(default=2, ge=1, description="Start structures for exploration (each at every temperature and ensemble).")
    surrogate: Literal["auto", "mace-mp", "chgnet", "sevenn"] = "auto"
    surrogate_model: str | None = Field(default=None, description="Path to a MACE-MP model file (offline use).")
    temperatures: list[float] = Field(default_factory=lambda: [300.0])
    pressures: list[float] = Field(default_factory=lambda: [0.0], description="GPa")
    ensembles: list[Ensemble] = Field(default_factory=_nvt_only)
    steps: int = Field(default=2000, ge=1)
    timestep_fs: float = Field(default=1.0, gt=0)
    supercell_atoms: int = Field(default=64, ge=1)
    why: dict[str, str] = Field(default_factory=dict)


class SelectConfig(StrictModel):
    """DIRECT selection of the frames worth a DFT label."""

    initial_structures: int = Field(default=100, ge=1, description="Labels selected in iteration 0.")
    per_iteration: int = Field(default=50, ge=1, description="Uncertain structures labelled per later iteration.")
    cluster_fraction: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Largest share of the initial picks that may be dimers, trimers and other non-periodic clusters.",
    )
    strain_fraction: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of the initial picks reserved for strained crystals, spread from the most compressed to the most expanded.",
    )
    why: dict[str, str] = Field(default_factory=dict)


class TrainConfig(StrictModel):
    """The committee of delta-learned potentials."""

    committee_size: int = Field(default=4, ge=2)
    baseline: Literal["zbl", "lj", "none"] = "zbl"
    backend: Literal["ace", "mace"] = Field(
        default="ace",
        description="ace: pacemaker ACE members (fast CPU fits, LAMMPS .yace export, extrapolation grade); mace: mace_run_train MACE members (.model files).",
    )
    optimizer_steps: int | None = Field(
        default=None,
        ge=1,
        description="pacemaker BFGS iterations (backend ace, non-linear tiers only: linear ones are solved exactly); none: chosen from the data size.",
    )
    mace_epochs: int | None = Field(
        default=None,
        ge=1,
        description="MACE training epochs (backend mace); none: about 2000 optimiser steps for the data size, 40-400 epochs.",
    )
    mace_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra mace_run_train flags (backend mace) over the tiny default model, e.g. {num_channels: 32, max_L: 1}.",
    )
    why: dict[str, str] = Field(default_factory=dict)

    @field_validator("mace_options")
    @classmethod
    def _no_pipeline_flags(cls, value: dict[str, Any]) -> dict[str, Any]:
        """File names, label keys, E0s, seed and epochs are the pipeline's: refuse them here, before any job runs."""
        if not value:
            return value
        from mlip_autopipec.potentials.mace_backend import check_mace_options  # lazy: only when options are given

        return check_mace_options(value)


class ActiveLearningConfig(StrictModel):
    """Uncertainty-driven MD with the committee and the loop's stopping rule."""

    engine: Literal["md", "kmc"] = Field(
        default="md", description="Committee MD, or adaptive kMC (saddle searches) for rare events."
    )
    kmc_steps: int = Field(default=10, ge=1, description="aKMC steps per start and temperature (engine: kmc).")
    kmc_searches: int = Field(default=8, ge=1, description="Dimer saddle searches per state (engine: kmc).")
    uncertainty_percentile: float = Field(default=95.0, gt=0, lt=100)
    uncertainty_threshold: float | None = Field(
        default=None, gt=0, description="A fixed max force std (eV/A) instead of the calibrated one."
    )
    target_force_rmse: float | None = Field(
        default=None,
        gt=0,
        description="Force RMSE per component (eV/A) that counts as accurate enough: the lower trust level is the committee "
        "spread whose calibrated expected error reaches it, and the loop may stop once the held-out error meets it. Default: "
        "the validation's force tolerance. None: the threshold is the spread percentile on training data.",
    )
    upper_trust_factor: float = Field(
        default=3.0,
        gt=1,
        description="Upper trust level as a multiple of the lower one (DP-GEN's 0.05/0.15 eV/A is 3): above it a configuration "
        "is unphysical for the committee and MD labels the last trusted frame before it instead.",
    )
    converged_uncertain_fraction: float = Field(default=0.02, ge=0, le=1)
    min_error_improvement: float = Field(
        default=0.05, ge=0, lt=1, description="Relative held-out force-error gain below which learning has stopped."
    )
    md_steps: int = Field(default=2000, ge=1, description="Committee MD steps per start, temperature and ensemble.")
    check_every: int = Field(default=10, ge=1, description="Steps between uncertainty checks.")
    max_uncertain_per_run: int = Field(default=10, ge=1)
    extraction_max_whole_atoms: int = Field(
        default=64, ge=1, description="Cells up to this size are labelled whole; larger ones are carved."
    )
    extraction_buffer: float = Field(default=2.0, ge=0, description="A beyond the model cutoff around a carved centre.")
    duplicate_distance: float = Field(
        default=0.01, ge=0, description="Structure-descriptor distance under which uncertain frames are duplicates."
    )
    why: dict[str, str] = Field(default_factory=dict)


ValidationCheck = Literal[
    "equation of state",
    "elastic",
    "phonons",
    "defects",
    "molecule geometry",
    "vibrations",
    "bond stretch",
    "molecule dimer",
    "alloy energetics",
    "alloy antisite",
    "validation set",
    "stability",
]
"""The checks of a validation, as ``validation.checks`` names them (``validation/validate.py`` runs them)."""


class ValidationConfig(StrictModel):
    """The delivered potential against DFT from the same engine: which checks, on which cells, and the tolerances.

    A row passes within its tolerance, warns within twice of it and fails beyond; ``mlip-pipe validate`` exits
    non-zero when a row fails.
    """

    enabled: bool = Field(default=True, description="Validate the delivered committee after the loop (rule `validate`).")
    every_iteration: bool = Field(
        default=True,
        description="Also validate each iteration's committee (rule `validate_iteration`, every check but `iteration_skips`) "
        "and let the table decide: the loop stops once every row is within tolerance. Its DFT is labelled once and then "
        "read from the label cache; it does not count against dft_budget.",
    )
    iteration_skips: list[ValidationCheck] = Field(
        default_factory=lambda: list[ValidationCheck](["stability"]),
        description="Checks left out of the per-iteration validation (the stability MD costs minutes per temperature).",
    )
    checks: list[ValidationCheck] | None = Field(
        default=None,
        description="Only these checks (e.g. ['equation of state', 'validation set']); None: every check that applies to "
        "the composition.",
    )
    lattice_tolerance: float = Field(default=0.005, gt=0, description="Relative error allowed on lattice constants.")
    bulk_modulus_tolerance: float = Field(default=0.05, gt=0, description="Relative error allowed on the bulk modulus.")
    elastic_tolerance: float = Field(default=0.10, gt=0, description="Relative error allowed on elastic constants.")
    phonon_rmse_tolerance: float = Field(default=0.2, gt=0, description="Phonon band-structure RMSE allowed (THz).")
    defect_tolerance: float = Field(default=0.1, gt=0, description="Error allowed on defect formation energies (eV).")
    force_rmse_tolerance: float = Field(default=0.1, gt=0, description="Force RMSE allowed on the fresh validation set (eV/A).")
    energy_rmse_tolerance: float = Field(
        default=0.005, gt=0, description="Energy RMSE allowed on the fresh validation set (eV/atom)."
    )
    eos_volume_range: float = Field(default=0.06, gt=0, lt=0.5, description="E-V curve over V0 * (1 +- this).")
    eos_points: int = Field(default=7, ge=5, description="Volumes on the E-V curve.")
    elastic_strain: float = Field(default=0.01, gt=0, lt=0.1, description="Largest strain of the stress-strain fits.")
    phonon_supercell: list[int] = Field(
        default_factory=lambda: [2, 2, 2], description="Supercell of the primitive cell for finite displacements."
    )
    defect_cell_atoms: int = Field(default=8, ge=2, description="Atoms of the perfect cell the point defects are made in.")
    set_per_temperature: int = Field(
        default=4, ge=1, description="Rattled and strained crystals per target temperature in the fresh validation set."
    )
    set_md_snapshots: int = Field(
        default=3, ge=0, description="Committee MD snapshots at 1.2x the highest temperature in the fresh validation set."
    )
    set_cell_atoms: int = Field(default=8, ge=1, description="Atoms per structure of the fresh validation set.")
    set_displacements: Literal["harmonic", "independent"] = Field(
        default="harmonic",
        description="Thermal displacements of the fresh set's crystals and slab: 'harmonic' draws the cell's normal modes "
        "from the exploration surrogate's force constants (configurations the material visits at each temperature); "
        "'independent' rattles every atom alone with one spring constant for all materials (sets of earlier versions).",
    )
    stability_ps: float = Field(default=10.0, gt=0, description="NVT length per target temperature (ps).")
    stability_atoms: int = Field(default=64, ge=1, description="Atoms of the stability cell.")
    drift_tolerance: float = Field(default=1.0, gt=0, description="NVE total-energy drift allowed (meV/atom/ps).")
    bond_length_tolerance: float = Field(default=0.01, gt=0, description="Error allowed on a molecule's bond lengths (A).")
    bond_angle_tolerance: float = Field(default=1.0, gt=0, description="Error allowed on a molecule's bond angles (degrees).")
    frequency_rmse_tolerance: float = Field(
        default=50.0, gt=0, description="RMSE allowed on a molecule's harmonic frequencies, mode by mode (cm^-1)."
    )
    frequency_max_tolerance: float = Field(
        default=100.0, gt=0, description="Largest error allowed on one harmonic frequency of a molecule (cm^-1)."
    )
    stretch_range: list[float] = Field(
        default_factory=lambda: [0.85, 1.3], description="The bond-stretch curve spans these multiples of the DFT bond length."
    )
    stretch_points: int = Field(default=7, ge=3, description="Bond lengths on the bond-stretch curve.")
    stretch_rmse_tolerance: float = Field(
        default=0.05, gt=0, description="RMSE allowed on the bond-stretch curve, energies relative to equilibrium (eV)."
    )
    molecule_vacuum: float = Field(
        default=6.0, gt=0, description="Vacuum around a validated molecule in its DFT box (A; 6 as for the training labels)."
    )
    mixing_energy_tolerance: float = Field(
        default=0.01, gt=0, description="Error allowed on an alloy's mixing and formation energies (eV/atom)."
    )
    alloy_sqs_atoms: int = Field(default=8, ge=2, description="Atoms of the SQS cell whose mixing energy is validated.")
    why: dict[str, str] = Field(default_factory=dict)

    @field_validator("stretch_range")
    @classmethod
    def _stretch_brackets_equilibrium(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0 < value[0] < 1 < value[1]:
            raise ValueError(f"stretch_range {list(value)}: needs 0 < low < 1 < high (the curve brackets the bond length)")
        return value


class RuleResources(StrictModel):
    """What one job of a rule asks the scheduler for (Snakemake ``threads`` and ``resources``; SLURM's flags)."""

    threads: int = Field(default=1, ge=1, description="CPU cores of one job (Snakemake threads; SLURM --cpus-per-task).")
    tasks: int = Field(
        default=1, ge=1, description="MPI ranks of one job, one core each (SLURM --ntasks; pw.x runs this many ranks)."
    )
    mem_mb: int = Field(default=2000, ge=100, description="Memory of the whole job in MB (SLURM --mem).")
    runtime: int = Field(default=60, ge=1, description="Wall-time limit of one job in minutes (SLURM --time).")
    gpus: int = Field(default=0, ge=0, description="GPUs of one job (SLURM --gpus); 1 only for torch rules under device: cuda.")
    why: str = Field(default="", description="How the expander derived these numbers from the rest of the config.")


# One entry per rule, named as the rule: `validate` shadows pydantic's deprecated BaseModel.validate classmethod,
# which nothing here calls, so pydantic's warning about it is silenced for this class only.
warnings.filterwarnings("ignore", message='Field name "validate" in "ResourcesConfig" shadows', category=UserWarning)


class ResourcesConfig(StrictModel):
    """Per-rule requests, derived from the expanded config; resources never trigger reruns (they are not params)."""

    label: RuleResources = Field(default_factory=RuleResources, description="One pw.x run (its recovery ladder included).")
    validate: RuleResources = Field(  # type: ignore[assignment]  # the rule's name; see the filter above
        default_factory=RuleResources, description="The delivered committee's validation: its DFT cells and the stability MD."
    )
    validate_iteration: RuleResources = Field(
        default_factory=RuleResources, description="One iteration's validation (validation.iteration_skips left out)."
    )
    train_member: RuleResources = Field(default_factory=RuleResources, description="One committee member's fit (ACE or MACE).")
    explore: RuleResources = Field(default_factory=RuleResources, description="One surrogate MD run (torch model).")
    simulate_md: RuleResources = Field(default_factory=RuleResources, description="One committee MD (or kMC) run.")
    generate: RuleResources = Field(
        default_factory=RuleResources, description="Initial structures (surrogate relaxation, SQS annealing)."
    )
    default: RuleResources = Field(
        default_factory=RuleResources,
        description="Every other rule (select, import_structures, train_plan, train_committee, the simulate checkpoint).",
    )


class FullConfig(StrictModel):
    """Every parameter of a run, each with a value; written to results/exec_config_dump.yaml."""

    composition: str
    elements: list[str]
    seed: int = 42
    structures: str | None = None
    temperatures: list[float] = Field(default_factory=lambda: [300.0])
    pressure: float = 0.0
    dft_budget: int = 500
    max_iterations: int = 5
    device: Device = Field(default="auto", description=DEVICE_DESCRIPTION)
    system: SystemConfig = Field(default_factory=SystemConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    explore: ExploreConfig = Field(default_factory=ExploreConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    active_learning: ActiveLearningConfig = Field(default_factory=ActiveLearningConfig)
    dft: DFTConfig = Field(default_factory=DFTConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
