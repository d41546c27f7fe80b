"""The validation of one committee: every check, each with the potential and with DFT, into ``validation.json``.

Why one function: the `validate` rule and ``mlip-pipe validate`` run exactly the same checks on the same
structures, so a table from the workflow and one from the command line can be compared row by row. The potential
side is the committee mean (what users run) except for stability, which runs one member as production MD does;
the DFT side is ``LabelledDft`` (the run's engine and parameters, the label cache first). A check whose DFT label
failed after the recovery ladder gives an ``info`` row saying so instead of a number; an environment failure
(launcher, missing program) stops the validation loudly, as it stops a label job. Which checks run follows the
composition and bonding type (``crystal.validation_crystal``): a crystal gets its equation of state, elastic
constants, phonons and point defects (an ionic one its Schottky defect), an alloy its mixing and formation energies
and an antisite, a molecule its geometry, vibrations, a bond-stretch curve and a dimer binding curve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress

from mlip_autopipec.config.models import DFTConfig, FullConfig, LabelConfig, SystemConfig, ValidationConfig
from mlip_autopipec.data.records import Mark, Threshold, ValidationReport, ValidationRow
from mlip_autopipec.potentials.committee import CommitteeCalculator, member_calculator
from mlip_autopipec.potentials.committee_plan import TrainedCommittee, load_committee
from mlip_autopipec.validation.crystal import ValidationCrystal, ranked_crystal, validation_crystal
from mlip_autopipec.validation.dft_reference import DftLabelFailed, LabelledDft
from mlip_autopipec.validation.eos import EosResult, fixed_mesh_spacing
from mlip_autopipec.validation.table import metric

logger = logging.getLogger(__name__)

REPORT_NAME = "validation.json"


class ValidationSetup(BaseModel):
    """What a validation needs of the run's config (the `validate` rule's params, one section each)."""

    model_config = ConfigDict(extra="forbid")

    composition: str = Field(description="The run's composition.")
    elements: list[str] = Field(description="Its elements.")
    seed: int = Field(description="The run's seed; the fresh validation set derives its own from it.")
    temperatures: list[float] = Field(description="Target temperatures (K).")
    timestep_fs: float = Field(description="MD timestep (fs) for the stability runs and MD snapshots.")
    system: SystemConfig
    dft: DFTConfig
    label: LabelConfig
    validation: ValidationConfig
    skip: list[str] = Field(default_factory=list, description="Checks left out (a per-iteration validation skips stability).")
    surrogate: str = Field(
        default="auto", description="The exploration surrogate (explore.surrogate): its force constants shape the fresh set."
    )
    surrogate_model: str | None = Field(default=None, description="Its model file (explore.surrogate_model), if any.")

    @classmethod
    def from_config(cls, full: FullConfig) -> ValidationSetup:
        return cls(
            composition=full.composition,
            elements=full.elements,
            seed=full.seed,
            temperatures=full.temperatures,
            timestep_fs=full.explore.timestep_fs,
            system=full.system,
            dft=full.dft,
            label=full.label,
            validation=full.validation,
            surrogate=full.explore.surrogate,
            surrogate_model=full.explore.surrogate_model,
        )


Check = Callable[[], tuple[list[ValidationRow], dict[str, str]]]
T = TypeVar("T")


class _Validation:
    """The state shared by the checks of one validation: calculators, crystal, output folder, figures."""

    def __init__(
        self, committee: TrainedCommittee, setup: ValidationSetup, outdir: Path, ntasks: int | None, generated: Path | None = None
    ) -> None:
        self.committee = committee
        self.setup = setup
        self.cfg = setup.validation
        self.outdir = outdir
        self.potential = CommitteeCalculator(committee, extrapolation_grade=False)
        self.crystal: ValidationCrystal = validation_crystal(
            setup.composition, setup.system.bonding_type, setup.system.molecule, ranked_crystal(generated)
        )
        # The fresh set is labelled exactly as the training labels were; the crystal checks on one k-point mesh for
        # every volume and strain (the engine picks a mesh per cell, and a jump along an E-V curve ruins B).
        self.dft = LabelledDft(setup.dft, setup.label, outdir / "dft", ntasks=ntasks)
        crystal_dft = setup.dft
        if self.crystal.atoms is not None:
            spacing = fixed_mesh_spacing(self.crystal.atoms, setup.dft.kpoint_spacing, self.cfg)
            crystal_dft = setup.dft.model_copy(update={"kpoint_spacing": spacing})
        self.crystal_dft = LabelledDft(crystal_dft, setup.label, outdir / "dft_crystal", ntasks=ntasks)
        threshold_file = committee.root / "threshold.json"
        self.threshold = Threshold.read(threshold_file).value if threshold_file.is_file() else None
        manifest = committee.manifest
        self.seen_ids = set(manifest.training_ids) | set(manifest.test_ids)
        self.eos: tuple[EosResult, EosResult] | None = None  # (potential, DFT), shared by the checks that need V0
        self.eos_error: Exception | None = None  # why the equations of state could not be computed (not retried)
        self._shared: dict[str, Any] = {}  # results several checks use (a molecule's relaxed geometries, ...)
        self._cell_dft: dict[float, LabelledDft] = {}  # DFT with a k-point mesh fixed for one cell's EOS, by spacing

    def shared(self, name: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per validation; its failure too is kept and raised again to every check that needs it."""
        if name not in self._shared:
            try:
                self._shared[name] = compute()
            except Exception as error:
                self._shared[name] = error
        value = self._shared[name]
        if isinstance(value, Exception):
            raise value
        return value

    def thermal_calculator(self) -> BaseCalculator | None:
        """The calculator whose force constants shape the fresh set's thermal displacements (None: independent rattles).

        The exploration surrogate on the CPU (a few force calls): trained by no potential it judges, and the same for
        every iteration, so each iteration's committee meets the same crystals."""
        if self.cfg.set_displacements != "harmonic":
            return None

        def load() -> BaseCalculator:
            from mlip_autopipec.potentials.surrogate import make_surrogate

            return make_surrogate(self.setup.surrogate, self.setup.surrogate_model, "cpu")[0]

        return self.shared("surrogate", load)

    def production_member(self) -> BaseCalculator:
        """The production potential the stability runs use: member 0 alone (baseline + model), no committee."""
        return member_calculator(self.committee, 0)

    def cell_dft(self, cell: Atoms) -> LabelledDft:
        """DFT whose k-point mesh stays one mesh over ``cell``'s equation of state and strains (an alloy cell)."""
        spacing = fixed_mesh_spacing(cell, self.setup.dft.kpoint_spacing, self.cfg)
        if spacing not in self._cell_dft:
            dft = self.setup.dft.model_copy(update={"kpoint_spacing": spacing})
            self._cell_dft[spacing] = LabelledDft(dft, self.setup.label, self.outdir / "dft_cells", ntasks=self.dft.ntasks)
        return self._cell_dft[spacing]

    @property
    def _calculators(self) -> list[LabelledDft]:
        return [self.dft, self.crystal_dft, *self._cell_dft.values()]

    @property
    def dft_runs(self) -> int:
        return sum(calculator.dft_runs for calculator in self._calculators)

    @property
    def dft_seconds(self) -> float:
        return sum(calculator.dft_seconds for calculator in self._calculators)

    def figure(self, name: str) -> Path:
        return self.outdir / f"{name}.png"

    def relative(self, path: Path) -> str:
        return str(Path(path).relative_to(self.outdir))


def _unfinished(group: str, quantity: str, mark: Mark, error: Exception) -> ValidationRow:
    """The row of a check that could not finish: no number, the reason in the note."""
    return ValidationRow(
        group=group,
        quantity=quantity,
        unit="-",
        dft=None,
        potential=None,
        error=None,
        relative_error=None,
        compared="value",
        tolerance=None,
        mark=mark,
        note=f"{type(error).__name__}: {error}",
    )


def _not_applicable(group: str, why: str) -> list[ValidationRow]:
    return [metric(group, "not applicable", "-", 0.0, None, note=why)]


def _checks(v: _Validation) -> list[tuple[str, Check]]:
    """The checks in table order; each returns its rows and figures (name -> file relative to the report)."""
    from mlip_autopipec.validation import checks  # the property modules load phonopy and scipy: only when validating

    crystal = v.crystal.atoms
    listed: list[tuple[str, Check]] = []
    if crystal is not None:  # an element, a compound, an ionic crystal (defects.py then adds its Schottky defect)
        listed += [
            ("equation of state", lambda: checks.equation_of_state_check(v, crystal)),
            ("elastic", lambda: checks.elastic_check(v, crystal)),
            ("phonons", lambda: checks.phonon_check(v, crystal)),
            ("defects", lambda: checks.defect_check(v, crystal)),
        ]
    elif v.crystal.subset == "molecule":
        listed += [
            ("molecule geometry", lambda: checks.molecule_geometry_check(v)),
            ("vibrations", lambda: checks.vibration_check(v)),
            ("bond stretch", lambda: checks.bond_stretch_check(v)),
            ("molecule dimer", lambda: checks.molecule_dimer_check(v)),
        ]
    elif v.crystal.subset == "alloy":
        listed += [
            ("alloy energetics", lambda: checks.alloy_energy_check(v)),
            ("alloy antisite", lambda: checks.alloy_antisite_check(v)),
        ]
    else:
        listed.append(("crystal properties", lambda: (_not_applicable("crystal properties", v.crystal.why), {})))
    listed += [
        ("validation set", lambda: checks.fresh_set_check(v)),
        ("stability", lambda: checks.stability_check(v)),
    ]
    chosen = v.cfg.checks
    listed = [(name, check) for name, check in listed if name not in v.setup.skip]
    return listed if chosen is None else [(name, check) for name, check in listed if name in chosen]


def validate_committee(
    manifest: str | Path,
    setup: ValidationSetup | FullConfig,
    outdir: str | Path,
    ntasks: int | None = None,
    progress: bool = False,
    generated: str | Path | None = None,
) -> ValidationReport:
    """Run every check on the committee of ``manifest`` and write ``outdir/validation.json`` (and figures);
    ``generated``: the run's ``generated.extxyz``, whose surrogate-ranked crystal the crystal checks use."""
    setup = ValidationSetup.from_config(setup) if isinstance(setup, FullConfig) else setup
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    committee = load_committee(manifest)
    v = _Validation(committee, setup, outdir, ntasks, Path(generated) if generated is not None else None)
    rows: list[ValidationRow] = []
    figures: dict[str, str] = {}
    listed = _checks(v)
    bar: AbstractContextManager[Progress | None] = Progress(transient=True) if progress else nullcontext()
    with bar as shown:
        task = shown.add_task("validation", total=len(listed)) if shown is not None else None
        for group, check in listed:
            if shown is not None and task is not None:
                shown.update(task, description=f"validation: {group}")
            started, runs_before = time.perf_counter(), v.dft_runs
            try:
                check_rows, check_figures = check()
            except DftLabelFailed as error:  # the physics failed for a structure the check needs; say so, go on
                check_rows, check_figures = [_unfinished(group, "DFT label failed", "incomplete", error)], {}
            except OSError:
                raise  # the environment (launcher, file system), not the potential: stop loudly, as a label job does
            except Exception as error:  # the check crashed on the potential (NaN forces, an unphysical cell): a failure
                logger.exception("%s: the check crashed", group)
                check_rows, check_figures = [_unfinished(group, "check crashed", "fail", error)], {}
            rows += check_rows
            figures.update(check_figures)
            logger.info(
                "%s: %d rows in %.0f s (%d DFT runs)",
                group,
                len(check_rows),
                time.perf_counter() - started,
                v.dft_runs - runs_before,
            )
            _report(v, manifest, rows, figures).write(outdir / REPORT_NAME)  # what is done survives a later crash
            if shown is not None and task is not None:
                shown.advance(task)
    report = _report(v, manifest, rows, figures)
    report.write(outdir / REPORT_NAME)
    return report


def _report(v: _Validation, manifest: str | Path, rows: list[ValidationRow], figures: dict[str, str]) -> ValidationReport:
    return ValidationReport(
        potential=str(Path(manifest)),
        config_hash=v.committee.manifest.config_hash,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=list(rows),
        dft_runs=v.dft_runs,
        dft_seconds=round(v.dft_seconds, 1),
        figures=dict(figures),
    )


__all__ = ["REPORT_NAME", "ValidationSetup", "validate_committee"]
