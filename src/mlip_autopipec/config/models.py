"""Pydantic models of the configuration.

``MinimalConfig`` is what a user writes; ``FullConfig`` is every parameter a stage needs, produced
by the expander. Both reject unknown keys, so a typo is an error and never silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StrictModel(BaseModel):
    """Unknown keys are errors; values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MinimalConfig(StrictModel):
    """What a user writes: a composition and, optionally, conditions, budget and overrides."""

    composition: str = Field(description="Chemical formula, e.g. 'Si', 'FePt', 'Fe0.5Pt0.5', 'H2O'.")
    temperatures: list[float] | None = Field(default=None, description="Target temperatures in K.")
    pressure: float | None = Field(default=None, description="Target pressure in GPa.")
    dft_budget: int | None = Field(default=None, gt=0, description="Most DFT labels the whole run may compute.")
    max_iterations: int | None = Field(default=None, gt=0, description="Most active-learning iterations.")
    seed: int = Field(default=42, ge=0, description="Seed for every random choice of the run.")
    structures: str | None = Field(default=None, description="extxyz (or any ASE-readable) file of user structures.")
    dft: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'dft' section.")
    label: dict[str, Any] | None = Field(default=None, description="Overrides of the expanded 'label' section.")

    @field_validator("temperatures")
    @classmethod
    def _positive_temperatures(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not value:
                raise ValueError("is an empty list; give at least one temperature in K or remove the key")
            if any(t <= 0 for t in value):
                raise ValueError("must be positive (in K); remove negative or zero temperatures")
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

    def physics_parameters(self) -> dict[str, Any]:
        """The values that change a label; ``pseudo_dir`` is left out because the checksums fix identity."""
        return self.model_dump(exclude={"why", "pseudo_dir", "pseudo_family"})


class MPIConfig(StrictModel):
    launcher: Literal["auto", "mpirun", "srun", "none"] = Field(
        default="auto", description="auto: srun inside a SLURM job, mpirun when available, else none."
    )
    ntasks: int = Field(default=1, gt=0, description="MPI ranks per pw.x run.")
    extra_args: str = ""


class LabelConfig(StrictModel):
    """How labels are computed: program, parallelism, limits, recovery and the label cache."""

    command: str = "pw.x"
    mpi: MPIConfig = Field(default_factory=MPIConfig)
    walltime_s: float = Field(default=3600.0, gt=0, description="Wall-time limit of one pw.x attempt.")
    max_attempts: int = Field(default=4, ge=1, le=10, description="Attempts per structure, the recovery ladder included.")
    cache_dir: str = Field(default="label_cache", description="Labels keyed by (structure id, DFT hash); survives 'rm -r results'.")
    retry_failed: bool = Field(default=False, description="Recompute structures whose cached label failed.")
    keep_scratch: bool = Field(default=False, description="Keep wavefunctions and charge density after success.")


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
    dft: DFTConfig = Field(default_factory=DFTConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
